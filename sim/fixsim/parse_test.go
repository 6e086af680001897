package fixsim

import (
	"errors"
	"testing"

	"sgw/refdata"
)

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
		{name: "code and informal name", sym: "600519", exch: "sse", want: "600519.SH"},
		{name: "unknown exchange", sym: "830799", exch: "XBSE", want: "830799.XBSE"},
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
