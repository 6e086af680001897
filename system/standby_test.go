package system

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/journal"
	"sgw/orders"
	"sgw/refdata"
	"sgw/risk"
)

// TestClusterWarmTakeover: the followers keep a standby order manager
// caught up with the replicated journal, so a new leader's term replays
// only the tail, not the day. Orders rest at the venue through the first
// leader; once each follower's standby has applied every record (and
// gateway_cluster_standby_lag_records reads 0), leadership is handed
// over: the new term starts warm, replaying few records, and knows every
// order (a reused clOrdID is refused as a duplicate, an order is canceled
// at the venue through it). Three nodes in this process (NewDemoCluster).
func TestClusterWarmTakeover(t *testing.T) {
	dc := newOrdersCluster(t)
	type replay struct {
		records int
		warm    bool
	}
	replays := map[string]*atomic.Pointer[replay]{}
	for _, nd := range dc.Nodes {
		if c := nd.Gateway.clu; c != nil {
			p := new(atomic.Pointer[replay])
			replays[nd.ID] = p
			c.terms.onReplay = func(n int, warm bool) { p.Store(&replay{n, warm}) }
		}
	}
	runDemo(t, dc)

	first := waitTermLeader(t, dc, "")
	entry := first.Gateway.clu.entry
	const n = 30
	price, err := refdata.ParsePrice("1600.00")
	if err != nil {
		t.Fatal(err)
	}
	src := orders.Source{Kind: "admin", Session: "warm-test"}
	for i := range n {
		req := orders.NewRequest{ClOrdID: fmt.Sprintf("warm%03d", i), Account: "A1", Symbol: "600519.SH",
			Side: risk.Buy, Type: risk.Limit, Price: price, Qty: 100, Source: src}
		if _, err := entry.New(req); err != nil {
			t.Fatalf("order %s: %v", req.ClOrdID, err)
		}
	}
	waitUntil(t, "every order resting at the venue", time.Minute, func() bool {
		for i := range n {
			if o, ok := entry.Get("A1", fmt.Sprintf("warm%03d", i)); !ok || o.Status != orders.StatusNew {
				return false
			}
		}
		return true
	})
	// Each order's acknowledgement is journaled (its record may commit
	// after the order shows new). The journal holds other records too (a
	// term's day, a session's period): the reports are counted.
	waitUntil(t, "every acknowledgement journaled", time.Minute, func() bool {
		reports := 0
		_ = first.Gateway.clu.state.Replay(func(r journal.Record) error {
			if r.Type == 'E' { // orders' execution report record
				reports++
			}
			return nil
		})
		return reports >= n
	})
	journal := first.Gateway.clu.state.JournalLen()
	for _, nd := range dc.Nodes {
		c := nd.Gateway.clu
		if c == nil || nd.ID == first.ID {
			continue
		}
		waitUntil(t, nd.ID+"'s standby to apply the journal", time.Minute, func() bool {
			sb := c.standby.Load()
			return sb != nil && c.state.JournalLen() >= journal && sb.applied.Load() == uint64(c.state.JournalLen())
		})
		if lag := standbyLag(t, c); lag != 0 {
			t.Errorf("%s: gateway_cluster_standby_lag_records = %v, want 0", nd.ID, lag)
		}
	}
	if lag := standbyLag(t, first.Gateway.clu); lag != -1 {
		t.Errorf("the leader's gateway_cluster_standby_lag_records = %v, want -1", lag)
	}

	next := handOver(t, dc, first)
	r := replays[next.ID].Load()
	if r == nil || !r.warm || r.records >= n {
		t.Fatalf("%s's term replayed %+v of a %d-record journal; want a warm start replaying the tail only", next.ID, r, journal)
	}
	t.Logf("%s leads: its term replayed %d of %d records (warm)", next.ID, r.records, journal)

	entry = next.Gateway.clu.entry
	for i := range n {
		if o, ok := entry.Get("A1", fmt.Sprintf("warm%03d", i)); !ok || o.Status.Terminal() {
			t.Fatalf("the new leader has order warm%03d as %+v (found %v), want it open", i, o, ok)
		}
	}
	_, err = entry.New(orders.NewRequest{ClOrdID: "warm000", Account: "A1", Symbol: "600519.SH",
		Side: risk.Buy, Type: risk.Limit, Price: price, Qty: 100, Source: src})
	var rej *risk.Reject
	if !errors.As(err, &rej) || rej.Code != risk.CodeDuplicateClOrd {
		t.Errorf("a reused clOrdID on the new leader: %v, want %s", err, risk.CodeDuplicateClOrd)
	}
	// On a loaded machine the leadership may move again (a lease lost):
	// the cancel and its outcome are asked of whichever node leads then.
	// The cancel carries no ClOrdID of its own, so it is sent again only
	// when refused (not_leader), never after an in-doubt answer.
	waitUntil(t, "the cancel of warm007 accepted by a leader", time.Minute, func() bool {
		_, err := waitTermLeader(t, dc, "").Gateway.clu.entry.Cancel(orders.CancelRequest{OrigClOrdID: "warm007", Account: "A1", Source: src})
		var rej *orders.Reject
		if errors.As(err, &rej) && rej.Code == orders.CodeNotLeader {
			return false
		}
		if err != nil && !errors.Is(err, orders.ErrInDoubt) {
			t.Fatalf("cancel through the new leader: %v", err)
		}
		return true
	})
	waitUntil(t, "warm007 canceled at the venue", time.Minute, func() bool {
		o, ok := waitTermLeader(t, dc, "").Gateway.clu.entry.Get("A1", "warm007")
		return ok && o.Status == orders.StatusCanceled
	})
}

// standbyLag reads gateway_cluster_standby_lag_records from c's collector.
func standbyLag(t *testing.T, c *clustered) float64 {
	t.Helper()
	v, ok := gaugeValue(t, c.collector(), "gateway_cluster_standby_lag_records")
	if !ok {
		t.Fatal("no gateway_cluster_standby_lag_records")
	}
	return v
}

// gaugeValue collects col and returns the value of its gauge name.
func gaugeValue(t *testing.T, col prometheus.Collector, name string) (float64, bool) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(col); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue(), true
		}
	}
	return 0, false
}
