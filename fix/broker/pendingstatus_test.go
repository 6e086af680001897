package broker

import (
	"strconv"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"
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
			b, _ := workingBrokerOrder(t, m, up)

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
			up.Wait(t, 2)

			b.statusRequest("o1")
			st := b.report()
			if field(st, tag.ExecType) != "I" || field(st, tag.OrdStatus) != tc.want {
				t.Fatalf("status with the %s pending: %s; want ExecType I, OrdStatus %s", tc.name, st, tc.want)
			}
		})
	}
}
