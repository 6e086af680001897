package broker

import (
	"context"
	"testing"

	"sgw/fix"
	"sgw/fix/qfcpp"
)

// TestInteropStatusValidated: a broker on QuickFIX C++ validating every
// message it receives with the QuickFIX project's data dictionary
// (FIX44.xml, FIX42.xml) asks for its order's status naming an
// OrdStatusReqID (790) and no Side, asks for an order nobody entered
// without a Side, asks for its order's status naming an invalid Account,
// and enters an order with Side B (FIX 4.4's "as defined"). Its engine accepts every answer (no Reject 3 or j from it):
// the status of o1 carries o1's Side, and OrdStatusReqID in FIX 4.4 only
// (FIX 4.2 has none); the request it cannot answer with a Side, and in
// FIX 4.2 the order whose Side is none of FIX 4.2's, are refused with a
// session-level Reject naming Side (54); the invalid Account with a
// BusinessMessageReject naming it. Before, the FIX 4.2 status
// echoed 790, the answer for the unknown order had no Side and the FIX 4.2
// order's refusal echoed 54=B: the broker's engine refused each, and its
// application never heard back.
func TestInteropStatusValidated(t *testing.T) {
	for _, begin := range []string{qfcpp.FIX44, qfcpp.FIX42} {
		t.Run(begin, func(t *testing.T) {
			kit := qfcpp.Build(t)
			qfcpp.RequireDataDictionary(t, begin)
			ctx, cancel := context.WithTimeout(context.Background(), interopWait)
			defer cancel()
			m, up := newRigManager(t, nil)
			r := runAcceptorWith(t, m, func(c *Config) { c.Sessions[0].BeginString = begin })
			b := kit.StartInitiator(t, qfcpp.Broker{Addr: r.a.Addr(), BeginString: begin, SenderCompID: r.broker,
				TargetCompID: r.gateway, Password: "right"})
			if err := b.AwaitLogon(ctx); err != nil {
				t.Fatal(err)
			}
			fix42 := begin == qfcpp.FIX42
			send := func(q qfcpp.Request) qfcpp.Message {
				t.Helper()
				sent, err := b.Send(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				return sent
			}
			awaitApp := func(what string, match func(qfcpp.Message) bool) qfcpp.Message {
				t.Helper()
				got, err := b.AwaitApp(ctx, match)
				if err != nil {
					t.Fatalf("the broker waiting for %s: %v", what, err)
				}
				return got
			}
			// rejected waits for the gateway's session-level Reject of
			// sent and checks it names tag for reason.
			rejected := func(what string, sent qfcpp.Message, tag, reason string) {
				t.Helper()
				e, err := b.Await(ctx, func(e qfcpp.Event) bool {
					return e.Kind == qfcpp.EventReject ||
						e.Kind == qfcpp.EventAdmin && e.Msg.Type() == "3" && e.Msg.Get(45) == sent.Get(34)
				})
				if err != nil {
					t.Fatalf("the broker waiting for the Reject of %s: %v", what, err)
				}
				if e.Kind == qfcpp.EventReject {
					t.Fatalf("the broker's engine refused a message waiting for the Reject of %s: %s", what, e.Text)
				}
				if e.Msg.Get(371) != tag || e.Msg.Get(373) != reason {
					t.Errorf("the Reject of %s: %s, want RefTagID %s, SessionRejectReason %s", what, e.Text, tag, reason)
				}
			}

			send(qfcpp.Request{MsgType: "D", ClOrdID: "o1", Account: "A1", Symbol: "600519", SecurityExchange: "XSHG",
				Side: '1', OrderQty: 100, Price: "1700.00"})
			nos := up.Wait(t, 1)[0].(fix.NewOrder)
			m.OnExecReport("core", fix.ExecReport{ClOrdID: nos.ClOrdID, OrderID: "V1", ExecID: "E0", ExecType: '0', OrdStatus: '0',
				Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LeavesQty: 100})
			awaitApp("o1's New", func(m qfcpp.Message) bool { return m.Type() == "8" && m.Get(11) == "o1" && m.Get(39) == "0" })

			// o1's status, asked naming OrdStatusReqID and no Side.
			send(qfcpp.Request{MsgType: "H", ClOrdID: "o1", Account: "A1", Symbol: "600519",
				Extra: []qfcpp.Field{{Tag: 790, Value: "q1"}}})
			st := awaitApp("o1's status", func(m qfcpp.Message) bool {
				return m.Type() == "8" && m.Get(11) == "o1" && (m.Get(150) == "I" || m.Get(20) == "3")
			})
			want790 := "q1"
			if fix42 {
				want790 = ""
			}
			if st.Get(54) != "1" || st.Get(39) != "0" || st.Get(790) != want790 {
				t.Errorf("o1's status: %s, want Side 1, OrdStatus 0, OrdStatusReqID %q", st, want790)
			}

			// o1's status, asked naming an invalid OrdStatusReqID: in
			// FIX 4.4 a Reject naming 790 (value incorrect), which the
			// engine takes as the request's, not o1's; FIX 4.2 has none,
			// and the status answers.
			sent := send(qfcpp.Request{MsgType: "H", ClOrdID: "o1", Account: "A1", Symbol: "600519", Side: '1',
				Extra: []qfcpp.Field{{Tag: 790, Value: `q\2`}}})
			statuses := 1 // of o1 the broker is answered
			isStatus := func(m qfcpp.Message) bool {
				return m.Type() == "8" && m.Get(11) == "o1" && (m.Get(150) == "I" || m.Get(20) == "3")
			}
			if fix42 {
				statuses++
				n := 0
				awaitApp("o1's status naming an invalid 790", func(m qfcpp.Message) bool {
					if isStatus(m) {
						n++
					}
					return n == statuses
				})
			} else {
				rejected("o1's status request naming an invalid 790", sent, "790", "5")
			}

			// o1's status, asked naming an invalid Account: a
			// BusinessMessageReject naming the Account, which the engine
			// takes as the request's; no report under o1.
			send(qfcpp.Request{MsgType: "H", ClOrdID: "o1", Account: "A!1", Symbol: "600519", Side: '1'})
			bmr := awaitApp("the refusal of o1's status request naming an invalid Account", func(m qfcpp.Message) bool {
				return m.Type() == "j"
			})
			if bmr.Type() != "j" || bmr.Get(372) != "H" || bmr.Get(380) != "0" || bmr.Get(379) != "o1" ||
				bmr.Get(58) != "Account has a character 0x21 at offset 1 outside A-Z a-z 0-9 - _ . : / # @" {
				t.Errorf("o1's status request naming an invalid Account answered %s; want a BusinessMessageReject (372=H, 380=0, 379=o1) naming the Account", bmr)
			}

			// An order nobody entered, asked without a Side.
			sent = send(qfcpp.Request{MsgType: "H", ClOrdID: "zz", Account: "A1", Symbol: "600519"})
			rejected("zz's status request", sent, "54", "1")

			// Side B: FIX 4.4's "as defined", refused by a report; none
			// of FIX 4.2's.
			sent = send(qfcpp.Request{MsgType: "D", ClOrdID: "o2", Account: "A1", Symbol: "600519", SecurityExchange: "XSHG",
				Side: 'B', OrderQty: 100, Price: "1700.00"})
			if fix42 {
				rejected("o2", sent, "54", "5")
			} else {
				ref := awaitApp("o2's refusal", func(m qfcpp.Message) bool { return m.Type() == "8" && m.Get(11) == "o2" })
				if ref.Get(39) != "8" || ref.Get(54) != "B" {
					t.Errorf("o2's refusal: %s, want OrdStatus 8 and Side B", ref)
				}
			}

			// Everything before it answered: the engine refused none.
			send(qfcpp.Request{MsgType: "H", ClOrdID: "o1", Account: "A1", Symbol: "600519", Side: '1'})
			statuses++
			n := 0
			awaitApp("o1's last status", func(m qfcpp.Message) bool {
				if isStatus(m) {
					n++
				}
				return n == statuses
			})
			if rej := b.Rejects(); len(rej) != 0 {
				t.Errorf("the broker's engine refused %d messages, first %s", len(rej), rej[0].Text)
			}
		})
	}
}
