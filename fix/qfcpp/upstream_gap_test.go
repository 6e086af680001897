package qfcpp

import (
	"context"
	"strconv"
	"testing"
	"time"

	"sgw/fix"
	"sgw/sim/faultproxy"
)

// awaitDropped waits for the frame a faultproxy.DropOnce rule dropped.
func awaitDropped(t *testing.T, ctx context.Context, what string, lost <-chan []byte) Message {
	t.Helper()
	select {
	case b := <-lost:
		m, err := ParseMessage(string(b), 0x01)
		if err != nil {
			t.Fatalf("%s: dropped %q: %v", what, b, err)
		}
		t.Logf("the line lost %s: %v", what, m)
		return m
	case <-ctx.Done():
		t.Fatalf("waiting for the line to lose %s: %v", what, ctx.Err())
		return Message{}
	}
}

// gapHeartBtInt is the heartbeat interval of the gap tests: longer than
// anything they wait for, so that only a probe, never a heartbeat, can
// bring back what the line lost.
const gapHeartBtInt = 60 * time.Second

// gapRecoveryWait bounds the recovery of a lost message in the gap tests:
// well under gapHeartBtInt, generous for a loaded machine.
const gapRecoveryWait = 20 * time.Second

// TestUpstreamGapBeforeResendRequestAgainstQuickFIX: the ack of an order
// is lost on the way from a QuickFIX C++ venue (ordermatch, FIX 4.2) to
// the gateway, and the venue's next message is a ResendRequest of its
// own, numbered after the ack: the line also lost a cancel the gateway
// sent, and the next cancel showed the venue the gap. Both cancels name
// orders ordermatch does not have, which it never answers, so nothing
// follows the ResendRequest until the venue's heartbeat, HeartBtInt (60 s)
// later. quickfix (Go) serves the ResendRequest without asking for the
// ack; the Upstream follows it with a TestRequest (fix.ResendAfterGap),
// whose Heartbeat shows the gap, and the ack comes back (PossDupFlag)
// within a round trip.
func TestUpstreamGapBeforeResendRequestAgainstQuickFIX(t *testing.T) {
	kit := Build(t)
	ctx := testContext(t)
	gw, venue := compIDs()
	om := kit.StartOrderMatch(t, Venue{SenderCompID: venue, TargetCompID: gw})
	line, err := faultproxy.NewFramed(om.Addr(), SplitFIX)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { line.Close() })
	cfg := upstreamConfig(t, FIX42, gw, venue, om)
	cfg.Lines[0].Addr = line.Addr()
	cfg.HeartBtInt = gapHeartBtInt
	up := startUpstream(t, cfg)
	up.rec.awaitSession(t, ctx, "up", 1)

	ackLost := line.DropOnce(faultproxy.Down, FrameIs("8", map[int]string{11: "b1"}))
	up.send(t, limitOrder("b1", fix.Buy, 100, 160_000))
	ack := awaitDropped(t, ctx, "b1's ack", ackLost)
	cancelLost := line.DropOnce(faultproxy.Up, FrameIs("F", map[int]string{11: "x1"}))
	up.send(t, fix.CancelRequest{ClOrdID: "x1", OrigClOrdID: "none1", Account: "A1", Symbol: "600519.SH", Side: fix.Buy, Qty: 100})
	cancel := awaitDropped(t, ctx, "cancel x1", cancelLost)
	up.send(t, fix.CancelRequest{ClOrdID: "x2", OrigClOrdID: "none2", Account: "A1", Symbol: "600519.SH", Side: fix.Buy, Qty: 100})

	rr := awaitEntry(t, ctx, om, "the venue's ResendRequest", isMsg(Outgoing, "2", nil))
	ackSeq, _ := strconv.Atoi(ack.Get(34))
	if seq, _ := strconv.Atoi(rr.Msg.Get(34)); seq != ackSeq+1 || rr.Msg.Get(7) != cancel.Get(34) {
		t.Fatalf("the venue sent %v; want a ResendRequest numbered %d, right after the lost ack, from %s, the lost cancel", rr.Msg, ackSeq+1, cancel.Get(34))
	}
	wait, cancelWait := context.WithTimeout(ctx, gapRecoveryWait)
	defer cancelWait()
	e, err := up.rec.events.await(wait, 0, nil, func(e upstreamEvent) bool { return e.kind == "exec" && e.er.ClOrdID == "b1" })
	if err != nil { // the venue's log follows
		t.Fatalf("b1's ack, lost before the venue's ResendRequest, did not reach the handler within %v (HeartBtInt %v): "+
			"nothing asked for it: %v", gapRecoveryWait, gapHeartBtInt, err)
	}
	if er := e.er; er.ExecType != '0' || er.OrdStatus != '0' || er.SeqNum != ackSeq {
		t.Errorf("b1's ack: %+v; want ExecType 0, OrdStatus 0, MsgSeqNum %d", er, ackSeq)
	}
	again := awaitEntry(t, ctx, om, "the ack sent again", isMsg(Outgoing, "8", map[int]string{11: "b1", 43: "Y"}))
	t.Logf("the venue sent the ack again: %v", again.Msg)
	if testing.Verbose() {
		for _, e := range om.Entries() {
			if e.Kind != SessionEvent {
				t.Logf("venue %s: %s", e.Kind, e.Text)
			}
		}
	}
}
