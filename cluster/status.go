package cluster

import (
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// Status is a node's view of the cluster, for /readyz and metrics.
type Status struct {
	// ID is this node's ID.
	ID string
	// Role is "leader", "follower", "candidate" or "stopped".
	Role string
	// LeaderID is the leader this node knows of, "" during an election.
	LeaderID string
	// Term is the current Raft term; Epoch this node's leadership epoch
	// (0 unless it leads with its state complete).
	Term, Epoch uint64
	// LastLogIndex, CommitIndex and AppliedIndex are this node's Raft log
	// positions: written, known committed, applied to the StateMachine.
	LastLogIndex, CommitIndex, AppliedIndex uint64
	// LastContact is how long ago a follower last heard from the leader;
	// 0 on the leader, -1 if never.
	LastContact time.Duration
}

// Quorum reports whether the node sees a working cluster: it leads with
// its state complete, or follows a leader heard from within the election
// timeout's reach (twice the heartbeat timeout).
func (s Status) Quorum(heartbeat time.Duration) bool {
	switch s.Role {
	case "leader":
		return s.Epoch != 0
	case "follower":
		return s.LeaderID != "" && s.LastContact >= 0 && s.LastContact <= 2*heartbeat
	}
	return false
}

// Status returns the node's view now. Safe from any goroutine.
func (n *Node) Status() Status {
	st := Status{ID: n.cfg.NodeID, Role: "stopped", LastContact: -1}
	if n.raft == nil || n.closed.Load() {
		return st
	}
	switch n.raft.State() {
	case raft.Leader:
		st.Role = "leader"
	case raft.Follower:
		st.Role = "follower"
	case raft.Candidate:
		st.Role = "candidate"
	}
	_, id := n.raft.LeaderWithID()
	st.LeaderID = string(id)
	st.Term, st.Epoch = n.raft.CurrentTerm(), n.epoch.Load()
	st.LastLogIndex, st.CommitIndex, st.AppliedIndex = n.raft.LastIndex(), n.raft.CommitIndex(), n.raft.AppliedIndex()
	switch {
	case st.Role == "leader":
		st.LastContact = 0
	case !n.raft.LastContact().IsZero():
		st.LastContact = time.Since(n.raft.LastContact())
	}
	return st
}

// HeartbeatTimeout is the node's configured heartbeat timeout (for
// Status.Quorum).
func (n *Node) HeartbeatTimeout() time.Duration { return n.cfg.HeartbeatTimeout }

// Collector exports a node's Status as Prometheus metrics:
//
//	gateway_cluster_leader            1 on the leader (with its state complete), else 0
//	gateway_cluster_quorum            1 while Status.Quorum holds
//	gateway_cluster_term              the Raft term
//	gateway_cluster_last_log_index    the last log index written
//	gateway_cluster_commit_index      the last index known committed
//	gateway_cluster_applied_index     the last index applied to the state
//	gateway_cluster_apply_lag_entries commit_index - applied_index
//	gateway_cluster_last_contact_seconds  since a follower last heard from the leader (-1: never)
//
// and, WithState, the size of the replicated state:
//
//	gateway_cluster_state_journal_records  journal records held
//	gateway_cluster_state_stored_messages  FIX messages held in the session stores
//	gateway_cluster_state_stopped          1 once the replica stopped applying records (State.Err): alert
//
// Replication lag of a follower is the leader's commit index minus the
// follower's applied index, across the nodes' series.
type Collector struct {
	n     *Node
	state *State // nil: no state series
	descs map[string]*prometheus.Desc
}

// WithState adds the size of s, the node's replicated state, to the
// collector's series and returns c. Call it before registering c.
func (c *Collector) WithState(s *State) *Collector {
	c.state = s
	for name, help := range map[string]string{
		"state_journal_records": "Journal records held in this node's replicated state (in memory and in each snapshot).",
		"state_stored_messages": "FIX messages held in this node's replicated session stores (in memory and in each snapshot).",
		"state_stopped":         "1 once this node's replica stopped applying the log (a record it cannot open, or one a newer version wrote): it cannot lead and falls behind; upgrade or rebuild it.",
	} {
		c.descs[name] = prometheus.NewDesc("gateway_cluster_"+name, help, nil, prometheus.Labels{"node": c.n.cfg.NodeID})
	}
	return c
}

// NewCollector returns the collector of n's metrics.
func NewCollector(n *Node) *Collector {
	c := &Collector{n: n, descs: map[string]*prometheus.Desc{}}
	for name, help := range map[string]string{
		"leader":               "1 on the cluster leader (state complete, serving orders), else 0.",
		"quorum":               "1 while this node leads or follows a leader heard from recently.",
		"term":                 "The current Raft term.",
		"last_log_index":       "The last Raft log index written on this node.",
		"commit_index":         "The last Raft log index this node knows is committed.",
		"applied_index":        "The last Raft log index applied to this node's order state.",
		"apply_lag_entries":    "Committed entries not yet applied on this node.",
		"last_contact_seconds": "Seconds since this follower last heard from the leader (0 on the leader, -1 never).",
	} {
		c.descs[name] = prometheus.NewDesc("gateway_cluster_"+name, help, nil, prometheus.Labels{"node": n.cfg.NodeID})
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.n.Status()
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	contact := st.LastContact.Seconds()
	if st.LastContact < 0 {
		contact = -1
	}
	for name, v := range map[string]float64{
		"leader":               b(st.Role == "leader" && st.Epoch != 0),
		"quorum":               b(st.Quorum(c.n.cfg.HeartbeatTimeout)),
		"term":                 float64(st.Term),
		"last_log_index":       float64(st.LastLogIndex),
		"commit_index":         float64(st.CommitIndex),
		"applied_index":        float64(st.AppliedIndex),
		"apply_lag_entries":    float64(st.CommitIndex) - float64(min(st.AppliedIndex, st.CommitIndex)),
		"last_contact_seconds": contact,
	} {
		ch <- prometheus.MustNewConstMetric(c.descs[name], prometheus.GaugeValue, v)
	}
	if c.state != nil {
		records, messages := c.state.Size()
		ch <- prometheus.MustNewConstMetric(c.descs["state_journal_records"], prometheus.GaugeValue, float64(records))
		ch <- prometheus.MustNewConstMetric(c.descs["state_stored_messages"], prometheus.GaugeValue, float64(messages))
		stopped := 0.0
		if c.state.Err() != nil {
			stopped = 1
		}
		ch <- prometheus.MustNewConstMetric(c.descs["state_stopped"], prometheus.GaugeValue, stopped)
	}
}
