package system

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sgw/configs"
	"sgw/fix"
	"sgw/fix/qfcpp"
	"sgw/sim/faultproxy"
)

// These tests put the gateway between clients and venues it did not
// write: QuickFIX C++ 1.15's own example venues (package qfcpp). The
// executor fills every order at once and answers cancel, replace and
// status requests with BusinessMessageReject (35=j); ordermatch rests
// orders, cancels them, and refuses replace and status requests with 35=j.

// qfVenue is a QuickFIX C++ venue per upstream, each reached over two
// lines (fault proxies standing in for the carriers), and the gateway
// configuration pointing at them.
type qfVenue struct {
	kit   *qfcpp.Kit
	cfg   *configs.File
	procs map[string]*qfcpp.Proc          // upstream → venue
	lines map[string][2]*faultproxy.Proxy // upstream → carrier lines
	ctx   context.Context
}

// qfOpts says which venues to start.
type qfOpts struct {
	begin      string // FIX.4.2 or FIX.4.4 for both upstreams
	orderMatch bool   // ordermatch (FIX 4.2) instead of the executor
	// shared serves both upstreams from one venue process; otherwise each
	// has its own, whose ExecIDs and OrderIDs both start at 1.
	shared bool
	// settings are added to the venues' QuickFIX settings (qfcpp.Venue).
	settings map[string]string
}

func startQFVenue(t *testing.T, o qfOpts) *qfVenue {
	t.Helper()
	kit := qfcpp.Build(t)
	cfg, err := configs.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Gateway.HTTP = "127.0.0.1:0"
	cfg.Feeds, cfg.Sim, cfg.FIXSim = nil, nil, nil
	tuneForLoad(cfg)
	dir := t.TempDir()
	cfg.Orders.Journal = filepath.Join(dir, "orders.jrnl")
	cfg.Brokers.StoreDir = filepath.Join(dir, "fix-brokers")
	// A bound on the whole test's exchanges with the QuickFIX C++ peers,
	// for a peer that never answers: generous, since a cluster test with
	// kills runs about three minutes on a machine at load average 30
	// under -race.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	v := &qfVenue{kit: kit, cfg: cfg, procs: map[string]*qfcpp.Proc{}, lines: map[string][2]*faultproxy.Proxy{}, ctx: ctx}
	start := func(sessions []qfcpp.Session) *qfcpp.Proc {
		venue := qfcpp.Venue{BeginString: sessions[0].BeginString, SenderCompID: sessions[0].SenderCompID,
			TargetCompID: sessions[0].TargetCompID, More: sessions[1:], Settings: o.settings}
		if o.orderMatch {
			return kit.StartOrderMatch(t, venue)
		}
		return kit.StartExecutor(t, venue)
	}
	var all []qfcpp.Session
	for i := range cfg.Orders.Upstreams {
		u := &cfg.Orders.Upstreams[i]
		u.BeginString = o.begin
		u.StoreDir = filepath.Join(dir, "fix-"+u.Name)
		all = append(all, qfcpp.Session{BeginString: o.begin, SenderCompID: u.TargetCompID, TargetCompID: u.SenderCompID})
	}
	if o.shared {
		p := start(all)
		for _, u := range cfg.Orders.Upstreams {
			v.procs[u.Name] = p
		}
	} else {
		for i, u := range cfg.Orders.Upstreams {
			v.procs[u.Name] = start(all[i : i+1])
		}
	}
	for i := range cfg.Orders.Upstreams {
		u := &cfg.Orders.Upstreams[i]
		var pair [2]*faultproxy.Proxy
		for j := range u.Lines {
			p, err := faultproxy.New(v.procs[u.Name].Addr())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			pair[j] = p
			u.Lines[j].Addr = p.Addr()
		}
		v.lines[u.Name] = pair
	}
	return v
}

// seen counts the NewOrderSingles with ClOrdID uid the upstream's venue
// received: fresh ones, and PossDup resends (43=Y) apart.
func (v *qfVenue) seen(upstream, uid string) (fresh, dup int) {
	return v.count(upstream, qfcpp.Incoming, func(m qfcpp.Message) bool { return m.Type() == "D" && m.Get(11) == uid })
}

// fills counts the fills of order uid the upstream's venue sent, resends
// (43=Y) apart.
func (v *qfVenue) fills(upstream, uid string) (fresh, dup int) {
	return v.count(upstream, qfcpp.Outgoing, func(m qfcpp.Message) bool {
		return m.Type() == "8" && m.Get(11) == uid && m.Get(39) == "2"
	})
}

// count counts the messages of the upstream's venue in direction kind that
// match, PossDup resends (43=Y) apart.
func (v *qfVenue) count(upstream, kind string, match func(qfcpp.Message) bool) (fresh, dup int) {
	for _, e := range v.procs[upstream].Entries() {
		if e.Kind != kind || !match(e.Msg) {
			continue
		}
		if e.Msg.Get(43) == "Y" {
			dup++
		} else {
			fresh++
		}
	}
	return fresh, dup
}

// logons counts the Logons the upstream's venue sent to its session: one
// per session the venue accepted.
func (v *qfVenue) logons(upstream string) int {
	target := ""
	for _, u := range v.cfg.Orders.Upstreams {
		if u.Name == upstream {
			target = u.SenderCompID
		}
	}
	n, _ := v.count(upstream, qfcpp.Outgoing, func(m qfcpp.Message) bool { return m.Type() == "A" && m.Get(56) == target })
	return n
}

// awaitLogon waits until the upstream's session logged on to its venue
// n times in all.
func (v *qfVenue) awaitLogon(t *testing.T, upstream string, n int) {
	t.Helper()
	sender := ""
	for _, u := range v.cfg.Orders.Upstreams {
		if u.Name == upstream {
			sender = u.SenderCompID
		}
	}
	seen := 0
	if _, err := v.procs[upstream].Await(v.ctx, func(e qfcpp.Entry) bool {
		if e.Kind == qfcpp.Incoming && e.Msg.Type() == "A" && e.Msg.Get(49) == sender {
			seen++
		}
		return seen == n
	}); err != nil {
		t.Fatalf("waiting for logon %d of %s: %v", n, upstream, err)
	}
}

// checkFilledOnce checks that every journaled order among ids reached the
// upstream's venue at most once fresh (PossDup resends apart) and at
// least once, was filled there once, and that the gateway holds it
// filled; and that the venue got no order the journal lacks.
func checkFilledOnce(t *testing.T, v *qfVenue, upstream string, ids []string, statusOf func(id string) string) {
	t.Helper()
	uids, count := journaled(t, v.cfg)
	checkFilledOnceIn(t, v, upstream, uids, count, ids, statusOf)
}

// checkFilledOnceIn is checkFilledOnce with the journal's new orders
// given (journaledIn).
func checkFilledOnceIn(t *testing.T, v *qfVenue, upstream string, uids map[string]string, count map[string]int, ids []string, statusOf func(id string) string) {
	t.Helper()
	var journaledIDs []string
	for _, id := range ids {
		uid, ok := uids[id]
		if !ok {
			continue
		}
		journaledIDs = append(journaledIDs, id)
		// The venue fills it; the gateway hears of it a moment later.
		if _, err := v.procs[upstream].Await(v.ctx, func(e qfcpp.Entry) bool {
			return e.Kind == qfcpp.Outgoing && e.Msg.Type() == "8" && e.Msg.Get(11) == uid && e.Msg.Get(39) == "2"
		}); err != nil {
			t.Fatalf("%s (%s): the venue never filled it: %v", id, uid, err)
		}
		st := statusOf(id)
		for try := 0; st != "filled" && try < 250; try++ {
			time.Sleep(20 * time.Millisecond) // the gateway's state has no change notification here; poll it
			st = statusOf(id)
		}
		if st != "filled" {
			t.Errorf("%s (%s): status %q at the gateway, want filled", id, uid, st)
		}
	}
	// Everything settled: count what the venue got and did. Journal
	// first, then the wire: every NewOrderSingle the venue got is of an
	// order the journal holds.
	known := map[string]bool{}
	for _, uid := range uids {
		known[uid] = true
	}
	for _, e := range v.procs[upstream].Entries() {
		if e.Kind == qfcpp.Incoming && e.Msg.Type() == "D" && !known[e.Msg.Get(11)] {
			t.Errorf("the venue got an order the journal lacks: %s", e.Text)
		}
	}
	resent := 0
	for _, id := range journaledIDs {
		uid := uids[id]
		fresh, dup := v.seen(upstream, uid)
		if fresh == 0 {
			resent++
		}
		filled, refilled := v.fills(upstream, uid)
		if count[id] != 1 || fresh > 1 || fresh+dup == 0 || filled != 1 {
			t.Errorf("%s (%s): journaled %d, reached the venue fresh %d (+%d PossDup resends), filled there %d times (+%d resends)",
				id, uid, count[id], fresh, dup, filled, refilled)
		}
	}
	t.Logf("%d of %d orders journaled; each reached the venue once (%d first as a PossDup resend) and is filled", len(journaledIDs), len(ids), resent)
}

// TestInteropExecutorStream streams orders through the gateway to the
// QuickFIX C++ executor over FIX 4.2 and 4.4, cutting the carrier line in
// use and then stalling the other mid-stream: every order is accepted
// (none refused for the failover), reaches the venue exactly once and
// ends filled; the venue's answers to a cancel and a status request
// (35=j) end those requests with the venue's reason.
func TestInteropExecutorStream(t *testing.T) {
	for _, begin := range []string{qfcpp.FIX42, qfcpp.FIX44} {
		t.Run(begin, func(t *testing.T) {
			v := startQFVenue(t, qfOpts{begin: begin, shared: true})
			rg := startGatewayOn(t, v.cfg)
			v.awaitLogon(t, "core", 1)
			tr := newTrader(t, rg.base, token(t, v.cfg))
			lines := v.lines["core"]
			ids := tr.streamAt("x", 200, 200, "45.60", map[int]func(){
				60:  func() { lines[0].Cut() },   // carrier A breaks: the session moves to B
				140: func() { lines[1].Stall() }, // then B goes silent: back to A (restored)
				100: func() { lines[0].Restore() },
			})
			tr.waitFor("every order filled or refused", func() bool {
				for _, id := range ids {
					if tr.final[id] != "filled" && tr.errors[id] == "" {
						return false
					}
				}
				return true
			})
			lines[1].Unstall()
			tr.mu.Lock()
			for id, e := range tr.errors {
				t.Errorf("%s refused: %s", id, e)
			}
			tr.mu.Unlock()
			checkFilledOnce(t, v, "core", ids, func(id string) string { o, _ := rg.g.Orders().Get("A1", id); return string(o.Status) })

			// The executor answers a status request with 35=j: the gateway
			// stops asking it, and nothing stays pending.
			o, _ := rg.g.Orders().Get("A1", ids[0])
			if err := rg.g.upstreams[0].Send(statusReqOf(o)); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "the gateway to stop asking the executor for status", 30*time.Second, func() bool {
				return metricValue(t, rg, `gateway_orders_status_unsupported{upstream="core"}`) == 1
			})
		})
	}
}

// TestInteropTwoUpstreamsSameExecIDs: the core and margin systems are two
// executor processes, each numbering its executions from 1. Every order
// of both is filled once: executions are told apart by upstream.
func TestInteropTwoUpstreamsSameExecIDs(t *testing.T) {
	v := startQFVenue(t, qfOpts{begin: qfcpp.FIX44})
	rg := startGatewayOn(t, v.cfg)
	v.awaitLogon(t, "core", 1)
	v.awaitLogon(t, "margin", 1)
	tr := newTraderFor(t, rg.base, tokenFor(t, v.cfg, "A1", "M1"), "A1", "M1")
	var cash, credit []string
	for i := range 20 {
		for _, acct := range []string{"A1", "M1"} {
			id := fmt.Sprintf("%s-%d", strings.ToLower(acct), i)
			tr.sendFor(acct, id, "45.60")
			if acct == "A1" {
				cash = append(cash, id)
			} else {
				credit = append(credit, id)
			}
		}
	}
	tr.waitFor("every order filled", func() bool {
		for _, id := range append(append([]string(nil), cash...), credit...) {
			if tr.final[id] != "filled" {
				return false
			}
		}
		return true
	})
	for up, acct := range map[string]string{"core": "A1", "margin": "M1"} {
		ids := cash
		if up == "margin" {
			ids = credit
		}
		checkFilledOnce(t, v, up, ids, func(id string) string { o, _ := rg.g.Orders().Get(acct, id); return string(o.Status) })
	}
	// Both venues did use ExecIDs 1..20.
	for _, up := range []string{"core", "margin"} {
		if _, err := v.procs[up].Await(v.ctx, func(e qfcpp.Entry) bool {
			return e.Kind == qfcpp.Outgoing && e.Msg.Type() == "8" && e.Msg.Get(17) == "20"
		}); err != nil {
			t.Fatalf("%s never sent ExecID 20: %v", up, err)
		}
	}
}

// TestInteropOrderMatchRejectsReplaceAndStatus: ordermatch (FIX 4.2) rests
// orders and answers OrderCancelReplaceRequest and OrderStatusRequest with
// 35=j. A replace ends refused with the venue's reason and leaves nothing
// blocked; after a gateway restart the status request recovery sends is
// refused too, and the resting order can still be cancelled.
func TestInteropOrderMatchRejectsReplaceAndStatus(t *testing.T) {
	v := startQFVenue(t, qfOpts{begin: qfcpp.FIX42, orderMatch: true, shared: true})
	rg := startGatewayOn(t, v.cfg)
	v.awaitLogon(t, "core", 1)
	tok := token(t, v.cfg)
	tr := newTrader(t, rg.base, tok)
	tr.sendAt("b1", "41.10")
	tr.waitFor("b1 working", func() bool { return tr.final["b1"] == "new" })
	for i, px := range []string{"41.20", "41.30"} {
		id := fmt.Sprintf("r%d", i+1)
		if err := tr.c.Send(tr.ctx, map[string]any{"op": "order.replace", "clOrdId": id, "origClOrdId": "b1", "account": "A1",
			"price": px, "qty": 100}); err != nil {
			t.Fatal(err)
		}
		tr.waitFor("the replace "+id+" refused", func() bool { return tr.rejected[id] != "" })
		if r := tr.rejected[id]; !strings.Contains(r, "Unsupported Message Type") {
			t.Errorf("replace %s refused with %q, want the venue's reason", id, r)
		}
	}
	// Restart: recovery asks the venue for b1's status; 35=j; the order
	// stays as journaled and a cancel goes through.
	rg.stop()
	rg2 := startGatewayOn(t, v.cfg)
	v.awaitLogon(t, "core", 2)
	waitUntil(t, "the status request refused", 30*time.Second, func() bool {
		return metricValue(t, rg2, `gateway_orders_status_unsupported{upstream="core"}`) == 1
	})
	tr2 := newTrader(t, rg2.base, tok)
	if err := tr2.c.Send(tr2.ctx, map[string]any{"op": "order.cancel", "clOrdId": "c1", "origClOrdId": "b1", "account": "A1"}); err != nil {
		t.Fatal(err)
	}
	tr2.waitFor("b1 canceled", func() bool { return tr2.final["b1"] == "canceled" || tr2.final["c1"] == "canceled" })
	if o, _ := rg2.g.Orders().Get("A1", "b1"); o.Status != "canceled" {
		t.Fatalf("b1 after the cancel: %+v", o)
	}
}

// TestInteropKill9AndSIGTERM runs the gateway as a process in front of the
// executor, kills it with SIGKILL mid-stream, restarts it, stops it with
// SIGTERM mid-stream, restarts it: every journaled order reached the venue
// exactly once and is filled.
func TestInteropKill9AndSIGTERM(t *testing.T) {
	v := startQFVenue(t, qfOpts{begin: qfcpp.FIX44, shared: true})
	tok := token(t, v.cfg)
	gw := startChildOn(t, v.cfg)
	v.awaitLogon(t, "core", 1)
	tr := newTrader(t, gw.base, tok)
	ids := tr.streamAt("k", 300, 500, "45.60", map[int]func(){150: func() { gw.kill(t) }})
	<-tr.done

	gw2 := startChildOn(t, v.cfg)
	v.awaitLogon(t, "core", 2)
	tr2 := newTrader(t, gw2.base, tok)
	var exit error
	more := tr2.streamAt("s", 300, 500, "45.60", map[int]func(){150: func() { exit = gw2.term(t) }})
	if exit != nil {
		t.Fatalf("SIGTERM: the gateway exited with %v", exit)
	}
	<-tr2.done

	gw3 := startChildOn(t, v.cfg)
	tr3 := newTrader(t, gw3.base, tok)
	checkFilledOnce(t, v, "core", append(ids, more...), tr3.statusOf)
}

// TestInteropBrokerThroughGateway: a broker on QuickFIX C++ (our initiator)
// trades through the gateway's acceptor to the executor, over FIX 4.2 and
// 4.4: new orders are acknowledged and filled; a status request is
// answered; an identifier with SOH-free but forbidden characters is
// refused with a reject report that does not echo it.
func TestInteropBrokerThroughGateway(t *testing.T) {
	for _, begin := range []string{qfcpp.FIX42, qfcpp.FIX44} {
		t.Run(begin, func(t *testing.T) {
			v := startQFVenue(t, qfOpts{begin: qfcpp.FIX44, shared: true})
			v.cfg.Brokers.Sessions[0].BeginString = begin
			rg := startGatewayOn(t, v.cfg)
			v.awaitLogon(t, "core", 1)
			b := v.kit.StartInitiator(t, qfcpp.Broker{Addr: rg.g.Brokers().Addr(), BeginString: begin,
				SenderCompID: "BROKER1", TargetCompID: "SGW", Password: "demo"})
			if err := b.AwaitLogon(v.ctx); err != nil {
				t.Fatal(err)
			}
			for i := range 10 {
				id := fmt.Sprintf("b%d", i)
				if _, err := b.Send(v.ctx, qfcpp.Request{MsgType: "D", ClOrdID: id, Account: "A1", Symbol: "601318",
					SecurityExchange: "XSHG", Side: '1', OrderQty: 100, Price: "45.60"}); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 10 {
				id := fmt.Sprintf("b%d", i)
				if _, err := b.AwaitApp(v.ctx, func(m qfcpp.Message) bool {
					return m.Type() == "8" && m.Get(11) == id && m.Get(39) == "2"
				}); err != nil {
					t.Fatalf("%s never filled: %v", id, err)
				}
			}
			if _, err := b.Send(v.ctx, qfcpp.Request{MsgType: "H", ClOrdID: "b3", Account: "A1", Side: '1'}); err != nil {
				t.Fatal(err)
			}
			st, err := b.AwaitApp(v.ctx, func(m qfcpp.Message) bool {
				return m.Type() == "8" && m.Get(11) == "b3" && (m.Get(150) == "I" || m.Get(20) == "3")
			})
			if err != nil || st.Get(39) != "2" || st.Get(14) != "100" {
				t.Fatalf("status of b3: %v %v", st, err)
			}
			bad := "x|58=FILLED"
			if _, err := b.Send(v.ctx, qfcpp.Request{MsgType: "D", ClOrdID: bad, Account: "A1", Symbol: "601318",
				SecurityExchange: "XSHG", Side: '1', OrderQty: 100, Price: "45.60"}); err != nil {
				t.Fatal(err)
			}
			rej, err := b.AwaitApp(v.ctx, func(m qfcpp.Message) bool { return m.Type() == "8" && m.Get(39) == "8" })
			if err != nil || strings.Contains(rej.String(), "58=FILLED|") && rej.Get(11) == bad || !strings.Contains(rej.Get(58), "ClOrdID") {
				t.Fatalf("the bad ClOrdID was answered with %v (%v)", rej, err)
			}
		})
	}
}

// TestInteropKill9AfterTwoLineOutage: both carrier lines to the executor
// are cut, orders keep coming and are accepted (held), the gateway
// process is killed, the lines come back and a new gateway sends each of
// them once.
func TestInteropKill9AfterTwoLineOutage(t *testing.T) {
	v := startQFVenue(t, qfOpts{begin: qfcpp.FIX42, shared: true})
	tok := token(t, v.cfg)
	gw := startChildOn(t, v.cfg)
	v.awaitLogon(t, "core", 1)
	tr := newTrader(t, gw.base, tok)
	lines := v.lines["core"]
	lines[0].Cut()
	lines[1].Cut()
	ids := tr.streamAt("o", 50, 200, "45.60", nil)
	tr.waitFor("the orders sent during the outage accepted", func() bool {
		for _, id := range ids {
			if tr.accepted[id] == 0 {
				return false
			}
		}
		return true
	})
	gw.kill(t)
	lines[0].Restore()
	lines[1].Restore()
	gw2 := startChildOn(t, v.cfg)
	tr2 := newTrader(t, gw2.base, tok)
	checkFilledOnce(t, v, "core", ids, tr2.statusOf)
}

// TestInteropListTwoThousandOrders: an account with 2,000 orders (filled
// by the executor) lists them all over the WebSocket, page by page, with
// no order missing or repeated and the connection kept.
func TestInteropListTwoThousandOrders(t *testing.T) {
	v := startQFVenue(t, qfOpts{begin: qfcpp.FIX44, shared: true})
	rg := startGatewayOn(t, v.cfg)
	v.awaitLogon(t, "core", 1)
	tr := newTrader(t, rg.base, token(t, v.cfg))
	const n = 2000
	ids := tr.streamAt("l", n, 1000, "45.60", nil)
	tr.waitFor("every order filled", func() bool {
		for _, id := range ids {
			if tr.final[id] != "filled" {
				return false
			}
		}
		return true
	})
	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		req := map[string]any{"op": "orders.list", "account": "A1", "limit": 500, "id": pages}
		if cursor != "" {
			req["cursor"] = cursor
		}
		page := tr.list(req)
		pages++
		for _, o := range page.Orders {
			if seen[o.ClOrdID] {
				t.Fatalf("%s listed twice", o.ClOrdID)
			}
			seen[o.ClOrdID] = true
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if len(seen) != n {
		t.Fatalf("listed %d orders, want %d", len(seen), n)
	}
	select {
	case <-tr.done:
		t.Fatalf("the connection ended: %v", tr.closeErr)
	default:
	}
	t.Logf("%d orders listed in %d pages", n, pages)
}

// TestInteropVenueDailyReset: the executor's sessions end each day at a
// time of day and start again from sequence number 1 (QuickFIX C++'s
// StartTime and EndTime, here a few seconds ahead, in UTC). The core
// upstream is configured with the venue's schedule, written in Beijing
// time: it resets with the venue, logs on again over the same line (the
// period's end is no line failure), and orders go on being filled once. The margin upstream has no schedule, as before this
// setting existed: its sequence numbers run on, the venue's Logon at 1 is
// refused, and the refusal is counted (gateway_fix_sequence_too_low_total)
// for the operator; before, a test running across midnight UTC wedged a
// session that way (StartTime = EndTime = 00:00:00 on the venue).
func TestInteropVenueDailyReset(t *testing.T) {
	// Far enough ahead that the gateway logs on and the first orders are
	// filled before it, on a loaded machine.
	at := time.Now().Add(20 * time.Second).Truncate(time.Second)
	v := startQFVenue(t, qfOpts{begin: qfcpp.FIX44, shared: true, settings: map[string]string{
		"StartTime": at.UTC().Format(time.TimeOnly), "EndTime": at.Add(-time.Second).UTC().Format(time.TimeOnly)}})
	beijing, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	for i := range v.cfg.Orders.Upstreams {
		if u := &v.cfg.Orders.Upstreams[i]; u.Name == "core" {
			u.Schedule = &fix.SessionSchedule{Start: at.In(beijing).Format(time.TimeOnly),
				End: at.Add(-time.Second).In(beijing).Format(time.TimeOnly), TimeZone: "Asia/Shanghai"}
		}
	}
	rg := startGatewayOn(t, v.cfg)
	v.awaitLogon(t, "core", 1)
	v.awaitLogon(t, "margin", 1)
	tr := newTrader(t, rg.base, token(t, v.cfg))
	// day enters five orders and waits until they are filled.
	day := func(prefix string) []string {
		var ids []string
		for i := range 5 {
			id := fmt.Sprintf("%s-%d", prefix, i)
			tr.sendAt(id, "45.60")
			ids = append(ids, id)
		}
		tr.waitFor(prefix+"'s orders filled", func() bool {
			for _, id := range ids {
				if tr.final[id] != "filled" {
					return false
				}
			}
			return true
		})
		return ids
	}
	before := day("d1")
	if now := time.Now(); !now.Before(at.Add(-time.Second)) {
		t.Fatalf("the first orders were filled at %v, after the venue's session ended (%v): the machine is too slow for this test's margin",
			now.Format(time.TimeOnly), at.Add(-time.Second).Format(time.TimeOnly))
	}
	if n := metricValue(t, rg, `gateway_fix_session_resets_total{session="core"}`); n != 0 {
		t.Fatalf("%v resets before the period ended", n)
	}

	waitUntil(t, "the core session reset", 60*time.Second, func() bool {
		return metricValue(t, rg, `gateway_fix_session_resets_total{session="core"}`) >= 1
	})
	after := day("d2")
	tr.mu.Lock()
	for id, e := range tr.errors {
		t.Errorf("%s refused: %s", id, e)
	}
	tr.mu.Unlock()
	checkFilledOnce(t, v, "core", append(before, after...), func(id string) string {
		o, _ := rg.g.Orders().Get("A1", id)
		return string(o.Status)
	})
	// The next day's first order went out at sequence number 2, after the
	// Logon: the gateway's numbers started again with the venue's.
	first, _ := rg.g.Orders().Get("A1", after[0])
	fresh := 0
	for _, e := range v.procs["core"].Entries() {
		if e.Kind == qfcpp.Incoming && e.Msg.Type() == "D" && e.Msg.Get(11) == first.UpstreamID {
			fresh++
			if seq := e.Msg.Get(34); seq != "2" {
				t.Errorf("the next day's first order reached the venue at MsgSeqNum %s, want 2", seq)
			}
		}
	}
	if fresh != 1 {
		t.Errorf("the venue got the next day's first order %d times", fresh)
	}
	if got := metricValue(t, rg, `gateway_fix_sequence_too_low_total{session="core"}`); got != 0 {
		t.Errorf("core refused the venue's sequence numbers %v times", got)
	}
	// The period's end is no line failure: the session stays on carrierA.
	if up := metricValue(t, rg, `gateway_fix_line_up{line="carrierA",session="core"}`); up != 1 {
		t.Errorf("after the reset the core session is not on carrierA (gateway_fix_line_up %v)", up)
	}

	// The margin session has no schedule: it refuses the venue's new day.
	waitUntil(t, "the margin session refusing the venue's sequence numbers", 60*time.Second, func() bool {
		return metricValue(t, rg, `gateway_fix_sequence_too_low_total{session="margin"}`) >= 1
	})
}

// TestInteropBrokerDailyReset: a broker's engine (QuickFIX C++, our
// initiator) ends its session each day at a time of day and starts again
// from sequence number 1 (StartTime and EndTime a few seconds ahead, in
// UTC). With the broker's schedule on the gateway's session for it
// (brokers.sessions[].schedule, written in Beijing time), both reset
// together: the broker logs on again and its orders are filled. Without
// it, the gateway refuses the broker's Logon at 1 ("MsgSeqNum too low"),
// counted as reason sequence.
func TestInteropBrokerDailyReset(t *testing.T) {
	for _, scheduled := range []bool{true, false} {
		t.Run(fmt.Sprintf("scheduled=%v", scheduled), func(t *testing.T) {
			// Far enough ahead that the broker logs on and its first
			// orders are filled before it, on a loaded machine.
			at := time.Now().Add(20 * time.Second).Truncate(time.Second)
			v := startQFVenue(t, qfOpts{begin: qfcpp.FIX44, shared: true})
			if scheduled {
				beijing, err := time.LoadLocation("Asia/Shanghai")
				if err != nil {
					t.Fatal(err)
				}
				v.cfg.Brokers.Sessions[0].Schedule = &fix.SessionSchedule{Start: at.In(beijing).Format(time.TimeOnly),
					End: at.Add(-time.Second).In(beijing).Format(time.TimeOnly), TimeZone: "Asia/Shanghai"}
			}
			rg := startGatewayOn(t, v.cfg)
			v.awaitLogon(t, "core", 1)
			b := v.kit.StartInitiator(t, qfcpp.Broker{Addr: rg.g.Brokers().Addr(), SenderCompID: "BROKER1", TargetCompID: "SGW",
				Password: "demo", Settings: map[string]string{
					"StartTime": at.UTC().Format(time.TimeOnly), "EndTime": at.Add(-time.Second).UTC().Format(time.TimeOnly)}})
			if err := b.AwaitLogon(v.ctx); err != nil {
				t.Fatal(err)
			}
			order := func(id string) {
				t.Helper()
				if _, err := b.Send(v.ctx, qfcpp.Request{MsgType: "D", ClOrdID: id, Account: "A1", Symbol: "601318",
					SecurityExchange: "XSHG", Side: '1', OrderQty: 100, Price: "45.60"}); err != nil {
					t.Fatal(err)
				}
				if _, err := b.AwaitApp(v.ctx, func(m qfcpp.Message) bool {
					return m.Type() == "8" && m.Get(11) == id && m.Get(39) == "2"
				}); err != nil {
					t.Fatalf("%s never filled: %v", id, err)
				}
			}
			order("d1")
			if now := time.Now(); !now.Before(at.Add(-time.Second)) {
				t.Fatalf("the first order was filled at %v, after the broker's session ended (%v): the machine is too slow for this test's margin",
					now.Format(time.TimeOnly), at.Add(-time.Second).Format(time.TimeOnly))
			}
			const refused = `gateway_broker_logon_rejects_total{reason="sequence"}`
			if !scheduled {
				waitUntil(t, "the broker's Logon at 1 refused", 60*time.Second, func() bool { return metricValue(t, rg, refused) >= 1 })
				return
			}
			logons := 0
			if _, err := b.Await(v.ctx, func(e qfcpp.Event) bool {
				if e.Kind == qfcpp.EventLogon {
					logons++
				}
				return logons == 2
			}); err != nil {
				t.Fatalf("the broker did not log on again after its session's end: %v", err)
			}
			order("d2")
			if n := metricValue(t, rg, refused); n != 0 {
				t.Errorf("%v of the broker's Logons refused for their sequence number", n)
			}
		})
	}
}
