package system

import (
	"fmt"
	"testing"
	"time"

	"sgw/fix"
	"sgw/sim/faultproxy"
)

// partitionedCluster is a test cluster whose every path goes through a
// fault proxy: each ordered pair's Raft link X→Y (named in X's
// cluster.dial), and each node's upstream FIX lines (one proxy per venue
// line address per node, so each node's bytes to the venue are counted
// apart).
type partitionedCluster struct {
	nodes []*clusterNode
	raft  map[[2]string]*faultproxy.Proxy // {from, to} node IDs
	lines map[string][]*faultproxy.Proxy  // node ID → its line proxies
}

// startPartitionedCluster configures the proxies and starts the nodes.
func startPartitionedCluster(t *testing.T, v *venue) *partitionedCluster {
	t.Helper()
	pc := &partitionedCluster{nodes: clusterNodes(t, v.cfg), raft: map[[2]string]*faultproxy.Proxy{}, lines: map[string][]*faultproxy.Proxy{}}
	// The nodes' addresses are below the ephemeral range (freeport): a
	// proxy listening on port 0 cannot take one.
	proxy := func(target string) *faultproxy.Proxy {
		p, err := faultproxy.New(target)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	for _, n := range pc.nodes {
		cc := n.cfg.Cluster
		cc.Dial = map[string]string{}
		for _, m := range cc.Nodes {
			if m.ID != cc.NodeID {
				p := proxy(m.Raft)
				pc.raft[[2]string{cc.NodeID, m.ID}] = p
				cc.Dial[m.ID] = p.Addr()
			}
		}
		byAddr := map[string]*faultproxy.Proxy{} // both upstreams share the venue's lines
		for i := range n.cfg.Orders.Upstreams {
			u := &n.cfg.Orders.Upstreams[i]
			for j := range u.Lines {
				p := byAddr[u.Lines[j].Addr]
				if p == nil {
					p = proxy(u.Lines[j].Addr)
					byAddr[u.Lines[j].Addr] = p
					pc.lines[cc.NodeID] = append(pc.lines[cc.NodeID], p)
				}
				u.Lines[j].Addr = p.Addr()
			}
		}
	}
	for _, n := range pc.nodes {
		n.start(t)
	}
	return pc
}

// bytesUp is how many bytes node n has sent the venue, over all its lines.
func (pc *partitionedCluster) bytesUp(n *clusterNode) uint64 {
	var sum uint64
	for _, p := range pc.lines[n.cfg.Cluster.NodeID] {
		sum += p.BytesUp()
	}
	return sum
}

// partition cuts (heal: restores) every Raft link to and from n.
func (pc *partitionedCluster) partition(n *clusterNode, heal bool) {
	for k, p := range pc.raft {
		if k[0] == n.cfg.Cluster.NodeID || k[1] == n.cfg.Cluster.NodeID {
			if heal {
				p.Restore()
			} else {
				p.Cut()
			}
		}
	}
}

// TestClusterPartitionedLeaderStopsSending cuts the leader L off from the
// other two members (its Raft links, both ways; its lines to the venue
// and its HTTP listener stay up) while a client streams orders through
// it. The others elect a new leader, whose session logs on at the venue;
// from then on L sends the venue nothing, and L stops reporting itself
// leader. Healed, L rejoins as a follower; orders go on through the new
// leader, and every order is journaled and reached the venue exactly once.
func TestClusterPartitionedLeaderStopsSending(t *testing.T) {
	v := startVenue(t)
	pc := startPartitionedCluster(t, v)
	tok := token(t, v.cfg)
	old := waitClusterLeader(t, v, pc.nodes)
	oldID := old.cfg.Cluster.NodeID

	tr := newTrader(t, old.child.base, tok)
	var ids []string
	for i := range 5 {
		id := fmt.Sprintf("p-%d", i)
		tr.send(id)
		ids = append(ids, id)
	}
	tr.waitFor("the first orders working", func() bool {
		for _, id := range ids {
			if tr.final[id] != "new" {
				return false
			}
		}
		return true
	})
	if pc.bytesUp(old) == 0 {
		t.Fatalf("%s leads and trades, but its line proxies carried nothing", oldID)
	}

	// The cut comes midway through a stream at 200/s: some orders are in
	// flight on L (their records not committed) when it loses its quorum.
	// L's term ends when it steps down, and it closes its trading
	// clients, which ends the stream.
	var cut time.Time
	ids = append(ids, tr.stream("cut", 60, 200, func() {
		cut = time.Now()
		pc.partition(old, false)
	})...)

	// A new leader whose session is logged on at the venue. L's count is
	// read before the venue's flag, so that it is taken no later than the
	// logon was seen.
	var next *clusterNode
	var before uint64
	waitUntil(t, "another leader with its upstream session", 60*time.Second, func() bool {
		before = pc.bytesUp(old)
		next = nil
		for _, n := range pc.nodes {
			if n != old && role(n.child.base) == "leader" {
				next = n
			}
		}
		return next != nil && v.fix.LoggedOn("SGW-CORE")
	})
	takeover := time.Since(cut)
	t.Logf("%s partitioned; %s leads with its session logged on %v after the cut", oldID, next.cfg.Cluster.NodeID, takeover)

	// From then on L's lines carry nothing. L can write to the venue only
	// from a leadership term, whose relay asks the fence before every dial
	// and write; the fence fails once L cannot confirm its leadership with
	// a quorum, and stays failed. The window runs until L itself reports
	// it no longer leads, then three more heartbeat intervals: a session
	// of L still alive would send at least a heartbeat in each, and while
	// partitioned L cannot win another term (it is checked throughout).
	nextBefore := pc.bytesUp(next)
	hb := fix.DefaultHeartBtInt
	var stepped time.Time
	waitUntil(t, fmt.Sprintf("%s to report a role other than leader, then %v", oldID, 3*hb), 60*time.Second, func() bool {
		if n := pc.bytesUp(old); n != before {
			t.Fatalf("%s sent the venue %d bytes after %s's session logged on", oldID, n-before, next.cfg.Cluster.NodeID)
		}
		r := role(old.child.base)
		switch {
		case r == "leader" && !stepped.IsZero():
			t.Fatalf("%s leads again while partitioned", oldID)
		case r != "leader" && r != "" && stepped.IsZero():
			stepped = time.Now()
		}
		return !stepped.IsZero() && time.Since(stepped) >= 3*hb
	})
	t.Logf("%s no longer leads (%q; first asked %v after the cut, once %s was logged on); its lines carried nothing from then to %v after",
		oldID, role(old.child.base), stepped.Sub(cut), next.cfg.Cluster.NodeID, 3*hb)
	if pc.bytesUp(next) == nextBefore {
		t.Errorf("%s's lines carried nothing for %v: the byte count does not see a live session", next.cfg.Cluster.NodeID, 3*hb)
	}

	// Heal: L rejoins as a follower of the leader (the others may have
	// elected again when L came back; any leader will do).
	pc.partition(old, true)
	leader := waitClusterLeader(t, v, pc.nodes)
	waitUntil(t, oldID+" following "+leader.cfg.Cluster.NodeID, 60*time.Second, func() bool {
		r, l := readyRole(old.child.base)
		return leader == old || (r == "follower" && l == leader.cfg.Cluster.NodeID)
	})
	tr2 := newTrader(t, leader.child.base, tok)
	more := tr2.stream("healed", 20, 100, nil)
	tr2.waitFor("the orders after healing working", func() bool {
		for _, id := range more {
			if tr2.final[id] != "new" {
				return false
			}
		}
		return true
	})
	ids = append(ids, more...)
	waitResolved(t, leader, tok, ids)

	stopCluster(t, pc.nodes, leader)
	uids, count := journaledIn(t, clusterJournal(leader, nil))
	// Orders in flight on L when it lost its quorum are refused in doubt
	// (the next leader's log decides: journaled or not); those sent after
	// its term ended are refused not_leader and never journaled.
	checkExactlyOnceDoubt(t, v, uids, count, ids, []string{"orders.not_leader"}, []string{"orders.in_doubt"}, tr, tr2)
}

// TestClusterKill9LeaderLineStalled kills the leader L while its lines to
// the venue hold every byte it wrote after a point (stalled, then cut with
// L): the orders L accepted meanwhile are journaled, handed to its session
// (stored, and replicated or not) and never reached the venue. The next
// leader must deliver each exactly once, by FIX resend (a replicated
// store holds them) or by the recovery rule's probe (it does not).
func TestClusterKill9LeaderLineStalled(t *testing.T) {
	v := startVenue(t)
	pc := startPartitionedCluster(t, v)
	tok := token(t, v.cfg)
	var ids []string
	var traders []*trader
	for round := range 3 {
		old := waitClusterLeader(t, v, pc.nodes)
		tr := newTrader(t, old.child.base, tok)
		traders = append(traders, tr)
		warm := tr.stream(fmt.Sprintf("w%d", round), 3, 100, nil)
		tr.waitFor("the first orders working", func() bool {
			for _, id := range warm {
				if tr.final[id] != "new" {
					return false
				}
			}
			return true
		})
		ids = append(ids, warm...)
		for _, p := range pc.lines[old.cfg.Cluster.NodeID] {
			p.Stall()
		}
		held := tr.stream(fmt.Sprintf("s%d", round), 30, 400, nil)
		ids = append(ids, held...)
		tr.waitFor("the held orders answered", func() bool {
			if tr.closeErr != nil {
				return true // the term ended under the stream (an election)
			}
			for _, id := range held {
				if tr.accepted[id] == 0 && tr.errors[id] == "" {
					return false
				}
			}
			return true
		})
		if old.child != nil {
			old.child.kill(t)
			old.child = nil
		}
		for _, p := range pc.lines[old.cfg.Cluster.NodeID] {
			p.Cut() // what L wrote and the proxy held never reaches the venue
			p.Unstall()
		}
		<-tr.done
		waitClusterLeader(t, v, pc.nodes)
		for _, p := range pc.lines[old.cfg.Cluster.NodeID] {
			p.Restore()
		}
		old.start(t)
	}
	leader := waitClusterLeader(t, v, pc.nodes)
	waitResolved(t, leader, tok, ids)
	stopCluster(t, pc.nodes, leader)
	uids, count := journaledIn(t, clusterJournal(leader, nil))
	for _, id := range ids {
		if uid, ok := uids[id]; ok {
			if fresh, dup := v.fix.Seen(uid); fresh+dup == 0 {
				t.Errorf("%s (%s): journaled, never reached the venue", id, uid)
			}
		}
	}
	checkExactlyOnceIn(t, v, uids, count, ids, []string{"orders.not_leader"}, traders...)
}
