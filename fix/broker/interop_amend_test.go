package broker

import (
	"context"
	"strconv"
	"testing"

	"sgw/fix"
	"sgw/fix/qfcpp"
)

// TestInteropTradeAmendValidated: a broker on QuickFIX C++ (package
// qfcpp's initiator) validating every message it receives with the
// QuickFIX project's data dictionary (FIX44.xml, FIX42.xml: not ours) gets
// two fills of its order o1, then the venue's correction of the first
// (ExecType G, 400 at 1700.00 become 300 at 1701.00) and its cancel of the
// second (ExecType H), then, for the replace r1 of o1 that the gateway gave
// up (the venue refused it as a message) but the venue took late, a fill
// under r1 naming o1 (OrigClOrdID 41), and the answers to status requests
// for o1 and for an order nobody knows. Its engine accepts every report (no
// Reject 3 or j from it), with the trade cancel and correction in the
// broker's version's form: FIX 4.4 ExecType H, and G with LastQty and
// LastPx as corrected, ExecRefID (19) the trade's ExecID; FIX 4.2 a
// restatement (ExecType D, ExecTransType 0, LastShares and LastPx 0), with
// the same ExecRefID; CumQty, LeavesQty, AvgPx and OrdStatus the order's as
// amended. Before, these reports had been checked only against this
// project's own decoding.
func TestInteropTradeAmendValidated(t *testing.T) {
	for _, begin := range []string{qfcpp.FIX44, qfcpp.FIX42} {
		t.Run(begin, func(t *testing.T) {
			kit := qfcpp.Build(t)
			dict := qfcpp.RequireDataDictionary(t, begin)
			ctx, cancel := context.WithTimeout(context.Background(), interopWait)
			defer cancel()
			m, up := newRigManager(t, nil)
			r := runAcceptorWith(t, m, func(c *Config) { c.Sessions[0].BeginString = begin })
			b := kit.StartInitiator(t, qfcpp.Broker{Addr: r.a.Addr(), BeginString: begin, SenderCompID: r.broker,
				TargetCompID: r.gateway, Password: "right"})
			if got := b.DataDictionary(); got != dict {
				t.Fatalf("the broker validates with %q, want %s", got, dict)
			}
			if err := b.AwaitLogon(ctx); err != nil {
				t.Fatal(err)
			}
			fix42 := begin == qfcpp.FIX42
			send := func(q qfcpp.Request) {
				t.Helper()
				if _, err := b.Send(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			// await waits for the broker's report of clOrdID with ExecID
			// execID ("": any) and ExecType (FIX 4.4's; mapped for 4.2).
			await := func(what, clOrdID, execID string, execType byte) qfcpp.Message {
				t.Helper()
				want, transType := string(execType), ""
				if fix42 {
					switch execType {
					case 'F':
						want = "" // 1 or 2: the caller checks
					case 'G', 'H':
						want = "D"
					case 'I':
						want, transType = "", "3" // ExecType the OrdStatus
					}
				}
				got, err := b.AwaitApp(ctx, func(m qfcpp.Message) bool {
					return m.Type() == "8" && m.Get(11) == clOrdID && (execID == "" || m.Get(17) == execID) &&
						(want == "" || m.Get(150) == want) && (transType == "" || m.Get(20) == transType)
				})
				if err != nil {
					t.Fatalf("the broker waiting for %s: %v", what, err)
				}
				return got
			}
			// check fails t for each field of m that differs from want: ""
			// for a field that must be absent; a price is compared as a
			// number.
			check := func(what string, m qfcpp.Message, want map[int]string) {
				t.Helper()
				for tag, v := range want {
					got, ok := m.Lookup(tag)
					switch {
					case v == "" && ok:
						t.Errorf("%s: %d=%s, want no %d: %s", what, tag, got, tag, m)
					case v == "":
					case tag == 31 || tag == 44 || tag == 6:
						g, err1 := strconv.ParseFloat(got, 64)
						w, err2 := strconv.ParseFloat(v, 64)
						if err1 != nil || err2 != nil || g != w {
							t.Errorf("%s: %d=%q, want %s: %s", what, tag, got, v, m)
						}
					case got != v:
						t.Errorf("%s: %d=%q, want %q: %s", what, tag, got, v, m)
					}
				}
			}
			venue := func(er fix.ExecReport) {
				er.OrderID, er.Symbol, er.Side, er.OrderQty = "V1", "600519.SH", fix.Buy, 1000
				if er.Price == 0 {
					er.Price = 17000000
				}
				m.OnExecReport("core", er)
			}

			send(qfcpp.Request{MsgType: "D", ClOrdID: "o1", Account: "A1", Symbol: "600519", SecurityExchange: "XSHG",
				Side: '1', OrderQty: 1000, Price: "1700.00"})
			nos := up.Wait(t, 1)[0].(fix.NewOrder)
			venue(fix.ExecReport{ClOrdID: nos.ClOrdID, ExecID: "E0", ExecType: '0', OrdStatus: '0', LeavesQty: 1000})
			await("o1's New", "o1", "", '0')
			venue(fix.ExecReport{ClOrdID: nos.ClOrdID, ExecID: "E1", ExecType: 'F', OrdStatus: '1',
				LastQty: 400, LastPx: 17000000, CumQty: 400, LeavesQty: 600, AvgPx: 17000000})
			fill := await("the fill E1", "o1", "core:E1", 'F')
			want := map[int]string{32: "400", 31: "1700", 14: "400", 151: "600", 39: "1", 19: "", 150: "F"}
			if fix42 {
				want[20], want[150] = "0", "1"
			}
			check("the fill E1", fill, want)
			venue(fix.ExecReport{ClOrdID: nos.ClOrdID, ExecID: "E2", ExecType: 'F', OrdStatus: '1',
				LastQty: 300, LastPx: 17000000, CumQty: 700, LeavesQty: 300, AvgPx: 17000000})
			await("the fill E2", "o1", "core:E2", 'F')

			// The venue corrects E1 (400 at 1700.00 to 300 at 1701.00), then
			// cancels E2.
			venue(fix.ExecReport{ClOrdID: nos.ClOrdID, ExecID: "X1", ExecRefID: "E1", ExecType: 'G', OrdStatus: '1',
				LastQty: 300, LastPx: 17010000, CumQty: 600, LeavesQty: 400, AvgPx: 17005000})
			corr := await("the correction of E1", "o1", "core:X1", 'G')
			want = map[int]string{19: "core:E1", 32: "300", 31: "1701", 14: "600", 151: "400", 39: "1", 6: "1700.5", 20: ""}
			if fix42 {
				want[20], want[32], want[31] = "0", "0", "0"
			}
			check("the correction of E1", corr, want)
			venue(fix.ExecReport{ClOrdID: nos.ClOrdID, ExecID: "X2", ExecRefID: "E2", ExecType: 'H', OrdStatus: '1',
				CumQty: 300, LeavesQty: 700, AvgPx: 17010000})
			bust := await("the cancel of E2", "o1", "core:X2", 'H')
			want = map[int]string{19: "core:E2", 32: "", 31: "", 14: "300", 151: "700", 39: "1", 6: "1701", 20: ""}
			if fix42 {
				want[20], want[32], want[31] = "0", "0", "0"
			}
			check("the cancel of E2", bust, want)

			// r1 replaces o1; the venue refuses the message (the gateway
			// gives r1 up), then takes r1 after all: its first report
			// under r1 is a fill.
			send(qfcpp.Request{MsgType: "G", ClOrdID: "r1", OrigClOrdID: "o1", Account: "A1", Symbol: "600519",
				SecurityExchange: "XSHG", Side: '1', OrderQty: 1000, Price: "1701.00"})
			await("r1's Pending Replace", "r1", "", 'E')
			rpl := up.Wait(t, 2)[1].(fix.ReplaceRequest)
			m.OnReject("core", fix.Reject{ClOrdID: rpl.ClOrdID, MsgType: "G", Text: "not now"})
			if _, err := b.AwaitApp(ctx, func(m qfcpp.Message) bool { return m.Type() == "9" && m.Get(11) == "r1" }); err != nil {
				t.Fatalf("the broker waiting for r1's OrderCancelReject: %v", err)
			}
			venue(fix.ExecReport{ClOrdID: rpl.ClOrdID, ExecID: "E3", ExecType: 'F', OrdStatus: '1', Price: 17010000,
				LastQty: 200, LastPx: 17010000, CumQty: 500, LeavesQty: 500, AvgPx: 17010000})
			late := await("the fill E3 under r1", "r1", "core:E3", 'F')
			want = map[int]string{41: "o1", 32: "200", 31: "1701", 14: "500", 151: "500", 39: "1", 44: "1701"}
			if fix42 {
				want[20], want[150] = "0", "1"
			}
			check("the fill E3 under r1", late, want)

			// Status requests: r1, and an order nobody knows.
			send(qfcpp.Request{MsgType: "H", ClOrdID: "r1", Account: "A1", Symbol: "600519", Side: '1'})
			st := await("r1's status", "r1", "", 'I')
			check("r1's status", st, map[int]string{14: "500", 151: "500", 39: "1", 55: "600519"})
			send(qfcpp.Request{MsgType: "H", ClOrdID: "zz", Account: "A1", Symbol: "600519", Side: '1'})
			unknown := await("zz's status", "zz", "", 'I')
			check("zz's status", unknown, map[int]string{39: "8", 103: "5"})

			if rej := b.Rejects(); len(rej) != 0 {
				t.Errorf("the broker's engine refused %d messages, first %s", len(rej), rej[0].Text)
			}
		})
	}
}
