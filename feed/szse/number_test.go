package szse_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"sgw/feed/szse"
	"sgw/refdata"
)

func TestPrice4(t *testing.T) {
	tests := []struct {
		name string
		p    szse.Price4
		want string
	}{
		{name: "12.34", p: 123400, want: "12.34"},
		{name: "tick of a fund", p: 1001, want: "0.1001"},
		{name: "zero", p: 0, want: "0.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.p.Price()
			if int64(got) != int64(tt.p) || got.String() != tt.want {
				t.Errorf("Price() = %d (%s), want %d (%s)", got, got, tt.p, tt.want)
			}
		})
	}
}

func TestPrice6(t *testing.T) {
	tests := []struct {
		name      string
		p         szse.Price6
		want      refdata.Price
		wantExact bool
	}{
		{name: "share price", p: 12340000, want: 123400, wantExact: true},
		{name: "fund tick", p: 1234000, want: 12340, wantExact: true},
		{name: "fourth decimal", p: 100, want: 1, wantExact: true},
		{name: "zero", p: 0, want: 0, wantExact: true},
		{name: "weighted average rounds down", p: 12345649, want: 123456},
		{name: "half rounds up", p: 12345650, want: 123457},
		{name: "sub-tick only", p: 49, want: 0},
		{name: "half of the last digit", p: 50, want: 1},
		{name: "negative below half", p: -149, want: -1},
		{name: "negative half rounds away from zero", p: -150, want: -2},
		{name: "negative exact", p: -200, want: -2, wantExact: true},
		{name: "largest", p: math.MaxInt64, want: math.MaxInt64 / 100},
		{name: "smallest", p: math.MinInt64, want: math.MinInt64 / 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, exact := tt.p.Price()
			if got != tt.want || exact != tt.wantExact {
				t.Errorf("Price() = %d, %v; want %d, %v", got, exact, tt.want, tt.wantExact)
			}
		})
	}
}

func TestPrice6RoundTrip(t *testing.T) {
	for _, p := range []refdata.Price{0, 1, 123400, -5, 9223372036854 * refdata.PriceScale, -9223372036854 * refdata.PriceScale} {
		got, exact := szse.PriceToPrice6(p).Price()
		if got != p || !exact {
			t.Errorf("PriceToPrice6(%d).Price() = %d, %v", p, got, exact)
		}
	}
}

func TestQty2(t *testing.T) {
	tests := []struct {
		name      string
		q         szse.Qty2
		want      int64
		wantWhole bool
	}{
		{name: "one lot", q: 10000, want: 100, wantWhole: true},
		{name: "odd lot", q: 1700, want: 17, wantWhole: true},
		{name: "fraction truncated", q: 150, want: 1},
		{name: "fraction only", q: 99, want: 0},
		{name: "negative fraction toward zero", q: -150, want: -1},
		{name: "zero", q: 0, want: 0, wantWhole: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, whole := tt.q.Shares()
			if got != tt.want || whole != tt.wantWhole {
				t.Errorf("Shares() = %d, %v; want %d, %v", got, whole, tt.want, tt.wantWhole)
			}
		})
	}
	if q := szse.SharesToQty2(1000); q != 100000 {
		t.Errorf("SharesToQty2(1000) = %d, want 100000", q)
	}
}

func TestTimestamp(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	tests := []struct {
		name   string
		ts     szse.Timestamp
		want   time.Time
		wantOK bool
	}{
		{name: "open", ts: 20240315093000120, want: time.Date(2024, 3, 15, 9, 30, 0, 120e6, shanghai), wantOK: true},
		{name: "leap day", ts: 20240229150000000, want: time.Date(2024, 2, 29, 15, 0, 0, 0, shanghai), wantOK: true},
		{name: "leap second rolls over", ts: 20161231235960000, want: time.Date(2017, 1, 1, 0, 0, 0, 0, shanghai),
			wantOK: true},
		{name: "no leap day", ts: 20230229150000000},
		{name: "April 31", ts: 20240431150000000},
		{name: "month 13", ts: 20241301000000000},
		{name: "day 0", ts: 20240300000000000},
		{name: "hour 24", ts: 20240315240000000},
		{name: "minute 60", ts: 20240315096000000},
		{name: "second 61", ts: 20240315093061000},
		{name: "negative", ts: -1},
		{name: "zero", ts: 0},
		{name: "year over 9999", ts: 100000101000000000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.ts.Time(shanghai)
			if ok != tt.wantOK || !got.Equal(tt.want) {
				t.Errorf("Time() = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestPutString(t *testing.T) {
	tests := []struct {
		name    string
		s       string
		want    string
		wantErr string
	}{
		{name: "security id", s: "000001", want: "000001  "},
		{name: "full", s: "12345678", want: "12345678"},
		{name: "empty", s: "", want: "        "},
		{name: "too long", s: "123456789", want: "xxxxxxxx", wantErr: `szse: char[8] "123456789" longer than 8 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("xxxxxxxx")
			err := szse.PutString(dst, tt.s)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatal(err)
			case tt.wantErr != "" && (!errors.Is(err, szse.ErrBadField) || err.Error() != tt.wantErr):
				t.Fatalf("err = %v, want %s", err, tt.wantErr)
			}
			if string(dst) != tt.want {
				t.Errorf("field %q, want %q", dst, tt.want)
			}
		})
	}
}

func TestTrimString(t *testing.T) {
	tests := []struct{ in, want string }{
		{in: "000001  ", want: "000001"},
		{in: "1.02\x00\x00", want: "1.02"},
		{in: " a b ", want: " a b"},
		{in: "    ", want: ""},
		{in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := szse.TrimString([]byte(tt.in)); string(got) != tt.want {
				t.Errorf("TrimString(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestChecksum compares Checksum with the plain byte sum on every length
// up to 300 of random bytes, which exercises both the eight-byte fold and
// the tail, and bytes over 0x7f, where a C implementation's signed char
// would differ if the spec's routine depended on it.
func TestChecksum(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 300)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	for n := range len(b) + 1 {
		if got, want := szse.Checksum(b[:n]), uint32(sum(b[:n])); got != want {
			t.Fatalf("Checksum of %d bytes = %d, want %d", n, got, want)
		}
	}
	ff := make([]byte, 1<<20)
	for i := range ff {
		ff[i] = 0xff
	}
	if got, want := szse.Checksum(ff), uint32(sum(ff)); got != want {
		t.Errorf("Checksum of 1 MiB of 0xff = %d, want %d", got, want)
	}
}
