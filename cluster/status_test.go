package cluster

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestStatusAndCollector: the leader and the followers report their roles,
// a common term and quorum; the collector's series follow.
func TestStatusAndCollector(t *testing.T) {
	c := newTestCluster(t, true)
	leader := c.waitLeader("")
	applyN(t, leader.node, "s", 5)
	st := leader.node.Status()
	if st.Role != "leader" || st.LeaderID != leader.id || st.Epoch == 0 || !st.Quorum(leader.node.HeartbeatTimeout()) || st.AppliedIndex < 5 {
		t.Fatalf("leader status %+v", st)
	}
	for _, f := range c.followers(leader) {
		// The commit waits for one follower only: the other learns of
		// the leader (and the records) when its appends arrive.
		f.fsm.waitLen(t, 5)
		fs := f.node.Status()
		if fs.Role != "follower" || fs.LeaderID != leader.id || fs.Term != st.Term {
			t.Fatalf("%s status %+v; leader's %+v", f.id, fs, st)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(leader.node))
	want := "# HELP gateway_cluster_leader 1 on the cluster leader (state complete, serving orders), else 0.\n# TYPE gateway_cluster_leader gauge\ngateway_cluster_leader{node=\"" + leader.id + "\"} 1\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gateway_cluster_leader"); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 8 {
		t.Fatalf("%d series (%v); want 8", n, err)
	}
	c.kill(leader)
	if st := leader.node.Status(); st.Role != "stopped" || st.Quorum(leader.node.HeartbeatTimeout()) {
		t.Fatalf("closed node status %+v", st)
	}
}

// TestCollectorStateSize: WithState adds the replicated state's size.
func TestCollectorStateSize(t *testing.T) {
	s := NewState()
	applyAll(t, s, stateRecords())
	records, messages := s.Size()
	if records != 3 || messages != 3 {
		t.Fatalf("Size = %d records, %d messages; want 3 and 3 (core 2, batch 1, margin none)", records, messages)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(&Node{}).WithState(s))
	want := `# HELP gateway_cluster_state_journal_records Journal records held in this node's replicated state (in memory and in each snapshot).
# TYPE gateway_cluster_state_journal_records gauge
gateway_cluster_state_journal_records{node=""} 3
# HELP gateway_cluster_state_stored_messages FIX messages held in this node's replicated session stores (in memory and in each snapshot).
# TYPE gateway_cluster_state_stored_messages gauge
gateway_cluster_state_stored_messages{node=""} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gateway_cluster_state_journal_records", "gateway_cluster_state_stored_messages"); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 11 {
		t.Fatalf("%d series (%v); want 11", n, err)
	}
	stopped := func(v int) string {
		return fmt.Sprintf(`# HELP gateway_cluster_state_stopped 1 once this node's replica stopped applying the log (a record it cannot open, or one a newer version wrote): it cannot lead and falls behind; upgrade or rebuild it.
# TYPE gateway_cluster_state_stopped gauge
gateway_cluster_state_stopped{node=""} %d
`, v)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(stopped(0)), "gateway_cluster_state_stopped"); err != nil {
		t.Fatal(err)
	}
	s.Apply(s.AppliedIndex()+1, []byte("Znewer"))
	if err := testutil.GatherAndCompare(reg, strings.NewReader(stopped(1)), "gateway_cluster_state_stopped"); err != nil {
		t.Fatal(err)
	}
}
