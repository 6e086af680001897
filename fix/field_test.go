package fix

import (
	"errors"
	"strings"
	"testing"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/refdata"
)

func TestParsePrice(t *testing.T) {
	const bad = refdata.Price(-1 << 62) // not parsed
	for _, tc := range []struct {
		in           string
		exact, round refdata.Price
	}{
		{in: "1700", exact: 17000000, round: 17000000},
		{in: "1700.00", exact: 17000000, round: 17000000},
		{in: "1700.000000", exact: 17000000, round: 17000000},
		{in: "1700.5", exact: 17005000, round: 17005000},
		{in: "12.3456", exact: 123456, round: 123456},
		{in: "0.0001", exact: 1, round: 1},
		{in: "1700.", exact: 17000000, round: 17000000},
		{in: ".5", exact: 5000, round: 5000},
		{in: "1700.00001", exact: bad, round: 17000000},
		{in: "12.34565", exact: bad, round: 123457}, // AvgPx rounds half up
		{in: "12.34564", exact: bad, round: 123456},
		{in: "12.345649999", exact: bad, round: 123456},
		{in: "-0.01", exact: bad, round: -100},
		{in: "-12.34565", exact: bad, round: -123457}, // half away from zero
		{in: "-1", exact: bad, round: -10000},
		{in: "", exact: bad, round: bad},
		{in: "-", exact: bad, round: bad},
		{in: ".", exact: bad, round: bad},
		{in: "1.2.3", exact: bad, round: bad},
		{in: "1e3", exact: bad, round: bad},
		{in: "+1", exact: bad, round: bad},
		{in: " 1", exact: bad, round: bad},
		{in: "92233720368547", exact: 922337203685470000, round: 922337203685470000},
		{in: "92233720368548", exact: bad, round: bad},
		{in: "99999999999999999999", exact: bad, round: bad},
	} {
		for _, p := range []struct {
			policy PricePolicy
			want   refdata.Price
		}{{PriceExact, tc.exact}, {PriceRound, tc.round}} {
			got, ok := ParsePrice([]byte(tc.in), p.policy)
			if ok != (p.want != bad) || (ok && got != p.want) {
				t.Errorf("ParsePrice(%q, %d) = %v, %v; want %v", tc.in, p.policy, got, ok, p.want)
			}
		}
	}
}

func TestParseQty(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{in: "100", want: 100, ok: true},
		{in: "100.00", want: 100, ok: true},
		{in: "100.", want: 100, ok: true},
		{in: "100.5"},
		{in: ""},
		{in: ".0"},
		{in: "-100"},
		{in: "1e3"},
		{in: "9223372036854775807"},
	} {
		if got, ok := ParseQty([]byte(tc.in)); ok != tc.ok || got != tc.want {
			t.Errorf("ParseQty(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSymbols(t *testing.T) {
	for _, tc := range []struct {
		code, exch string
		names      ExchangeNames
		want       string
		ok         bool
	}{
		{code: "600519", exch: "XSHG", want: "600519.SH", ok: true},
		{code: "000001", exch: "XSHE", want: "000001.SZ", ok: true},
		{code: "600519.SH", exch: "XSHG", want: "600519.SH", ok: true},
		{code: "600519.SH", want: "600519.SH", ok: true},
		{code: "600519", exch: "SH", want: "600519"},
		{code: "600519", exch: "xshg", want: "600519"},
		{code: "AAPL", exch: "XNAS", want: "AAPL"},
		{code: "600519", exch: "SH", names: InformalNames, want: "600519.SH", ok: true},
		{code: "600519", exch: "sse", names: InformalNames, want: "600519.SH", ok: true},
		{code: "000001", exch: "szse", names: InformalNames, want: "000001.SZ", ok: true},
		{code: "000001", exch: "XSHE", names: InformalNames, want: "000001.SZ", ok: true},
		{code: "830799", exch: "BJ", names: InformalNames, want: "830799"},
	} {
		if got, ok := JoinSymbol(tc.code, tc.exch, tc.names); got != tc.want || ok != tc.ok {
			t.Errorf("JoinSymbol(%q, %q, %d) = %q, %v; want %q, %v", tc.code, tc.exch, tc.names, got, ok, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct{ sym, code, mic string }{
		{sym: "600519.SH", code: "600519", mic: "XSHG"},
		{sym: "000001.SZ", code: "000001", mic: "XSHE"},
		{sym: "600519"},
		{sym: ".SH"},
	} {
		code, mic, ok := SplitSymbol(tc.sym)
		if code != tc.code || mic != tc.mic || ok != (tc.mic != "") {
			t.Errorf("SplitSymbol(%q) = %q, %q, %v", tc.sym, code, mic, ok)
		}
		if ok {
			if back, _ := JoinSymbol(code, mic, MICsOnly); back != tc.sym {
				t.Errorf("JoinSymbol(SplitSymbol(%q)) = %q", tc.sym, back)
			}
		}
	}
}

// received builds a message with body fields "tag=value" as quickfix hands
// it over (values may be empty).
func received(fields ...string) *quickfix.Message {
	m := quickfix.NewMessage()
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		var n int
		for _, c := range k {
			n = n*10 + int(c-'0')
		}
		m.Body.SetString(quickfix.Tag(n), v)
	}
	return m
}

func TestFieldReader(t *testing.T) {
	type read func(d *FieldReader)
	for _, tc := range []struct {
		name   string
		fields []string
		empty  EmptyValues
		read   read
		reason int // SessionRejectReason; -1 none
		refTag quickfix.Tag
		badID  string // part of BadID's text; "" none
	}{
		{name: "required missing", read: func(d *FieldReader) { d.Str(tag.ClOrdID, true) }, reason: 1, refTag: tag.ClOrdID},
		{name: "optional missing", read: func(d *FieldReader) { d.Str(tag.Text, false); d.Price(tag.Price, false, PriceExact) }, reason: -1},
		{name: "empty required", fields: []string{"11="}, empty: EmptyAllowed, read: func(d *FieldReader) { d.Str(tag.ClOrdID, true) }, reason: 4, refTag: tag.ClOrdID},
		{name: "empty optional, strict", fields: []string{"58="}, read: func(d *FieldReader) { d.Str(tag.Text, false) }, reason: 4, refTag: tag.Text},
		{name: "empty optional, lenient", fields: []string{"58="}, empty: EmptyAllowed, read: func(d *FieldReader) { d.Str(tag.Text, false) }, reason: -1},
		{name: "empty optional number, lenient", fields: []string{"44="}, empty: EmptyAllowed, read: func(d *FieldReader) { d.Price(tag.Price, false, PriceRound) }, reason: 6, refTag: tag.Price},
		{name: "two-char Side", fields: []string{"54=12"}, read: func(d *FieldReader) { d.Char(tag.Side, true) }, reason: 6, refTag: tag.Side},
		{name: "first problem kept", fields: []string{"38=x", "44=y"}, read: func(d *FieldReader) {
			d.Qty(tag.OrderQty, true)
			d.Price(tag.Price, true, PriceExact)
			d.Str(tag.ClOrdID, true)
		}, reason: 6, refTag: tag.OrderQty},
		{name: "reason code too large", fields: []string{"103=9999999999"}, read: func(d *FieldReader) { d.Int(tag.OrdRejReason, false) }, reason: 6, refTag: tag.OrdRejReason},
		{name: "bad time", fields: []string{"60=yesterday"}, read: func(d *FieldReader) { d.Time(tag.TransactTime, false) }, reason: 6, refTag: tag.TransactTime},
		{name: "valid ids", fields: []string{"11=a-1_b.c:d/e#f@g", "1=A1"}, reason: -1, read: func(d *FieldReader) {
			d.ID(tag.ClOrdID, "ClOrdID", refdata.MaxClOrdIDLen, true)
			d.ID(tag.Account, "Account", refdata.MaxAccountLen, true)
		}},
		{name: "long ClOrdID", fields: []string{"11=" + strings.Repeat("9", 70000)}, reason: -1, badID: "ClOrdID is 70000 bytes long", read: func(d *FieldReader) {
			d.ID(tag.ClOrdID, "ClOrdID", refdata.MaxClOrdIDLen, true)
		}},
		{name: "first bad id kept", fields: []string{"11=a|b", "1=x y"}, reason: -1, badID: "ClOrdID has a character 0x7c", read: func(d *FieldReader) {
			d.ID(tag.ClOrdID, "ClOrdID", refdata.MaxClOrdIDLen, true)
			d.ID(tag.Account, "Account", refdata.MaxAccountLen, true)
		}},
		{name: "bad id and a malformed field", fields: []string{"1=a\nb", "38=x"}, reason: 6, refTag: tag.OrderQty, badID: "Account has a character 0x0a", read: func(d *FieldReader) {
			d.ID(tag.Account, "Account", refdata.MaxAccountLen, true)
			d.Qty(tag.OrderQty, true)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewFieldReader(received(tc.fields...), tc.empty)
			tc.read(d)
			rej := d.Err()
			switch {
			case tc.reason < 0 && rej != nil:
				t.Fatalf("reject %v", rej)
			case tc.reason >= 0 && (rej == nil || rej.RejectReason() != tc.reason || rej.RefTagID() == nil || *rej.RefTagID() != tc.refTag):
				t.Fatalf("reject %v; want reason %d tag %d", rej, tc.reason, tc.refTag)
			}
			err := d.BadID()
			var ie *refdata.IDError
			switch {
			case tc.badID == "" && err != nil:
				t.Fatalf("BadID %v", err)
			case tc.badID != "" && (!errors.As(err, &ie) || !strings.Contains(ie.Text(), tc.badID)):
				t.Fatalf("BadID %v; want %q", err, tc.badID)
			case ie != nil && len(ie.Text()) > 100:
				t.Fatalf("BadID text of %d bytes", len(ie.Text()))
			}
		})
	}
}

func TestEchoID(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{in: "c1", want: "c1"},
		{in: "", want: "?"},
		{in: "a|b=c\x01", want: "?a_b_c_"},
		{in: strings.Repeat("A", 70000), want: "?AAAAAAAAAAAAAAAA~70000"},
		{in: strings.Repeat("B", 33), want: "?BBBBBBBBBBBBBBBB~33"},
	} {
		if got := EchoID(tc.in, refdata.MaxClOrdIDLen); got != tc.want {
			t.Errorf("EchoID(%.20q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestRenderMessage(t *testing.T) {
	got := RenderMessage([]byte("8=FIX.4.4\x019=30\x0135=A\x01554=s3cret\x01925=n3w\x01553=u\x0110=000\x01"))
	if want := "8=FIX.4.4|9=30|35=A|554=***|925=***|553=u|10=000|"; got != want {
		t.Errorf("RenderMessage = %q; want %q", got, want)
	}
	if got := RenderMessage([]byte("8=F\x0195=6\x0196=s3cret\x011402=x\x0158=ok")); got != "8=F|95=6|96=***|1402=***|58=ok" {
		t.Fatalf("RenderMessage = %q", got)
	}
	if got := RenderMessage([]byte("8=F\x01554=abc")); got != "8=F|554=***" {
		t.Errorf("RenderMessage of a cut frame = %q", got)
	}
}

// FuzzFieldReader reads arbitrary values as identifiers, prices,
// quantities and characters. Whatever they are, the reader must not panic,
// must flag an identifier exactly when refdata.ValidID refuses it, must
// never let an invalid identifier through EchoID, and the two price
// policies must agree wherever both parse.
func FuzzFieldReader(f *testing.F) {
	// Seeds: the values of the recorded sessions' frames (as quickfix
	// wrote them), and hand-made bad ones.
	for _, name := range []string{"session_in.fix", "session_out.fix"} {
		for _, fr := range readFrames(f, name) {
			var v [4]string
			ScanFields(fr, func(t int, val []byte) bool {
				switch quickfix.Tag(t) {
				case tag.ClOrdID:
					v[0] = string(val)
				case tag.Account, tag.Symbol:
					v[1] = string(val)
				case tag.Price, tag.AvgPx:
					v[2] = string(val)
				case tag.OrderQty, tag.CumQty:
					v[3] = string(val)
				}
				return true
			})
			f.Add(v[0], v[1], v[2], v[3])
		}
	}
	for _, seed := range [][4]string{
		{"20261122-000001", "A1", "1700.00", "100"},
		{"c1", "600519", "12.34565", "100.00"},
		{strings.Repeat("x", 40), "a|b", "-1", "1e3"},
		{"id\x01", "", ".5", ""},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	f.Fuzz(func(t *testing.T, id, acct, px, qty string) {
		m := quickfix.NewMessage()
		for tg, v := range map[quickfix.Tag]string{tag.ClOrdID: id, tag.Account: acct, tag.Price: px, tag.OrderQty: qty, tag.Side: px} {
			if v != "" {
				m.Body.SetString(tg, v)
			}
		}
		d := NewFieldReader(m, EmptyRejected)
		gotID := d.ID(tag.ClOrdID, "ClOrdID", refdata.MaxClOrdIDLen, false)
		gotAcct := d.ID(tag.Account, "Account", refdata.MaxAccountLen, false)
		d.Price(tag.Price, false, PriceExact)
		d.Qty(tag.OrderQty, false)
		d.Char(tag.Side, false)
		d.Int(tag.OrderQty, false)
		valid := (id == "" || refdata.ValidID(id, refdata.MaxClOrdIDLen)) && (acct == "" || refdata.ValidID(acct, refdata.MaxAccountLen))
		if (d.BadID() == nil) != valid || gotID != id || gotAcct != acct {
			t.Fatalf("ids %q %q: BadID %v", id, acct, d.BadID())
		}
		for _, v := range []string{id, acct} {
			e := EchoID(v, refdata.MaxClOrdIDLen)
			if !refdata.ValidID(e, refdata.MaxClOrdIDLen) && (e[0] != '?' || len(e) > 25 || strings.ContainsAny(e, "\x01\n|=")) {
				t.Fatalf("EchoID(%q) = %q", v, e)
			}
		}
		exact, okE := ParsePrice([]byte(px), PriceExact)
		round, okR := ParsePrice([]byte(px), PriceRound)
		if okE && (!okR || exact != round || exact < 0) {
			t.Fatalf("%q: exact %v %v, round %v %v", px, exact, okE, round, okR)
		}
		if okR && round >= 0 {
			if back, ok := ParsePrice([]byte(round.String()), PriceExact); !ok || back != round {
				t.Fatalf("%q: %v does not parse back (%v %v)", px, round, back, ok)
			}
		}
	})
}
