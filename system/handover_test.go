package system

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"sgw/cluster"
	"sgw/configs"
)

// TestClusterStoreFailureHandsOver: on a leader that goes on leading, a FIX
// session store that can no longer replicate (the report
// cluster.SessionStoresConfig.OnFail delivers, with the error a batch that
// timed out carries) ends the term and hands leadership over; the first
// handover fails here (as when the chosen follower cannot be reached), so
// the node, leading with no term, tries again (handoverRetry) instead of
// refusing order entry until leadership moves on its own: another node
// then leads with order entry open, and the failed node refuses order
// entry. A store refused because its node no longer leads changes nothing
// (the term is ending anyway). Three nodes in this process
// (NewDemoCluster).
func TestClusterStoreFailureHandsOver(t *testing.T) {
	dc := newOrdersCluster(t)
	transfers := map[string]*atomic.Int32{}
	for _, nd := range dc.Nodes {
		c := nd.Gateway.clu
		if c == nil {
			continue // the edge
		}
		n := new(atomic.Int32)
		transfers[nd.ID] = n
		c.transfer = func() error {
			if n.Add(1) == 1 {
				return errors.New("test: the first handover of each node fails")
			}
			return c.node.TransferLeadership()
		}
	}
	runDemo(t, dc)

	first := waitTermLeader(t, dc, "")
	c := first.Gateway.clu
	c.storeFailed("CORE", fmt.Errorf("cluster: session store CORE: %w", cluster.ErrNotLeader))
	if c.entry.current() == nil {
		t.Fatal("a store refused for leadership lost ended the term")
	}
	// On a loaded machine first's leadership can come back to it (its
	// lease lost, then an election won) and a new term start there: its
	// store fails again then.
	next := waitOtherLeader(t, dc, first, func() {
		if c.node.IsLeader() && c.entry.current() != nil {
			c.storeFailed("CORE", fmt.Errorf("cluster: session store CORE: %w", cluster.ErrTimeout))
		}
	})
	t.Logf("%s's store failed; %s leads with order entry open", first.ID, next.ID)
	waitUntil(t, first.ID+" to refuse order entry", time.Minute, func() bool { return c.entry.current() == nil })
	if n := transfers[first.ID].Load(); n < 2 {
		// Without the retry the node would lead with no term until an
		// election: waitTermLeader above times out on a quiet machine.
		// On a loaded one an election can come first (seen in a full
		// run), and then the retry finds the node no longer leading.
		t.Skipf("%s handed over %d times: leadership moved on its own before the retry (an election on a loaded machine); the retry was not exercised", first.ID, n)
	}
}

// newOrdersCluster builds a DemoCluster of three nodes for a test of order
// entry: the demo with market data slowed to 100 updates/s.
func newOrdersCluster(t *testing.T) *DemoCluster {
	t.Helper()
	return newOrdersClusterLogged(t, testLog())
}

// newOrdersClusterLogged is newOrdersCluster logging to log.
func newOrdersClusterLogged(t *testing.T, log *slog.Logger) *DemoCluster {
	t.Helper()
	dc, err := NewDemoCluster(func() (*configs.File, error) {
		cfg, err := configs.LoadDemo()
		if err == nil {
			cfg.Sim.Rate = 100 // market data is not what these tests are about
		}
		return cfg, err
	}, 3, log)
	if err != nil {
		t.Fatal(err)
	}
	return dc
}

// waitTermLeader waits until a cluster node other than not leads with its
// order entry open (its term started) and returns it.
func waitTermLeader(t *testing.T, dc *DemoCluster, not string) *DemoNode {
	t.Helper()
	var found *DemoNode
	waitUntil(t, "a leader with order entry open (not "+not+")", 2*time.Minute, func() bool {
		for _, nd := range dc.Nodes {
			if nd.ID == not || nd.Gateway == nil || nd.Gateway.clu == nil || !nd.Gateway.clu.started.Load() {
				continue
			}
			if role, _, _ := nd.Gateway.clu.Role(); role == "leader" && nd.Gateway.clu.entry.current() != nil {
				found = nd
				return true
			}
		}
		return false
	})
	return found
}

// transferLeadership hands n's leadership over, trying again while n still
// leads: on a loaded machine hashicorp/raft's transfer can time out (the
// target's election not won within an election timeout), and n then goes
// on leading, as a stopping node's handover is tried again (seen in a full
// run beside other jobs).
func transferLeadership(t *testing.T, n *cluster.Node) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := n.TransferLeadership()
		var nl *cluster.NotLeaderError
		if err == nil || errors.As(err, &nl) {
			return // handed over, or another node leads already
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		t.Logf("leadership transfer failed, trying again: %v", err)
		<-time.After(100 * time.Millisecond) // paces the attempts; each waits for Raft's answer
	}
}

// handOver hands first's leadership over and returns the node that then
// leads with order entry open. On a loaded machine the leadership can come
// back to first: its lease lost, the transfer answered "not the leader"
// while first stood as a candidate, and then first's own election won (the
// most up-to-date log). Its leadership is then handed over again.
func handOver(t *testing.T, dc *DemoCluster, first *DemoNode) *DemoNode {
	t.Helper()
	return waitOtherLeader(t, dc, first, func() {
		if first.Gateway.clu.node.IsLeader() {
			transferLeadership(t, first.Gateway.clu.node)
		}
	})
}

// waitOtherLeader waits until a node other than first leads with its order
// entry open and returns it, calling again before each look, which makes
// first give its leadership up (again, if it came back to it).
func waitOtherLeader(t *testing.T, dc *DemoCluster, first *DemoNode, again func()) *DemoNode {
	t.Helper()
	var next *DemoNode
	waitUntil(t, "a leader with order entry open (not "+first.ID+")", 2*time.Minute, func() bool {
		again()
		for _, nd := range dc.Nodes {
			if nd == first || nd.Gateway == nil || nd.Gateway.clu == nil || !nd.Gateway.clu.started.Load() {
				continue
			}
			if role, _, _ := nd.Gateway.clu.Role(); role == "leader" && nd.Gateway.clu.entry.current() != nil {
				next = nd
				return true
			}
		}
		return false
	})
	return next
}

// TestClusterFenceFailureHandsOver: a leader whose fencing check fails
// while it goes on leading in the same epoch (a quorum too slow to confirm
// it within ApplyTimeout: the Fencer then stays failed for the epoch) ends
// its term and hands leadership over, instead of keeping order entry open
// with sessions that never send again. Another node then leads with order
// entry open, and the fenced node refuses order entry. Three nodes in this
// process (NewDemoCluster).
func TestClusterFenceFailureHandsOver(t *testing.T) {
	dc := newOrdersCluster(t)
	var fenced atomic.Pointer[string] // the node whose check fails
	var refusals atomic.Int32
	for _, nd := range dc.Nodes {
		c := nd.Gateway.clu
		if c == nil {
			continue // the edge
		}
		id := nd.ID
		c.fence = func(check func() error) func() error {
			return func() error {
				if f := fenced.Load(); f != nil && *f == id {
					refusals.Add(1)
					return fmt.Errorf("test: %w: leadership not confirmed in time", cluster.ErrFenced)
				}
				return check()
			}
		}
	}
	runDemo(t, dc)

	first := waitTermLeader(t, dc, "")
	fenced.Store(&first.ID)
	// The relay asks the fence before each write: the session's next
	// heartbeat (every second) meets the failure.
	next := waitTermLeader(t, dc, first.ID)
	t.Logf("%s's fence failed (%d refusals); %s leads with order entry open", first.ID, refusals.Load(), next.ID)
	c := first.Gateway.clu
	waitUntil(t, first.ID+" to refuse order entry", time.Minute, func() bool { return c.entry.current() == nil })
	if refusals.Load() == 0 {
		t.Error("the fence was never asked")
	}
}

// TestClusterKillSwitchSurvivesTakeover: the global kill switch an
// operator turned on at the leader is in the replicated journal, so the
// next leader refuses orders too (before, it lived in the old leader's
// memory and the takeover came back trading).
func TestClusterKillSwitchSurvivesTakeover(t *testing.T) {
	dc := newOrdersCluster(t)
	runDemo(t, dc)
	// On a loaded machine the leadership may move while the switch is
	// journaled (not_leader, or in doubt): it is turned on again through
	// whichever node leads then.
	var first *DemoNode
	waitUntil(t, "the global kill switch journaled", 2*time.Minute, func() bool {
		first = waitTermLeader(t, dc, "")
		_, err := first.Gateway.clu.entry.Kill("", true)
		if err != nil {
			t.Logf("the kill switch through %s: %v; trying again", first.ID, err)
		}
		return err == nil
	})
	next := handOver(t, dc, first)
	m := next.Gateway.clu.entry.current()
	if m == nil {
		t.Fatalf("%s leads with no order entry", next.ID)
	}
	if !m.Stats().KillSwitches[""] {
		t.Fatalf("%s took over with the global kill switch off", next.ID)
	}
}
