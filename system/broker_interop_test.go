package system

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sgw/configs"
	"sgw/fix/qfcpp"
	"sgw/internal/freeport"
	"sgw/sim/faultproxy"
)

// TestInteropBrokerResendsReplace: a broker on QuickFIX C++ (our
// initiator) replaces its resting order (r1 of o1) while the venue,
// ordermatch, cannot be reached (both carrier lines cut: the gateway holds
// the replace), and the same replace reaches the gateway a second time
// while it is in flight:
//
//   - PossResend: the broker's application sends it again flagged
//     PossResend (97=Y), as a broker does that heard nothing back;
//   - PossDupFlag: the broker's connection drops, it sends the replace
//     again while down, and its engine resends that message flagged
//     PossDupFlag (43=Y) in answer to the gateway's ResendRequest after
//     it logs on again.
//
// Once the lines are back, the venue gets the replace once and refuses it
// (ordermatch answers every replace with a BusinessMessageReject). The
// broker's engine gets exactly what a broker should: one Pending Replace
// and one OrderCancelReject for r1, the venue's, as a replace's (434=2)
// naming o1; before, the resend was entered again and refused as pending,
// an OrderCancelReject for r1 the broker would take as its outcome, and
// the acceptor forgot the live request (broker.TestResentReplaceKeepsLiveRequest).
func TestInteropBrokerResendsReplace(t *testing.T) {
	for _, resend := range []string{"PossResend", "PossDupFlag"} {
		t.Run(resend, func(t *testing.T) {
			v := startQFVenue(t, qfOpts{begin: qfcpp.FIX42, orderMatch: true, shared: true})
			v.cfg.Orders.HoldTimeout = 10 * time.Minute // the replace waits for the lines, however slow the machine
			rg := startGatewayOn(t, v.cfg)
			v.awaitLogon(t, "core", 1)
			// The broker reaches the gateway through a line the test can cut.
			line, err := faultproxy.New(rg.g.Brokers().Addr())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { line.Close() })
			logs := t.TempDir() // the broker's QuickFIX file log, read for its resends
			b := v.kit.StartInitiator(t, qfcpp.Broker{Addr: line.Addr(), SenderCompID: "BROKER1", TargetCompID: "SGW", Password: "demo",
				Settings: map[string]string{"FileLogPath": logs}})
			if err := b.AwaitLogon(v.ctx); err != nil {
				t.Fatal(err)
			}
			send := func(r qfcpp.Request) {
				t.Helper()
				if _, err := b.Send(v.ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			awaitApp := func(what string, match func(qfcpp.Message) bool) qfcpp.Message {
				t.Helper()
				m, err := b.AwaitApp(v.ctx, match)
				if err != nil {
					t.Fatalf("the broker waiting for %s: %v", what, err)
				}
				return m
			}
			// statuses asks for o1's status and waits for the answer: the
			// gateway's session handles a broker's messages in order, so
			// whatever it made of the earlier ones has been queued before.
			statuses := 0
			status := func() qfcpp.Message {
				t.Helper()
				send(qfcpp.Request{MsgType: "H", ClOrdID: "o1", Account: "A1", Symbol: "601318", SecurityExchange: "XSHG", Side: '1'})
				statuses++
				n := 0
				return awaitApp("o1's status", func(m qfcpp.Message) bool {
					if m.Type() == "8" && m.Get(11) == "o1" && m.Get(150) == "I" {
						n++
					}
					return n == statuses
				})
			}
			// forR1 counts what the broker got for r1, by MsgType and
			// ExecType.
			forR1 := func() map[string]int {
				got := map[string]int{}
				for _, e := range b.Events() {
					if e.Kind == qfcpp.EventApp && e.Msg.Get(11) == "r1" {
						got[e.Msg.Type()+"/"+e.Msg.Get(150)]++
					}
				}
				return got
			}

			send(qfcpp.Request{MsgType: "D", ClOrdID: "o1", Account: "A1", Symbol: "601318", SecurityExchange: "XSHG",
				Side: '1', OrderQty: 100, Price: "45.60"})
			awaitApp("New for o1", func(m qfcpp.Message) bool { return m.Type() == "8" && m.Get(11) == "o1" && m.Get(150) == "0" })

			// The venue out of reach: the replace is held, in flight.
			for _, l := range v.lines["core"] {
				l.Cut()
			}
			waitUntil(t, "the core session down", time.Minute, func() bool {
				return metricValue(t, rg, `gateway_fix_line_up{line="carrierA",session="core"}`) == 0 &&
					metricValue(t, rg, `gateway_fix_line_up{line="carrierB",session="core"}`) == 0
			})
			replace := qfcpp.Request{MsgType: "G", ClOrdID: "r1", OrigClOrdID: "o1", Account: "A1", Symbol: "601318",
				SecurityExchange: "XSHG", Side: '1', OrderQty: 100, Price: "45.50"}
			send(replace)
			pending := awaitApp("Pending Replace for r1", func(m qfcpp.Message) bool { return m.Type() == "8" && m.Get(11) == "r1" })
			if pending.Get(150) != "E" || pending.Get(41) != "o1" {
				t.Fatalf("the replace's first answer: %v, want a Pending Replace (150=E) with OrigClOrdID o1", pending)
			}
			waitUntil(t, "the replace held", time.Minute, func() bool {
				return metricValue(t, rg, `gateway_orders_held{upstream="core"}`) == 1
			})

			switch resend {
			case "PossResend":
				again := replace
				again.Extra = []qfcpp.Field{{Tag: 97, Value: "Y"}}
				sent, err := b.Send(v.ctx, again)
				if err != nil {
					t.Fatal(err)
				}
				if sent.Get(97) != "Y" {
					t.Fatalf("the initiator sent %v, without PossResend", sent)
				}
			case "PossDupFlag":
				line.Cut()
				if _, err := b.Await(v.ctx, func(e qfcpp.Event) bool { return e.Kind == qfcpp.EventLogout }); err != nil {
					t.Fatal(err)
				}
				send(replace) // stored while down; its engine resends it
				line.Restore()
				logons := 0
				if _, err := b.Await(v.ctx, func(e qfcpp.Event) bool {
					if e.Kind == qfcpp.EventLogon {
						logons++
					}
					return logons == 2
				}); err != nil {
					t.Fatalf("the broker did not log on again: %v", err)
				}
			}
			status()
			for _, e := range b.Events() {
				if e.Kind == qfcpp.EventApp && e.Msg.Type() == "9" && e.Msg.Get(11) == "r1" {
					t.Errorf("the resent replace was answered with an OrderCancelReject for the live request r1: %v", e.Msg)
				}
			}
			if resend == "PossDupFlag" && !resentFlagged(t, logs) {
				t.Fatal("the broker's engine never resent the replace with PossDupFlag (43=Y)")
			}

			// The lines back: the held replace goes out once, the venue
			// refuses it, the broker hears it as the replace's refusal.
			for _, l := range v.lines["core"] {
				l.Restore()
			}
			rej := awaitApp("the venue's refusal of r1", func(m qfcpp.Message) bool {
				return m.Type() == "9" && m.Get(11) == "r1" && m.Get(102) != "3" // not a refusal as already pending
			})
			if rej.Get(434) != "2" || rej.Get(41) != "o1" || !strings.Contains(rej.Get(58), "Unsupported Message Type") {
				t.Errorf("the venue's refusal of r1: %v, want CxlRejResponseTo 2 (replace), OrigClOrdID o1 and the venue's Text", rej)
			}
			if st := status(); st.Get(39) != "0" || st.Get(44) != "45.60" {
				t.Errorf("o1's status after the refusal: %v, want OrdStatus 0 at its old price", st)
			}
			if got := forR1(); got["8/E"] != 1 || got["9/"] != 1 || len(got) != 2 {
				t.Errorf("the broker got for r1 %v (MsgType/ExecType), want one Pending Replace (8/E) and one OrderCancelReject (9/)", got)
			}
			// One G: the venue's engine may also get it again as a PossDup
			// resend of the same MsgSeqNum (its ResendRequest after the
			// logon can reach past it), which it processes once.
			seqs := map[string]bool{}
			fresh, dup := v.count("core", qfcpp.Incoming, func(m qfcpp.Message) bool {
				if m.Type() == "G" {
					seqs[m.Get(34)] = true
				}
				return m.Type() == "G"
			})
			if fresh != 1 || len(seqs) != 1 {
				t.Errorf("the venue got %d replaces (+%d PossDup resends) under %d MsgSeqNums, want one", fresh, dup, len(seqs))
			}
		})
	}
}

// resentFlagged reports whether the broker's engine sent a replace of r1
// flagged PossDupFlag (43=Y): QuickFIX C++ prints no event for a resend,
// so its file log of messages, in dir, is read.
func resentFlagged(t *testing.T, dir string) bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.messages.current.log"))
	if err != nil || len(files) == 0 {
		t.Fatalf("the broker's message log in %s: %v", dir, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "\x0135=G\x01") && strings.Contains(l, "\x0111=r1\x01") && strings.Contains(l, "\x0143=Y\x01") {
				return true
			}
		}
		t.Logf("%s:\n%s", f, strings.ReplaceAll(string(b), "\x01", "|"))
	}
	return false
}

// TestInteropBrokerTradeAcrossKill9: a broker on QuickFIX C++ (our
// initiator), over FIX 4.4 and 4.2, enters an order while both carrier
// lines to the executor are cut (the gateway holds it: Pending New), and
// logs out. The lines come back and the executor fills the order; the
// gateway journals the fill and queues its report for the logged-out
// broker, in memory only. The gateway process is killed (SIGKILL) and
// started again on the same journal and stores; the broker's engine
// starts again on its own store (its sequence numbers continue, as a
// broker's do: the gateway never resets them at logon). At that first
// logon the gateway resends the trade the session's store lacks, flagged
// PossResend (97=Y), under the ExecID "core:<venue ExecID>" with LastQty
// and CumQty, before the order's status (150=I; FIX 4.2 ExecTransType 3),
// and the broker gets that trade once. Before (no restatement on a single
// gateway), the broker never heard of the trade.
func TestInteropBrokerTradeAcrossKill9(t *testing.T) {
	for _, begin := range []string{qfcpp.FIX44, qfcpp.FIX42} {
		t.Run(begin, func(t *testing.T) {
			v := startQFVenue(t, qfOpts{begin: qfcpp.FIX44, shared: true})
			v.cfg.Brokers.Sessions[0].BeginString = begin
			v.cfg.Brokers.Listen = freeport.Take(t, 1)[0] // both gateway processes serve the broker here
			v.cfg.Orders.HoldTimeout = 10 * time.Minute   // the order waits for the lines, however slow the machine
			gw := startChildOn(t, v.cfg)
			v.awaitLogon(t, "core", 1)
			probe := newTrader(t, gw.base, token(t, v.cfg)) // A1's orders, as the gateway journals them
			broker := qfcpp.Broker{Addr: v.cfg.Brokers.Listen, BeginString: begin, SenderCompID: "BROKER1", TargetCompID: "SGW",
				Password: "demo", StoreDir: filepath.Join(t.TempDir(), "broker-store")}
			b := v.kit.StartInitiator(t, broker)
			if err := b.AwaitLogon(v.ctx); err != nil {
				t.Fatal(err)
			}

			// The order is held for the lines, acknowledged Pending New,
			// and the broker logs out.
			lines := v.lines["core"]
			lines[0].Cut()
			lines[1].Cut()
			const id = "t1"
			if _, err := b.Send(v.ctx, qfcpp.Request{MsgType: "D", ClOrdID: id, Account: "A1", Symbol: "601318",
				SecurityExchange: "XSHG", Side: '1', OrderQty: 100, Price: "45.60"}); err != nil {
				t.Fatal(err)
			}
			if _, err := b.AwaitApp(v.ctx, func(m qfcpp.Message) bool { return m.Type() == "8" && m.Get(11) == id && m.Get(39) == "A" }); err != nil {
				t.Fatalf("no Pending New for %s: %v", id, err)
			}
			if err := b.Quit(v.ctx); err != nil {
				t.Fatalf("the broker's logout: %v", err)
			}

			// The lines come back; the venue fills the order; the gateway
			// journals the fill (the trader hears of it once it is durable).
			uid := journaledUID(t, v.cfg, id)
			lines[0].Restore()
			lines[1].Restore()
			fill, err := v.procs["core"].Await(v.ctx, func(e qfcpp.Entry) bool {
				return e.Kind == qfcpp.Outgoing && e.Msg.Type() == "8" && e.Msg.Get(11) == uid && e.Msg.Get(39) == "2"
			})
			if err != nil {
				t.Fatalf("the venue never filled %s (%s): %v", id, uid, err)
			}
			probe.waitFor(id+" filled at the gateway", func() bool { return probe.final[id] == "filled" })
			execID := "core:" + fill.Msg.Get(17)

			// kill -9; a new gateway process; the broker logs on again.
			gw.kill(t)
			startChildOn(t, v.cfg)
			b2 := v.kit.StartInitiator(t, broker)
			if err := b2.AwaitLogon(v.ctx); err != nil {
				t.Fatal(err)
			}
			// The gateway's session handles the broker's messages in
			// order, after what it queued at the logon: once the answer to
			// this status request is in, so is every restated report. The
			// FIX 4.4 request names itself (OrdStatusReqID, 790, echoed in
			// the answer). FIX 4.2 has no OrdStatusReqID: there a status
			// request for an order nobody entered (q1) follows, and once
			// its answer is in so is the one for the order, the last
			// status of it.
			req := qfcpp.Request{MsgType: "H", ClOrdID: id, Account: "A1", Symbol: "601318", SecurityExchange: "XSHG", Side: '1'}
			if begin == qfcpp.FIX44 {
				req.Extra = []qfcpp.Field{{Tag: 790, Value: "q1"}}
			}
			if _, err := b2.Send(v.ctx, req); err != nil {
				t.Fatal(err)
			}
			answered := func(m qfcpp.Message) bool { return m.Type() == "8" && m.Get(790) == "q1" }
			if begin == qfcpp.FIX42 {
				unknown := req
				unknown.ClOrdID = "q1"
				if _, err := b2.Send(v.ctx, unknown); err != nil {
					t.Fatal(err)
				}
				answered = func(m qfcpp.Message) bool { return m.Type() == "8" && m.Get(11) == "q1" && m.Get(39) == "8" }
			}
			if _, err := b2.AwaitApp(v.ctx, answered); err != nil {
				t.Fatalf("no answer to the status request: %v", err)
			}

			// What the broker heard of the order, in both its runs.
			trade := -1         // its position in the second run
			var statuses []int  // the positions of the order's statuses in the second run
			fresh, dups := 0, 0 // reports of the trade, PossDup resends (43=Y) apart
			for run, events := range [][]qfcpp.Event{b.Events(), b2.Events()} {
				for i, e := range events {
					m := e.Msg
					if e.Kind != qfcpp.EventApp || m.Type() != "8" || m.Get(11) != id {
						continue
					}
					t.Logf("broker run %d: %s", run+1, e.Text)
					if m.Get(17) == execID {
						if m.Get(43) == "Y" {
							dups++
							continue
						}
						fresh++
						if run == 1 && trade < 0 {
							trade = i
						}
						continue
					}
					if run == 1 && (m.Get(150) == "I" || begin == qfcpp.FIX42 && m.Get(20) == "3") {
						statuses = append(statuses, i)
					}
				}
			}
			// The last status is the answer to the request: the order
			// filled (FIX 4.4: the one echoing OrdStatusReqID).
			if len(statuses) == 0 {
				t.Fatal("the broker never got the answer to its status request")
			}
			answer := b2.Events()[statuses[len(statuses)-1]].Msg
			statuses = statuses[:len(statuses)-1]
			if answer.Get(39) != "2" || begin == qfcpp.FIX44 && answer.Get(790) != "q1" {
				t.Fatalf("the answer to the status request: %v, want OrdStatus 2 (FIX 4.4: with OrdStatusReqID q1)", answer)
			}
			status := -1 // the restated status's position in the second run
			if len(statuses) > 0 {
				status = statuses[0]
			}
			if trade < 0 {
				t.Fatalf("the broker never got the trade %s after the restart", execID)
			}
			m := b2.Events()[trade].Msg
			execType := "F"
			if begin == qfcpp.FIX42 {
				execType = "2"
				if m.Get(20) != "0" {
					t.Errorf("the resent trade has ExecTransType %q, want 0", m.Get(20))
				}
			}
			if m.Get(97) != "Y" || m.Get(150) != execType || m.Get(39) != "2" || m.Get(32) != "100" || m.Get(14) != "100" ||
				m.Get(151) != "0" || m.Get(31) != "45.6" && m.Get(31) != "45.60" {
				t.Errorf("the resent trade: %s; want 97=Y 150=%s 39=2 32=100 14=100 151=0 31=45.60", m.String(), execType)
			}
			if status < 0 || status < trade {
				t.Errorf("the order's restated status came at %d, the trade at %d: want the status after the trade", status, trade)
			}
			if fresh != 1 {
				t.Errorf("the broker got the trade %s %d times (besides %d PossDup resends), want once", execID, fresh, dups)
			}
			t.Logf("trade %s: once, flagged PossResend, before the status; %d PossDup resends of it", execID, dups)
		})
	}
}

// journaledUID returns the upstream id of the journal's new order id.
func journaledUID(t *testing.T, cfg *configs.File, id string) string {
	t.Helper()
	uids, count := journaled(t, cfg)
	if count[id] != 1 {
		t.Fatalf("%s journaled %d times, want once", id, count[id])
	}
	return uids[id]
}
