package broker

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
	"sgw/journal"
	"sgw/orders"
	"sgw/orders/orderstest"
	"sgw/refdata"
	"sgw/risk"
)

// rigWait bounds how long these tests wait for an event.
const rigWait = 10 * time.Second

// realHarness is an Acceptor that is never run, in front of a real
// orders.Manager (journal on disk, risk), with what it queues for the
// brokers captured.
type realHarness struct {
	a  *Acceptor
	m  *orders.Manager
	up *orderstest.Line

	mu     sync.Mutex
	out    []sent
	notify chan struct{}
	// full, while set, makes the sessions' queues refuse what is sent
	// (fix.ErrQueueFull); out still shows it, dropped.
	full bool
}

func newRealHarness(t *testing.T, entry func(*orders.Manager) OrderEntry) *realHarness {
	t.Helper()
	m, up := newRigManager(t, nil)
	h := &realHarness{m: m, up: up, notify: make(chan struct{})}
	var e OrderEntry = m
	if entry != nil {
		e = entry(m)
	}
	a, err := New(testConfig(t), e, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	a.sendHook = func(s *session, msg *quickfix.Message) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.out = append(h.out, sent{broker: s.id.TargetCompID, m: msg, dropped: h.full})
		close(h.notify)
		h.notify = make(chan struct{})
		if h.full {
			return fix.ErrQueueFull
		}
		return nil
	}
	for _, s := range a.sessions {
		e.Register(s.src, s.sink) // as Run does
	}
	h.a = a
	return h
}

// newRigManager is a real orders.Manager (journal on disk, risk with
// accounts A1, A2 and B1, always open; edit, if not nil, changes the risk
// configuration) whose upstream "core" is up and records what it is sent.
func newRigManager(t *testing.T, edit func(*risk.Config)) (*orders.Manager, *orderstest.Line) {
	t.Helper()
	m, j, up := openRigManager(t, filepath.Join(t.TempDir(), "orders.jrnl"), edit, nil, nil)
	t.Cleanup(m.Close)
	m.OnSessionUp("core", "line")
	t.Cleanup(func() { j.Close() })
	return m, up
}

// openRigManager is newRigManager on the journal at path, recovered from
// it, with its upstream not yet logged on (handed: the requests the
// upstream's store holds from earlier runs), on risk's clock (nil: the
// system's); the caller closes the journal, then the manager.
func openRigManager(t *testing.T, path string, edit func(*risk.Config), handed map[string]bool, clock risk.Clock) (*orders.Manager, *journal.Journal, *orderstest.Line) {
	t.Helper()
	j, err := journal.Open(journal.Config{Path: path, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	in := refdata.Instrument{Symbol: "600519.SH", Board: refdata.BoardMain, PrevClose: 17000000}
	cfg := risk.Config{
		Instruments: []refdata.Instrument{in},
		Accounts: []risk.AccountConfig{
			{ID: "A1", Cash: 10_000_000 * refdata.PriceScale, Positions: map[string]int64{"600519.SH": 1000}},
			{ID: "A2", Cash: 10_000_000 * refdata.PriceScale},
			{ID: "B1", Cash: 10_000_000 * refdata.PriceScale},
		},
		Schedule: risk.ScheduleConfig{AlwaysOpen: true},
	}
	if edit != nil {
		edit(&cfg)
	}
	rc, err := risk.New(cfg, clock)
	if err != nil {
		t.Fatal(err)
	}
	m, err := orders.New(orders.Config{}, rc, j, nil)
	if err != nil {
		t.Fatal(err)
	}
	up := orderstest.NewLine(handed)
	m.AddUpstream(orderstest.Upstream, up)
	if _, err := m.Recover(); err != nil {
		t.Fatal(err)
	}
	return m, j, up
}

// restarting gives h's acceptor the stores of a new run, as Run makes
// them under Config.Restate: st (nil: a new, empty one) as s's store, the
// scan of its reports begun, and s recording the trades queued for it,
// its first logon to come.
// The stores are closed (their scans waited for) at the test's end.
func (h *realHarness) restarting(t *testing.T, s *session, st quickfix.MessageStore) {
	t.Helper()
	if st == nil {
		var err error
		if st, err = quickfix.NewMemoryStoreFactory().Create(s.id); err != nil {
			t.Fatal(err)
		}
	}
	h.a.kept = newKeptStores(fixedStore{st})
	if _, err := h.a.kept.Create(s.id); err != nil {
		t.Fatal(err)
	}
	k := h.a.kept
	t.Cleanup(func() {
		if err := k.Close(); err != nil {
			t.Error(err)
		}
	})
	s.restating()
	s.restated = false // the run's first logon is to come
}

func (h *realHarness) session(t *testing.T, broker string) *session {
	t.Helper()
	return sessionOf(t, h.a, broker)
}

// waitFor waits until a message queued for the brokers satisfies ok and
// returns it.
func (h *realHarness) waitFor(t *testing.T, what string, ok func(*quickfix.Message) bool) *quickfix.Message {
	t.Helper()
	deadline := time.After(rigWait)
	for {
		h.mu.Lock()
		out, ch := append([]sent(nil), h.out...), h.notify
		h.mu.Unlock()
		for _, o := range out {
			if ok(o.m) {
				return o.m
			}
		}
		select {
		case <-ch:
		case <-deadline:
			var got []string
			for _, o := range out {
				got = append(got, o.m.String())
			}
			t.Fatalf("no %s among the messages queued: %q", what, got)
		}
	}
}

// all returns every message queued so far.
func (h *realHarness) all() []*quickfix.Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*quickfix.Message
	for _, o := range h.out {
		out = append(out, o.m)
	}
	return out
}

// setFull makes the session's queue refuse (true) or take (false) what is
// sent from now on.
func (h *realHarness) setFull(full bool) {
	h.mu.Lock()
	h.full = full
	h.mu.Unlock()
}

// delivered returns the messages sent so far that the session's queue
// took (not dropped by a full queue), in order.
func (h *realHarness) delivered() []*quickfix.Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*quickfix.Message
	for _, o := range h.out {
		if !o.dropped {
			out = append(out, o.m)
		}
	}
	return out
}

// reportLines gives each message as the values of tags joined by "/",
// the ExecID left empty on a status (ExecType I: a new id each time).
func reportLines(ms []*quickfix.Message, tags ...quickfix.Tag) []string {
	var lines []string
	for _, m := range ms {
		vals := make([]string, len(tags))
		for i, tg := range tags {
			if tg != tag.ExecID || field(m, tag.ExecType) != "I" {
				vals[i] = field(m, tg)
			}
		}
		lines = append(lines, strings.Join(vals, "/"))
	}
	return lines
}

func isReport(execType, clOrdID string) func(*quickfix.Message) bool {
	return func(m *quickfix.Message) bool {
		return field(m, tag.MsgType) == "8" && field(m, tag.ExecType) == execType && field(m, tag.ClOrdID) == clOrdID
	}
}

// workingOrder enters o1 (A1, buy 100 at 1700) from BROKER1 and has the
// venue acknowledge it; it returns the order's upstream ClOrdID.
func (h *realHarness) workingOrder(t *testing.T, s *session) string {
	t.Helper()
	if rej := s.handle(inbound(t, "FIX.4.4", "D", "11=o1|1=A1|55=600519|207=XSHG|54=1|40=2|44=1700|38=100")); rej != nil {
		t.Fatalf("new order: %v", rej)
	}
	nos := h.up.Wait(t, 1)[0].(fix.NewOrder)
	h.m.OnExecReport("core", fix.ExecReport{ClOrdID: nos.ClOrdID, OrderID: "V1", ExecID: "E0", ExecType: '0', OrdStatus: '0',
		Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LeavesQty: 100})
	h.waitFor(t, "New (0) for o1", isReport("0", "o1"))
	return nos.ClOrdID
}
