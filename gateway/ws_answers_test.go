package gateway

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"sgw/fix"
	"sgw/gateway/mdclient"
	"sgw/orders"
	"sgw/refdata"
	"sgw/risk"
)

// TestWSCancelFromAnotherConnectionIsAnswered: a client that reconnected
// (or a second device of the same user) cancels an order entered on
// another connection, without subscribing to the orders channel. The
// cancel is taken by the manager and goes to the venue, but the
// requesting connection must hear of it: an accepted (or an error)
// naming its request. Before, every event of the cancel went only to the
// connection that entered the order and to orders-channel watchers, so
// the request had no answer at all.
func TestWSCancelFromAnotherConnectionIsAnswered(t *testing.T) {
	e, tok := newOrderEnv(t)
	first := e.dial(tok)
	second := e.dial(tok)
	send := func(c *mdclient.Client, v any) { t.Helper(); mustSend(t, c, v) }
	send(first, map[string]any{"op": "order.new", "clOrdId": "c1", "account": "A1", "symbol": "600519.SH", "side": "buy", "type": "limit", "price": "1700.00", "qty": 100})
	collect(t, first, func(m mdclient.Message) bool { return m.ClOrdID == "c1" && m.Type == "exec" && m.ExecType == "new" })

	send(second, map[string]any{"op": "order.cancel", "clOrdId": "x1", "origClOrdId": "c1", "account": "A1", "id": 5})
	// The order's entering connection sees the cancel accepted and done:
	// the manager took it and the venue answered.
	collect(t, first, func(m mdclient.Message) bool { return m.Type == "exec" && m.ExecType == "canceled" })

	// Every event of the cancel was delivered before the canceled exec
	// reached first; a pong on second after them shows what second got.
	send(second, map[string]any{"op": "ping", "id": 6})
	answered := false
	collect(t, second, func(m mdclient.Message) bool {
		if m.Ref == "x1" || string(m.ID) == "5" {
			answered = true
		}
		return m.Type == "pong"
	})
	if !answered {
		t.Fatal("order.cancel x1 was accepted by the manager and carried out by the venue, but the connection that sent it got no answer")
	}
}

// TestWSRateLimitedOrderNamesItsRequest: an order request refused for the
// rate limit must say which request it refuses (its id, and ref for a
// valid clOrdId), like every other refusal of an order request; a trading
// app with several requests in flight otherwise cannot tell which order
// was not taken. Before, rate_limited carried neither.
func TestWSRateLimitedOrderNamesItsRequest(t *testing.T) {
	f := newFakeEntry()
	e, tok := newFakeEntryEnv(t, WSConfig{MaxMessagesPerSecond: 1}, f)
	c := e.dial(tok)
	ctx := context.Background()
	// The bucket holds 2 messages; the third, sent at once, is over.
	for i, id := range []string{"c1", "c2", "c3"} {
		raw := `{"op":"order.new","clOrdId":"` + id + `","account":"A1","symbol":"600519.SH","side":"buy","type":"limit","price":"1700.00","qty":100,"id":` + string(rune('1'+i)) + `}`
		if err := c.SendRaw(ctx, []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	m, line := nextRaw(t, c, func(m rawMessage) bool { return m.str("code") == codeRateLimited })
	if string(m["id"]) != "3" || m.str("ref") != "c3" {
		t.Fatalf("rate_limited answer %s names no request (want id 3, ref c3); calls %v", line, f.Calls())
	}
}

// TestWSBadOrderFieldsCarryRef: docs/PROTOCOL.md: an error answering an
// order request carries ref, the request's clOrdId, whenever that id is
// valid, for every refusal of order.new and order.replace. A bad side,
// type, price or qty of a request with a valid clOrdId was refused
// bad_order without ref; a field of the wrong type (bad_json) too, and an
// id over 64 bytes was refused without ref, echoing the id whole.
func TestWSBadOrderFieldsCarryRef(t *testing.T) {
	f := newFakeEntry()
	e, tok := newFakeEntryEnv(t, WSConfig{}, f)
	c := e.dial(tok)
	long := `"` + strings.Repeat("i", 70) + `"`
	tests := []struct{ name, raw, ref, code string }{
		{"bad side", `{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"short","price":"1700.00","qty":100}`, "c1", ""},
		{"market type", `{"op":"order.new","clOrdId":"c2","account":"A1","symbol":"600519.SH","side":"buy","type":"market","price":"1700.00","qty":100}`, "c2", ""},
		{"five decimals", `{"op":"order.new","clOrdId":"c3","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00001","qty":100}`, "c3", ""},
		{"zero qty", `{"op":"order.new","clOrdId":"c4","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":0}`, "c4", ""},
		{"replace with exponent price", `{"op":"order.replace","clOrdId":"r1","origClOrdId":"c0","account":"A1","price":"1.7e3","qty":100}`, "r1", ""},
		{"qty a string", `{"op":"order.new","clOrdId":"c5","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":"100"}`, "c5", codeBadJSON},
		{"origClOrdId a number", `{"op":"order.cancel","clOrdId":"x2","origClOrdId":7,"account":"A1"}`, "x2", codeBadJSON},
		{"id too long", `{"op":"order.new","clOrdId":"c6","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100,"id":` + long + `}`, "c6", codeBadJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, line := orderAnswer(t, c, tc.raw)
			code := cmp.Or(tc.code, codeBadOrder)
			if m.str("code") != code || m.str("ref") != tc.ref {
				t.Fatalf("got %s, want %s with ref %q", line, code, tc.ref)
			}
			if len(m["id"]) > 64 {
				t.Fatalf("got %s: the answer echoes an id longer than 64 bytes", line)
			}
		})
	}
}

// TestWSOrderStatusEchoesID: the answer to order.status must carry the
// request's id, as the answers to orders.list and account do (and as
// docs/PROTOCOL.md says of every answer); a client matching answers to
// requests by id never saw its status request answered.
func TestWSOrderStatusEchoesID(t *testing.T) {
	f := newFakeEntry()
	f.seed("A1", 1)
	e, tok := newFakeEntryEnv(t, WSConfig{}, f)
	c := e.dial(tok)
	id := f.accounts["A1"][0].ClOrdID
	if err := c.SendRaw(context.Background(), []byte(`{"op":"order.status","clOrdId":"`+id+`","account":"A1","id":42}`)); err != nil {
		t.Fatal(err)
	}
	m, line := nextRaw(t, c, func(m rawMessage) bool { return m.str("type") == "status" || m.str("type") == "error" })
	if m.str("type") != "status" || string(m["id"]) != "42" {
		t.Fatalf("order.status with id 42 answered %s", line)
	}
}

// TestWSGatewayCancelNotRejected: the gateway cancels a client's order
// itself (the kill switch, with kill_cancels_resting) and the venue
// refuses the cancel, or fills the order first. The client never asked:
// it hears the order's executions, never a cancel_reject, which a trading
// app (the web app included) shows as its own cancel refused. Before, a
// cancel_reject with the gateway's ref X-... reached the client that
// entered the order. The client's own cancel still gets its
// cancel_reject.
func TestWSGatewayCancelNotRejected(t *testing.T) {
	refuse := func(m *orders.Manager, r fix.CancelRequest) {
		m.OnCancelReject("core", fix.CancelReject{ClOrdID: r.ClOrdID, OrigClOrdID: r.OrigClOrdID, Text: "no cancels now"})
	}
	for _, tc := range []struct {
		name   string
		venue  func(m *orders.Manager, r fix.CancelRequest)
		client bool   // the client cancels (x1), not the kill switch
		want   string // the order's status the client last hears
	}{
		{
			name: "filled, then the cancel refused",
			venue: func(m *orders.Manager, r fix.CancelRequest) {
				m.OnExecReport("core", fix.ExecReport{ClOrdID: r.OrigClOrdID, OrderID: "V1", ExecID: "F1", ExecType: 'F',
					OrdStatus: '2', LastQty: 100, LastPx: 17000000, CumQty: 100, AvgPx: 17000000})
				m.OnCancelReject("core", fix.CancelReject{ClOrdID: r.ClOrdID, OrigClOrdID: r.OrigClOrdID, Text: "too late to cancel"})
			},
			want: "filled",
		},
		{name: "refused", venue: refuse, want: "new"},
		{name: "the client's own cancel refused", venue: refuse, client: true, want: "new"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, tok, m := newOrderEnvWith(t, &ackingUpstream{onCancel: tc.venue}, func(c *risk.Config) { c.KillCancelsResting = true })
			c := e.dial(tok)
			mustSend(t, c, map[string]any{"op": "order.new", "clOrdId": "c1", "account": "A1", "symbol": "600519.SH", "side": "buy", "type": "limit", "price": "1700.00", "qty": 100})
			collect(t, c, func(m mdclient.Message) bool { return m.ClOrdID == "c1" && m.Type == "exec" && m.ExecType == "new" })

			// A watcher of the account is handed each event after the
			// order's own sink, on the same goroutine: once it has the
			// cancel's refusal, the client's connection has queued all it
			// will; a pong after that shows what it got.
			w := make(eventChan, 16)
			m.Watch("A1", w)
			if tc.client {
				mustSend(t, c, map[string]any{"op": "order.cancel", "clOrdId": "x1", "origClOrdId": "c1", "account": "A1"})
			} else if n, err := m.Kill("A1", true); err != nil || n != 1 {
				t.Fatalf("kill switch: %d cancels, %v; want 1", n, err)
			}
			for ev := range w {
				if ev.Kind == orders.EventCancelReject {
					break
				}
			}
			mustSend(t, c, map[string]any{"op": "ping", "id": 6})
			var got []string
			status, rejected := "", false
			collect(t, c, func(m mdclient.Message) bool {
				if m.Type == "pong" {
					return true
				}
				got = append(got, m.Type+" "+m.ExecType+" ref="+m.Ref+" "+m.Status)
				if m.Type == string(orders.EventCancelReject) {
					rejected = true
					if !tc.client || m.Ref != "x1" {
						t.Errorf("the client got a %s (ref %s, %q) for a cancel it never sent", m.Type, m.Ref, m.Text)
					}
				}
				status = m.Status
				return false
			})
			if tc.client && !rejected {
				t.Errorf("the client's cancel x1 was refused, but it got no cancel_reject (messages %q)", got)
			}
			if status != tc.want {
				t.Errorf("the client last heard the order %q; want %s (messages %q)", status, tc.want, got)
			}
		})
	}
}

// eventChan is an orders.Sink handing each event on.
type eventChan chan orders.Event

func (c eventChan) OrderEvent(ev orders.Event) { c <- ev }

// TestWSOrderAnswersEchoID: the first answer to order.new, order.cancel
// and order.replace, accepted, echoes the request's id as an error
// answering it would, on the connection that sent it only; a request
// without an id gets none. Before, accepted carried ref alone, and a
// trading app matching answers to requests by id never saw an order
// request answered unless it was refused.
func TestWSOrderAnswersEchoID(t *testing.T) {
	e, tok := newOrderEnv(t)
	a, b, w := e.dial(tok), e.dial(tok), e.dial(tok)
	send := func(c *mdclient.Client, raw string) {
		t.Helper()
		if err := c.SendRaw(context.Background(), []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	// answer returns c's next accepted of ref, or error.
	answer := func(c *mdclient.Client, ref string) (rawMessage, string) {
		t.Helper()
		return nextRaw(t, c, func(m rawMessage) bool {
			return m.str("type") == "error" || m.str("type") == "accepted" && m.str("ref") == ref
		})
	}
	send(w, `{"op":"subscribe","channel":"orders","accounts":["A1"],"id":"w"}`)
	nextRaw(t, w, func(m rawMessage) bool { return m.str("type") == "subscribed" })

	for _, tc := range []struct {
		name   string
		c      *mdclient.Client
		raw    string
		ref    string
		id     string             // the id the answer carries, "" for none
		others []*mdclient.Client // who else hears the accepted, without the id
	}{
		{"new, a number id", a, `{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","type":"limit","price":"1700.00","qty":100,"id":7}`, "c1", "7", []*mdclient.Client{w}},
		{"new without id", a, `{"op":"order.new","clOrdId":"c2","account":"A1","symbol":"600519.SH","side":"buy","type":"limit","price":"1700.00","qty":100}`, "c2", "", []*mdclient.Client{w}},
		{"replace, a string id", a, `{"op":"order.replace","clOrdId":"r1","origClOrdId":"c1","account":"A1","price":"1699.00","qty":200,"id":"r-1"}`, "r1", `"r-1"`, []*mdclient.Client{w}},
		{"a request refused once, sent again", a, `{"op":"order.new","clOrdId":"c3","account":"A1","symbol":"600519.SH","side":"buy","type":"limit","price":"1700.00","qty":100,"id":10}`, "c3", "10", []*mdclient.Client{w}},
		// a entered c2: it hears b's cancel accepted, without b's id.
		{"cancel from another connection, an object id", b, `{"op":"order.cancel","clOrdId":"x1","origClOrdId":"c2","account":"A1","id":{"n":[1,2]}}`, "x1", `{"n":[1,2]}`, []*mdclient.Client{w, a}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ref == "c3" {
				// Refused by risk first: its id is forgotten with it.
				send(a, `{"op":"order.new","clOrdId":"c3","account":"A1","symbol":"600519.SH","side":"buy","type":"limit","price":"1900.00","qty":100,"id":9}`)
				if m, line := answer(a, "c3"); m.str("code") != "risk.price_band" || string(m["id"]) != "9" {
					t.Fatalf("got %s, want risk.price_band with id 9", line)
				}
			}
			send(tc.c, tc.raw)
			m, line := answer(tc.c, tc.ref)
			if m.str("type") != "accepted" {
				t.Fatalf("got %s, want accepted", line)
			}
			if got := string(m["id"]); got != tc.id {
				t.Errorf("accepted %s: id %s, want %q", line, got, tc.id)
			}
			// A watcher of the account, and the connection that entered
			// the order, hear it too, without the id of a request they
			// did not send.
			for _, o := range tc.others {
				if m, line := answer(o, tc.ref); m.str("type") != "accepted" || m["id"] != nil {
					t.Errorf("another connection got %s, want accepted without id", line)
				}
			}
		})
	}
}

// TestWSAnswerIDBeforeTheCallReturns: the order manager may hand the
// answer to a request (accepted; or, when the gateway ends the request
// itself, the exec rejected or cancel_reject that ends it) to the
// connection before its call returns (its dispatcher runs beside the
// reader): the answer still echoes the request's id. The fake order entry
// answers from within the call.
func TestWSAnswerIDBeforeTheCallReturns(t *testing.T) {
	for _, tc := range []struct {
		name, end, raw, typ string
	}{
		{"accepted", "", `{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100,"id":3}`, "accepted"},
		{"the gateway ends a new order", orders.CodeJournal, `{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100,"id":3}`, "exec"},
		{"the gateway ends a cancel", orders.CodeNotLeader, `{"op":"order.cancel","clOrdId":"c1","origClOrdId":"c0","account":"A1","id":3}`, "cancel_reject"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEntry()
			f.end = tc.end
			e, tok := newFakeEntryEnv(t, WSConfig{}, f)
			c := e.dial(tok)
			if err := c.SendRaw(context.Background(), []byte(tc.raw)); err != nil {
				t.Fatal(err)
			}
			m, line := nextRaw(t, c, func(m rawMessage) bool { return m.str("ref") == "c1" })
			if m.str("type") != tc.typ || m.str("code") != tc.end || string(m["id"]) != "3" {
				t.Fatalf("got %s, want %s %s with id 3", line, tc.typ, tc.end)
			}
		})
	}
}

// TestAwaitingAnswer: which order events are the first answer to a
// request awaiting one, by kind and by the source that sent the request
// where the event names it; an answer is handed out once.
func TestAwaitingAnswer(t *testing.T) {
	me := orders.Source{Kind: "ws", Session: "r.1"}
	other := orders.Source{Kind: "ws", Session: "r.2"}
	order := orders.Order{ClOrdID: "c1", Account: "A1", Source: me}
	theirs := order
	theirs.Source = other
	for _, tc := range []struct {
		name string
		ev   orders.Event
		want string // the id handed out, "" for none
	}{
		{"accepted of the new order", orders.Event{Kind: orders.EventAccepted, Order: order, Ref: "c1"}, "1"},
		{"accepted of another source's new order", orders.Event{Kind: orders.EventAccepted, Order: theirs, Ref: "c1"}, ""},
		{"accepted of a cancel", orders.Event{Kind: orders.EventAccepted, Order: theirs, Ref: "x1", Request: 'F', Requester: me}, "2"},
		{"accepted of another source's cancel", orders.Event{Kind: orders.EventAccepted, Order: order, Ref: "x1", Request: 'F', Requester: other}, ""},
		{"the gateway ended the new order", orders.Event{Kind: orders.EventExec, ExecType: '8', Order: order, Ref: "c1", Code: orders.CodeJournal}, "1"},
		{"a fill", orders.Event{Kind: orders.EventExec, ExecType: 'F', Order: order, Ref: "c1"}, ""},
		{"the gateway ended the cancel", orders.Event{Kind: orders.EventCancelReject, Order: order, Ref: "x1", Request: 'F', Requester: me, Code: orders.CodeNotLeader}, "2"},
		{"the venue refused the cancel", orders.Event{Kind: orders.EventCancelReject, Order: order, Ref: "x1", Request: 'F', Requester: me}, ""},
		{"the venue rejected the new order", orders.Event{Kind: orders.EventExec, ExecType: '8', Order: order, Ref: "c1"}, ""},
		{"another source's cancel refused", orders.Event{Kind: orders.EventCancelReject, Order: order, Ref: "x1", Request: 'F', Requester: other}, ""},
		{"the gateway's own cancel refused", orders.Event{Kind: orders.EventCancelReject, Order: order, Ref: "x1", Request: 'F'}, ""},
		{"another account's", orders.Event{Kind: orders.EventAccepted, Order: orders.Order{ClOrdID: "c1", Account: "B9", Source: me}, Ref: "c1"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a awaiting
			a.expect(awaitKey{"A1", "c1"}, []byte("1"), me)
			a.expect(awaitKey{"A1", "x1"}, []byte("2"), me)
			id, _ := a.answer(tc.ev)
			if got := string(id); got != tc.want {
				t.Fatalf("answer = %q, want %q", got, tc.want)
			}
			if tc.want != "" {
				if again, ok := a.answer(tc.ev); ok {
					t.Fatalf("answered twice: %s", again)
				}
			}
		})
	}
	var a awaiting
	if !a.expect(awaitKey{"A1", "c1"}, []byte("1"), me) || a.expect(awaitKey{"A1", "c1"}, []byte("2"), me) {
		t.Fatal("a second request of the same client order id replaced the first's id")
	}
	for i := 1; i < maxAwaiting; i++ {
		a.expect(awaitKey{"A1", fmt.Sprint("n", i)}, []byte("1"), me)
	}
	if a.expect(awaitKey{"A1", "over"}, []byte("1"), me) {
		t.Fatalf("more than %d requests awaiting an answer were recorded", maxAwaiting)
	}
}

// dupHook is the order manager with a hook run before a Cancel whose
// client order id is hookID, on the reader goroutine.
type dupHook struct {
	*orders.Manager
	hookID string
	hook   func()
}

func (d *dupHook) Cancel(req orders.CancelRequest) (orders.Order, error) {
	if req.ClOrdID == d.hookID && d.hook != nil {
		d.hook()
	}
	return d.Manager.Cancel(req)
}

// TestWSRepeatedRequestNotAnsweredByEarlierOnesEvent: a client sends a
// cancel again (same clOrdId, a new id: it is unsure the first arrived),
// and while the gateway checks the repeat, the venue refuses the first.
// The venue's cancel_reject answers the first request, already answered
// by its accepted: it must not carry the repeat's id, which its refusal
// carries, once. Before, the repeat's id was taken by the venue's
// refusal, and the repeat was answered twice (the same with a new order
// sent again while the venue rejects the first; found by
// TestWSOrdersAgainstModel).
func TestWSRepeatedRequestNotAnsweredByEarlierOnesEvent(t *testing.T) {
	cancels := make(chan fix.CancelRequest, 4)
	up := &ackingUpstream{onCancel: func(_ *orders.Manager, r fix.CancelRequest) { cancels <- r }}
	e, tok, m := newOrderEnvWith(t, up, nil)
	watch := make(eventChan, 64)
	m.Watch("A1", watch)
	hooked := &dupHook{Manager: m, hookID: "x1"}
	e.srv.ws.orders = hooked // before any client connects
	l := &rawLog{t: t, c: e.dial(tok)}
	read, has, withID, send := l.read, l.has, l.withID, l.send

	send(`{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","type":"limit","price":"1700.00","qty":100,"id":1}`)
	read("the order acknowledged", has(func(m rawMessage) bool { return m.str("type") == "exec" && m.str("status") == "new" }))
	send(`{"op":"order.cancel","clOrdId":"x1","origClOrdId":"c1","account":"A1","id":2}`)
	read("the cancel accepted", func() bool { return len(withID("2")) > 0 })
	first := <-cancels
	hooked.hook = func() {
		m.OnCancelReject("core", fix.CancelReject{ClOrdID: first.ClOrdID, OrigClOrdID: first.OrigClOrdID, Text: "too late", ResponseTo: '1'})
		for ev := range watch { // the connection's sink has it first
			if ev.Kind == orders.EventCancelReject {
				return
			}
		}
	}
	send(`{"op":"order.cancel","clOrdId":"x1","origClOrdId":"c1","account":"A1","id":3}`)
	read("the repeat refused and the venue's refusal", func() bool {
		return has(func(m rawMessage) bool { return m.str("type") == "error" && m.str("ref") == "x1" })() &&
			has(func(m rawMessage) bool { return m.str("type") == "cancel_reject" })()
	})
	if as := withID("3"); len(as) != 1 || as[0].str("type") != "error" {
		var kinds []string
		for _, m := range as {
			kinds = append(kinds, m.str("type")+" "+m.str("code"))
		}
		t.Fatalf("the repeated cancel (id 3) got %d answers, want its refusal only: %q", len(as), kinds)
	}
}

// rawLog reads a connection's messages as raw JSON fields into got, the
// entries of an orders.list page after the page's own message, for tests
// that look at exactly what arrived. The test's goroutine only.
type rawLog struct {
	t   *testing.T
	c   *mdclient.Client
	got []rawMessage
}

// read reads until done reports true.
func (l *rawLog) read(what string, done func() bool) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	for !done() {
		_, frame, err := l.c.Conn().Read(ctx)
		if err != nil {
			l.t.Fatalf("waiting for %s: %v", what, err)
		}
		for line := range strings.SplitSeq(string(frame), "\n") {
			var m rawMessage
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				l.t.Fatalf("bad message %q: %v", line, err)
			}
			l.got = append(l.got, m)
			if m.str("type") == "orders" {
				var page struct{ Orders []rawMessage }
				if err := json.Unmarshal([]byte(line), &page); err != nil {
					l.t.Fatal(err)
				}
				l.got = append(l.got, page.Orders...)
			}
		}
	}
}

// has returns a done function for read: a message ok accepts arrived.
func (l *rawLog) has(ok func(rawMessage) bool) func() bool {
	return func() bool { return slices.ContainsFunc(l.got, ok) }
}

// withID returns the messages that echo request id.
func (l *rawLog) withID(id string) (out []rawMessage) {
	for _, m := range l.got {
		if string(m["id"]) == id {
			out = append(out, m)
		}
	}
	return out
}

// send sends a raw request.
func (l *rawLog) send(raw string) {
	l.t.Helper()
	if err := l.c.SendRaw(context.Background(), []byte(raw)); err != nil {
		l.t.Fatal(err)
	}
}

// staleHook serves the order manager but, on each of the next times
// List or Status is called, runs hook between reading the manager's state
// and returning it: a change made and its event queued in that moment.
type staleHook struct {
	*orders.Manager
	hook  atomic.Pointer[func()]
	times atomic.Int32
}

func (s *staleHook) fire() {
	if s.times.Add(-1) >= 0 {
		(*s.hook.Load())()
	}
}

func (s *staleHook) List(account, cursor string, limit int) (orders.ListPage, error) {
	p, err := s.Manager.List(account, cursor, limit)
	s.fire()
	return p, err
}

func (s *staleHook) Status(account, clOrdID string) (orders.Order, error) {
	o, err := s.Manager.Status(account, clOrdID)
	s.fire()
	return o, err
}

// TestWSOrderAnswerNotBehindNewerEvent: an orders.list page, an
// order.status answer or an order.trades page read just before a fill,
// whose event is queued for the client before the answer is: the answer
// must not come after the fill's event showing the order as it was
// before it, which a client applying what it receives in order would keep
// (the order working, with nothing more to come; for order.trades, a page
// without the trade its event told of). The answer is read again instead; after
// orderAnswerTries reads each overtaken by a fill ("busy"), it is read
// holding the client's order events back. Before, the client got the
// fill and then the order unfilled (found by TestWSOrdersAgainstModel).
func TestWSOrderAnswerNotBehindNewerEvent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		op    string
		fills int
	}{
		{"list", `{"op":"orders.list","account":"A1","id":9}`, 1},
		{"status", `{"op":"order.status","clOrdId":"c1","account":"A1","id":9}`, 1},
		{"list busy", `{"op":"orders.list","account":"A1","id":9}`, orderAnswerTries},
		{"status busy", `{"op":"order.status","clOrdId":"c1","account":"A1","id":9}`, orderAnswerTries},
		{"trades", `{"op":"order.trades","clOrdId":"c1","account":"A1","id":9}`, 1},
		{"trades busy", `{"op":"order.trades","clOrdId":"c1","account":"A1","id":9}`, orderAnswerTries},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := &ackingUpstream{}
			e, tok, m := newOrderEnvWith(t, up, nil)
			watch := make(eventChan, 64)
			m.Watch("A1", watch)
			hooked := &staleHook{Manager: m}
			e.srv.ws.orders = hooked // before any client connects
			l := &rawLog{t: t, c: e.dial(tok)}
			read, has, send := l.read, l.has, l.send
			send(`{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","type":"limit","price":"1700.00","qty":100,"id":1}`)
			read("the order acknowledged", has(func(m rawMessage) bool { return m.str("type") == "exec" && m.str("status") == "new" }))
			o, err := m.Status("A1", "c1")
			if err != nil {
				t.Fatal(err)
			}
			lot := int64(100 / tc.fills)
			filled := 0
			fill := func() {
				filled++
				status := byte('1')
				if filled*int(lot) == 100 {
					status = '2'
				}
				m.OnExecReport("core", fix.ExecReport{ClOrdID: o.UpstreamID, OrderID: o.OrderID, ExecID: fmt.Sprintf("fill%d", filled),
					ExecType: 'F', OrdStatus: status, LastPx: 1700 * refdata.PriceScale, LastQty: lot, CumQty: int64(filled) * lot,
					LeavesQty: 100 - int64(filled)*lot, AvgPx: 1700 * refdata.PriceScale})
				bound := time.After(testBound)
				for { // the connection's sink has it first
					select {
					case ev := <-watch:
						if ev.Kind == orders.EventExec && ev.ExecType == 'F' {
							return
						}
					case <-bound:
						t.Error("the fill's event never came")
						return
					}
				}
			}
			hooked.hook.Store(&fill)
			hooked.times.Store(int32(tc.fills))
			send(tc.op)
			read("the answer", func() bool { return len(l.withID("9")) > 0 })
			if filled != tc.fills {
				t.Fatalf("%d fills made, want %d", filled, tc.fills)
			}
			// The order as a client applying each message in turn has it.
			var status string
			var cum int64
			var seq []string
			for _, m := range l.got {
				if m.str("clOrdId") == "c1" && m.str("status") != "" {
					status = m.str("status")
					_ = json.Unmarshal(m["cumQty"], &cum)
					seq = append(seq, fmt.Sprintf("%s %s %s", m.str("type"), m.str("status"), m["cumQty"]))
				}
			}
			if want := int64(tc.fills) * lot; cum != want {
				t.Fatalf("the client ends with the order %s, cumQty %d, want %d; it received %q", status, cum, want, seq)
			}
			// An order.trades answer lists every trade whose event came
			// before it.
			events := 0
			for _, m := range l.got {
				switch {
				case m.str("type") == "exec" && m.str("execType") == "trade":
					events++
				case m.str("type") == "trades":
					var a struct{ Trades []json.RawMessage }
					if err := json.Unmarshal(mustJSON(t, m), &a); err != nil {
						t.Fatal(err)
					}
					if len(a.Trades) < events {
						t.Fatalf("order.trades lists %d trades after %d trade events", len(a.Trades), events)
					}
				}
			}
		})
	}
}

// TestWSFloodCloseAnswersTakenOrders: a client sends a burst of orders
// and then floods; the gateway takes the orders within the rate limit and
// closes the connection with 1008 for the flood. Every order it took was
// entered and sent to the venue, so its client must have had its answer
// (accepted) before the close, as it has the rate_limited errors that led
// to it. Before, the close came at once, ahead of the journal's answers:
// the orders worked at the venue and the client never heard of them.
func TestWSFloodCloseAnswersTakenOrders(t *testing.T) {
	e, tok, m := newOrderEnvWith(t, &ackingUpstream{}, nil)
	c := e.dial(tok)
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	go func() {
		for i := range 40 {
			// Half of them with an id, half without.
			id := ""
			if i%2 == 0 {
				id = fmt.Sprintf(`,"id":%d`, i)
			}
			raw := fmt.Sprintf(`{"op":"order.new","clOrdId":"f%d","account":"A1","symbol":"600519.SH","side":"buy","type":"limit","price":"1700.00","qty":100%s}`, i, id)
			if c.SendRaw(ctx, []byte(raw)) != nil {
				return
			}
		}
		for range 200 {
			if c.SendRaw(ctx, []byte(`{"op":"ping"}`)) != nil {
				return
			}
		}
	}()
	answered := map[string]bool{}
	for {
		msgs, err := c.Next(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
				t.Fatalf("got %v, want close 1008 for the flood", err)
			}
			break
		}
		for _, msg := range msgs {
			if msg.Type == "accepted" || msg.Type == "error" && msg.Ref != "" {
				answered[msg.Ref] = true
			}
		}
	}
	page, err := m.List("A1", "", 500)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Orders) == 0 {
		t.Fatal("the gateway took none of the orders sent before the flood")
	}
	for _, o := range page.Orders {
		if !answered[o.ClOrdID] {
			t.Errorf("order %s was entered (%s) but its client got no answer before the close for flooding", o.ClOrdID, o.Status)
		}
	}
}

// TestWSOrderUnknownFieldRefused: an order request with a field the
// protocol does not define is refused bad_json, with ref, and never
// entered: a term the gateway does not know is one it would not apply.
// Before, the field was ignored, and an order sent with timeInForce IOC
// rested as a day order. Field names still match without regard to case,
// and other requests (a ping here) still ignore unknown fields.
func TestWSOrderUnknownFieldRefused(t *testing.T) {
	f := newFakeEntry()
	e, tok := newFakeEntryEnv(t, WSConfig{}, f)
	c := e.dial(tok)
	const order = `"account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100`
	for _, tc := range []struct{ name, raw, want, ref string }{
		{"time in force", `{"op":"order.new","clOrdId":"u1",` + order + `,"timeInForce":"IOC"}`, "error", "u1"},
		{"cancel with a quantity to cancel", `{"op":"order.cancel","clOrdId":"u2","origClOrdId":"u1","account":"A1","cancelQty":50}`, "error", "u2"},
		{"names in upper case", `{"op":"order.new","CLORDID":"u3",` + order + `}`, "accepted", "u3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, line := orderAnswer(t, c, tc.raw)
			if m.str("type") != tc.want || m.str("ref") != tc.ref && m.str("clOrdId") != tc.ref {
				t.Fatalf("got %s, want %s for %s", line, tc.want, tc.ref)
			}
			if tc.want == "error" && (m.str("code") != codeBadJSON || !strings.Contains(m.str("msg"), "unknown field")) {
				t.Fatalf("got %s, want bad_json naming the unknown field", line)
			}
		})
	}
	f.checkEntered(t, "new u3 A1")
	if err := c.SendRaw(context.Background(), []byte(`{"op":"ping","format":"v2"}`)); err != nil {
		t.Fatal(err)
	}
	if m, line := nextRaw(t, c, func(m rawMessage) bool { return m.str("type") == "error" || m.str("type") == "pong" }); m.str("type") != "pong" {
		t.Errorf("a ping with an unknown field: %s; want it answered", line)
	}
}

// TestWSOrderRepeatedFieldRefused: an order request that gives a field
// twice (the same name, or names equal without regard to case, or one
// spelled with an escape), or that has more after its JSON object, has two
// readings; it is refused bad_json with ref and never entered. Before,
// encoding/json took the last key and {"qty":100,"QTY":100000} entered a
// 100,000-share order, and a second value after the object was ignored.
func TestWSOrderRepeatedFieldRefused(t *testing.T) {
	f := newFakeEntry()
	e, tok := newFakeEntryEnv(t, WSConfig{}, f)
	c := e.dial(tok)
	const order = `"account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00"`
	for _, tc := range []struct{ name, raw, want, ref string }{
		{"qty twice", `{"op":"order.new","clOrdId":"d1",` + order + `,"qty":100,"qty":100000}`, "given more than once", "d1"},
		{"qty in upper case", `{"op":"order.new","clOrdId":"d2",` + order + `,"qty":100,"QTY":100000}`, "given more than once", "d2"},
		{"qty escaped", `{"op":"order.new","clOrdId":"d3",` + order + `,"qty":100,"q\u0074y":100000}`, "given more than once", "d3"},
		{"account twice", `{"op":"order.new","clOrdId":"d4","account":"A2",` + order + `,"qty":100}`, "given more than once", "d4"},
		{"cancel of two orders", `{"op":"order.cancel","clOrdId":"d5","origClOrdId":"c1","ORIGCLORDID":"c2","account":"A1"}`, "given more than once", "d5"},
		{"replace price twice", `{"op":"order.replace","clOrdId":"d6","origClOrdId":"c1","account":"A1","price":"1700.00","Price":"17.00","qty":100}`, "given more than once", "d6"},
		{"a second object", `{"op":"order.new","clOrdId":"d7",` + order + `,"qty":100}{"qty":100000}`, "has more after it", "d7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, line := orderAnswer(t, c, tc.raw)
			if m.str("type") != "error" || m.str("code") != codeBadJSON || m.str("ref") != tc.ref || !strings.Contains(m.str("msg"), tc.want) {
				t.Fatalf("got %s, want bad_json %q with ref %s", line, tc.want, tc.ref)
			}
		})
	}
	if m, line := orderAnswer(t, c, `{"op":"order.new","clOrdId":"d8",`+order+`,"QTY":100}`); m.str("type") != "accepted" {
		t.Fatalf("an order naming qty once, in upper case: %s; want it accepted", line)
	}
	f.checkEntered(t, "new d8 A1")
}

// orderAnswer sends raw on c and returns the first error or accepted
// answer after it.
func orderAnswer(t *testing.T, c *mdclient.Client, raw string) (rawMessage, string) {
	t.Helper()
	if err := c.SendRaw(context.Background(), []byte(raw)); err != nil {
		t.Fatal(err)
	}
	return nextRaw(t, c, func(m rawMessage) bool { return m.str("type") == "error" || m.str("type") == "accepted" })
}

// checkEntered fails t unless f was called exactly with want ("new u3 A1").
func (f *fakeEntry) checkEntered(t *testing.T, want ...string) {
	t.Helper()
	f.mu.Lock()
	calls := slices.Clone(f.calls)
	f.mu.Unlock()
	if !slices.Equal(calls, want) {
		t.Errorf("entered %q; want %q", calls, want)
	}
}
