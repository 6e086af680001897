package cluster

import (
	"runtime"
	"testing"

	"sgw/internal/leakcheck"
)

// TestCloseLeavesNoGoroutine: three TCP nodes that replicated a record
// and are closed leave no goroutine behind. Before, Close left the
// transport's pooled connections to the peers open, and each peer's
// reader of them blocked for the life of the process (a gateway stopped
// and started in one process, as the demo and the tests do).
func TestCloseLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	c := newTestCluster(t, false)
	leader := c.waitLeader("")
	if _, err := leader.node.Apply([]byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	for _, tn := range c.nodes {
		c.kill(tn)
	}
	leakcheck.Wait(t, before, waitDeadline)
}
