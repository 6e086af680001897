package qfcpp

import (
	"errors"
	"fmt"
	"strconv"
	"testing"

	"sgw/fix"
	"sgw/refdata"
)

// These tests run the gateway's own upstream initiator, fix.Upstream,
// against the example venues.

// upstreamConfig is the gateway's session to venue v over one line.
func upstreamConfig(t *testing.T, begin, gw, venue string, v *Proc) fix.UpstreamConfig {
	return fix.UpstreamConfig{
		Name: "core", SenderCompID: gw, TargetCompID: venue, BeginString: begin,
		Lines:    []fix.LineConfig{{Name: "lineA", Addr: v.Addr()}},
		StoreDir: t.TempDir(),
	}
}

func limitOrder(id string, side fix.Side, qty int64, px refdata.Price) fix.NewOrder {
	return fix.NewOrder{ClOrdID: id, Account: "A1", Symbol: "600519.SH", Side: side, Qty: qty, Price: px}
}

// TestUpstreamAgainstExecutor sends orders through fix.Upstream to the
// executor and reads its fills through the Handler, normalised to FIX 4.4
// values. The executor answers cancel, replace and status requests with a
// BusinessMessageReject naming only RefSeqNum; fix.Upstream matches it to
// the request and tells the Handler (OnReject).
func TestUpstreamAgainstExecutor(t *testing.T) {
	for _, tc := range []struct {
		begin    string
		fillType byte // ExecType of a fill
	}{
		{begin: FIX42, fillType: 'F'}, // sent as ExecType 2, ExecTransType 0
		{begin: FIX44, fillType: 'F'},
	} {
		t.Run(tc.begin, func(t *testing.T) {
			kit := Build(t)
			ctx := testContext(t)
			gw, venue := compIDs()
			ex := kit.StartExecutor(t, Venue{BeginString: tc.begin, SenderCompID: venue, TargetCompID: gw})
			up := startUpstream(t, upstreamConfig(t, tc.begin, gw, venue, ex))
			up.rec.awaitSession(t, ctx, "up", 1)
			logon := awaitEntry(t, ctx, ex, "the gateway's logon", isMsg(Incoming, "A", nil))
			checkFields(t, "the gateway's logon", logon.Msg, map[int]string{8: tc.begin, 98: "0", 108: "1", 141: ""})

			const n = 20
			for i := range n {
				up.send(t, limitOrder(fmt.Sprintf("c%02d", i), fix.Buy, int64(100*(i+1)), refdata.Price(17_000_000+100*i)))
			}
			for i := range n {
				id, qty, px := fmt.Sprintf("c%02d", i), int64(100*(i+1)), refdata.Price(17_000_000+100*i)
				er := up.rec.awaitExec(t, ctx, id, nil)
				want := fix.ExecReport{
					ClOrdID: id, OrderID: er.OrderID, ExecID: er.ExecID, ExecType: tc.fillType, OrdStatus: '2',
					// The executor does not echo SecurityExchange: the
					// symbol comes back without its .SH.
					Symbol: "600519", Side: fix.Buy, LastPx: px, AvgPx: px,
					OrderQty: qty, LastQty: qty, CumQty: qty, LeavesQty: 0,
					SeqNum: er.SeqNum, Period: er.Period,
				}
				if tc.begin == FIX42 {
					want.ExecTransType = '0'
				}
				if er != want || er.OrderID == "" || er.ExecID == "" || er.Period == 0 {
					t.Errorf("fill of %s:\n got %+v\nwant %+v", id, er, want)
				}
			}
			d := awaitEntry(t, ctx, ex, "the first order", isMsg(Incoming, "D", map[int]string{11: "c00"}))
			checkFields(t, "the order as the venue got it", d.Msg, map[int]string{
				1: "A1", 55: "600519", 207: "XSHG", 54: "1", 38: "100", 40: "2", 44: "1700.00", 21: "1", 59: "0"})

			// Cancel, replace and status: each is answered by a
			// BusinessMessageReject naming the request's MsgSeqNum.
			for _, req := range []struct {
				msgType string
				req     any
			}{
				{"F", fix.CancelRequest{ClOrdID: "x1", OrigClOrdID: "c00", Account: "A1", Symbol: "600519.SH", Side: fix.Buy, Qty: 100}},
				{"G", fix.ReplaceRequest{ClOrdID: "r1", OrigClOrdID: "c01", Account: "A1", Symbol: "600519.SH", Side: fix.Buy, Qty: 300, Price: 17_010_000}},
				{"H", fix.StatusRequest{ClOrdID: "c02", Symbol: "600519.SH", Side: fix.Buy}},
			} {
				up.send(t, req.req)
				in := awaitEntry(t, ctx, ex, "the "+req.msgType, isMsg(Incoming, req.msgType, nil))
				j := awaitEntry(t, ctx, ex, "the reject of "+req.msgType, isMsg(Outgoing, "j", map[int]string{372: req.msgType}))
				checkFields(t, "reject of "+req.msgType, j.Msg, map[int]string{45: in.Msg.Get(34), 380: "3", 58: "Unsupported Message Type", 379: ""})
				// fix.Upstream names the request from RefSeqNum (the
				// venue sends no BusinessRejectRefID) and tells the Handler.
				id, _ := fix.RequestID(req.req)
				rej := up.rec.awaitReject(t, ctx, id)
				if rej.MsgType != req.msgType || rej.Reason != 3 || rej.Session || rej.Text != "Unsupported Message Type" {
					t.Errorf("reject of %s: %+v", req.msgType, rej)
				}
				t.Logf("%s answered by %s; the Handler got %+v", req.msgType, j.Text, rej)
			}
			// The rejects came after everything else, on the session
			// goroutine that calls the Handler: nothing else will come.
			seen := 0
			up.logs.await(t, ctx, "fix: upstream business reject", func(r logRecord) bool { seen++; return seen == 3 })
			for _, id := range []string{"x1", "r1"} {
				if ers := up.rec.execsFor(id); len(ers) != 0 {
					t.Errorf("reports for %s: %+v", id, ers)
				}
			}
			for _, id := range []string{"c00", "c01", "c02"} {
				if ers := up.rec.execsFor(id); len(ers) != 1 {
					t.Errorf("%d reports for %s, want its fill only: %+v", len(ers), id, ers)
				}
			}
		})
	}
}

// TestUpstreamAgainstOrderMatch crosses orders on ordermatch through
// fix.Upstream (FIX 4.2): both sides get their fills.
func TestUpstreamAgainstOrderMatch(t *testing.T) {
	kit := Build(t)
	ctx := testContext(t)
	gw, venue := compIDs()
	om := kit.StartOrderMatch(t, Venue{SenderCompID: venue, TargetCompID: gw})
	up := startUpstream(t, upstreamConfig(t, FIX42, gw, venue, om))
	up.rec.awaitSession(t, ctx, "up", 1)

	up.send(t, limitOrder("b1", fix.Buy, 100, 170_000))
	up.send(t, limitOrder("s1", fix.Sell, 60, 169_000))
	up.send(t, limitOrder("s2", fix.Sell, 40, 170_000))
	isType := func(execType byte) func(fix.ExecReport) bool {
		return func(er fix.ExecReport) bool { return er.ExecType == execType }
	}
	for _, id := range []string{"b1", "s1", "s2"} {
		ack := up.rec.awaitExec(t, ctx, id, isType('0'))
		if ack.OrdStatus != '0' || ack.OrderID != id || ack.CumQty != 0 {
			t.Errorf("ack of %s: %+v", id, ack)
		}
	}
	for _, c := range []struct {
		id                string
		execType          byte
		lastQty, cumQty   int64
		lastPx, avgPx     refdata.Price
		leavesQty, ordQty int64
		ordStatus         byte
		side              fix.Side
	}{
		{id: "b1", execType: '1', lastQty: 60, cumQty: 60, lastPx: 169_000, avgPx: 169_000, leavesQty: 40, ordQty: 100, ordStatus: '1', side: fix.Buy},
		{id: "s1", execType: '2', lastQty: 60, cumQty: 60, lastPx: 169_000, avgPx: 169_000, leavesQty: 0, ordQty: 60, ordStatus: '2', side: fix.Sell},
		// (60 × 16.90 + 40 × 17.00) / 100 = 16.94
		{id: "b1", execType: '2', lastQty: 40, cumQty: 100, lastPx: 170_000, avgPx: 169_400, leavesQty: 0, ordQty: 100, ordStatus: '2', side: fix.Buy},
		{id: "s2", execType: '2', lastQty: 40, cumQty: 40, lastPx: 170_000, avgPx: 170_000, leavesQty: 0, ordQty: 40, ordStatus: '2', side: fix.Sell},
	} {
		// FIX 4.2 fills (ExecType 1 and 2) arrive normalised to trades (F).
		er := up.rec.awaitExec(t, ctx, c.id, func(er fix.ExecReport) bool { return er.ExecType == 'F' && er.CumQty == c.cumQty })
		if er.ExecTransType != '0' || er.OrdStatus != c.ordStatus || er.LastQty != c.lastQty || er.CumQty != c.cumQty || er.LastPx != c.lastPx ||
			er.AvgPx != c.avgPx || er.LeavesQty != c.leavesQty || er.OrderQty != c.ordQty || er.Side != c.side || er.Symbol != "600519" {
			t.Errorf("fill %c of %s: %+v", c.execType, c.id, er)
		}
	}

	// A cancel is confirmed under the order's own ClOrdID, without
	// OrigClOrdID: the order manager must find the order by either.
	up.send(t, limitOrder("b2", fix.Buy, 100, 160_000))
	up.rec.awaitExec(t, ctx, "b2", isType('0'))
	up.send(t, fix.CancelRequest{ClOrdID: "x2", OrigClOrdID: "b2", Account: "A1", Symbol: "600519.SH", Side: fix.Buy, Qty: 100})
	er := up.rec.awaitExec(t, ctx, "b2", isType('4'))
	if er.OrdStatus != '4' || er.OrigClOrdID != "" || er.LeavesQty != 0 {
		t.Errorf("cancel of b2: %+v", er)
	}
}

// TestUpstreamExecutorRestarts restarts the gateway's session and then
// the venue: both sides keep their sequence numbers, and orders flow after
// each restart. The restarted executor numbers its ExecIDs from 1 again.
func TestUpstreamExecutorRestarts(t *testing.T) {
	kit := Build(t)
	ctx := testContext(t)
	gw, venue := compIDs()
	ex := kit.StartExecutor(t, Venue{BeginString: FIX44, SenderCompID: venue, TargetCompID: gw})
	cfg := upstreamConfig(t, FIX44, gw, venue, ex)
	first := startUpstream(t, cfg)
	first.rec.awaitSession(t, ctx, "up", 1)
	first.send(t, limitOrder("o1", fix.Buy, 100, 170_000))
	er1 := first.rec.awaitExec(t, ctx, "o1", nil)

	// The gateway restarts on its store.
	first.stop()
	awaitEntry(t, ctx, ex, "the gateway's logout", isMsg(Incoming, "5", nil))
	second := startUpstream(t, cfg)
	second.rec.awaitSession(t, ctx, "up", 1)
	logons := 0
	logon := awaitEntry(t, ctx, ex, "the gateway's second logon", func(e Entry) bool {
		if e.Kind == Incoming && e.Msg.Type() == "A" {
			logons++
		}
		return logons == 2
	})
	checkFields(t, "the second logon", logon.Msg, map[int]string{141: ""})
	if seq, _ := strconv.Atoi(logon.Msg.Get(34)); seq <= 3 {
		t.Errorf("second logon with MsgSeqNum %d: the gateway reset its sequence numbers", seq)
	}
	second.send(t, limitOrder("o2", fix.Buy, 100, 170_000))
	second.rec.awaitExec(t, ctx, "o2", nil)

	// The venue crashes and comes back on its store. It stores the
	// sequence number of a request after answering it: killed in between,
	// it would ask for o2 again and fill it again (it does not recognize a
	// PossDup resend). Its next incoming message (the gateway's heartbeat
	// or probe, within HeartBtInt) shows it is past o2.
	d := awaitEntry(t, ctx, ex, "o2 at the venue", isMsg(Incoming, "D", map[int]string{11: "o2"}))
	o2Seq, _ := strconv.Atoi(d.Msg.Get(34))
	awaitEntry(t, ctx, ex, "a message after o2", func(e Entry) bool {
		seq, _ := strconv.Atoi(e.Msg.Get(34))
		return e.Kind == Incoming && seq > o2Seq
	})
	ex.Kill()
	down := second.rec.awaitSession(t, ctx, "down", 1)
	if !errors.Is(down.err, fix.ErrLineBroken) {
		t.Errorf("session down with %v, want fix.ErrLineBroken", down.err)
	}
	ex.Restart(t)
	second.rec.awaitSession(t, ctx, "up", 2)
	in := awaitEntry(t, ctx, ex, "the gateway's logon after the venue restarted", isMsg(Incoming, "A", nil))
	out := awaitEntry(t, ctx, ex, "the venue's logon answer", isMsg(Outgoing, "A", nil))
	for _, m := range []Message{in.Msg, out.Msg} {
		if seq, _ := strconv.Atoi(m.Get(34)); seq <= 3 || m.Get(141) != "" {
			t.Errorf("logon after the venue restarted: %v: sequence numbers were reset", m)
		}
	}
	second.send(t, limitOrder("o3", fix.Buy, 100, 170_000))
	er3 := second.rec.awaitExec(t, ctx, "o3", nil)
	if er3.ExecID != er1.ExecID || er3.OrderID != er1.OrderID {
		t.Errorf("after its restart the executor gave ExecID %s, OrderID %s; before, %s and %s: the package documentation says they restart from 1",
			er3.ExecID, er3.OrderID, er1.ExecID, er1.OrderID)
	}
	if ers := second.rec.execsFor("o2"); len(ers) != 1 {
		t.Errorf("o2 filled %d times: %+v", len(ers), ers)
	}
}

// TestUpstreamAgainstStatusVenue checks the kit's own venue, statusvenue,
// through fix.Upstream, as the package documentation describes it: it
// rests an order, answers its status (ExecType I, or FIX 4.2's
// ExecTransType 3, normalised to I) and that of an order it does not know
// (unknown order), refuses a ClOrdID again (duplicate order) and cancels.
func TestUpstreamAgainstStatusVenue(t *testing.T) {
	for _, begin := range []string{FIX42, FIX44} {
		t.Run(begin, func(t *testing.T) {
			kit := Build(t)
			ctx := testContext(t)
			gw, venue := compIDs()
			sv := kit.StartStatusVenue(t, Venue{BeginString: begin, SenderCompID: venue, TargetCompID: gw})
			up := startUpstream(t, upstreamConfig(t, begin, gw, venue, sv))
			up.rec.awaitSession(t, ctx, "up", 1)

			up.send(t, limitOrder("o1", fix.Buy, 100, 170_000))
			ack := up.rec.awaitExec(t, ctx, "o1", nil)
			if ack.ExecType != '0' || ack.OrdStatus != '0' || ack.OrderID == "" || ack.LeavesQty != 100 || ack.CumQty != 0 {
				t.Errorf("ack of o1: %+v", ack)
			}
			up.send(t, fix.StatusRequest{ClOrdID: "o1", Symbol: "600519.SH", Side: fix.Buy})
			st := up.rec.awaitExec(t, ctx, "o1", func(er fix.ExecReport) bool { return er.ExecType == 'I' })
			if st.OrdStatus != '0' || st.OrderID != ack.OrderID || st.LeavesQty != 100 || st.UnknownOrder() {
				t.Errorf("status of o1: %+v", st)
			}
			up.send(t, fix.StatusRequest{ClOrdID: "nope", Symbol: "600519.SH", Side: fix.Buy})
			if st := up.rec.awaitExec(t, ctx, "nope", nil); st.ExecType != 'I' || st.OrdStatus != '8' || !st.UnknownOrder() {
				t.Errorf("status of an unknown order: %+v", st)
			}
			up.send(t, limitOrder("o1", fix.Buy, 100, 170_000))
			if dup := up.rec.awaitExec(t, ctx, "o1", func(er fix.ExecReport) bool { return er.ExecType == '8' }); dup.OrdRejReason != 6 {
				t.Errorf("o1 again: %+v", dup)
			}
			up.send(t, fix.CancelRequest{ClOrdID: "x1", OrigClOrdID: "o1", Account: "A1", Symbol: "600519.SH", Side: fix.Buy, Qty: 100})
			if er := up.rec.awaitExec(t, ctx, "x1", nil); er.ExecType != '4' || er.OrdStatus != '4' || er.OrigClOrdID != "o1" || er.LeavesQty != 0 {
				t.Errorf("cancel of o1: %+v", er)
			}
			up.send(t, fix.StatusRequest{ClOrdID: "o1", Symbol: "600519.SH", Side: fix.Buy})
			if st := up.rec.awaitExec(t, ctx, "o1", func(er fix.ExecReport) bool { return er.ExecType == 'I' && er.OrdStatus != '0' }); st.OrdStatus != '4' {
				t.Errorf("status of o1 canceled: %+v", st)
			}
		})
	}
}
