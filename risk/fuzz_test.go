package risk

import (
	"encoding/binary"
	"testing"
	"time"

	"sgw/refdata"
)

// fuzzReader hands out the fuzz input a little at a time; past the end it
// yields zeros.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) more() bool { return len(r.b) > 0 }

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *fuzzReader) int64() int64 {
	var buf [8]byte
	n := copy(buf[:], r.b)
	r.b = r.b[n:]
	return int64(binary.LittleEndian.Uint64(buf[:]))
}

func pick[T any](r *fuzzReader, xs []T) T { return xs[int(r.byte())%len(xs)] }

var (
	fuzzAccounts = []string{"A1", "C1", "M1", "S1", "ZZ"}
	fuzzSymbols  = []string{"600519.SH", "000001.SZ", "300750.SZ", "688981.SH", "600200.SH", "601398.SH", "NOPE.SH"}
	fuzzIDs      = []string{"a", "b", "c", "d", "e", "f", "", "x1"}
	fuzzSessions = []string{"s1", "s2", ""}
	fuzzQtys     = []int64{0, 1, 30, 50, 99, 100, 150, 199, 200, 201, 250, 350, 1000, 100_000, 1_000_000, -100}
)

// order builds an order that is often nearly valid: a price a few ticks
// around the band, a quantity near a lot edge; sometimes raw values.
func (r *fuzzReader) order(c *Checker) Order {
	o := Order{
		Account: pick(r, fuzzAccounts),
		Session: pick(r, fuzzSessions),
		ClOrdID: pick(r, fuzzIDs),
		Symbol:  pick(r, fuzzSymbols),
		Side:    Side(r.byte() % 3),
		Type:    OrdType(r.byte() % 3),
	}
	flags := r.byte()
	o.Credit = flags&1 != 0 && o.Account == "M1" || flags&2 != 0
	if i, ok := c.symbols[o.Symbol]; ok && flags&4 == 0 {
		in := c.instr[i]
		o.Price = in.lo + refdata.Price(int64(int8(r.byte())))*in.Tick*4 + refdata.Price(r.byte()%2)
	} else {
		o.Price = refdata.Price(r.int64())
	}
	if flags&8 == 0 {
		o.Qty = pick(r, fuzzQtys)
	} else {
		o.Qty = r.int64()
	}
	return o
}

// FuzzCheckNew drives a Checker with arbitrary sequences of orders,
// cancels, replaces, fills, done reports and clock moves. It asserts that
// nothing panics, that cash and positions never go negative, that every
// reservation is accounted for (checkInvariants), and that cash and shares
// are conserved: what the account holds is its start plus its fills.
func FuzzCheckNew(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, 1, 0, 0, 10, 5, 0, 0})
	f.Add([]byte{1, 1, 0, 1, 3, 1, 1, 0, 40, 6, 4, 0, 0, 4, 0, 0, 100, 5, 9, 200})
	f.Add([]byte("\x00\x00\x00\x00\x01\x01\x01\x00\x10\x05\x07\x00\x00\x00\x00\x01\x01\x01\x00\x20\x05\x04\x00\x00\x00\x10"))
	f.Add([]byte("\x02\x03\x01\x02\x03\x02\x01\x08\x30\x09\x08\x09\xff\x04\x03\x01\x00\x05\x03\x01\x60"))
	f.Fuzz(func(t *testing.T, data []byte) {
		clk := NewManualClock(at(monday + " 09:29:59"))
		c, err := New(Config{
			Instruments: testConfig().Instruments,
			Accounts:    testConfig().Accounts,
			MaxNotional: cny(2_000_000),
			AccountRate: 20,
			SessionRate: 30,
		}, clk)
		if err != nil {
			t.Fatal(err)
		}
		// Expected cash and shares (sellable + today) from the fills.
		type key struct {
			acct string
			sym  int32
		}
		cash := map[string]refdata.Price{}
		shares := map[key]int64{}
		for _, a := range testConfig().Accounts {
			cash[a.ID] = a.Cash
			for sym, q := range a.Positions {
				shares[key{a.ID, c.symbols[sym]}] = q
			}
		}

		// The Reservations the checker returned, by account and client
		// order id, as the order path keeps them: an order's from
		// CheckNew, a replace's from CheckReplace. An id reused on a later
		// day replaces the entry; an id never accepted gives nil.
		resvs := map[[2]string]*Reservation{}
		resv := func(r *fuzzReader) (string, *Reservation) {
			acct := pick(r, fuzzAccounts)
			return acct, resvs[[2]string{acct, pick(r, fuzzIDs)}]
		}

		r := &fuzzReader{b: data}
		for n := 0; r.more() && n < 300; n++ {
			switch op := r.byte() % 10; op {
			case 0, 1, 2, 3:
				o := r.order(c)
				res, rej := c.CheckNew(o)
				if (res == nil) == (rej == nil) {
					t.Fatalf("CheckNew: %v, %v", res, rej)
				}
				if res != nil {
					resvs[[2]string{o.Account, o.ClOrdID}] = res
				}
			case 4:
				acct, res := resv(r)
				c.mu.Lock()
				var price refdata.Price
				var qty int64
				var side Side
				var sym int32
				if res != nil {
					o := res.ord
					q, p := o.bounds()
					price = p - refdata.Price(int64(int8(r.byte())))*c.instr[o.sym].Tick
					qty = int64(r.byte()%4) * (q - o.cum) / 3
					side, sym = o.side, o.sym
				} else {
					price, qty = refdata.Price(r.int64()), r.int64()
				}
				c.mu.Unlock()
				if err := c.OnFill(res, price, qty); err == nil {
					if side == Buy {
						cash[acct] -= price * refdata.Price(qty)
						shares[key{acct, sym}] += qty
					} else {
						cash[acct] += price * refdata.Price(qty)
						shares[key{acct, sym}] -= qty
					}
				}
			case 5:
				_, res := resv(r)
				_ = c.OnDone(res, int64(r.byte()))
			case 6:
				_ = c.CheckCancel(Cancel{
					Account: pick(r, fuzzAccounts), Session: pick(r, fuzzSessions),
					ClOrdID: pick(r, fuzzIDs), OrigClOrdID: pick(r, fuzzIDs), Symbol: pick(r, fuzzSymbols),
				})
			case 7:
				orig := pick(r, fuzzIDs)
				o := r.order(c)
				res, rej := c.CheckReplace(orig, o)
				if (res == nil) == (rej == nil) {
					t.Fatalf("CheckReplace: %v, %v", res, rej)
				}
				if res != nil {
					resvs[[2]string{o.Account, o.ClOrdID}] = res
				}
			case 8:
				_, res := resv(r)
				if r.byte()%2 == 0 {
					_ = c.OnReplaced(res)
				} else {
					_ = c.OnReplaceRejected(res)
				}
			case 9:
				switch b := r.byte(); b % 4 {
				case 0:
					clk.Advance(time.Duration(b) * time.Millisecond)
				case 1:
					clk.Advance(time.Duration(b) * time.Minute)
				case 2:
					clk.Advance(24 * time.Hour)
				case 3:
					_, _ = c.SetKill(pick(r, fuzzAccounts[:4]), b&4 != 0)
					_ = c.SetHalted(pick(r, fuzzSymbols), b&8 != 0)
				}
			}
			checkInvariants(t, c)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for id, a := range c.accounts {
			if got := a.avail + a.reserved; got != cash[id] {
				t.Fatalf("account %s holds %d, fills say %d", id, got, cash[id])
			}
			for sym, p := range a.pos {
				if got := p.sellable + p.today; got != shares[key{id, sym}] {
					t.Fatalf("account %s %s: %d shares, fills say %d", id, c.instr[sym].Symbol, got, shares[key{id, sym}])
				}
			}
		}
	})
}
