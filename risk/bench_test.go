package risk

import (
	"strconv"
	"testing"
	"time"
)

// stepClock advances one microsecond per reading. It is not safe for
// concurrent use; the benchmarks run on one goroutine.
type stepClock struct{ t time.Time }

func (c *stepClock) Now() time.Time {
	c.t = c.t.Add(time.Microsecond)
	return c.t
}

// benchIDs are client order ids made before timing, so that the
// benchmark measures the checker, not strconv.
var benchIDs = func() []string {
	ids := make([]string, 1<<20)
	for i := range ids {
		ids[i] = "c" + strconv.Itoa(i)
	}
	return ids
}()

// benchAccounts are the accounts of BenchmarkCheckNew: a day of 2^20
// orders spread over them is about a thousand orders each.
var benchAccounts = func() []string {
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = "B" + strconv.Itoa(i)
	}
	return ids
}()

// benchChecker returns a Checker whose throttles (1,000,000/s, one token
// per step of the clock) and cash never refuse the benchmark's orders.
func benchChecker(b *testing.B) *Checker {
	cfg := testConfig()
	cfg.AccountRate, cfg.SessionRate = MaxRate, MaxRate
	cfg.Accounts[0].Cash = cny(1 << 40)
	cfg.Accounts[0].Positions["000001.SZ"] = 1 << 40
	for _, id := range benchAccounts {
		cfg.Accounts = append(cfg.Accounts, AccountConfig{
			ID: id, Cash: cny(1 << 30), Positions: map[string]int64{"000001.SZ": 1 << 30},
		})
	}
	c, err := New(cfg, &stepClock{t: at(monday + " 09:30")})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// benchLoop runs CheckNew on the accept path b.N times, with a fresh
// Checker every 2^20 orders (a busy day's worth of client order ids).
// With accounts, the orders go to each in turn; otherwise all to o's.
func benchLoop(b *testing.B, o Order, accounts []string) {
	c := benchChecker(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i & (len(benchIDs) - 1)
		if j == 0 && i > 0 {
			b.StopTimer()
			c = benchChecker(b)
			b.StartTimer()
		}
		o.ClOrdID = benchIDs[j]
		if len(accounts) > 0 {
			o.Account = accounts[j%len(accounts)]
		}
		if _, rej := c.CheckNew(o); rej != nil {
			b.Fatal(rej)
		}
	}
}

// BenchmarkCheckNew measures an accepted buy: every check runs, the
// order's cash is held and its client order id recorded. The orders of a
// day go to 1024 accounts in turn.
func BenchmarkCheckNew(b *testing.B) {
	benchLoop(b, buy("", "", "000001.SZ", "10.00", 100), benchAccounts)
}

// BenchmarkCheckNewSell measures an accepted sell.
func BenchmarkCheckNewSell(b *testing.B) {
	benchLoop(b, sell("", "", "000001.SZ", "10.00", 100), benchAccounts)
}

// BenchmarkCheckNewOneAccount is the worst case for the client order id
// index: all 2^20 orders of a day in one account, whose index grows to a
// million entries and is mostly out of cache.
func BenchmarkCheckNewOneAccount(b *testing.B) {
	benchLoop(b, buy("A1", "", "000001.SZ", "10.00", 100), nil)
}

// BenchmarkCheckNewReject measures a price-band reject (it allocates the
// Reject and its text).
func BenchmarkCheckNewReject(b *testing.B) {
	c := benchChecker(b)
	o := buy("A1", "c1", "000001.SZ", "11.01", 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, rej := c.CheckNew(o); rej == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkCheckFillDone measures an accepted buy and the order path's
// callbacks on it: CheckNew, a partial fill and the done report.
func BenchmarkCheckFillDone(b *testing.B) {
	c := benchChecker(b)
	o := buy("A1", "", "000001.SZ", "10.00", 200)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i & (len(benchIDs) - 1)
		if j == 0 && i > 0 {
			b.StopTimer()
			c = benchChecker(b)
			b.StartTimer()
		}
		o.ClOrdID = benchIDs[j]
		r, rej := c.CheckNew(o)
		if rej != nil {
			b.Fatal(rej)
		}
		if err := c.OnFill(r, 99_000, 100); err != nil {
			b.Fatal(err)
		}
		if err := c.OnDone(r, 100); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFillDone measures the order path's callbacks alone: a partial
// fill and the done report of a buy accepted before the timer ran, through
// its Reservation. The orders are spread over 1024 accounts; a fresh
// Checker takes a new batch every 2^16 orders.
func BenchmarkFillDone(b *testing.B) {
	const batch = 1 << 16
	var c *Checker
	resv := make([]*Reservation, batch)
	o := buy("", "", "000001.SZ", "10.00", 200)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i & (batch - 1)
		if j == 0 {
			b.StopTimer()
			c = benchChecker(b)
			for k := range resv {
				o.ClOrdID, o.Account = benchIDs[k], benchAccounts[k%len(benchAccounts)]
				r, rej := c.CheckNew(o)
				if rej != nil {
					b.Fatal(rej)
				}
				resv[k] = r
			}
			b.StartTimer()
		}
		if err := c.OnFill(resv[j], 99_000, 100); err != nil {
			b.Fatal(err)
		}
		if err := c.OnDone(resv[j], 100); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDayDue measures what orders.Manager adds to every request to
// learn whether the trading day changed: the checker's lock, the clock,
// and the schedule's cached day.
func BenchmarkDayDue(b *testing.B) {
	c, err := New(testConfig(), SystemClock{})
	if err != nil {
		b.Fatal(err)
	}
	c.DaysByCaller()
	b.ReportAllocs()
	for b.Loop() {
		if _, later := c.DayDue(); later {
			b.Fatal("a day due")
		}
	}
}
