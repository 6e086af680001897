package orders

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sgw/fix"
	"sgw/journal"
	"sgw/refdata"
	"sgw/risk"
)

// waitFor is how long a test waits for an event before failing.
const waitFor = 10 * time.Second

// fakeUpstream records what the manager sends. It starts logged on.
type fakeUpstream struct {
	mu     sync.Mutex
	down   bool
	sent   []any
	handed map[string]fix.Handed
	notify chan struct{} // closed and replaced on each Send
	// resumeAfter and resumePeriod are what ResumeInboundAfter was told.
	resumeAfter  int
	resumePeriod int64
	// hold keeps the requests sent from now on in the session's queue;
	// left counts those that have left it.
	hold bool
	left int
	// full refuses every Send with fix.ErrQueueFull, as a session whose
	// own queue is full does.
	full bool
}

func newFakeUpstream() *fakeUpstream {
	return &fakeUpstream{handed: map[string]fix.Handed{}, notify: make(chan struct{})}
}

func (f *fakeUpstream) Send(req any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return fix.ErrNotLoggedOn
	}
	if f.full {
		return fix.ErrQueueFull
	}
	if p, ok := req.(fix.Prepared); ok {
		req = p.Request() // as the venue will see it
	}
	f.sent = append(f.sent, req)
	if !f.hold {
		f.left = len(f.sent)
	}
	close(f.notify)
	f.notify = make(chan struct{})
	return nil
}

func (f *fakeUpstream) Handed(id string) fix.Handed {
	f.mu.Lock()
	defer f.mu.Unlock()
	if h, ok := f.handed[id]; ok {
		return h
	}
	return fix.HandedNo
}

func (f *fakeUpstream) ResumeInboundAfter(seq int, period int64) {
	f.mu.Lock()
	f.resumeAfter, f.resumePeriod = seq, period
	f.mu.Unlock()
}

// Queued implements Upstream: every request sent.
func (f *fakeUpstream) Queued() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return uint64(len(f.sent))
}

// Left implements Upstream: the requests sent before setHold(true) and
// since setHold(false).
func (f *fakeUpstream) Left() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return uint64(f.left)
}

// setHold(true) keeps the requests sent from now on in the session's
// queue; setHold(false) lets every request sent leave it.
func (f *fakeUpstream) setHold(hold bool) {
	f.mu.Lock()
	f.hold = hold
	if !hold {
		f.left = len(f.sent)
	}
	f.mu.Unlock()
}

// setFull(true) refuses every Send from now on as fix.ErrQueueFull;
// setFull(false) takes them again.
func (f *fakeUpstream) setFull(full bool) {
	f.mu.Lock()
	f.full = full
	f.mu.Unlock()
}

func (f *fakeUpstream) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

// wait waits until n requests have been sent and returns them all.
func (f *fakeUpstream) wait(t *testing.T, n int) []any {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		f.mu.Lock()
		got, ch := append([]any(nil), f.sent...), f.notify
		f.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("upstream got %d requests, want %d: %s", len(got), n, describe(got))
		}
	}
}

func (f *fakeUpstream) list() []any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]any(nil), f.sent...)
}

// describe renders requests as "D:uid" etc.
func describe(reqs []any) []string {
	var out []string
	for _, r := range reqs {
		uid, kind := reqID(r)
		s := string(kind) + ":" + uid
		if n, ok := r.(fix.NewOrder); ok && n.PossResend {
			s += "(possresend)"
		}
		out = append(out, s)
	}
	return out
}

// events collects delivered events.
type events struct {
	mu     sync.Mutex
	evs    []Event
	notify chan struct{}
}

func newEvents() *events { return &events{notify: make(chan struct{})} }

func (e *events) OrderEvent(ev Event) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	close(e.notify)
	e.notify = make(chan struct{})
	e.mu.Unlock()
}

// wait waits until n events arrived and returns them.
func (e *events) wait(t *testing.T, n int) []Event {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		e.mu.Lock()
		got, ch := append([]Event(nil), e.evs...), e.notify
		e.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("got %d events, want %d: %+v", len(got), n, got)
		}
	}
}

var src = Source{Kind: "ws", Session: "c1"}

func riskConfig() risk.Config {
	in := refdata.Instrument{Symbol: "600519.SH", Board: refdata.BoardMain, PrevClose: 17000000}
	return risk.Config{
		Instruments: []refdata.Instrument{in},
		Accounts: []risk.AccountConfig{
			{ID: "A1", Cash: 10_000_000 * refdata.PriceScale, Positions: map[string]int64{"600519.SH": 1000}},
			{ID: "M1", Credit: true, Cash: 1_000_000 * refdata.PriceScale},
		},
		Schedule: risk.ScheduleConfig{AlwaysOpen: true},
	}
}

// env is a manager on a journal in dir, with fake core and margin
// upstreams, both logged on.
type env struct {
	t         *testing.T
	dir       string
	m         *Manager
	j         *journal.Journal
	jrnl      Journal // what the manager uses: j, or a wrapper
	rc        *risk.Checker
	core, mgn *fakeUpstream
	ev        *events
	nowNS     atomic.Int64
	noLogon   bool // set by an option: the sessions do not log on in newEnv
}

type envOpt func(*env, *Config)

func newEnv(t *testing.T, dir string, opts ...envOpt) *env {
	t.Helper()
	j, err := journal.Open(journal.Config{Path: filepath.Join(dir, "orders.jrnl"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := risk.New(riskConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, j: j, jrnl: j, rc: rc, core: newFakeUpstream(), mgn: newFakeUpstream(), ev: newEvents()}
	e.nowNS.Store(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).UnixNano())
	cfg := Config{CreditAccounts: []string{"M1"}, Clock: e.clock}
	for _, o := range opts {
		o(e, &cfg)
	}
	e.m, err = New(cfg, e.rc, e.jrnl, nil) // an option may give its own checker
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.m.Close) // after the journal's Close below
	e.m.AddUpstream("core", e.core)
	e.m.AddUpstream("margin", e.mgn)
	if _, err := e.m.Recover(); err != nil {
		t.Fatal(err)
	}
	e.m.Register(src, e.ev)
	if !e.noLogon {
		e.m.OnSessionUp("core", "carrierA")
		e.m.OnSessionUp("margin", "carrierA")
	}
	t.Cleanup(func() { j.Close() })
	return e
}

// clock is the manager's clock, moved by advance.
func (e *env) clock() time.Time { return time.Unix(0, e.nowNS.Load()) }

// advance moves the clock.
func (e *env) advance(d time.Duration) time.Time {
	return time.Unix(0, e.nowNS.Add(int64(d)))
}

func buy(id string, qty int64) NewRequest {
	return NewRequest{ClOrdID: id, Account: "A1", Symbol: "600519.SH", Side: risk.Buy, Type: risk.Limit, Price: 17000000, Qty: qty, Source: src}
}

// working places a buy of qty as id, waits for it to reach the core
// upstream, and acknowledges it: a working order.
func (e *env) working(id string, qty int64) {
	e.t.Helper()
	n := len(e.core.list())
	if _, err := e.m.New(buy(id, qty)); err != nil {
		e.t.Fatal(err)
	}
	e.core.wait(e.t, n+1)
	e.m.OnExecReport("core", e.er(id, '0', '0', 0, 0, qty, "n"+id))
}

// uid returns the upstream id of the order the client knows as id.
func (e *env) uid(id string) string {
	o, ok := e.m.Get("A1", id)
	if !ok {
		e.t.Fatalf("no order %s", id)
	}
	return o.UpstreamID
}

// er builds a report for the order the client knows as id.
func (e *env) er(id string, execType, status byte, lastQty, cum, leaves int64, execID string) fix.ExecReport {
	return fix.ExecReport{ClOrdID: e.uid(id), OrderID: "X" + id, ExecID: execID, ExecType: execType, OrdStatus: status,
		LastPx: 17000000, AvgPx: 17000000, LastQty: lastQty, CumQty: cum, LeavesQty: leaves}
}

func errorsCode(err error, code string) bool {
	var r *Reject
	var rr *risk.Reject
	return errors.As(err, &r) && r.Code == code || errors.As(err, &rr) && rr.Code == code
}

// records returns the journal's records as "type:uid/clOrdID" strings,
// the day records (dayRec) aside: Recover journals one, and so does the
// first request after midnight in Shanghai on the wall clock.
func records(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	err := journal.ReadFile(path, func(r journal.Record) error {
		if r.Type != recDay {
			out = append(out, fmt.Sprintf("%c", r.Type))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// path is the journal file.
func (e *env) path() string { return filepath.Join(e.dir, "orders.jrnl") }

// a1 returns account A1's state in m's risk, and its position in
// 600519.SH (zero if it holds none).
func a1(t *testing.T, m *Manager) (risk.AccountState, risk.PositionState) {
	t.Helper()
	a, err := m.Account("A1")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range a.Positions {
		if p.Symbol == "600519.SH" {
			return a, p
		}
	}
	return a, risk.PositionState{Symbol: "600519.SH"}
}
