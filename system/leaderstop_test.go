package system

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"sgw/internal/syncbuf"
)

// TestClusterLeaderStopHandsOverFirst: a leader stopped (as SIGTERM does)
// drains its order entry, ends its term and hands leadership over before
// it closes its clients, so that another node leads while this one still
// closes them. Before, the term ended with the node, after the clients:
// order entry was refused on the whole cluster (orders.stopping at the
// leader, forwarded there by the followers) for as long as closing the
// clients and brokers took. The stopped node's log shows the order; then
// another node leads, and the stopped one never took a term again.
func TestClusterLeaderStopHandsOverFirst(t *testing.T) {
	var logs syncbuf.Buffer
	dc := newOrdersClusterLogged(t, slog.New(slog.NewJSONHandler(&logs, nil)))
	// Each node runs under its own context, so that one can be stopped.
	ctx, cancel := context.WithCancel(context.Background())
	venueDone := make(chan error, 1)
	go func() { venueDone <- dc.Venue.Run(ctx) }()
	cancels := map[string]context.CancelFunc{}
	dones := map[string]chan error{}
	for _, nd := range dc.Nodes {
		nctx, ncancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- nd.Gateway.Run(nctx, nd.ln) }()
		cancels[nd.ID], dones[nd.ID] = ncancel, done
	}
	t.Cleanup(func() {
		cancel()
		for id, done := range dones {
			if err := <-done; err != nil {
				t.Errorf("node %s: %v", id, err)
			}
		}
		if err := <-venueDone; err != nil {
			t.Errorf("venue: %v", err)
		}
		dc.NATS.Shutdown()
		dc.NATS.WaitForShutdown()
		os.RemoveAll(dc.Dir)
	})

	first := waitTermLeader(t, dc, "")
	cancels[first.ID]()
	if err := <-dones[first.ID]; err != nil {
		t.Fatalf("node %s: %v", first.ID, err)
	}
	dones[first.ID] <- nil // for the cleanup
	var order []string
	for line := range strings.Lines(logs.String()) {
		var rec struct {
			Msg  string `json:"msg"`
			Node string `json:"node"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Node != first.ID {
			continue
		}
		switch {
		case rec.Msg == "gateway stopping", strings.HasPrefix(rec.Msg, "cluster: leadership term ended"), rec.Msg == "http server stopped":
			order = append(order, rec.Msg)
		}
	}
	want := []string{"gateway stopping", "cluster: leadership term ended; order entry refused here", "http server stopped"}
	if strings.Join(order, " | ") != strings.Join(want, " | ") {
		t.Errorf("%s logged, in order: %q; want %q (the term ended and handed over before the clients close)", first.ID, order, want)
	}
	next := waitTermLeader(t, dc, first.ID)
	t.Logf("%s stopped; %s leads with order entry open", first.ID, next.ID)
	if first.Gateway.Leading() {
		t.Errorf("%s, stopped, leads", first.ID)
	}
}

// TestClusterStoppingNodeTakesNoTerm: a node that has begun to stop
// (drain) and then wins an election hands leadership over at once and
// starts no term (no FIX logon to the venue from a process that exits).
// Both followers are stopping here; the leader hands over; the leadership
// comes back to it, the one node not stopping.
func TestClusterStoppingNodeTakesNoTerm(t *testing.T) {
	var logs syncbuf.Buffer
	dc := newOrdersClusterLogged(t, slog.New(slog.NewJSONHandler(&logs, nil)))
	runDemo(t, dc)
	first := waitTermLeader(t, dc, "")
	for _, nd := range dc.Nodes {
		if nd != first && nd.Gateway.clu != nil {
			if err := nd.Gateway.clu.drain(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
	mark := len(logs.String())
	transferLeadership(t, first.Gateway.clu.node)
	// The term ends at once (the transfer), then comes back.
	waitUntil(t, first.ID+" to lead again with order entry open", 2*time.Minute, func() bool {
		return first.Gateway.Leading() && strings.Count(logs.String()[mark:], `"cluster: leading; order entry open"`) > 0
	})
	handed := 0
	for line := range strings.Lines(logs.String()[mark:]) {
		var rec struct {
			Msg  string `json:"msg"`
			Node string `json:"node"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Node == first.ID {
			continue
		}
		if strings.HasPrefix(rec.Msg, "cluster: leading") {
			t.Errorf("%s, stopping, took a term: %s", rec.Node, line)
		}
		handed++
	}
	t.Logf("%d log lines from the stopping nodes", handed)
}
