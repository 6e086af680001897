package broker

import (
	"context"
	"strconv"
	"testing"
	"time"

	"sgw/fix"
	"sgw/fix/qfcpp"
	"sgw/sim/faultproxy"
)

// TestInteropGapBeforeResendRequest: a broker on QuickFIX C++ (package
// qfcpp's initiator) sends an order the line loses on the way to the
// acceptor, and its next message is a ResendRequest of its own, numbered
// after the order: the line also lost a fill the acceptor sent, and the
// next fill showed the broker the gap. The broker answers neither fill, so
// nothing follows its ResendRequest until its heartbeat, HeartBtInt (60 s)
// later. quickfix (Go) serves the ResendRequest without asking for the
// order; the acceptor follows it with a TestRequest (fix.ResendAfterGap),
// whose Heartbeat shows the gap, and the order comes again (PossDupFlag)
// within a round trip.
func TestInteropGapBeforeResendRequest(t *testing.T) {
	kit := qfcpp.Build(t)
	ctx, cancel := context.WithTimeout(context.Background(), interopWait)
	defer cancel()
	m, up := newRigManager(t, nil)
	r := runAcceptorWith(t, m, nil)
	gw, bk := r.gateway, r.broker
	line, err := faultproxy.NewFramed(r.a.Addr(), qfcpp.SplitFIX)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { line.Close() })
	const heartBtInt = 60 * time.Second // only a probe, never a heartbeat, comes within the test's waits
	b := kit.StartInitiator(t, qfcpp.Broker{Addr: line.Addr(), SenderCompID: bk, TargetCompID: gw, Password: "right", HeartBtInt: heartBtInt})
	if err := b.AwaitLogon(ctx); err != nil {
		t.Fatal(err)
	}
	order := func(id string) qfcpp.Request {
		return qfcpp.Request{MsgType: "D", ClOrdID: id, Account: "A1", Symbol: "600519", SecurityExchange: "XSHG",
			Side: '1', OrderQty: 100, Price: "1700.00"}
	}
	if _, err := b.Send(ctx, order("o1")); err != nil {
		t.Fatal(err)
	}
	o1 := up.Wait(t, 1)[0].(fix.NewOrder)
	m.OnExecReport("core", fix.ExecReport{ClOrdID: o1.ClOrdID, OrderID: "V1", ExecID: "E0", ExecType: '0', OrdStatus: '0',
		Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LeavesQty: 100})
	if _, err := b.AwaitApp(ctx, func(m qfcpp.Message) bool { return m.Type() == "8" && m.Get(11) == "o1" && m.Get(150) == "0" }); err != nil {
		t.Fatalf("the broker waiting for o1's New: %v", err)
	}

	orderLost := line.DropOnce(faultproxy.Up, qfcpp.FrameIs("D", map[int]string{11: "o2"}))
	if _, err := b.Send(ctx, order("o2")); err != nil {
		t.Fatal(err)
	}
	lost := awaitFrame(t, ctx, "the line losing o2", orderLost)
	fillLost := line.DropOnce(faultproxy.Down, qfcpp.FrameIs("8", map[int]string{11: "o1", 32: "40"}))
	rrSeen := line.WatchOnce(faultproxy.Up, qfcpp.FrameIs("2", nil))
	fill := func(execID string, qty, cum int64, status byte) {
		m.OnExecReport("core", fix.ExecReport{ClOrdID: o1.ClOrdID, OrderID: "V1", ExecID: execID, ExecType: 'F', OrdStatus: status,
			Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LastQty: qty, LastPx: 17000000,
			CumQty: cum, LeavesQty: 100 - cum, AvgPx: 17000000})
	}
	fill("F1", 40, 40, '1')
	awaitFrame(t, ctx, "the line losing o1's first fill", fillLost)
	fill("F2", 60, 100, '2')
	rr := awaitFrame(t, ctx, "the broker's ResendRequest", rrSeen)
	lostSeq, _ := strconv.Atoi(lost.Get(34))
	if seq, _ := strconv.Atoi(rr.Get(34)); seq != lostSeq+1 {
		t.Fatalf("the broker sent %v; want a ResendRequest numbered %d, right after the lost order", rr, lostSeq+1)
	}

	if _, ok := up.Await(2, gapRecoveryWait); !ok {
		t.Fatalf("o2, lost before the broker's ResendRequest, did not reach the order manager within %v (HeartBtInt %v): "+
			"nothing asked for it", gapRecoveryWait, heartBtInt)
	}
	if o2 := up.Wait(t, 2)[1].(fix.NewOrder); o2.ClOrdID == o1.ClOrdID || o2.Qty != 100 {
		t.Errorf("second order upstream: %+v", o2)
	}
	if _, err := b.AwaitApp(ctx, func(m qfcpp.Message) bool { return m.Type() == "8" && m.Get(11) == "o2" }); err != nil {
		t.Fatalf("the broker waiting for o2's report: %v", err)
	}
}

// gapRecoveryWait bounds the recovery of a lost message in
// TestInteropGapBeforeResendRequest: well under its HeartBtInt, generous
// for a loaded machine.
const gapRecoveryWait = 20 * time.Second

// awaitFrame waits for the frame a faultproxy rule reports.
func awaitFrame(t *testing.T, ctx context.Context, what string, ch <-chan []byte) qfcpp.Message {
	t.Helper()
	select {
	case b := <-ch:
		m, err := qfcpp.ParseMessage(string(b), 0x01)
		if err != nil {
			t.Fatalf("%s: %q: %v", what, b, err)
		}
		t.Logf("%s: %v", what, m)
		return m
	case <-ctx.Done():
		t.Fatalf("waiting for %s: %v", what, ctx.Err())
		return qfcpp.Message{}
	}
}
