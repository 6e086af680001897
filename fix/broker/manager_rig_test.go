package broker

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
	"sgw/journal"
	"sgw/orders"
	"sgw/refdata"
	"sgw/risk"
)

// rigWait bounds how long these tests wait for an event.
const rigWait = 10 * time.Second

// rigUpstream is an orders.Upstream that records what the manager
// sends; it is logged on.
type rigUpstream struct {
	// handed holds the ids of the requests an earlier process's upstream
	// had (Handed says HandedYes for them); read-only.
	handed map[string]bool

	mu     sync.Mutex
	sent   []any
	notify chan struct{}
}

func newRigUpstream() *rigUpstream { return &rigUpstream{notify: make(chan struct{})} }

func (u *rigUpstream) Send(req any) error {
	if p, ok := req.(fix.Prepared); ok {
		req = p.Request()
	}
	u.mu.Lock()
	u.sent = append(u.sent, req)
	close(u.notify)
	u.notify = make(chan struct{})
	u.mu.Unlock()
	return nil
}
func (u *rigUpstream) Handed(id string) fix.Handed {
	if u.handed[id] {
		return fix.HandedYes
	}
	return fix.HandedNo
}
func (u *rigUpstream) ResumeInboundAfter(int, int64) {}
func (u *rigUpstream) Queued() uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return uint64(len(u.sent))
}
func (u *rigUpstream) Left() uint64 { return u.Queued() }
func (u *rigUpstream) wait(t *testing.T, n int) []any {
	t.Helper()
	deadline := time.After(rigWait)
	for {
		u.mu.Lock()
		got, ch := append([]any(nil), u.sent...), u.notify
		u.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("upstream got %d requests, want %d", len(got), n)
		}
	}
}

// realHarness is an Acceptor that is never run, in front of a real
// orders.Manager (journal on disk, risk), with what it queues for the
// brokers captured.
type realHarness struct {
	a  *Acceptor
	m  *orders.Manager
	up *rigUpstream

	mu     sync.Mutex
	out    []sent
	notify chan struct{}
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
	a.sendHook = func(s *session, msg *quickfix.Message) {
		h.mu.Lock()
		h.out = append(h.out, sent{broker: s.id.TargetCompID, m: msg})
		close(h.notify)
		h.notify = make(chan struct{})
		h.mu.Unlock()
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
func newRigManager(t *testing.T, edit func(*risk.Config)) (*orders.Manager, *rigUpstream) {
	t.Helper()
	m, j, up := openRigManager(t, filepath.Join(t.TempDir(), "orders.jrnl"), edit, nil)
	t.Cleanup(m.Close)
	m.OnSessionUp("core", "line")
	t.Cleanup(func() { j.Close() })
	return m, up
}

// openRigManager is newRigManager on the journal at path, recovered from
// it, with its upstream not yet logged on (handed: the requests the
// upstream's store holds from earlier runs); the caller closes the
// journal, then the manager.
func openRigManager(t *testing.T, path string, edit func(*risk.Config), handed map[string]bool) (*orders.Manager, *journal.Journal, *rigUpstream) {
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
	rc, err := risk.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := orders.New(orders.Config{}, rc, j, nil)
	if err != nil {
		t.Fatal(err)
	}
	up := newRigUpstream()
	up.handed = handed
	m.AddUpstream("core", up)
	if _, err := m.Recover(); err != nil {
		t.Fatal(err)
	}
	return m, j, up
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
	nos := h.up.wait(t, 1)[0].(fix.NewOrder)
	h.m.OnExecReport("core", fix.ExecReport{ClOrdID: nos.ClOrdID, OrderID: "V1", ExecID: "E0", ExecType: '0', OrdStatus: '0',
		Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LeavesQty: 100})
	h.waitFor(t, "New (0) for o1", isReport("0", "o1"))
	return nos.ClOrdID
}
