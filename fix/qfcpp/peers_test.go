package qfcpp

import (
	"context"
	"testing"
)

// These tests pin down what the example venues answer, as the package
// documentation tells it, by driving them with the initiator.

// startBroker starts an initiator on the venue's first session and waits
// for its logon.
func startBroker(t *testing.T, ctx context.Context, kit *Kit, v *Proc, begin, broker, venue string) *Initiator {
	t.Helper()
	ini := kit.StartInitiator(t, Broker{Addr: v.Addr(), BeginString: begin, SenderCompID: broker, TargetCompID: venue, Password: "pw-" + broker})
	if err := ini.AwaitLogon(ctx); err != nil {
		t.Fatal(err)
	}
	return ini
}

// send sends r, failing t on error, and returns the MsgSeqNum it got.
func send(t *testing.T, ctx context.Context, ini *Initiator, r Request) string {
	t.Helper()
	m, err := ini.Send(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type() != r.MsgType || m.Get(34) == "" {
		t.Fatalf("Send %+v returned %v", r, m)
	}
	return m.Get(34)
}

// awaitApp waits for the first application message of msgType whose
// fields include want.
func awaitApp(t *testing.T, ctx context.Context, ini *Initiator, msgType string, want map[int]string) Message {
	t.Helper()
	m, err := ini.AwaitApp(ctx, func(m Message) bool {
		if m.Type() != msgType {
			return false
		}
		for tag, v := range want {
			if m.Get(tag) != v {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("waiting for %s %v: %v", msgType, want, err)
	}
	return m
}

// checkFields fails t for each field of m that differs from want ("" for
// a field that must be absent).
func checkFields(t *testing.T, what string, m Message, want map[int]string) {
	t.Helper()
	for tag, v := range want {
		got, ok := m.Lookup(tag)
		switch {
		case v == "" && ok:
			t.Errorf("%s: %d=%s, want no tag %d: %v", what, tag, got, tag, m)
		case v != "" && got != v:
			t.Errorf("%s: %d=%q, want %q: %v", what, tag, got, v, m)
		}
	}
}

func TestExecutorAnswers(t *testing.T) {
	for _, tc := range []struct {
		begin string
		fill  map[int]string // what the fill of D carries beyond the echoed fields
	}{
		{begin: FIX42, fill: map[int]string{150: "2", 39: "2", 20: "0", 32: "300"}},
		{begin: FIX44, fill: map[int]string{150: "F", 39: "2", 20: "", 32: "300"}},
	} {
		t.Run(tc.begin, func(t *testing.T) {
			kit := Build(t)
			ctx := testContext(t)
			broker, venue := compIDs()
			ex := kit.StartExecutor(t, Venue{BeginString: tc.begin, SenderCompID: venue, TargetCompID: broker})
			ini := startBroker(t, ctx, kit, ex, tc.begin, broker, venue)
			awaitEntry(t, ctx, ex, "the logon with its password", isMsg(Incoming, "A", map[int]string{554: "pw-" + broker}))

			send(t, ctx, ini, Request{MsgType: "D", ClOrdID: "c1", Account: "A1", Symbol: "600519", SecurityExchange: "XSHG",
				Side: '1', OrderQty: 300, Price: "17.25"})
			er := awaitApp(t, ctx, ini, "8", map[int]string{11: "c1"})
			checkFields(t, "fill", er, tc.fill)
			checkFields(t, "fill", er, map[int]string{1: "A1", 55: "600519", 207: "", 54: "1", 38: "300",
				14: "300", 151: "0", 31: "17.25", 6: "17.25", 44: "", 60: "", 58: ""})
			if er.Get(37) == "" || er.Get(17) == "" {
				t.Errorf("fill without OrderID or ExecID: %v", er)
			}

			// Anything but a limit order is refused at the session level.
			seq := send(t, ctx, ini, Request{MsgType: "D", ClOrdID: "c2", Symbol: "600519", Side: '1', OrderQty: 100,
				Extra: []Field{{Tag: 40, Value: "1"}}})
			rej, err := ini.Await(ctx, func(e Event) bool { return e.Kind == EventAdmin && e.Msg.Type() == "3" })
			if err != nil {
				t.Fatal(err)
			}
			checkFields(t, "reject of a market order", rej.Msg, map[int]string{45: seq, 371: "40", 373: "5"})

			// A field it reads is missing: BusinessMessageReject,
			// conditionally required field missing.
			seq = send(t, ctx, ini, Request{MsgType: "D", ClOrdID: "c3", Symbol: "600519", Side: '1', OrderQty: 100})
			checkFields(t, "reject of an order without a price", awaitApp(t, ctx, ini, "j", map[int]string{45: seq}),
				map[int]string{372: "D", 380: "5", 58: "Conditionally Required Field Missing (44)", 379: ""})

			// F, G and H: unsupported.
			for _, r := range []Request{
				{MsgType: "F", ClOrdID: "x1", OrigClOrdID: "c1", Symbol: "600519", Side: '1', OrderQty: 300},
				{MsgType: "G", ClOrdID: "r1", OrigClOrdID: "c1", Symbol: "600519", Side: '1', OrderQty: 400, Price: "17.30"},
				{MsgType: "H", ClOrdID: "c1", Symbol: "600519", Side: '1'},
			} {
				seq := send(t, ctx, ini, r)
				j := awaitApp(t, ctx, ini, "j", map[int]string{45: seq})
				checkFields(t, r.MsgType, j, map[int]string{372: r.MsgType, 380: "3", 58: "Unsupported Message Type", 379: "", 11: ""})
			}
		})
	}
}

func TestOrderMatchAnswers(t *testing.T) {
	kit := Build(t)
	ctx := testContext(t)
	buyer, venue := compIDs()
	seller, _ := compIDs()
	om := kit.StartOrderMatch(t, Venue{SenderCompID: venue, TargetCompID: buyer,
		More: []Session{{SenderCompID: venue, TargetCompID: seller}}})
	b := startBroker(t, ctx, kit, om, FIX42, buyer, venue)
	s := startBroker(t, ctx, kit, om, FIX42, seller, venue)

	// An order that rests is acknowledged: OrderID is the ClOrdID.
	send(t, ctx, b, Request{MsgType: "D", ClOrdID: "b1", Account: "A1", Symbol: "600519", Side: '1', OrderQty: 100, Price: "17.00"})
	ack := awaitApp(t, ctx, b, "8", map[int]string{11: "b1"})
	checkFields(t, "ack", ack, map[int]string{150: "0", 39: "0", 20: "0", 37: "b1", 38: "100", 14: "0", 151: "100", 1: ""})

	// A crossing order trades at the resting price; each side hears of it
	// on its own session.
	send(t, ctx, s, Request{MsgType: "D", ClOrdID: "s1", Symbol: "600519", Side: '2', OrderQty: 60, Price: "16.90"})
	checkFields(t, "seller's ack", awaitApp(t, ctx, s, "8", map[int]string{11: "s1", 150: "0"}), map[int]string{39: "0", 151: "60"})
	checkFields(t, "seller's fill", awaitApp(t, ctx, s, "8", map[int]string{11: "s1", 150: "2"}),
		map[int]string{39: "2", 32: "60", 31: "16.9", 14: "60", 151: "0", 6: "16.9"})
	checkFields(t, "buyer's partial fill", awaitApp(t, ctx, b, "8", map[int]string{11: "b1", 150: "1"}),
		map[int]string{39: "1", 32: "60", 31: "16.9", 14: "60", 151: "40", 6: "16.9"})

	// A cancel is confirmed with the order's own ClOrdID, no OrigClOrdID.
	send(t, ctx, b, Request{MsgType: "F", ClOrdID: "x1", OrigClOrdID: "b1", Symbol: "600519", Side: '1', OrderQty: 100})
	checkFields(t, "cancel", awaitApp(t, ctx, b, "8", map[int]string{150: "4"}),
		map[int]string{11: "b1", 41: "", 39: "4", 14: "60", 151: "0"})

	// A cancel of an unknown order gets no answer at all: the answer to
	// the next request comes first.
	send(t, ctx, b, Request{MsgType: "F", ClOrdID: "x2", OrigClOrdID: "nope", Symbol: "600519", Side: '1', OrderQty: 100})
	for _, r := range []Request{
		{MsgType: "G", ClOrdID: "r1", OrigClOrdID: "b1", Symbol: "600519", Side: '1', OrderQty: 200, Price: "17.10"},
		{MsgType: "H", ClOrdID: "b1", Symbol: "600519", Side: '1'},
	} {
		seq := send(t, ctx, b, r)
		checkFields(t, r.MsgType, awaitApp(t, ctx, b, "j", map[int]string{45: seq}),
			map[int]string{372: r.MsgType, 380: "3", 58: "Unsupported Message Type", 379: ""})
	}
	for _, e := range b.Events() {
		if e.Kind == EventApp && (e.Msg.Get(11) == "x2" || e.Msg.Get(41) == "nope") {
			t.Errorf("ordermatch answered the cancel of an unknown order: %v", e.Msg)
		}
	}

	// Day orders only, limit orders only.
	send(t, ctx, b, Request{MsgType: "D", ClOrdID: "t1", Symbol: "600519", Side: '1', OrderQty: 100, Price: "17.00",
		Extra: []Field{{Tag: 59, Value: "3"}}})
	checkFields(t, "IOC order", awaitApp(t, ctx, b, "8", map[int]string{11: "t1"}),
		map[int]string{150: "8", 39: "8", 58: "Unsupported TIF, use Day"})
	send(t, ctx, b, Request{MsgType: "D", ClOrdID: "m1", Symbol: "600519", Side: '1', OrderQty: 100,
		Extra: []Field{{Tag: 40, Value: "1"}}})
	if m := awaitApp(t, ctx, b, "8", map[int]string{11: "m1"}); m.Get(150) != "8" || m.Get(39) != "8" {
		t.Errorf("market order: %v, want ExecType 8, OrdStatus 8", m)
	}
}
