package broker

import (
	"strconv"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
)

// TestStatusWhileRequestPending: an OrderStatusRequest answered while the
// broker's cancel or replace of the order awaits the venue reports
// OrdStatus 6 (Pending Cancel) or E (Pending Replace), as FIX's OrdStatus
// precedence has it. Before, it said New (0).
func TestStatusWhileRequestPending(t *testing.T) {
	for _, tc := range []struct {
		name, msgType, want string
		fields              [][2]string
	}{
		{"cancel", "F", "6", [][2]string{{"11", "x1"}, {"41", "o1"}}},
		{"replace", "G", "E", [][2]string{{"11", "r1"}, {"41", "o1"}, {"40", "2"}, {"44", "1699.00"}, {"38", "100"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, up := newRigManager(t, nil)
			r := runAcceptorWith(t, m, nil)
			b := dialTestBroker(t, r, r.a.Addr(), "right")
			b.waitLogon()
			b.order("o1", "1700.00")
			uid := up.wait(t, 1)[0].(fix.NewOrder).ClOrdID
			b.expect("Pending New", "A", "o1")
			m.OnExecReport("core", fix.ExecReport{ClOrdID: uid, OrderID: "V1", ExecID: "E0", ExecType: '0', OrdStatus: '0',
				Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LeavesQty: 100})
			b.expect("New", "0", "o1")

			req := quickfix.NewMessage()
			req.Header.SetString(tag.MsgType, tc.msgType)
			for _, f := range append(tc.fields, [2]string{"1", "A1"}, [2]string{"55", "600519"}, [2]string{"207", "XSHG"},
				[2]string{"54", "1"}, [2]string{"60", time.Now().UTC().Format("20060102-15:04:05.000")}) {
				n, _ := strconv.Atoi(f[0])
				req.Body.SetString(quickfix.Tag(n), f[1])
			}
			if err := quickfix.SendToTarget(req, b.sid); err != nil {
				t.Fatal(err)
			}
			b.expect("the pending report", tc.want, tc.fields[0][1])
			up.wait(t, 2)

			b.statusRequest("o1")
			st := b.report()
			if field(st, tag.ExecType) != "I" || field(st, tag.OrdStatus) != tc.want {
				t.Fatalf("status with the %s pending: %s; want ExecType I, OrdStatus %s", tc.name, st, tc.want)
			}
		})
	}
}
