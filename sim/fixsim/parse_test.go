package fixsim

import (
	"errors"
	"testing"

	"sgw/refdata"
)

func TestParsePrice(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want refdata.Price
		bad  bool
	}{
		{in: "1700", want: 17000000},
		{in: "1700.00", want: 17000000},
		{in: "1700.000000", want: 17000000},
		{in: "1700.5", want: 17005000},
		{in: "0.0001", want: 1},
		{in: "1700.", want: 17000000},
		{in: "1700.00001", bad: true},
		{in: "-1", bad: true},
		{in: "1e3", bad: true},
		{in: "", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parsePrice(tc.in)
			if (err != nil) != tc.bad || got != tc.want {
				t.Errorf("parsePrice(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}

func TestParseQty(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "100", want: 100},
		{in: "100.00", want: 100},
		{in: "100.5", bad: true},
		{in: "", bad: true},
		{in: "-100", bad: true},
		{in: "1234567890123456789", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseQty(tc.in)
			if (err != nil) != tc.bad || got != tc.want {
				t.Errorf("parseQty(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}

func TestResolveSymbol(t *testing.T) {
	ins := testInstruments()
	ins = append(ins, refdata.Instrument{Symbol: "600519.SZ", Board: refdata.BoardMain, PrevClose: 10000})
	syms := newSymbols(ins)
	for _, tc := range []struct {
		name, sym, exch, want string
		err                   error
	}{
		{name: "gateway symbol", sym: "300750.SZ", want: "300750.SZ"},
		{name: "code and MIC", sym: "600519", exch: "XSHG", want: "600519.SH"},
		{name: "code and suffix", sym: "600519", exch: "SZ", want: "600519.SZ"},
		{name: "unique code", sym: "300750", want: "300750.SZ"},
		{name: "ambiguous code", sym: "600519", err: errAmbiguous},
		{name: "unknown passes through", sym: "999999", want: "999999"},
		{name: "none", err: errNoSymbol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := syms.resolve(tc.sym, tc.exch)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Errorf("resolve(%q, %q) = %q, %v", tc.sym, tc.exch, got, err)
			}
		})
	}
}
