package sim

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"sgw/feed/itch"
	"sgw/refdata"
	"sgw/sim/match"
)

func newSim(t *testing.T, cfg Config) *Sim {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func decodeAll(t *testing.T, msgs [][]byte) []itch.Message {
	t.Helper()
	out := make([]itch.Message, len(msgs))
	for i, raw := range msgs {
		if err := itch.Decode(raw, &out[i]); err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
	}
	return out
}

func TestStartOfDay(t *testing.T) {
	s := newSim(t, testConfig())
	ms := decodeAll(t, s.Messages(1, s.Next()-1))
	var got []string
	for i, m := range ms {
		if m.TrackingNumber != uint16(i+1) {
			t.Errorf("message %d: tracking number %d", i+1, m.TrackingNumber)
		}
		switch m.Type {
		case itch.TypeSystemEvent:
			got = append(got, "S"+string(m.EventCode))
			if m.StockLocate != 0 {
				t.Errorf("system event with locate %d", m.StockLocate)
			}
		case itch.TypeStockDirectory:
			got = append(got, "R"+m.Symbol())
			in := s.Instruments()[m.StockLocate-1]
			if m.Symbol() != in.FeedSymbol || m.RoundLotSize != uint32(in.Lot) {
				t.Errorf("directory %+v for %+v", m, in)
			}
		case itch.TypeTradingAction:
			got = append(got, "H"+m.Symbol()+string(m.TradingState))
		default:
			t.Errorf("unexpected %c", m.Type)
		}
	}
	want := []string{"SO", "SS", "R600519", "R300750", "RST0001", "H600519T", "H300750T", "HST0001T", "SQ"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("start of day = %v, want %v", got, want)
	}
	if s.Next() != uint64(len(want))+1 {
		t.Fatalf("Next = %d", s.Next())
	}
}

// TestFeedRebuildsBook replays the whole feed after synthetic flow into a
// naive book and compares it with the engine's depth.
func TestFeedRebuildsBook(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRestingPerSymbol = 40
	s := newSim(t, cfg)
	if err := s.Step(6000); err != nil {
		t.Fatal(err)
	}
	b := newFeedBook(t)
	counts := map[byte]int{}
	for i, raw := range s.Messages(1, s.Next()-1) {
		m := b.apply(uint64(i+1), raw)
		counts[m.Type]++
		in := s.Instruments()
		switch m.Type {
		case itch.TypeAddOrder, itch.TypeOrderReplace:
			inst := in[m.StockLocate-1]
			p := refdata.Price(m.Price)
			if !inst.InBand(p) || !inst.OnTick(p) || m.Shares%uint64(inst.Lot) != 0 {
				t.Fatalf("message %d: %c %d @ %s outside band/tick/lot of %s", i+1, m.Type, m.Shares, p, inst.Symbol)
			}
		}
	}
	for _, typ := range []byte{'A', 'E', 'X', 'D', 'U'} {
		if counts[typ] == 0 {
			t.Errorf("synthetic flow produced no %c messages (%v)", typ, counts)
		}
	}
	for i, in := range s.Instruments() {
		bids, asks := s.Depth(in.Symbol, 0)
		fb, fa := b.depth(uint16(i + 1))
		if !reflect.DeepEqual(bids, fb) || !reflect.DeepEqual(asks, fa) {
			t.Fatalf("%s: feed book\n %v / %v\nengine\n %v / %v", in.Symbol, fb, fa, bids, asks)
		}
		if len(bids) == 0 || len(asks) == 0 {
			t.Errorf("%s: book not two-sided", in.Symbol)
		}
		if bids[0].Price >= asks[0].Price {
			t.Errorf("%s: crossed", in.Symbol)
		}
		if n := len(flatten(s.Orders(in.Symbol))); n > cfg.MaxRestingPerSymbol {
			t.Errorf("%s: %d resting orders, cap %d", in.Symbol, n, cfg.MaxRestingPerSymbol)
		}
	}
}

func flatten(bids, asks []match.OrderInfo) []match.OrderInfo { return append(bids, asks...) }

func TestDeterministic(t *testing.T) {
	fixed := time.Date(2025, 11, 21, 10, 0, 0, 0, cst)
	run := func(seed uint64) [][]byte {
		cfg := testConfig()
		cfg.Seed = seed
		cfg.Clock = func() time.Time { return fixed }
		s := newSim(t, cfg)
		if err := s.Step(500); err != nil {
			t.Fatal(err)
		}
		return s.Messages(1, s.Next()-1)
	}
	a, b, c := run(1), run(1), run(2)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different feeds")
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("different seeds gave the same feed")
	}
	var m itch.Message
	if err := itch.Decode(a[0], &m); err != nil || m.Timestamp != uint64(10*time.Hour) {
		t.Fatalf("timestamp = %d, %v; want 10h since midnight", m.Timestamp, err)
	}
}

func TestOrderEntry(t *testing.T) {
	s := newSim(t, testConfig())
	mt := "600519.SH"
	first := s.Next()
	r, err := s.Submit(match.Order{Symbol: mt, Side: match.Sell, Price: 17000000, Qty: 300, Owner: "FIX1", Tag: "c1"})
	if err != nil || r.Ref == 0 {
		t.Fatalf("submit: %+v, %v", r, err)
	}
	r2, err := s.Submit(match.Order{Symbol: mt, Side: match.Buy, Price: 17000000, Qty: 100, Owner: "FIX2", Tag: "c2"})
	if err != nil || r2.Filled != 100 || r2.Fills[0].Resting.Tag != "c1" || r2.Fills[0].Resting.Qty != 200 {
		t.Fatalf("aggressive submit: %+v, %v", r2, err)
	}
	if _, err := s.Replace(r.Ref, 17000100, 200); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Submit(match.Order{Symbol: mt, Side: match.Buy, Price: 20000000, Qty: 100}); !errors.Is(err, match.ErrOutOfBand) {
		t.Fatalf("out of band: %v", err)
	}
	if err := s.Halt(mt, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Submit(match.Order{Symbol: mt, Side: match.Buy, Price: 17000000, Qty: 100}); !errors.Is(err, match.ErrHalted) {
		t.Fatalf("halted: %v", err)
	}
	if err := s.Halt(mt, false); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, m := range decodeAll(t, s.Messages(first, s.Next()-1)) {
		types = append(types, string(m.Type)+string(m.TradingState))
	}
	want := []string{"A\x00", "E\x00", "U\x00", "HH", "HT"}
	if !reflect.DeepEqual(types, want) {
		t.Fatalf("messages %q, want %q", types, want)
	}
	if err := s.EndSession(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Submit(match.Order{Symbol: mt, Side: match.Buy, Price: 17000000, Qty: 100}); !errors.Is(err, ErrSessionEnded) {
		t.Fatalf("after end: %v", err)
	}
	if err := s.Step(1); !errors.Is(err, ErrSessionEnded) {
		t.Fatalf("step after end: %v", err)
	}
	last := decodeAll(t, s.Messages(s.Next()-3, s.Next()-1))
	if got := string([]byte{last[0].EventCode, last[1].EventCode, last[2].EventCode}); got != "MEC" {
		t.Fatalf("end of day events %q", got)
	}
}

func TestSnapshot(t *testing.T) {
	s := newSim(t, testConfig())
	if err := s.Step(200); err != nil {
		t.Fatal(err)
	}
	s.Snapshot(func(eng *match.Engine, last uint64) {
		if last != s.rec.next()-1 || eng.Len() != 3 {
			t.Fatalf("snapshot last %d", last)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	ok := testConfig
	tests := []struct {
		name string
		mod  func(c *Config)
		want string
	}{
		{name: "no instruments", mod: func(c *Config) { c.Instruments = nil }, want: "instruments"},
		{name: "bad instrument", mod: func(c *Config) { c.Instruments[0].Board = 0 }, want: "instruments[0]"},
		{name: "duplicate", mod: func(c *Config) { c.Instruments[1] = c.Instruments[0] }, want: "duplicate symbol"},
		{name: "duplicate feed symbol", mod: func(c *Config) { c.Instruments[1].FeedSymbol = "600519" }, want: "duplicate feed_symbol"},
		{name: "long session", mod: func(c *Config) { c.Session = "ABCDEFGHIJK" }, want: "session"},
		{name: "long username", mod: func(c *Config) { c.Username = "ABCDEFG" }, want: "username"},
		{name: "password only", mod: func(c *Config) { c.Password = "x" }, want: "password"},
		{name: "bad addr", mod: func(c *Config) { c.Primary.Addr = "nope" }, want: "addr"},
		{name: "tls both", mod: func(c *Config) { c.Backup.TLS = TLSConfig{SelfSigned: true, CertFile: "a", KeyFile: "b"} }, want: "self_signed"},
		{name: "tls half", mod: func(c *Config) { c.Backup.TLS = TLSConfig{CertFile: "a"} }, want: "key_file"},
		{name: "tls missing files", mod: func(c *Config) { c.Backup.TLS = TLSConfig{CertFile: "/nonexistent", KeyFile: "/nonexistent"} }, want: "tls"},
		{name: "tls and tlcp", mod: func(c *Config) { c.Backup.TLS.SelfSigned, c.Backup.TLCP.SelfSigned = true, true }, want: "tls and tlcp are exclusive"},
		{name: "tlcp both", mod: func(c *Config) { c.Backup.TLCP = TLCPConfig{SelfSigned: true, SignCertFile: "a"} }, want: "tlcp: self_signed excludes"},
		{name: "tlcp half", mod: func(c *Config) { c.Backup.TLCP = TLCPConfig{SignCertFile: "a", SignKeyFile: "b"} }, want: "go together"},
		{name: "tlcp missing files", mod: func(c *Config) {
			c.Backup.TLCP = TLCPConfig{SignCertFile: "/nonexistent", SignKeyFile: "/nonexistent", EncCertFile: "/nonexistent", EncKeyFile: "/nonexistent"}
		}, want: "tlcp signature pair"},
		{name: "negative resting", mod: func(c *Config) { c.MaxRestingPerSymbol = -1 }, want: "max_resting_per_symbol"},
		{name: "negative heartbeat", mod: func(c *Config) { c.HeartbeatInterval = -time.Second }, want: "heartbeat_interval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.mod(&c)
			s, err := New(c)
			if err == nil {
				s.Close()
				t.Fatal("New accepted a bad config")
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrConfig mentioning %q", err, tc.want)
			}
		})
	}
	// The caller's instruments are not modified.
	c := ok()
	s := newSim(t, c)
	if c.Instruments[0].Tick != 0 || s.Instruments()[0].Tick != 100 {
		t.Fatal("defaults leaked into the caller's config or were not applied")
	}
}

// TestRunSynthetic lets Run generate flow at a high rate, then pauses it
// and checks the books and the record are quiet and consistent.
func TestRunSynthetic(t *testing.T) {
	cfg := testConfig()
	cfg.Rate = 5000
	s := startSim(t, cfg)
	deadline := time.Now().Add(ioTimeout)
	for s.Next() < 500 {
		if time.Now().After(deadline) {
			t.Fatalf("synthetic flow too slow: Next = %d", s.Next())
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.Pause()
	n := s.Next()
	b := newFeedBook(t)
	for i, raw := range s.Messages(1, n-1) {
		b.apply(uint64(i+1), raw)
	}
	for i, in := range s.Instruments() {
		bids, asks := s.Depth(in.Symbol, 0)
		fb, fa := b.depth(uint16(i + 1))
		if !reflect.DeepEqual(bids, fb) || !reflect.DeepEqual(asks, fa) {
			t.Fatalf("%s: feed and engine disagree", in.Symbol)
		}
	}
	if s.Next() != n {
		t.Fatal("messages recorded while paused")
	}
	s.Resume()
	for s.Next() == n {
		if time.Now().After(deadline) {
			t.Fatal("no flow after Resume")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMessagesAreCopies(t *testing.T) {
	s := newSim(t, testConfig())
	a := s.Messages(1, 1)
	a[0][0] = 'Z'
	if b := s.Messages(1, 1); bytes.Equal(a[0], b[0]) {
		t.Fatal("Messages returned shared storage")
	}
	if got := s.Messages(5, 2); got != nil {
		t.Fatalf("empty range = %v", got)
	}
	if got := s.Messages(0, 1000); len(got) != int(s.Next()-1) {
		t.Fatalf("clipped range has %d", len(got))
	}
}

// TestFlowReplacesOddBuys: a flow buy left with an odd open quantity by an
// odd-lot sell (from FIX, say) is replaced by whole lots of change, as the
// engine requires, and a replace that would change nothing is not made;
// before, the first stopped the synthetic flow and the second published an
// Order Replace that changed nothing.
func TestFlowReplacesOddBuys(t *testing.T) {
	cfg := testConfig()
	cfg.Rate = -1
	s := newSim(t, cfg)
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.cfg.Instruments[0]
	sf := s.flow.syms[0]
	if err := s.flow.submit(s.pub, sf, match.Buy, in.PrevClose, 20*in.Lot, match.Day); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pub.Submit(match.Order{Symbol: in.Symbol, Side: match.Sell, Price: in.PrevClose, Qty: in.Lot / 2, Owner: "FIX"}); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		before := s.rec.next()
		done, err := s.flow.replace(s.pub, sf)
		if err != nil {
			t.Fatalf("replace %d: %v", i, err)
		}
		if done && s.rec.next() == before {
			t.Fatalf("replace %d published nothing", i)
		}
		if s.eng.Resting(in.Symbol) != 1 {
			t.Fatalf("replace %d: %d resting", i, s.eng.Resting(in.Symbol))
		}
	}
}
