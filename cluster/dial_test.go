package cluster

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"sgw/sim/faultproxy"
)

// proxiedCluster is a 3-node TCP cluster in which every ordered pair's
// link X→Y goes through its own fault proxy, named in X's DialAddrs.
type proxiedCluster struct {
	*testCluster
	proxies map[[2]string]*faultproxy.Proxy // {from, to}
}

// newProxiedCluster starts it. The proxies listen first (their targets set
// later), each node binds 127.0.0.1:0 with its DialAddrs naming its
// proxies, then the proxies learn the nodes' addresses and the nodes start
// with them as peers: no address is reserved and released.
func newProxiedCluster(t *testing.T) *proxiedCluster {
	t.Helper()
	c := &proxiedCluster{testCluster: &testCluster{t: t, events: make(chan leaderEvent, 64)}, proxies: map[[2]string]*faultproxy.Proxy{}}
	ids := []string{"n1", "n2", "n3"}
	for _, from := range ids {
		for _, to := range ids {
			if from == to {
				continue
			}
			p, err := faultproxy.New("")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			c.proxies[[2]string{from, to}] = p
		}
	}
	peers := map[string]string{}
	for _, id := range ids {
		tn := &testNode{id: id, dir: t.TempDir()}
		dial := map[string]string{}
		for _, to := range ids {
			if to != id {
				dial[to] = c.proxies[[2]string{id, to}].Addr()
			}
		}
		n, err := New(Config{NodeID: id, DataDir: tn.dir, BindAddr: "127.0.0.1:0", DialAddrs: dial}, c.sm(tn))
		if err != nil {
			t.Fatalf("new %s: %v", id, err)
		}
		tn.node, tn.addr = n, n.Addr()
		peers[id] = tn.addr
		c.nodes = append(c.nodes, tn)
	}
	for k, p := range c.proxies {
		p.SetTarget(peers[k[1]])
	}
	for _, tn := range c.nodes {
		c.start(tn, peers)
	}
	t.Cleanup(func() {
		for _, tn := range c.nodes {
			c.kill(tn)
		}
	})
	return c
}

// isolate cuts (or, with heal, restores) every proxy to and from tn.
func (c *proxiedCluster) isolate(tn *testNode, heal bool) {
	for k, p := range c.proxies {
		if k[0] == tn.id || k[1] == tn.id {
			if heal {
				p.Restore()
			} else {
				p.Cut()
			}
		}
	}
}

// TestDialAddrsThroughProxies: with Config.DialAddrs every member reaches
// every other through a proxy of its own, while the members still know
// each other (and the leader) by their Raft addresses; cutting one node's
// proxies isolates it: as leader it stops committing and the other two
// elect a new leader; healed, it catches up as a follower.
func TestDialAddrsThroughProxies(t *testing.T) {
	c := newProxiedCluster(t)
	leader := c.waitLeader("")
	epoch := leader.node.Epoch()
	acked := applyN(t, leader.node, "before", 10)
	for _, f := range c.followers(leader) {
		f.fsm.waitLen(t, len(acked))
		if p := c.proxies[[2]string{leader.id, f.id}]; p.Accepted() == 0 || p.BytesUp() == 0 {
			t.Errorf("%s reached %s without its proxy (accepted %d, bytes %d)", leader.id, f.id, p.Accepted(), p.BytesUp())
		}
		if id, addr := f.node.Leader(); id != leader.id || addr != leader.addr {
			t.Errorf("%s names the leader %s at %s, want %s at its Raft address %s", f.id, id, addr, leader.id, leader.addr)
		}
	}

	c.isolate(leader, false)
	start := time.Now()
	_, err := leader.node.Apply([]byte("lost"), 10*time.Second)
	if !errors.Is(err, ErrNoQuorum) && !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Apply on the isolated leader: err = %v, want ErrNoQuorum or ErrNotLeader", err)
	}
	if err := leader.node.StillLeader(epoch); !errors.Is(err, ErrFenced) {
		t.Errorf("StillLeader on the isolated leader = %v, want ErrFenced", err)
	}
	next := c.waitLeader(leader.id)
	t.Logf("%s isolated by its proxies; %s leads after %v", leader.id, next.id, time.Since(start))
	want := append(acked, applyN(t, next.node, "after", 5)...)

	c.isolate(leader, true)
	for _, tn := range c.nodes {
		// The isolated node's uncommitted "lost" is overwritten by the
		// new leader's log once it hears from it.
		if got := tn.fsm.waitLen(t, len(want)); !slices.Equal(got, want) {
			t.Errorf("%s fsm = %v, want %v", tn.id, got, want)
		}
	}
	if leader.node.IsLeader() {
		t.Errorf("%s leads again after healing", leader.id)
	}
}

// TestGivenListener runs a cluster whose transports accept on listeners
// bound before any node existed (Config.Listener), the peers known from
// them, and checks that a listener New refuses is closed.
func TestGivenListener(t *testing.T) {
	c := &testCluster{t: t, events: make(chan leaderEvent, 64)}
	peers := map[string]string{}
	for i := range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tn := &testNode{id: fmt.Sprintf("n%d", i+1), dir: t.TempDir()}
		n, err := New(Config{NodeID: tn.id, DataDir: tn.dir, BindAddr: "127.0.0.1:1", Listener: ln}, c.sm(tn))
		if err != nil {
			t.Fatal(err)
		}
		if n.Addr() != ln.Addr().String() {
			t.Fatalf("%s advertises %s, want its listener's %s", tn.id, n.Addr(), ln.Addr())
		}
		tn.node, tn.addr = n, n.Addr()
		peers[tn.id] = tn.addr
		c.nodes = append(c.nodes, tn)
	}
	for _, tn := range c.nodes {
		c.start(tn, peers)
	}
	t.Cleanup(func() {
		for _, tn := range c.nodes {
			c.kill(tn)
		}
	})
	leader := c.waitLeader("")
	acked := applyN(t, leader.node, "given", 5)
	for _, f := range c.followers(leader) {
		if got := f.fsm.waitLen(t, len(acked)); !slices.Equal(got, acked) {
			t.Errorf("%s fsm = %v, want %v", f.id, got, acked)
		}
	}

	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{NodeID: "x", DataDir: t.TempDir(), Listener: ln}, newMemFSM()); err == nil {
		t.Fatal("New took a listener on an unspecified address: it cannot be advertised")
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("the refused listener was left open: Accept = %v", err)
	}
}
