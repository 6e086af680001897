package cluster

import (
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
