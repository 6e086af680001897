package refdata

import (
	"errors"
	"math"
	"testing"
)

func TestParsePrice(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Price
		err  bool
	}{
		{name: "whole", in: "1700", want: 17000000},
		{name: "two decimals", in: "1700.00", want: 17000000},
		{name: "four decimals", in: "12.3456", want: 123456},
		{name: "one decimal", in: "0.5", want: 5000},
		{name: "smallest", in: "0.0001", want: 1},
		{name: "five decimals", in: "1.00001", err: true},
		{name: "empty", in: "", err: true},
		{name: "dot only", in: ".", err: true},
		{name: "trailing dot", in: "1.", err: true},
		{name: "leading dot", in: ".5", err: true},
		{name: "negative", in: "-1", err: true},
		{name: "exponent", in: "1e3", err: true},
		{name: "space", in: " 1", err: true},
		{name: "two dots", in: "1.2.3", err: true},
		{name: "overflow", in: "99999999999999999999", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePrice(tc.in)
			if tc.err {
				if !errors.Is(err, ErrBadPrice) {
					t.Fatalf("ParsePrice(%q) err = %v, want ErrBadPrice", tc.in, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParsePrice(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestPriceString(t *testing.T) {
	tests := []struct {
		p    Price
		want string
	}{
		{p: 17000000, want: "1700.00"},
		{p: 123456, want: "12.3456"},
		{p: 123450, want: "12.345"},
		{p: 1, want: "0.0001"},
		{p: 0, want: "0.00"},
		{p: -15000, want: "-1.50"},
	}
	for _, tc := range tests {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("Price(%d).String() = %q, want %q", tc.p, got, tc.want)
		}
	}
}

func FuzzParsePrice(f *testing.F) {
	for _, s := range []string{"1700.00", "0.0001", "12.3456", "1.", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePrice(s)
		if err != nil {
			return
		}
		q, err := ParsePrice(p.String())
		if err != nil || q != p {
			t.Fatalf("round trip %q -> %s -> %d, %v", s, p, q, err)
		}
	})
}

func TestBand(t *testing.T) {
	tests := []struct {
		name      string
		in        Instrument
		low, high string
	}{
		{name: "main", in: Instrument{Symbol: "600519.SH", Board: BoardMain, PrevClose: 17000000}, low: "1530.00", high: "1870.00"},
		{name: "main rounding", in: Instrument{Symbol: "600000.SH", Board: BoardMain, PrevClose: 100500}, low: "9.05", high: "11.06"},
		{name: "chinext", in: Instrument{Symbol: "300750.SZ", Board: BoardChiNext, PrevClose: 2000000}, low: "160.00", high: "240.00"},
		{name: "st", in: Instrument{Symbol: "600001.SH", Board: BoardST, PrevClose: 33300}, low: "3.00", high: "3.66"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if err := in.Validate(); err != nil {
				t.Fatal(err)
			}
			lo, hi := in.Band()
			if lo.String() != tc.low || hi.String() != tc.high {
				t.Fatalf("Band() = %s-%s, want %s-%s", lo, hi, tc.low, tc.high)
			}
			if !in.InBand(lo) || !in.InBand(hi) || in.InBand(hi+in.Tick) || in.InBand(lo-in.Tick) {
				t.Fatalf("InBand edges wrong for %s-%s", lo, hi)
			}
		})
	}
}

// TestBandAtLargestPrevClose: for every tick and board, the largest
// previous close Validate takes has a band around it (no overflow).
func TestBandAtLargestPrevClose(t *testing.T) {
	for _, b := range []Board{BoardMain, BoardChiNext, BoardSTAR, BoardST} {
		for tick := int64(1); tick <= 20000; tick++ {
			pct := b.BandPercent()
			for pc := (math.MaxInt64 / (100 + pct)) / tick * tick; pc > 0; pc -= tick {
				in := Instrument{Symbol: "600519.SH", Board: b, Tick: Price(tick), PrevClose: Price(pc)}
				if in.Validate() != nil {
					continue
				}
				if lo, hi := in.Band(); lo > in.PrevClose || hi < in.PrevClose || lo <= 0 {
					t.Fatalf("%s tick %d prev close %d: band %d-%d", b, tick, pc, lo, hi)
				}
				break
			}
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		in   Instrument
	}{
		{name: "bad symbol", in: Instrument{Symbol: "600519", Board: BoardMain, PrevClose: 10000}},
		{name: "no board", in: Instrument{Symbol: "600519.SH", PrevClose: 10000}},
		{name: "off tick close", in: Instrument{Symbol: "600519.SH", Board: BoardMain, PrevClose: 10001}},
		{name: "long feed symbol", in: Instrument{Symbol: "600519.SH", FeedSymbol: "123456789", Board: BoardMain, PrevClose: 10000}},
		// prev_close × 110 fits in an int64 but the rounding's half tick
		// does not: limit-up wrapped negative, the instrument was taken
		// and every order of it refused outside a band whose top was below
		// its bottom.
		{name: "limit-up rounding overflows", in: Instrument{Symbol: "600519.SH", Board: BoardMain, Tick: 1, PrevClose: 83848836698679780}},
		{name: "chinext limit-up rounding overflows", in: Instrument{Symbol: "300750.SZ", Board: BoardChiNext, Tick: 1, PrevClose: 76861433640456465}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if err := in.Validate(); !errors.Is(err, ErrBadInstrument) {
				t.Fatalf("Validate() = %v, want ErrBadInstrument", err)
			}
		})
	}
}
