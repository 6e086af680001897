package orders

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sgw/journal"
	"sgw/refdata"
	"sgw/risk"
)

// fakeUpstream records what the manager sends.
type fakeUpstream struct {
	mu   sync.Mutex
	sent []string
	last string // upstream id of the last request
}

// add records a request; uid, when set, is its upstream id.
func (f *fakeUpstream) add(uid, s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if uid != "" {
		f.last = uid
	}
	f.sent = append(f.sent, s)
	return nil
}
func (f *fakeUpstream) NewOrder(o Order) error { return f.add(o.UpstreamID, "new "+o.ClOrdID) }
func (f *fakeUpstream) Cancel(o Order, uid string) error {
	return f.add(uid, "cancel of "+o.ClOrdID)
}
func (f *fakeUpstream) Replace(o Order, uid string, p refdata.Price, q int64) error {
	return f.add(uid, fmt.Sprintf("replace of %s %s %d", o.ClOrdID, p, q))
}
func (f *fakeUpstream) Status(o Order) error { return f.add("", "status "+o.ClOrdID) }

// wait waits until n requests have been sent and returns the last one's
// upstream id.
func (f *fakeUpstream) wait(t *testing.T, n int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		got, last := len(f.sent), f.last
		f.mu.Unlock()
		if got >= n {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("upstream got %d requests, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func (f *fakeUpstream) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.sent...)
}

// events collects delivered events.
type events struct {
	mu  sync.Mutex
	evs []Event
}

func (e *events) OrderEvent(ev Event) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
}

func (e *events) wait(t *testing.T, n int) []Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.mu.Lock()
		got := append([]Event(nil), e.evs...)
		e.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d events, want %d: %+v", len(got), n, got)
		}
		time.Sleep(time.Millisecond)
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

type env struct {
	m         *Manager
	j         *journal.Journal
	rc        *risk.Checker
	core, mgn *fakeUpstream
	ev        *events
}

func newEnv(t *testing.T, dir string) *env {
	t.Helper()
	j, err := journal.Open(journal.Config{Path: filepath.Join(dir, "orders.jrnl")})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := risk.New(riskConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{j: j, rc: rc, core: &fakeUpstream{}, mgn: &fakeUpstream{}, ev: &events{}}
	e.m, err = New(Config{CreditAccounts: []string{"M1"}}, rc, j, map[string]Upstream{"core": e.core, "margin": e.mgn}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Recover(); err != nil {
		t.Fatal(err)
	}
	e.m.Register(src, e.ev)
	return e
}

func buy(id string, qty int64) NewRequest {
	return NewRequest{ClOrdID: id, Account: "A1", Symbol: "600519.SH", Side: risk.Buy, Type: risk.Limit, Price: 17000000, Qty: qty, Source: src}
}

// er builds a report for the order the client knows as id.
func (e *env) er(id string, execType, status byte, lastQty, cum, leaves int64, execID string) ExecReport {
	o, _ := e.m.Get("A1", id)
	return ExecReport{ClOrdID: o.UpstreamID, OrderID: "X" + id, ExecID: execID, ExecType: execType, OrdStatus: status,
		LastPx: 17000000, AvgPx: 17000000, LastQty: lastQty, CumQty: cum, LeavesQty: leaves}
}

func TestOrderLifecycle(t *testing.T) {
	e := newEnv(t, t.TempDir())
	defer e.j.Close()
	if _, err := e.m.New(buy("c1", 300)); err != nil {
		t.Fatal(err)
	}
	evs := e.ev.wait(t, 1)
	if evs[0].Kind != EventAccepted || evs[0].Order.Status != StatusPendingNew {
		t.Fatalf("first event %+v", evs[0])
	}
	e.core.wait(t, 1)
	if got := e.core.list(); len(got) != 1 || got[0] != "new c1" {
		t.Fatalf("core upstream got %v", got)
	}
	e.m.OnExecReport(e.er("c1", '0', '0', 0, 0, 300, "e1"))
	e.m.OnExecReport(e.er("c1", 'F', '1', 100, 100, 200, "e2"))
	e.m.OnExecReport(e.er("c1", 'F', '1', 100, 100, 200, "e2")) // PossDup resend: ignored
	evs = e.ev.wait(t, 3)
	o, _ := e.m.Get("A1", "c1")
	if o.CumQty != 100 || o.LeavesQty != 200 || o.Status != StatusPartiallyFilled || o.OrderID != "Xc1" {
		t.Fatalf("after a fill: %+v", o)
	}
	st, _ := e.rc.Snapshot("A1")
	if st.Cash != (10_000_000-300*1700)*refdata.PriceScale {
		t.Fatalf("cash %s", st.Cash)
	}
	// Cancel the rest.
	if _, err := e.m.Cancel(CancelRequest{ClOrdID: "x1", OrigClOrdID: "c1", Account: "A1", Source: src}); err != nil {
		t.Fatal(err)
	}
	e.m.OnExecReport(ExecReport{ClOrdID: e.core.wait(t, 2), ExecID: "e3", ExecType: '4', OrdStatus: '4', CumQty: 100, LeavesQty: 0})
	evs = e.ev.wait(t, 5)
	if last := evs[4]; last.Order.Status != StatusCanceled || last.Ref != "x1" {
		t.Fatalf("cancel event %+v", last)
	}
	st, _ = e.rc.Snapshot("A1")
	if st.Cash != (10_000_000-100*1700)*refdata.PriceScale {
		t.Fatalf("cash after cancel %s: the unfilled 200 must be released", st.Cash)
	}
}

func TestRejectsAreNotJournaled(t *testing.T) {
	e := newEnv(t, t.TempDir())
	defer e.j.Close()
	before := e.j.LastSeq()
	_, err := e.m.New(NewRequest{ClOrdID: "c1", Account: "A1", Symbol: "600519.SH", Side: risk.Buy, Type: risk.Limit, Price: 19000000, Qty: 100, Source: src})
	var rej *risk.Reject
	if !errors.As(err, &rej) || rej.Code != "risk.price_band" {
		t.Fatalf("New = %v, want risk.price_band", err)
	}
	if _, err := e.m.Cancel(CancelRequest{OrigClOrdID: "nope", Account: "A1", Source: src}); err == nil {
		t.Fatal("cancel of an unknown order accepted")
	}
	if e.j.LastSeq() != before || len(e.core.list()) != 0 {
		t.Fatal("a rejected request was journaled or sent")
	}
}

func TestCreditAccountsGoToMargin(t *testing.T) {
	e := newEnv(t, t.TempDir())
	defer e.j.Close()
	req := buy("m1", 100)
	req.Account = "M1"
	if _, err := e.m.New(req); err != nil {
		t.Fatal(err)
	}
	e.mgn.wait(t, 1)
	if len(e.mgn.list()) != 1 || len(e.core.list()) != 0 {
		t.Fatalf("core %v margin %v", e.core.list(), e.mgn.list())
	}
}

func TestReplace(t *testing.T) {
	e := newEnv(t, t.TempDir())
	defer e.j.Close()
	e.m.New(buy("c1", 300))
	e.m.OnExecReport(e.er("c1", '0', '0', 0, 0, 300, "e1"))
	if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "r1", OrigClOrdID: "c1", Account: "A1", Price: 16990000, Qty: 500, Source: src}); err != nil {
		t.Fatal(err)
	}
	e.m.OnExecReport(ExecReport{ClOrdID: e.core.wait(t, 2), ExecID: "e2", ExecType: '5', OrdStatus: '0', LeavesQty: 500})
	o, _ := e.m.Get("A1", "c1")
	if o.ClOrdID != "r1" || o.Price != 16990000 || o.Qty != 500 || o.LeavesQty != 500 {
		t.Fatalf("after replace %+v", o)
	}
	// A refused replace leaves the order as it was.
	e.m.Replace(ReplaceRequest{ClOrdID: "r2", OrigClOrdID: "r1", Account: "A1", Price: 17000000, Qty: 600, Source: src})
	e.m.OnCancelReject(CancelReject{ClOrdID: e.core.wait(t, 3), Text: "too late"})
	if o, _ := e.m.Get("A1", "r1"); o.Price != 16990000 || o.Qty != 500 {
		t.Fatalf("after a refused replace %+v", o)
	}
}

// TestRestartRebuildsAndReconciles journals a day, restarts on the same
// journal and checks the rebuilt orders and risk state, the reconciliation
// gate, and the status requests.
func TestRestartRebuildsAndReconciles(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	e.m.New(buy("c1", 300))
	e.m.New(buy("c2", 200))
	e.m.OnExecReport(e.er("c1", '0', '0', 0, 0, 300, "e1"))
	e.m.OnExecReport(e.er("c1", 'F', '1', 100, 100, 200, "e2"))
	e.m.OnExecReport(e.er("c2", '0', '0', 0, 0, 200, "e3"))
	e.m.OnExecReport(e.er("c2", 'F', '2', 200, 200, 0, "e4"))
	e.ev.wait(t, 6)
	want, _ := e.rc.Snapshot("A1")
	if err := e.j.Close(); err != nil {
		t.Fatal(err)
	}

	r := newEnv(t, dir)
	defer r.j.Close()
	got, _ := r.rc.Snapshot("A1")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("risk state after restart:\n got  %+v\n want %+v", got, want)
	}
	c1, _ := r.m.Get("A1", "c1")
	c2, _ := r.m.Get("A1", "c2")
	if c1.CumQty != 100 || c1.Status != StatusPartiallyFilled || c2.Status != StatusFilled {
		t.Fatalf("orders after restart: %+v %+v", c1, c2)
	}
	// The open order's state is unknown until the upstream reports it.
	if _, err := r.m.New(buy("c3", 100)); err == nil || !errorsCode(err, "orders.reconciling") {
		t.Fatalf("New during reconciliation = %v", err)
	}
	if n := r.m.Reconcile("core"); n != 1 || r.core.list()[0] != "status c1" { // Status is sent at once
		t.Fatalf("reconcile sent %d: %v", n, r.core.list())
	}
	// The upstream filled 100 more while the gateway was down.
	c1u, _ := r.m.Get("A1", "c1")
	r.m.OnExecReport(ExecReport{ClOrdID: c1u.UpstreamID, ExecID: "s1", ExecType: 'I', OrdStatus: '1', AvgPx: 17000000, CumQty: 200, LeavesQty: 100})
	if o, _ := r.m.Get("A1", "c1"); o.CumQty != 200 || o.Status != StatusPartiallyFilled {
		t.Fatalf("after status %+v", o)
	}
	if _, err := r.m.New(buy("c3", 100)); err != nil {
		t.Fatalf("New after reconciliation: %v", err)
	}
	if _, err := r.m.New(buy("c1", 100)); err == nil {
		t.Fatal("a client order id of before the restart was accepted again")
	}
	c2u, _ := r.m.Get("A1", "c2")
	if c3, _ := r.m.Get("A1", "c3"); c3.UpstreamID == c1u.UpstreamID || c3.UpstreamID == c2u.UpstreamID || !strings.HasPrefix(c3.UpstreamID, "GW") {
		t.Fatalf("upstream ids after restart: c3 %q, c1 %q, c2 %q: must be new", c3.UpstreamID, c1u.UpstreamID, c2u.UpstreamID)
	}
}

func errorsCode(err error, code string) bool {
	var r *Reject
	return errors.As(err, &r) && r.Code == code
}
