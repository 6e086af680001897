package risk

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestAccountThrottle(t *testing.T) {
	c, clk := newChecker(t, func(c *Config) { c.AccountRate = 50; c.SessionRate = 0 })
	n := 0
	place := func(acct, session string) *Reject {
		n++
		o := buy(acct, fmt.Sprint("t", n), "000001.SZ", "10", 100)
		o.Session = session
		_, rej := c.CheckNew(o)
		return rej
	}
	// A burst of 50 at one instant, from any sessions, then nothing.
	for i := range 50 {
		wantCode(t, place("A1", fmt.Sprint("s", i%5)), "")
	}
	rej := place("A1", "s0")
	wantCode(t, rej, CodeThrottleAccount)
	if rej.Text != "account A1 exceeds 50 orders per second" || rej.FIXReason != FIXBrokerOption {
		t.Fatalf("reject %+v", rej)
	}
	// Other accounts have their own bucket.
	wantCode(t, place("C1", "s0"), "")
	// 50/s earns one token per 20ms.
	clk.Advance(19 * time.Millisecond)
	wantCode(t, place("A1", "s0"), CodeThrottleAccount)
	clk.Advance(time.Millisecond)
	wantCode(t, place("A1", "s0"), "")
	wantCode(t, place("A1", "s0"), CodeThrottleAccount)
	// A second refills the whole burst, and no more.
	clk.Advance(5 * time.Second)
	for range 50 {
		wantCode(t, place("A1", "s0"), "")
	}
	wantCode(t, place("A1", "s0"), CodeThrottleAccount)
	// A clock that steps back earns nothing.
	clk.Advance(-time.Second)
	wantCode(t, place("A1", "s0"), CodeThrottleAccount)
	checkInvariants(t, c)
}

func TestSessionThrottle(t *testing.T) {
	c, clk := newChecker(t, func(c *Config) { c.AccountRate = 1000; c.SessionRate = 3 })
	n := 0
	place := func(acct, session string) *Reject {
		n++
		o := buy(acct, fmt.Sprint("t", n), "000001.SZ", "10", 100)
		o.Session = session
		_, rej := c.CheckNew(o)
		return rej
	}
	// Three from one session over several accounts, then the session is
	// throttled whatever the account.
	wantCode(t, place("A1", "s1"), "")
	wantCode(t, place("C1", "s1"), "")
	wantCode(t, place("A1", "s1"), "")
	rej := place("C1", "s1")
	wantCode(t, rej, CodeThrottleSession)
	if rej.Text != "session s1 exceeds 3 orders per second" {
		t.Fatal(rej.Text)
	}
	// Rejected orders spend tokens too: even an unknown account.
	wantCode(t, place("A1", "s2"), "")
	wantCode(t, place("ZZ", "s2"), CodeUnknownAccount)
	wantCode(t, place("A1", "s2"), "")
	wantCode(t, place("A1", "s2"), CodeThrottleSession)
	// No session: no session throttle.
	for range 5 {
		wantCode(t, place("A1", ""), "")
	}
	// A third of a second earns one token (333,333,333ns is just short).
	clk.Advance(time.Second / 3)
	wantCode(t, place("A1", "s1"), CodeThrottleSession)
	clk.Advance(time.Nanosecond)
	wantCode(t, place("A1", "s1"), "")
	wantCode(t, place("A1", "s1"), CodeThrottleSession)
	// Cancels are not throttled.
	for _, id := range []string{"t1", "t3", "t5", "t7"} {
		wantCode(t, c.CheckCancel(Cancel{Account: "A1", Session: "s1", OrigClOrdID: id}), "")
	}
	// A dropped session starts afresh.
	c.Disconnect("s1")
	wantCode(t, place("A1", "s1"), "")
}

func TestKillSwitch(t *testing.T) {
	c, _ := newChecker(t, nil)
	mustNew(t, c, buy("A1", "a1", "000001.SZ", "10", 100))
	mustNew(t, c, buy("C1", "c1", "000001.SZ", "10", 100))

	// Without KillCancelsResting nothing is returned to cancel.
	oo, err := c.SetKill("A1", true)
	if err != nil || oo != nil {
		t.Fatalf("SetKill: %v %v", oo, err)
	}
	if !c.Killed("A1") || c.Killed("C1") || !snap(t, c, "A1").Killed {
		t.Fatal("Killed")
	}
	_, rej := c.CheckNew(buy("A1", "a2", "000001.SZ", "10", 100))
	wantCode(t, rej, CodeKillSwitch)
	if rej.Text != "new orders for account A1 are blocked by its kill switch" {
		t.Fatal(rej.Text)
	}
	_, rej = c.CheckReplace("a1", buy("A1", "a3", "000001.SZ", "10.01", 100))
	wantCode(t, rej, CodeKillSwitch)
	mustNew(t, c, buy("C1", "c2", "000001.SZ", "10", 100))
	// Cancels pass.
	wantCode(t, c.CheckCancel(Cancel{Account: "A1", OrigClOrdID: "a1"}), "")

	// Global.
	if _, err := c.SetKill("", true); err != nil {
		t.Fatal(err)
	}
	if !c.Killed("C1") || !c.Killed("nobody") {
		t.Fatal("global Killed")
	}
	_, rej = c.CheckNew(buy("C1", "c3", "000001.SZ", "10", 100))
	wantCode(t, rej, CodeKillSwitch)
	wantCode(t, c.CheckCancel(Cancel{Account: "C1", OrigClOrdID: "c1"}), "")

	// Off again: the global switch off leaves A1's on.
	if _, err := c.SetKill("", false); err != nil {
		t.Fatal(err)
	}
	mustNew(t, c, buy("C1", "c3", "000001.SZ", "10", 100))
	_, rej = c.CheckNew(buy("A1", "a2", "000001.SZ", "10", 100))
	wantCode(t, rej, CodeKillSwitch)
	if _, err := c.SetKill("A1", false); err != nil {
		t.Fatal(err)
	}
	mustNew(t, c, buy("A1", "a2", "000001.SZ", "10", 100))

	if _, err := c.SetKill("ZZ", true); err == nil {
		t.Fatal("unknown account killed")
	}
	wantErr(t, func() error { _, err := c.SetKill("ZZ", true); return err }(), ErrUnknownAccount)
}

func TestKillCancelsResting(t *testing.T) {
	c, _ := newChecker(t, func(c *Config) { c.KillCancelsResting = true })
	mustNew(t, c, buy("A1", "a1", "000001.SZ", "10", 100))
	mustNew(t, c, sell("A1", "a2", "600519.SH", "1800", 100))
	mustNew(t, c, buy("C1", "c1", "000001.SZ", "10", 100))
	a3 := mustNew(t, c, buy("A1", "a3", "000001.SZ", "10", 100))
	wantErr(t, c.OnDone(a3, 100), nil)

	oo, err := c.SetKill("A1", true)
	if err != nil {
		t.Fatal(err)
	}
	want := []OpenOrder{
		{Account: "A1", Session: "s1", ClOrdID: "a1", Symbol: "000001.SZ", Side: Buy, Price: px("10"), LeavesQty: 100},
		{Account: "A1", Session: "s1", ClOrdID: "a2", Symbol: "600519.SH", Side: Sell, Price: px("1800"), LeavesQty: 100},
	}
	if fmt.Sprint(oo) != fmt.Sprint(want) {
		t.Fatalf("orders to cancel %+v, want %+v", oo, want)
	}
	if oo, _ := c.SetKill("A1", false); oo != nil {
		t.Fatal("switching off returned orders")
	}
	if oo, _ := c.SetKill("", true); len(oo) != 3 {
		t.Fatalf("global: %+v", oo)
	}
}

func TestDisconnect(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprint("cancel_on_disconnect=", on), func(t *testing.T) {
			c, _ := newChecker(t, func(c *Config) { c.CancelOnDisconnect = on })
			o := buy("A1", "a1", "000001.SZ", "10", 100)
			o.Session = "ws-1"
			mustNew(t, c, o)
			o = buy("C1", "c1", "000001.SZ", "10", 100)
			o.Session = "ws-2"
			mustNew(t, c, o)
			got := c.Disconnect("ws-1")
			if !on {
				if got != nil {
					t.Fatalf("orders %+v", got)
				}
				return
			}
			if len(got) != 1 || got[0].ClOrdID != "a1" || got[0].Session != "ws-1" {
				t.Fatalf("orders %+v", got)
			}
			if got := c.Disconnect(""); got != nil {
				t.Fatalf("empty session: %+v", got)
			}
		})
	}
}

// TestConcurrentUse hammers one Checker from several goroutines (run with
// -race) and checks the books balance afterwards.
func TestConcurrentUse(t *testing.T) {
	c, clk := newChecker(t, func(c *Config) { c.AccountRate = MaxRate; c.SessionRate = MaxRate })
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				id := fmt.Sprintf("g%d-%d", g, i)
				acct := []string{"A1", "C1"}[i%2]
				r, rej := c.CheckNew(buy(acct, id, "000001.SZ", "10", 100))
				if rej != nil {
					continue
				}
				switch i % 3 {
				case 0:
					_ = c.OnFill(r, px("9.99"), 100)
				case 1:
					_ = c.CheckCancel(Cancel{Account: acct, OrigClOrdID: id})
					_ = c.OnDone(r, 100)
				}
				if i%50 == 0 {
					_, _ = c.SetKill("", g%2 == 0)
					_, _ = c.Snapshot(acct)
					_ = c.OpenOrders("")
					clk.Advance(time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	checkInvariants(t, c)
}
