package cluster

import (
	"runtime"
	"strings"
	"testing"
	"time"
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
	deadline := time.Now().Add(waitDeadline)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			var left []string
			for _, g := range strings.Split(string(buf[:n]), "\n\n") {
				if !strings.Contains(g, "testing.") {
					left = append(left, g)
				}
			}
			t.Fatalf("%d goroutines before the cluster, %d after it closed:\n%s", before, runtime.NumGoroutine(), strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
