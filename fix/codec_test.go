package fix

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/refdata"
)

func TestEncode(t *testing.T) {
	now := time.Date(2026, 11, 22, 1, 2, 3, 4_000_000, time.UTC)
	for _, c := range []struct {
		name string
		req  any
		want map[quickfix.Tag]string // body fields
		err  error
	}{
		{name: "new order SH", req: NewOrder{ClOrdID: "c1", Account: "A1", Symbol: "600519.SH", Side: Buy, Price: 17000000, Qty: 100},
			want: map[quickfix.Tag]string{tag.ClOrdID: "c1", tag.Account: "A1", tag.Symbol: "600519", tag.SecurityExchange: "XSHG",
				tag.Side: "1", tag.Price: "1700.00", tag.OrderQty: "100", tag.OrdType: "2", tag.HandlInst: "1", tag.TimeInForce: "0",
				tag.TransactTime: "20261122-01:02:03.004"}},
		{name: "new order SZ pointer, odd price", req: &NewOrder{ClOrdID: "c2", Account: "A1", Symbol: "000001.SZ", Side: Sell, Price: 123456, Qty: 1},
			want: map[quickfix.Tag]string{tag.Symbol: "000001", tag.SecurityExchange: "XSHE", tag.Side: "2", tag.Price: "12.3456"}},
		{name: "cancel", req: CancelRequest{ClOrdID: "c3", OrigClOrdID: "c1", Account: "A1", Symbol: "600519.SH", Side: Buy, Qty: 100},
			want: map[quickfix.Tag]string{tag.ClOrdID: "c3", tag.OrigClOrdID: "c1", tag.OrderQty: "100"}},
		{name: "replace", req: ReplaceRequest{ClOrdID: "c4", OrigClOrdID: "c1", Symbol: "600519.SH", Side: Buy, Price: 16990000, Qty: 200},
			want: map[quickfix.Tag]string{tag.ClOrdID: "c4", tag.OrigClOrdID: "c1", tag.Price: "1699.00", tag.OrderQty: "200"}},
		{name: "status", req: StatusRequest{ClOrdID: "c1", Symbol: "600519.SH", Side: Buy},
			want: map[quickfix.Tag]string{tag.ClOrdID: "c1", tag.Symbol: "600519", tag.Side: "1"}},
		{name: "no suffix", req: NewOrder{ClOrdID: "c", Account: "A", Symbol: "600519", Side: Buy, Price: 1, Qty: 1}, err: ErrBadRequest},
		{name: "bad side", req: NewOrder{ClOrdID: "c", Account: "A", Symbol: "600519.SH", Side: 'x', Price: 1, Qty: 1}, err: ErrBadRequest},
		{name: "zero qty", req: NewOrder{ClOrdID: "c", Account: "A", Symbol: "600519.SH", Side: Buy, Price: 1}, err: ErrBadRequest},
		{name: "zero price", req: NewOrder{ClOrdID: "c", Account: "A", Symbol: "600519.SH", Side: Buy, Qty: 1}, err: ErrBadRequest},
		{name: "no ClOrdID", req: NewOrder{Account: "A", Symbol: "600519.SH", Side: Buy, Price: 1, Qty: 1}, err: ErrBadRequest},
		{name: "SOH in id", req: NewOrder{ClOrdID: "c\x01", Account: "A", Symbol: "600519.SH", Side: Buy, Price: 1, Qty: 1}, err: ErrBadRequest},
		{name: "cancel without orig", req: CancelRequest{ClOrdID: "c", Symbol: "600519.SH", Side: Buy, Qty: 1}, err: ErrBadRequest},
		{name: "unsupported", req: "hello", err: ErrUnsupported},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := encode(c.req, now)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for tg, want := range c.want {
				if got, _ := m.Body.GetString(tg); got != want {
					t.Errorf("tag %d = %q, want %q", tg, got, want)
				}
			}
		})
	}
}

// TestDecodeRecordedSession replays the upstream's side of a recorded
// session (testdata/session_in.fix) through quickfix's parser and the
// decoders.
func TestDecodeRecordedSession(t *testing.T) {
	var ers []ExecReport
	for _, f := range readFrames(t, "session_in.fix") {
		m := quickfix.NewMessage()
		if err := quickfix.ParseMessage(m, bytes.NewBuffer(f)); err != nil {
			t.Fatal(err)
		}
		if mt, _ := m.Header.GetString(tag.MsgType); mt != "8" {
			continue
		}
		er, rej := decodeExecReport(m)
		if rej != nil {
			t.Fatal(rej)
		}
		ers = append(ers, er)
	}
	want := []ExecReport{
		{ClOrdID: "20261122-000001", OrderID: "O-20261122-000001", ExecID: "E1", ExecType: '0', OrdStatus: '0', Symbol: "600519.SH",
			Side: Buy, Price: 17000000, OrderQty: 100, LeavesQty: 100},
		{ClOrdID: "20261122-000002", OrderID: "O-20261122-000002", ExecID: "E2", ExecType: '0', OrdStatus: '0', Symbol: "000001.SZ",
			Side: Sell, Price: 123400, OrderQty: 1000, LeavesQty: 1000},
		{ClOrdID: "20261122-000003", OrigClOrdID: "20261122-000001", OrderID: "O-20261122-000003", ExecID: "E3", ExecType: '4', OrdStatus: '4',
			Symbol: "600519.SH", Side: Buy, OrderQty: 100, LeavesQty: 100},
		{ClOrdID: "20261122-000002", OrderID: "O-20261122-000002", ExecID: "E4", ExecType: 'I', OrdStatus: '0', Symbol: "000001.SZ", Side: Sell},
	}
	if len(ers) != len(want) {
		t.Fatalf("decoded %d reports, want %d", len(ers), len(want))
	}
	for i := range want {
		got := ers[i]
		if got.TransactTime.IsZero() {
			t.Errorf("report %d: no TransactTime", i)
		}
		got.TransactTime = time.Time{}
		if got != want[i] {
			t.Errorf("report %d:\n got %+v\nwant %+v", i, got, want[i])
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	base := func() *quickfix.Message {
		m := quickfix.NewMessage()
		m.Header.SetField(tag.MsgType, quickfix.FIXString("8"))
		for tg, v := range map[quickfix.Tag]string{tag.ClOrdID: "c", tag.OrderID: "o", tag.ExecID: "e", tag.ExecType: "0", tag.OrdStatus: "0", tag.Side: "1"} {
			m.Body.SetField(tg, quickfix.FIXString(v))
		}
		return m
	}
	for _, c := range []struct {
		name string
		edit func(m *quickfix.Message)
		ok   bool
	}{
		{name: "minimal", edit: func(*quickfix.Message) {}, ok: true},
		{name: "possdup", edit: func(m *quickfix.Message) { m.Header.SetField(tag.PossDupFlag, quickfix.FIXString("Y")) }, ok: true},
		{name: "no ExecID", edit: func(m *quickfix.Message) { m.Body.Remove(tag.ExecID) }},
		{name: "bad price", edit: func(m *quickfix.Message) { m.Body.SetField(tag.LastPx, quickfix.FIXString("1.2.3")) }},
		{name: "bad qty", edit: func(m *quickfix.Message) { m.Body.SetField(tag.CumQty, quickfix.FIXString("1.5")) }},
		{name: "two-char ExecType", edit: func(m *quickfix.Message) { m.Body.SetField(tag.ExecType, quickfix.FIXString("00")) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := base()
			c.edit(m)
			er, rej := decodeExecReport(m)
			if (rej == nil) != c.ok {
				t.Fatalf("reject %v, want ok=%v", rej, c.ok)
			}
			if c.name == "possdup" && !er.PossDup {
				t.Error("PossDup not set")
			}
		})
	}
}

func TestParsePx(t *testing.T) {
	for _, c := range []struct {
		in   string
		want refdata.Price
		ok   bool
	}{
		{"1700", 17000000, true},
		{"1700.5", 17005000, true},
		{"12.3456", 123456, true},
		{"12.34565", 123457, true}, // AvgPx rounds half up
		{"12.34564", 123456, true},
		{"-0.01", -100, true},
		{".5", 5000, true},
		{"", 0, false},
		{"-", 0, false},
		{"1.2.3", 0, false},
		{"1e5", 0, false},
		{"99999999999999999999", 0, false},
	} {
		got, ok := ParsePrice([]byte(c.in), PriceRound)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("ParsePrice(%q, PriceRound) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{{"100", 100, true}, {"100.00", 100, true}, {"100.5", 0, false}, {"", 0, false}, {".0", 0, false}, {"-1", 0, false}} {
		got, ok := ParseQty([]byte(c.in))
		if ok != c.ok || got != c.want {
			t.Errorf("ParseQty(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// decodeFuzzTags are the fields FuzzDecode sets, in argument order.
var decodeFuzzTags = []quickfix.Tag{tag.ClOrdID, tag.OrderID, tag.ExecID, tag.ExecType, tag.OrdStatus, tag.Symbol,
	tag.SecurityExchange, tag.Side, tag.Price, tag.AvgPx, tag.CumQty, tag.OrdRejReason, tag.TransactTime, tag.CxlRejResponseTo}

// FuzzDecode decodes execution reports and cancel rejects whose field
// values are arbitrary (quickfix's parser has framed and split them; its
// own handling of raw bytes is quickfix's to fuzz). It checks that nothing
// panics and that a report decoded without reject has its required ids.
// The seeds are the reports of the recorded session.
func FuzzDecode(f *testing.F) {
	for _, fr := range readFrames(f, "session_in.fix") {
		m := quickfix.NewMessage()
		if err := quickfix.ParseMessage(m, bytes.NewBuffer(fr)); err != nil {
			f.Fatal(err)
		}
		var v [14]string
		for i, tg := range decodeFuzzTags {
			v[i], _ = m.Body.GetString(tg)
		}
		f.Add(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], true)
	}
	f.Fuzz(func(t *testing.T, clOrdID, orderID, execID, execType, ordStatus, symbol, exch, side, price, avgPx, cumQty,
		rejReason, transactTime, responseTo string, possDup bool) {
		m := quickfix.NewMessage()
		for i, v := range []string{clOrdID, orderID, execID, execType, ordStatus, symbol, exch, side, price, avgPx, cumQty,
			rejReason, transactTime, responseTo} {
			if v != "" {
				m.Body.SetField(decodeFuzzTags[i], quickfix.FIXString(v))
			}
		}
		if possDup {
			m.Header.SetField(tag.PossDupFlag, quickfix.FIXString("Y"))
		}
		if er, rej := decodeExecReport(m); rej == nil && (er.ClOrdID == "" || er.ExecID == "" || er.OrderID == "") {
			t.Fatalf("report without ids decoded: %+v", er)
		}
		if r, rej := decodeCancelReject(m); rej == nil && r.ClOrdID == "" {
			t.Fatalf("cancel reject without ClOrdID decoded: %+v", r)
		}
	})
}
