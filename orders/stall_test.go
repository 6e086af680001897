package orders

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// stallingJournal passes appends to its Journal, except while held: then
// it keeps them, as a journal whose fsync hangs keeps its batch, and
// appends them, in order, at release.
type stallingJournal struct {
	Journal
	mu   sync.Mutex
	held bool
	kept []keptAppend
}

type keptAppend struct {
	typ  byte
	body []byte
	done func(uint64, error)
}

func (s *stallingJournal) AppendAsync(typ byte, body []byte, done func(uint64, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held {
		s.kept = append(s.kept, keptAppend{typ: typ, body: append([]byte(nil), body...), done: done})
		return nil
	}
	return s.Journal.AppendAsync(typ, body, done)
}

func (s *stallingJournal) hold() {
	s.mu.Lock()
	s.held = true
	s.mu.Unlock()
}

func (s *stallingJournal) release(t *testing.T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = false
	for _, k := range s.kept {
		if err := s.Journal.AppendAsync(k.typ, k.body, k.done); err != nil {
			t.Fatal(err)
		}
	}
	s.kept = nil
}

// TestJournalStallRefusesNewOrders: a journal that completes nothing (its
// disk hangs: fsync neither returns nor fails) for Config.JournalStall
// while records wait in it refuses new orders and replaces at once,
// orders.journal_stalled, and raises gateway_orders_journal_stalled;
// cancels still pass. Once it completes records again, the orders it held
// go out in order and new ones are taken. Before, every order was taken
// into memory for as long as the disk hung, none answered, and all sent
// when it came back, minutes late.
func TestJournalStallRefusesNewOrders(t *testing.T) {
	var sj *stallingJournal
	var stallNS atomic.Int64 // the stall clock, apart from the orders' clock
	stallNS.Store(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).UnixNano())
	advance := func(d time.Duration) { stallNS.Add(int64(d)) }
	e := newEnv(t, t.TempDir(), func(e *env, c *Config) {
		sj = &stallingJournal{Journal: e.jrnl}
		e.jrnl = sj
		c.stallClock = func() time.Time { return time.Unix(0, stallNS.Load()) }
	})
	e.working("w1", 100)
	e.ev.wait(t, 2) // w1's report is journaled: the journal holds nothing

	sj.hold()
	if _, err := e.m.New(buy("s1", 100)); err != nil {
		t.Fatalf("New as the disk begins to hang: %v", err)
	}
	advance(DefaultJournalStall - time.Millisecond)
	e.m.tick(e.clock())
	if _, err := e.m.New(buy("s2", 100)); err != nil {
		t.Fatalf("New within the stall time: %v", err)
	}
	if v := testGauge(t, e.m.met.journalStalled); v != 0 {
		t.Fatalf("gateway_orders_journal_stalled = %v within the stall time", v)
	}

	advance(time.Millisecond)
	e.m.tick(e.clock())
	if v := testGauge(t, e.m.met.journalStalled); v != 1 {
		t.Fatalf("gateway_orders_journal_stalled = %v after the stall time", v)
	}
	if _, err := e.m.New(buy("s3", 100)); !errorsCode(err, CodeJournalStalled) {
		t.Fatalf("New with the journal stalled: %v, want orders.journal_stalled", err)
	}
	if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "r1", OrigClOrdID: "w1", Account: "A1", Price: 17000000, Qty: 200, Source: src}); !errorsCode(err, CodeJournalStalled) {
		t.Fatalf("Replace with the journal stalled: %v, want orders.journal_stalled", err)
	}
	if _, err := e.m.Cancel(CancelRequest{ClOrdID: "x1", OrigClOrdID: "w1", Account: "A1", Source: src}); err != nil {
		t.Fatalf("Cancel with the journal stalled: %v", err)
	}
	if n := len(e.core.list()); n != 1 {
		t.Fatalf("%d requests sent with the journal stalled, want only w1's", n)
	}

	sj.release(t)
	got := describe(e.core.wait(t, 4)[1:])
	if n := len(e.core.list()); n != 4 {
		t.Fatalf("sent after the stall: %v, want s1, s2 and the cancel", got)
	}
	if _, err := e.m.New(buy("s4", 100)); err != nil {
		t.Fatalf("New once the journal completes again: %v", err)
	}
	e.core.wait(t, 5)
	e.m.tick(e.clock())
	if v := testGauge(t, e.m.met.journalStalled); v != 0 {
		t.Fatalf("gateway_orders_journal_stalled = %v after the stall", v)
	}
}

// TestJournalStallGaugeLoweredAtClose: a manager closed while its journal
// is stalled (a leadership term ending, the gateway stopping) lowers
// gateway_orders_journal_stalled. Before, the gauge stayed 1 on the
// registry the next term's manager shares, which starts unstalled and so
// never lowered it: OrderJournalStalled fired for ever on a healthy leader.
func TestJournalStallGaugeLoweredAtClose(t *testing.T) {
	var sj *stallingJournal
	var stallNS atomic.Int64
	stallNS.Store(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).UnixNano())
	reg := prometheus.NewRegistry()
	e := newEnv(t, t.TempDir(), func(e *env, c *Config) {
		sj = &stallingJournal{Journal: e.jrnl}
		e.jrnl = sj
		c.Registry = reg
		c.stallClock = func() time.Time { return time.Unix(0, stallNS.Load()) }
	})
	sj.hold()
	if _, err := e.m.New(buy("s1", 100)); err != nil {
		t.Fatal(err)
	}
	stallNS.Add(int64(DefaultJournalStall))
	e.m.tick(e.clock())
	if v := registryGauge(t, reg, "gateway_orders_journal_stalled"); v != 1 {
		t.Fatalf("gateway_orders_journal_stalled = %v with the journal stalled", v)
	}

	e.j.Close() // the term ends: its journal first, then the manager
	e.m.Close()
	if v := registryGauge(t, reg, "gateway_orders_journal_stalled"); v != 0 {
		t.Fatalf("gateway_orders_journal_stalled = %v after the stalled manager closed", v)
	}
}

// registryGauge returns the value of the gauge named name in reg.
func registryGauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}
