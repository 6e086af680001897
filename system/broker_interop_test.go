package system

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sgw/fix/qfcpp"
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
