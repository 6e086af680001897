package fixsim

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/feed/itch"
	"sgw/sim"
	"sgw/sim/match"
)

// TestOrderFlow trades two sessions' orders over line 0 against each
// other, against resting orders entered directly into the Sim and against
// later direct orders, and checks the reports and the Sim's feed.
func TestOrderFlow(t *testing.T) {
	t.Parallel()
	s := newSim(t)
	const core, margin = "SGW-CORE", "SGW-MARGIN"
	a := startAcceptor(t, testConfig(core, margin), s)
	c := newClient(t, a, []string{core, margin}, clientOpts{})
	c.waitLogon(core)
	c.waitLogon(margin)
	eventually(t, "acceptor logons", func() bool { return a.LoggedOn(core) && a.LoggedOn(margin) })
	if got := a.ActiveLine(core); got != 0 {
		t.Errorf("ActiveLine = %d, want 0", got)
	}
	var matches []string

	if _, err := s.Submit(match.Order{Symbol: "600519.SH", Side: match.Sell, Price: 17000000, Qty: 300, Owner: "SIM"}); err != nil {
		t.Fatal(err)
	}
	// Fill, then partial fill and rest.
	c.send(core, nos("b1", "1", 100, "1700.00"))
	c.expect(core, "35=8", "11=b1", "150=0", "39=0", "151=100", "14=0", "55=600519", "207=XSHG", "1=ACC1")
	m := c.expect(core, "35=8", "11=b1", "150=F", "39=2", "31=1700.00", "32=100", "14=100", "151=0", "6=1700.00")
	matches = append(matches, field(m, tag.TrdMatchID))
	c.send(core, nos("b2", "1", 500, "1700.00"))
	c.expect(core, "11=b2", "150=0", "151=500")
	m = c.expect(core, "11=b2", "150=F", "39=1", "32=200", "14=200", "151=300")
	matches = append(matches, field(m, tag.TrdMatchID))

	// A direct Sim order trades with the resting FIX order.
	if _, err := s.Submit(match.Order{Symbol: "600519.SH", Side: match.Sell, Price: 16990000, Qty: 100, Owner: "SIM"}); err != nil {
		t.Fatal(err)
	}
	m = c.expect(core, "11=b2", "150=F", "39=1", "31=1700.00", "32=100", "14=300", "151=200")
	matches = append(matches, field(m, tag.TrdMatchID))

	// Another session's order trades with it: both sides are reported.
	c.send(margin, nos("s1", "2", 100, "1699.00"))
	c.expect(margin, "11=s1", "150=0")
	c.expect(margin, "11=s1", "150=F", "39=2", "31=1700.00", "32=100")
	m = c.expect(core, "11=b2", "150=F", "39=1", "32=100", "14=400", "151=100")
	matches = append(matches, field(m, tag.TrdMatchID))

	// Replace (OrderQty is the total), status, cancel, cancel too late.
	c.send(core, fixMsg("35=G", "11=b2r", "41=b2", "55=600519", "207=XSHG", "54=1", "38=600", "40=2", "44=1699.50"))
	c.expect(core, "35=8", "11=b2r", "41=b2", "150=5", "39=1", "151=200", "14=400", "44=1699.50")
	c.send(core, fixMsg("35=H", "11=b2", "790=st1", "55=600519", "54=1"))
	c.expect(core, "35=8", "11=b2r", "150=I", "39=1", "151=200", "14=400", "790=st1")
	c.send(core, fixMsg("35=F", "11=b2c", "41=b2r", "55=600519", "54=1"))
	c.expect(core, "35=8", "11=b2c", "41=b2r", "150=4", "39=4", "151=0", "14=400")
	c.send(core, fixMsg("35=F", "11=b2c2", "41=b2c", "55=600519", "54=1"))
	c.expect(core, "35=9", "11=b2c2", "434=1", "102=0", "39=4")
	c.send(core, fixMsg("35=F", "11=zz", "41=nope", "55=600519", "54=1"))
	c.expect(core, "35=9", "11=zz", "434=1", "102=1")

	// A reject with its reason.
	c.send(core, nos("r1", "1", 100, "1900.00"))
	c.expect(core, "35=8", "11=r1", "150=8", "39=8", "103=16", "58~band")
	c.none(core, 50*time.Millisecond)
	c.none(margin, 0)

	// Every trade is an Order Executed on the feed under its match number.
	var feed []string
	var msg itch.Message
	for _, b := range s.Messages(1, s.Next()-1) {
		if err := itch.Decode(b, &msg); err != nil {
			t.Fatal(err)
		}
		if msg.Type == itch.TypeOrderExecuted {
			feed = append(feed, strconv.FormatUint(msg.MatchNumber, 10))
		}
	}
	if len(feed) != len(matches) {
		t.Fatalf("feed executions %v, reported trades %v", feed, matches)
	}
	for i := range feed {
		if feed[i] != matches[i] {
			t.Errorf("feed executions %v, reported trades %v", feed, matches)
		}
	}
}

// TestPossDupNotEnteredTwice resends an accepted order with PossDupFlag and
// PossResend: the venue reports its state and enters nothing.
func TestPossDupNotEnteredTwice(t *testing.T) {
	t.Parallel()
	s := newSim(t)
	const me = "SGW-CORE"
	a := startAcceptor(t, testConfig(me), s)
	c := newClient(t, a, []string{me}, clientOpts{})
	c.waitLogon(me)
	c.send(me, nos("d1", "1", 100, "1690.00"))
	c.expect(me, "11=d1", "150=0", "39=0")
	orig := time.Now().UTC().Format("20060102-15:04:05.000")
	c.send(me, nos("d1", "1", 100, "1690.00", "43=Y", "122="+orig))
	c.expect(me, "11=d1", "150=I", "39=0", "151=100")
	c.send(me, nos("d1", "1", 100, "1690.00", "97=Y"))
	c.expect(me, "11=d1", "150=I", "39=0", "151=100")
	if bids, _ := s.Orders("600519.SH"); len(bids) != 1 {
		t.Errorf("%d resting bids, want 1", len(bids))
	}
	if fresh, dup := a.Seen("d1"); fresh != 1 || dup != 2 {
		t.Errorf("Seen = %d, %d; want 1, 2", fresh, dup)
	}
}

// TestLineCut cuts the session's line: the initiator reconnects over the
// other line to the same session, sequence numbers continue, reports made
// while it was away are resent, and an order lost on the cut line is
// recovered by resend and entered exactly once.
func TestLineCut(t *testing.T) {
	t.Parallel()
	s := newSim(t)
	const me = "SGW-CORE"
	a := startAcceptor(t, testConfig(me), s)
	c := newClient(t, a, []string{me}, clientOpts{})
	c.waitLogon(me)
	c.send(me, nos("a1", "1", 200, "1700.00"))
	m := c.expect(me, "11=a1", "150=0")
	seq0 := msgSeq(t, m)

	if err := a.CutLine(0); err != nil {
		t.Fatal(err)
	}
	c.waitLogon(me)
	eventually(t, "session on line 1", func() bool { return a.ActiveLine(me) == 1 })
	c.send(me, nos("a2", "1", 100, "1690.00"))
	m = c.expect(me, "11=a2", "150=0")
	if seq := msgSeq(t, m); seq <= seq0+1 {
		t.Errorf("report after reconnect has MsgSeqNum %d, before %d: sequence reset?", seq, seq0)
	}

	// Both lines down: a fill happens meanwhile and reaches the gateway
	// after it reconnects, by resend.
	for i := range 2 {
		if err := a.CutLine(i); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "logout", func() bool { return !a.LoggedOn(me) })
	if _, err := s.Submit(match.Order{Symbol: "600519.SH", Side: match.Sell, Price: 17000000, Qty: 200, Owner: "SIM"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * pollInterval)
	if err := a.RestoreLine(1); err != nil {
		t.Fatal(err)
	}
	c.waitLogon(me)
	c.expect(me, "11=a1", "150=F", "39=2", "32=200", "43=Y")

	// An order lost on a line: stall it so the order is held, cut it so
	// the order is dropped. The initiator reconnects with a higher
	// sequence number, the acceptor asks for a resend, and the order
	// arrives with PossDupFlag: entered once.
	if err := a.StallLine(1); err != nil {
		t.Fatal(err)
	}
	c.send(me, nos("lost1", "1", 100, "1680.00"))
	time.Sleep(50 * time.Millisecond)
	if err := a.RestoreLine(0); err != nil {
		t.Fatal(err)
	}
	if err := a.CutLine(1); err != nil {
		t.Fatal(err)
	}
	c.waitLogon(me)
	c.expect(me, "11=lost1", "150=0", "39=0")
	if fresh, dup := a.Seen("lost1"); fresh != 0 || dup != 1 {
		t.Errorf("Seen(lost1) = %d, %d; want 0, 1", fresh, dup)
	}
	if bids, _ := s.Orders("600519.SH"); len(bids) != 2 {
		t.Errorf("%d resting bids, want 2 (a2, lost1)", len(bids))
	}
	if err := a.UnstallLine(1); err != nil {
		t.Fatal(err)
	}
	if st := a.LineStats(1); !st.Cut || st.Stalled || st.Open != 0 {
		t.Errorf("line 1 stats %+v", st)
	}
}

func msgSeq(t *testing.T, m *quickfix.Message) int {
	t.Helper()
	seq, err := m.Header.GetInt(tag.MsgSeqNum)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// TestStallTakeOver stalls the session's line: the initiator's heartbeat
// check gives up on it and logs on over the other line, taking the
// session over from the stalled connection, which the acceptor (with a
// longer heartbeat interval) would otherwise keep for about 12s.
func TestStallTakeOver(t *testing.T) {
	t.Parallel()
	s := newSim(t)
	const me = "SGW-CORE"
	cfg := testConfig(me)
	cfg.TakeOver = true
	cfg.HeartBtInt = 5 * time.Second
	a := startAcceptor(t, cfg, s)
	c := newClient(t, a, []string{me}, clientOpts{})
	c.waitLogon(me)
	start := time.Now()
	if err := a.StallLine(0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.UnstallLine(0) })
	c.waitLogon(me)
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("logon over line 1 took %v", d)
	}
	if got := a.ActiveLine(me); got != 1 {
		t.Errorf("ActiveLine = %d, want 1", got)
	}
	c.send(me, nos("t1", "1", 100, "1700.00"))
	c.expect(me, "11=t1", "150=0")
}

// TestRestart restarts the acceptor with memory and file stores: the
// initiator logs on again without a sequence reset, orders keep their
// state, and a fill made while the acceptor was down is delivered.
func TestRestart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		files bool
	}{
		{name: "memory"},
		{name: "file", files: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSim(t)
			const me = "SGW-CORE"
			cfg := testConfig(me)
			if tc.files {
				cfg.StoreDir = t.TempDir()
			}
			a := startAcceptor(t, cfg, s)
			c := newClient(t, a, []string{me}, clientOpts{})
			c.waitLogon(me)
			c.send(me, nos("k1", "1", 300, "1700.00"))
			seq0 := msgSeq(t, c.expect(me, "11=k1", "150=0"))

			if err := a.Restart(); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Submit(match.Order{Symbol: "600519.SH", Side: match.Sell, Price: 17000000, Qty: 100, Owner: "SIM"}); err != nil {
				t.Fatal(err)
			}
			c.waitLogon(me)
			m := c.expect(me, "11=k1", "150=F", "39=1", "32=100", "151=200")
			if seq := msgSeq(t, m); seq <= seq0 {
				t.Errorf("fill has MsgSeqNum %d after %d: sequence reset", seq, seq0)
			}
			c.send(me, fixMsg("35=H", "11=k1", "54=1", "55=600519"))
			c.expect(me, "11=k1", "150=I", "39=1", "14=100", "151=200")
			if tc.files {
				files, _ := filepath.Glob(filepath.Join(cfg.StoreDir, "*.senderseqnums"))
				if len(files) == 0 {
					entries, _ := os.ReadDir(cfg.StoreDir)
					t.Errorf("no seqnums files in the store dir: %v", entries)
				}
			}
		})
	}
}

// TestFIX42 logs on a FIX 4.2 session and trades.
func TestFIX42(t *testing.T) {
	t.Parallel()
	s := newSim(t)
	const me = "SGW-CORE"
	cfg := testConfig(me)
	cfg.BeginString = quickfix.BeginStringFIX42
	cfg.HeartBtInt = time.Second
	a := startAcceptor(t, cfg, s)
	c := newClient(t, a, []string{me}, clientOpts{beginString: quickfix.BeginStringFIX42})
	c.waitLogon(me)
	if _, err := s.Submit(match.Order{Symbol: "600519.SH", Side: match.Sell, Price: 17000000, Qty: 100, Owner: "SIM"}); err != nil {
		t.Fatal(err)
	}
	c.send(me, nos("f1", "1", 200, "1700.00"))
	c.expect(me, "8=FIX.4.2", "11=f1", "20=0", "150=0")
	c.expect(me, "11=f1", "20=0", "150=1", "39=1", "32=100")
}

func TestConfigErrors(t *testing.T) {
	s := newSim(t)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{name: "begin string", cfg: Config{BeginString: "FIX.5.0"}},
		{name: "sender with space", cfg: Config{SenderCompID: "SIM EX"}},
		{name: "duplicate target", cfg: Config{TargetCompIDs: []string{"A", "A"}}},
		{name: "target is sender", cfg: Config{SenderCompID: "X", TargetCompIDs: []string{"X"}}},
		{name: "line address", cfg: Config{Lines: []string{"nowhere"}}},
		{name: "fractional heartbeat", cfg: Config{HeartBtInt: 1500 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg, s, nil); !errors.Is(err, ErrConfig) {
				t.Errorf("New: %v, want ErrConfig", err)
			}
		})
	}
	if _, err := New(Config{}, nil, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("New(nil Sim): %v, want ErrConfig", err)
	}
}

func TestLifecycle(t *testing.T) {
	s := newSim(t)
	cfg := testConfig("SGW-CORE")
	cfg.Lines = []string{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"}
	a, err := New(cfg, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Lines() != 3 || a.LineAddr(2) == "" || a.LineAddr(3) != "" {
		t.Errorf("lines %d, addr(2) %q, addr(3) %q", a.Lines(), a.LineAddr(2), a.LineAddr(3))
	}
	if err := a.CutLine(3); !errors.Is(err, ErrBadLine) {
		t.Errorf("CutLine(3): %v", err)
	}
	if err := a.Restart(); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Restart before Run: %v", err)
	}
	// The same session identity cannot exist twice in one process, and
	// trying leaves the first one's sessions alone.
	if _, err := New(cfg, s, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("second Acceptor with the same sessions: %v, want ErrConfig", err)
	}
	if _, err := quickfix.GetExpectedSenderNum(a.v.parties["SGW-CORE"].id); err != nil {
		t.Errorf("first Acceptor's session gone: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Run(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: %v", err)
	}
	// Closed without running, its sessions are gone from the registry.
	b, err := New(cfg, s, nil)
	if err != nil {
		t.Fatalf("New after Close: %v", err)
	}
	b.Close()
}

// TestStopsGoroutines checks that closing the acceptor (and the initiator)
// leaves no goroutine behind, after a restart and a cut. quickfix's own
// logon and logout timers are left out: they outlive a stopped session
// (time.AfterFunc sending to the session's unbuffered event channel, which
// nothing reads any more) and block forever, a quickfix leak.
func TestStopsGoroutines(t *testing.T) {
	before := liveGoroutines()
	func() {
		s := newSim(t)
		const me = "SGW-CORE"
		a, err := New(testConfig(me), s, testLogger())
		if err != nil {
			t.Fatal(err)
		}
		errc := make(chan error, 1)
		go func() { errc <- a.Run(context.Background()) }()
		c := newClient(t, a, []string{me}, clientOpts{})
		c.waitLogon(me)
		c.send(me, nos("g1", "1", 100, "1700.00"))
		c.expect(me, "11=g1", "150=0")
		if err := a.Restart(); err != nil {
			t.Fatal(err)
		}
		c.waitLogon(me)
		eventually(t, "session on a line", func() bool { return a.ActiveLine(me) >= 0 })
		if err := a.CutLine(a.ActiveLine(me)); err != nil {
			t.Fatal(err)
		}
		c.waitLogon(me)
		c.ini.Stop()
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}()
	deadline := time.Now().Add(waitTimeout)
	for {
		left := liveGoroutines()
		if len(left) <= len(before) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left, %d before:\n%s", len(left), len(before), strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// liveGoroutines returns the stacks of all goroutines but quickfix's
// leaked timers.
func liveGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var live []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "quickfix.(*stateMachine).Connect.func1") ||
			strings.Contains(g, "quickfix.(*session).initiateLogoutInReplyTo.func1") {
			continue
		}
		live = append(live, g)
	}
	return live
}

// TestSZSEModeFills: with the Sim publishing ".SZ" instruments as SZSE
// Binary (none of it on ITCH), a resting FIX order on one is still
// reported when flow outside the acceptor trades with it or the exchange
// deletes it.
func TestSZSEModeFills(t *testing.T) {
	t.Parallel()
	s, err := sim.New(sim.Config{Instruments: testInstruments(), Rate: -1, Seed: 1, SZSE: sim.SZSEConfig{Enabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	const core = "SGW-CORE"
	a := startAcceptor(t, testConfig(core), s)
	c := newClient(t, a, []string{core}, clientOpts{})
	c.waitLogon(core)
	eventually(t, "acceptor logon", func() bool { return a.LoggedOn(core) })

	c.send(core, fixMsg("35=D", "11=z1", "1=ACC1", "55=300750", "207=XSHE", "54=1", "38=300", "40=2", "44=200.00"))
	c.expect(core, "35=8", "11=z1", "150=0", "39=0", "151=300")
	if _, err := s.Submit(match.Order{Symbol: "300750.SZ", Side: match.Sell, Price: 2000000, Qty: 100, Owner: "SIM"}); err != nil {
		t.Fatal(err)
	}
	c.expect(core, "35=8", "11=z1", "150=F", "39=1", "31=200.00", "32=100", "14=100", "151=200")
	if n := len(s.Messages(1, s.Next()-1)); n == 0 {
		t.Fatal("no ITCH record")
	}
	if s.SZSELast() < 2 {
		t.Fatalf("SZSE records %d: the order and the trade should be on SZSE Binary", s.SZSELast())
	}
}
