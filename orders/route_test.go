package orders

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"sgw/fix"
	"sgw/journal"
)

// TestFailoverHoldsOrders: while the session is down (a carrier
// failover) orders are accepted and held, not refused; what the session
// had queued but not handed over comes back first; after the logon
// everything goes out once, in order.
func TestFailoverHoldsOrders(t *testing.T) {
	e := newEnv(t, t.TempDir())
	e.m.New(buy("c0", 100))
	first := e.core.wait(t, 1)[0]
	// The line fails: the session gives back c0, which it had queued.
	e.core.setDown(true)
	e.m.OnSessionDown("core", "carrierA", fix.ErrLineBroken, []any{first})
	for i := 1; i <= 5; i++ {
		if _, err := e.m.New(buy(fmt.Sprintf("c%d", i), 100)); err != nil {
			t.Fatalf("c%d refused during the failover: %v", i, err)
		}
	}
	e.ev.wait(t, 6) // six acceptances: journaled, held
	e.core.setDown(false)
	e.m.OnSessionUp("core", "carrierB")
	sent := e.core.wait(t, 7)
	var got []string
	for _, r := range sent[1:] {
		got = append(got, r.(fix.NewOrder).ClOrdID)
	}
	var want []string
	for i := 0; i <= 5; i++ {
		want = append(want, e.uid(fmt.Sprintf("c%d", i)))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the logon the upstream got %v, want %v in order", got, want)
	}
}

// TestHoldIsBounded: the hold queue refuses beyond its size, and a request
// held beyond the hold time ends rejected (journaled, so a restart does not
// send it).
func TestHoldIsBounded(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir, func(_ *env, c *Config) { c.HoldQueue, c.HoldTimeout = 3, 5*time.Second })
	e.core.setDown(true)
	e.m.OnSessionDown("core", "carrierA", fix.ErrLineSilent, nil)
	for i := range 3 {
		if _, err := e.m.New(buy(fmt.Sprintf("h%d", i), 100)); err != nil {
			t.Fatal(err)
		}
	}
	e.ev.wait(t, 3)
	if _, err := e.m.New(buy("h3", 100)); !errorsCode(err, CodeUpstreamDown) {
		t.Fatalf("a 4th order with a hold queue of 3: %v", err)
	}
	e.m.tick(e.advance(6 * time.Second))
	evs := e.ev.wait(t, 6)
	for _, ev := range evs[3:] {
		if ev.Kind != EventExec || ev.ExecType != '8' || ev.Code != CodeUpstreamDown || ev.Order.Status != StatusRejected {
			t.Fatalf("expiry event %+v", ev)
		}
	}
	if _, err := e.m.New(buy("h4", 100)); !errorsCode(err, CodeUpstreamDown) || !strings.Contains(err.Error(), "unavailable for") {
		t.Fatalf("New while down beyond the hold time: %v", err)
	}
	// The session comes back: nothing expired goes out.
	e.core.setDown(false)
	e.m.OnSessionUp("core", "carrierB")
	if got := e.core.list(); len(got) != 0 {
		t.Fatalf("expired requests sent: %v", describe(got))
	}
	// Nor after a restart.
	e.j.Close()
	r := newEnv(t, dir)
	if got := r.core.list(); len(got) != 0 {
		t.Fatalf("expired requests sent after a restart: %v", describe(got))
	}
	if o, _ := r.m.Get("A1", "h0"); o.Status != StatusRejected {
		t.Fatalf("h0 after restart: %+v", o)
	}
}

// TestUpstreamRejectsEndRequests: a venue that answers a replace or a
// status request with BusinessMessageReject (Unsupported Message Type)
// leaves nothing pending: the replace is refused with the reason, risk
// releases it (another replace is accepted), and status requests stop.
func TestUpstreamRejectsEndRequests(t *testing.T) {
	e := newEnv(t, t.TempDir())
	e.m.New(buy("c1", 100))
	e.core.wait(t, 1)
	e.m.OnExecReport("core", e.er("c1", '0', '0', 0, 0, 100, "e1"))
	if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "r1", OrigClOrdID: "c1", Account: "A1", Price: 16990000, Qty: 200, Source: src}); err != nil {
		t.Fatal(err)
	}
	g := e.core.wait(t, 2)[1].(fix.ReplaceRequest)
	e.m.OnReject("core", fix.Reject{ClOrdID: g.ClOrdID, MsgType: "G", Reason: 3, Text: "Unsupported Message Type"})
	evs := e.ev.wait(t, 4)
	last := evs[3]
	if last.Kind != EventCancelReject || last.Ref != "r1" || last.Code != CodeUpstreamReject || !strings.Contains(last.Text, "Unsupported Message Type") {
		t.Fatalf("the client heard %+v", last)
	}
	if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "r2", OrigClOrdID: "c1", Account: "A1", Price: 16980000, Qty: 200, Source: src}); err != nil {
		t.Fatalf("a second replace after the refused one: %v (risk.replace_pending must not stick)", err)
	}
	// A new order refused as a message is rejected.
	e.m.New(buy("c2", 100))
	d := e.core.wait(t, 4)[3].(fix.NewOrder)
	e.m.OnReject("core", fix.Reject{ClOrdID: d.ClOrdID, MsgType: "D", Session: true, Reason: 5, Text: "Value is incorrect"})
	if o, _ := e.m.Get("A1", "c2"); o.Status != StatusRejected {
		t.Fatalf("c2 after a session Reject: %+v", o)
	}
	// A status request refused: no more are sent.
	e.m.OnReject("core", fix.Reject{ClOrdID: e.uid("c1"), MsgType: "H", Reason: 3})
	if !e.m.routes["core"].noStatus {
		t.Fatal("the route still asks for status")
	}
}

// TestAckTimeoutAsksStatus: a request without an answer gets a status
// request; a cancel unanswered even then ends refused.
func TestAckTimeoutAsksStatus(t *testing.T) {
	e := newEnv(t, t.TempDir(), func(_ *env, c *Config) { c.AckTimeout = time.Second })
	e.m.New(buy("c1", 100))
	e.core.wait(t, 1)
	e.m.tick(e.advance(2 * time.Second))
	if h, ok := e.core.wait(t, 2)[1].(fix.StatusRequest); !ok || h.ClOrdID != e.uid("c1") {
		t.Fatalf("after the ack timeout the upstream got %v", describe(e.core.list()))
	}
	// The status answer says the order works.
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid("c1"), ExecType: 'I', OrdStatus: '0', LeavesQty: 100})
	if o, _ := e.m.Get("A1", "c1"); o.Status != StatusNew {
		t.Fatalf("after the status answer: %+v", o)
	}
	e.m.Cancel(CancelRequest{ClOrdID: "x1", OrigClOrdID: "c1", Account: "A1", Source: src})
	e.core.wait(t, 3)
	e.m.tick(e.advance(2 * time.Second)) // asks the status
	e.core.wait(t, 4)
	e.m.tick(e.advance(2 * time.Second)) // gives up on the cancel
	evs := e.ev.wait(t, 4)               // accepted, status, cancel accepted, cancel refused
	if last := evs[len(evs)-1]; last.Kind != EventCancelReject || last.Ref != "x1" || last.Code != CodeUpstreamReject {
		t.Fatalf("the unanswered cancel ended with %+v", last)
	}
}

// failingJournal wraps the journal: failCommit makes the next commits
// fail (the callback gets the error), refuse makes appends fail at once.
// commitErr, when set, is the error of the failed commits (errDisk if
// not).
type failingJournal struct {
	Journal
	failCommit, refuse bool
	commitErr          error
}

var errDisk = errors.New("injected: disk full")

func (f *failingJournal) AppendAsync(typ byte, body []byte, done func(uint64, error)) error {
	if f.refuse {
		return errDisk
	}
	if f.failCommit {
		cerr := f.commitErr
		if cerr == nil {
			cerr = errDisk
		}
		return f.Journal.AppendAsync(typ, body, func(seq uint64, err error) { done(seq, cerr) })
	}
	return f.Journal.AppendAsync(typ, body, done)
}

// TestJournalFailureFailsClosed: a failed commit rejects the order it
// carried (the client is told), refuses every later request with a clear
// code, raises the alert, and nothing hangs: a fill arriving afterwards is
// still applied and delivered (it used to deadlock order entry).
func TestJournalFailureFailsClosed(t *testing.T) {
	var fj *failingJournal
	e := newEnv(t, t.TempDir(), func(e *env, _ *Config) { fj = &failingJournal{Journal: e.jrnl}; e.jrnl = fj })
	e.m.New(buy("c1", 100))
	e.core.wait(t, 1)
	e.m.OnExecReport("core", e.er("c1", '0', '0', 0, 0, 100, "e1"))
	e.ev.wait(t, 2)

	fj.failCommit = true
	if _, err := e.m.New(buy("c2", 100)); err != nil {
		t.Fatalf("New before the failure is known: %v", err)
	}
	evs := e.ev.wait(t, 3)
	if ev := evs[2]; ev.ExecType != '8' || ev.Code != CodeJournal || ev.Order.Status != StatusRejected {
		t.Fatalf("the client of the failed order heard %+v", ev)
	}
	if len(e.core.list()) != 1 {
		t.Fatalf("the failed order was sent: %v", describe(e.core.list()))
	}
	fj.refuse = true
	if _, err := e.m.New(buy("c3", 100)); !errorsCode(err, CodeJournal) {
		t.Fatalf("New after the failure: %v", err)
	}
	// A fill for c1 still reaches the client; Stats does not hang.
	e.m.OnExecReport("core", e.er("c1", 'F', '2', 100, 100, 0, "e2"))
	evs = e.ev.wait(t, 4)
	if ev := evs[3]; ev.ExecType != 'F' || ev.Order.Status != StatusFilled {
		t.Fatalf("the fill after the failure: %+v", ev)
	}
	_ = e.m.Stats()
	if v := testGauge(t, e.m.met.journalFailed); v != 1 {
		t.Fatalf("gateway_orders_journal_failed = %v", v)
	}
}

// TestJournalRollbackFailedInDoubt: a commit that failed and could not
// be cut from the file either (journal.ErrRollback; here the record is
// in the file indeed) may be replayed, and sent, after a restart: its
// client hears orders.in_doubt, not that it was not sent; the journal
// counts as failed all the same. Before, the client heard
// orders.journal_failed, "the order was not sent", and could enter it
// again while the restart sent the first.
func TestJournalRollbackFailedInDoubt(t *testing.T) {
	var fj *failingJournal
	e := newEnv(t, t.TempDir(), func(e *env, _ *Config) { fj = &failingJournal{Journal: e.jrnl}; e.jrnl = fj })
	fj.failCommit = true
	fj.commitErr = fmt.Errorf("%w: fsync: %w (%w: %w)", journal.ErrFailed, errDisk, journal.ErrRollback, errDisk)
	if _, err := e.m.New(buy("c1", 100)); err != nil {
		t.Fatalf("New before the failure is known: %v", err)
	}
	if ev := e.ev.wait(t, 1)[0]; ev.ExecType != '8' || ev.Code != CodeInDoubt || ev.Order.Status != StatusRejected {
		t.Fatalf("the client of the order the journal could not roll back heard %+v, want orders.in_doubt", ev)
	}
	if len(e.core.list()) != 0 {
		t.Fatalf("the failed order was sent: %v", describe(e.core.list()))
	}
	if _, err := e.m.New(buy("c2", 100)); !errorsCode(err, CodeJournal) {
		t.Fatalf("New after the failure: %v, want orders.journal_failed", err)
	}
	if v := testGauge(t, e.m.met.journalFailed); v != 1 {
		t.Fatalf("gateway_orders_journal_failed = %v", v)
	}
}

// TestInDoubtEndsTheTermNotTheNode: a replicated journal whose term ends
// with a record in flight (leadership or quorum lost: ErrInDoubt) rejects
// that record's order orders.in_doubt and refuses later requests
// orders.not_leader (not recorded: send again), but raises no journal
// alert: the gauge is shared by every term's manager on the node, and the
// next term accepts orders again.
func TestInDoubtEndsTheTermNotTheNode(t *testing.T) {
	var fj *failingJournal
	e := newEnv(t, t.TempDir(), func(e *env, _ *Config) { fj = &failingJournal{Journal: e.jrnl}; e.jrnl = fj })
	fj.failCommit, fj.commitErr = true, fmt.Errorf("cluster: leadership lost while committing: %w", ErrInDoubt)
	if _, err := e.m.New(buy("c1", 100)); err != nil {
		t.Fatalf("New before the outcome is known: %v", err)
	}
	if ev := e.ev.wait(t, 1)[0]; ev.ExecType != '8' || ev.Code != CodeInDoubt {
		t.Fatalf("the client of the order in flight heard %+v", ev)
	}
	if _, err := e.m.New(buy("c2", 100)); !errorsCode(err, CodeNotLeader) {
		t.Fatalf("New after the term's end: %v", err)
	}
	if v := testGauge(t, e.m.met.journalFailed); v != 0 {
		t.Fatalf("gateway_orders_journal_failed = %v after a term's end", v)
	}
}

// TestHeldCancelEndsWithItsOrder: an order and its cancel both held when
// the hold time runs out: the order is rejected and the cancel refused,
// each once, and neither goes out when the session returns.
func TestHeldCancelEndsWithItsOrder(t *testing.T) {
	e := newEnv(t, t.TempDir(), func(_ *env, c *Config) { c.HoldTimeout = 5 * time.Second })
	e.core.setDown(true)
	e.m.OnSessionDown("core", "carrierA", fix.ErrLineBroken, nil)
	e.m.New(buy("h1", 100))
	e.ev.wait(t, 1)
	if _, err := e.m.Cancel(CancelRequest{ClOrdID: "x1", OrigClOrdID: "h1", Account: "A1", Source: src}); err != nil {
		t.Fatal(err)
	}
	e.ev.wait(t, 2)
	e.m.tick(e.advance(6 * time.Second))
	evs := e.ev.wait(t, 4)
	var rejected, refused int
	for _, ev := range evs[2:] {
		switch {
		case ev.Kind == EventExec && ev.ExecType == '8' && ev.Ref == "h1":
			rejected++
		case ev.Kind == EventCancelReject && ev.Ref == "x1":
			refused++
		}
	}
	if rejected != 1 || refused != 1 {
		t.Fatalf("events after the hold time: %+v", evs[2:])
	}
	e.core.setDown(false)
	e.m.OnSessionUp("core", "carrierB")
	if got := e.core.list(); len(got) != 0 {
		t.Fatalf("sent after the logon: %v", describe(got))
	}
}

// TestOverdueOnceTheVenueHadIt: a request without an answer is asked
// about only once the venue has had it to answer, however long it waited
// before: not while it is still in the session's own queue, nor while the
// venue is busy answering what was sent before it; at once when the
// venue answers something sent after it, or has answered nothing for the
// ack timeout. A status request is given up by the same rule. Asking
// sooner would only queue a status request behind the request and add to
// the backlog that delayed it.
func TestOverdueOnceTheVenueHadIt(t *testing.T) {
	e := newEnv(t, t.TempDir(), func(_ *env, c *Config) { c.AckTimeout, c.StatusTimeout = time.Second, time.Second })
	rt := e.m.routes["core"]
	sent := func(want int) {
		t.Helper()
		if got := e.core.list(); len(got) != want {
			t.Fatalf("sent %v; want %d requests", describe(got), want)
		}
	}

	// Still in the session's queue: never asked.
	e.core.setHold(true)
	e.m.New(buy("q1", 100))
	e.core.wait(t, 1)
	e.m.tick(e.advance(2 * time.Second))
	e.m.tick(e.advance(10 * time.Second))
	sent(1)
	e.core.setHold(false)
	e.m.OnExecReport("core", e.er("q1", '0', '0', 0, 0, 100, "eq1"))

	// The venue is busy with earlier requests: c1 is not asked about
	// until the venue answers c2, sent after it.
	e.m.New(buy("c0", 100))
	e.m.New(buy("c1", 100))
	e.m.New(buy("c2", 100))
	e.core.wait(t, 4)
	e.m.tick(e.advance(800 * time.Millisecond))
	e.m.OnExecReport("core", e.er("c0", '0', '0', 0, 0, 100, "e0"))
	e.m.tick(e.advance(700 * time.Millisecond)) // c1, c2 waited 1.5 s; the venue answered 0.7 s ago
	sent(4)
	e.m.OnExecReport("core", e.er("c2", '0', '0', 0, 0, 100, "e2"))
	e.m.tick(e.advance(10 * time.Millisecond))
	if h, ok := e.core.wait(t, 5)[4].(fix.StatusRequest); !ok || h.ClOrdID != e.uid("c1") {
		t.Fatalf("after the venue answered a later request the upstream got %v", describe(e.core.list()))
	}
	sent(5)

	// The status request waits in the session's queue: neither it nor
	// c1 is given up; once it has left and the venue stays silent, both
	// are.
	e.m.OnExecReport("core", e.er("c1", '0', '0', 0, 0, 100, "e1")) // c1's own answer ends its wait, not the status request's
	e.m.New(buy("c3", 100))
	e.core.wait(t, 6)
	e.core.setHold(true)
	e.m.tick(e.advance(1100 * time.Millisecond))
	if h, ok := e.core.wait(t, 7)[6].(fix.StatusRequest); !ok || h.ClOrdID != e.uid("c3") {
		t.Fatalf("c3 unanswered while the venue was silent: the upstream got %v", describe(e.core.list()))
	}
	uid := e.uid("c3")
	e.m.tick(e.advance(5 * time.Second))
	e.m.mu.Lock()
	statusAwaited, orderAwaited := rt.awaiting.byStatus[e.m.byUID[uid]] != nil, rt.awaiting.byUID[uid] != nil
	e.m.mu.Unlock()
	if !statusAwaited || !orderAwaited || testCounter(t, e.m.met.unanswered.WithLabelValues("core")) != 0 {
		t.Fatalf("gave up while the status request was still in the queue: status awaited %v, order awaited %v",
			statusAwaited, orderAwaited)
	}
	e.core.setHold(false)
	e.m.tick(e.advance(10 * time.Millisecond))
	if n := testCounter(t, e.m.met.unanswered.WithLabelValues("core")); n != 1 {
		t.Fatalf("after the status request left the queue to a silent venue: %v orders given up as unanswered; want 1", n)
	}
	sent(7)
}

// TestChangeOvertaken: a cancel or replace whose order is filled (or
// otherwise ended) before the venue answers it ends at once: the client
// hears a cancel reject (orders.too_late) after the fill, nothing is
// awaited any more (no status request after the ack timeout, nothing for
// Drain to wait for), the venue's own late reject changes nothing, and a
// replay ends the same.
func TestChangeOvertaken(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir, func(_ *env, c *Config) { c.AckTimeout = time.Second })
	rt := e.m.routes["core"]
	e.m.New(buy("c1", 100))
	e.m.New(buy("c2", 100))
	e.core.wait(t, 2)
	e.m.OnExecReport("core", e.er("c1", '0', '0', 0, 0, 100, "e1"))
	e.m.OnExecReport("core", e.er("c2", '0', '0', 0, 0, 100, "e2"))
	if _, err := e.m.Cancel(CancelRequest{ClOrdID: "x1", OrigClOrdID: "c1", Account: "A1", Source: src}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "r2", OrigClOrdID: "c2", Account: "A1", Price: 16990000, Qty: 100, Source: src}); err != nil {
		t.Fatal(err)
	}
	reqs := e.core.wait(t, 4)
	x1, r2 := reqs[2].(fix.CancelRequest), reqs[3].(fix.ReplaceRequest)
	e.ev.wait(t, 6) // accepted ×2, new ×2, cancel and replace accepted

	e.m.OnExecReport("core", e.er("c1", 'F', '2', 100, 100, 0, "e3"))
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid("c2"), OrderID: "Xc2", ExecID: "e4", ExecType: 'C', OrdStatus: 'C'})
	evs := e.ev.wait(t, 10)[6:]
	want := []struct {
		kind EventKind
		ref  string
	}{{EventExec, "c1"}, {EventCancelReject, "x1"}, {EventExec, "c2"}, {EventCancelReject, "r2"}}
	for i, w := range want {
		if ev := evs[i]; ev.Kind != w.kind || ev.Ref != w.ref || (w.kind == EventCancelReject && ev.Code != CodeTooLate) {
			t.Fatalf("event %d after the fill and the expiry: %+v; want %s for %s", i, ev, w.kind, w.ref)
		}
	}
	e.m.mu.Lock()
	awaited := rt.awaiting.len()
	e.m.mu.Unlock()
	if awaited != 0 {
		t.Fatalf("%d requests still awaited after their orders ended", awaited)
	}
	e.m.tick(e.advance(2 * time.Second))
	if got := e.core.list(); len(got) != 4 {
		t.Fatalf("sent after the ack timeout: %v", describe(got[4:]))
	}
	// The venue's own rejects come late: nothing changes, nobody hears.
	e.m.OnCancelReject("core", fix.CancelReject{ClOrdID: x1.ClOrdID, OrigClOrdID: x1.OrigClOrdID, Text: "too late"})
	e.m.OnCancelReject("core", fix.CancelReject{ClOrdID: r2.ClOrdID, OrigClOrdID: r2.OrigClOrdID, Text: "too late", ResponseTo: '2'})
	e.m.New(buy("c3", 100)) // events come in journal order: c3's accepted follows anything they caused
	if ev := e.ev.wait(t, 11)[10]; ev.Kind != EventAccepted || ev.Ref != "c3" {
		t.Fatalf("after the venue's late rejects the client heard %+v", ev)
	}
	c1, _ := e.m.Get("A1", "c1")
	c2, _ := e.m.Get("A1", "c2")
	e.j.Close()
	r := newEnv(t, dir)
	for _, want := range []Order{c1, c2} {
		got, _ := r.m.Get("A1", want.ClOrdID)
		if got.Status != want.Status || got.CumQty != want.CumQty || got.Price != want.Price || got.Text != want.Text {
			t.Fatalf("after replay %s is %+v; want %+v", want.ClOrdID, got, want)
		}
	}
}

// TestHeldChangeOvertaken: a cancel held while the session is down, whose
// order is filled meanwhile, is refused orders.too_late at once and never
// sent when the session returns.
func TestHeldChangeOvertaken(t *testing.T) {
	e := newEnv(t, t.TempDir())
	e.m.New(buy("c1", 100))
	e.core.wait(t, 1)
	e.m.OnExecReport("core", e.er("c1", '0', '0', 0, 0, 100, "e1"))
	e.core.setDown(true)
	e.m.OnSessionDown("core", "carrierA", fix.ErrLineBroken, nil)
	if _, err := e.m.Cancel(CancelRequest{ClOrdID: "x1", OrigClOrdID: "c1", Account: "A1", Source: src}); err != nil {
		t.Fatal(err)
	}
	e.ev.wait(t, 3) // accepted, new, cancel accepted
	e.m.OnExecReport("core", e.er("c1", 'F', '2', 100, 100, 0, "e2"))
	if evs := e.ev.wait(t, 5); evs[4].Kind != EventCancelReject || evs[4].Ref != "x1" || evs[4].Code != CodeTooLate {
		t.Fatalf("after the fill the client heard %+v", evs[3:])
	}
	e.core.setDown(false)
	e.m.OnSessionUp("core", "carrierB")
	e.m.New(buy("c2", 100)) // sent after whatever the logon released
	if got := e.core.wait(t, 2); len(got) != 2 || describe(got)[1] != "N:"+e.uid("c2") {
		t.Fatalf("sent after the logon: %v", describe(got))
	}
	e.m.mu.Lock()
	awaited, held := e.m.routes["core"].awaiting.len(), len(e.m.routes["core"].held)
	e.m.mu.Unlock()
	if awaited != 1 || held != 0 {
		t.Fatalf("awaiting %d requests (want 1, c2), %d held", awaited, held)
	}
}

// TestUpstreamRejectLabelsBounded: RefMsgType is the upstream's text; a
// venue that fills it with a new value on every reject of a known order
// adds no series to gateway_orders_upstream_rejects_total beyond the
// request types and "other" (which exist from the start, at zero).
func TestUpstreamRejectLabelsBounded(t *testing.T) {
	e := newEnv(t, t.TempDir())
	e.working("c1", 100)
	uid := e.uid("c1")
	for i := range 200 {
		e.m.OnReject("core", fix.Reject{ClOrdID: uid, MsgType: fmt.Sprintf("Z%d\n%s", i, strings.Repeat("x", i)), Reason: 3})
	}
	e.m.OnReject("core", fix.Reject{ClOrdID: uid, MsgType: "H", Reason: 3})
	series := map[string]float64{}
	ch := make(chan prometheus.Metric, 16)
	go func() { e.m.met.upstreamRejects.Collect(ch); close(ch) }()
	for mt := range ch {
		var d dto.Metric
		if err := mt.Write(&d); err != nil {
			t.Fatal(err)
		}
		var up, mt string
		for _, l := range d.GetLabel() {
			switch l.GetName() {
			case "upstream":
				up = l.GetValue()
			case "msg_type":
				mt = l.GetValue()
			}
		}
		series[up+" "+mt] = d.GetCounter().GetValue()
	}
	want := map[string]float64{}
	for _, up := range []string{"core", "margin"} {
		for _, mt := range []string{"D", "F", "G", "H", "other"} {
			want[up+" "+mt] = 0
		}
	}
	want["core other"], want["core H"] = 200, 1
	if !maps.Equal(series, want) {
		t.Fatalf("upstream rejects %v, want %v", series, want)
	}
}

// TestHoldBoundedAcrossFlaps: a session that logs on and drops again
// before the request reaches quickfix (a venue that accepts the logon and
// never answers, so the pacer hands nothing over before the heartbeat
// silence ends the session) gives the request back at every drop. Its
// hold time runs from when it was first held: it ends rejected
// (orders.upstream_unavailable) once held longer than Config.HoldTimeout
// in all, however often the session flaps. Before, each reclaim held it
// again from that moment, and a session flapping faster than the hold
// time kept it pending forever.
func TestHoldBoundedAcrossFlaps(t *testing.T) {
	e := newEnv(t, t.TempDir(), func(_ *env, c *Config) { c.HoldTimeout = 5 * time.Second })
	e.core.setDown(true)
	e.m.OnSessionDown("core", "carrierA", fix.ErrLineSilent, nil)
	if _, err := e.m.New(buy("f1", 100)); err != nil {
		t.Fatal(err)
	}
	e.ev.wait(t, 1) // accepted, held
	sent := 0
	for cycle := range 6 {
		e.m.tick(e.advance(3 * time.Second)) // down 3s: within the hold time
		e.core.setDown(false)
		e.m.OnSessionUp("core", "carrierB")
		got := e.core.list()
		reclaimed := append([]any(nil), got[sent:]...)
		sent = len(got)
		e.m.tick(e.advance(time.Second)) // up 1s: the venue answers nothing
		e.core.setDown(true)
		e.m.OnSessionDown("core", "carrierB", fix.ErrLineSilent, reclaimed)
		if o, _ := e.m.Get("A1", "f1"); o.Status.Terminal() {
			if cycle > 1 {
				t.Fatalf("f1 ended only after %d flaps; the hold time is 5s and a flap 4s", cycle+1)
			}
			return
		}
	}
	e.m.tick(e.advance(time.Second))
	o, _ := e.m.Get("A1", "f1")
	if o.Status != StatusRejected {
		t.Fatalf("f1 after 24s of a session flapping, hold time 5s: %s (sent %d times); want rejected", o.Status, sent)
	}
}

// TestAckTimeoutBoundedAcrossFlaps: a cancel handed to quickfix, whose
// venue accepts every logon and never answers, while the session drops
// and logs on again faster than the ack timeout. The ack timeout counts
// the time the session was up since the cancel was handed over, across
// the drops: its status is asked, and the cancel ends refused
// (orders.upstream_reject) after twice the ack timeout of up time. Before,
// each logon started the ack timeout afresh, and a session up for less
// than it at a time kept the cancel, and its order, pending forever.
func TestAckTimeoutBoundedAcrossFlaps(t *testing.T) {
	e := newEnv(t, t.TempDir(), func(_ *env, c *Config) { c.AckTimeout = 2 * time.Second })
	e.working("c1", 100)
	if _, err := e.m.Cancel(CancelRequest{ClOrdID: "x1", OrigClOrdID: "c1", Account: "A1", Source: src}); err != nil {
		t.Fatal(err)
	}
	e.core.wait(t, 2) // handed over: FIX resend delivers it after each logon
	for range 20 {
		for range 3 { // up 1.5s
			e.m.tick(e.advance(500 * time.Millisecond))
		}
		e.core.setDown(true)
		e.m.OnSessionDown("core", "carrierA", fix.ErrLineSilent, nil)
		e.m.tick(e.advance(500 * time.Millisecond)) // down 0.5s
		e.core.setDown(false)
		e.m.OnSessionUp("core", "carrierB")
		if o, _ := e.m.Get("A1", "c1"); o.Pending() == 0 {
			break
		}
	}
	if o, _ := e.m.Get("A1", "c1"); o.Pending() != 0 {
		t.Fatalf("after 40s of a session up 1.5s at a time, ack timeout 2s: the cancel still pending (order %s); upstream got %v",
			o.Status, describe(e.core.list()))
	}
	evs := e.ev.wait(t, 4) // accepted, acknowledged, cancel accepted, cancel refused
	if last := evs[3]; last.Kind != EventCancelReject || last.Ref != "x1" || last.Code != CodeUpstreamReject {
		t.Fatalf("the unanswered cancel ended with %+v", last)
	}
}

// TestAckTimeoutNotBehindStatusRequest: a status request awaiting its
// answer (status timeout 30s) does not hold up a cancel handed over
// after it (ack timeout 1s): the cancel's status is asked once it has
// waited the ack timeout, and it ends refused (orders.upstream_reject)
// after twice that, while the status request still awaits its own
// answer. Before, the requests were timed in one queue, the oldest first,
// and the status request at its head hid every later deadline until its
// own: the cancel stayed pending for the status timeout.
func TestAckTimeoutNotBehindStatusRequest(t *testing.T) {
	e := newEnv(t, t.TempDir(), func(_ *env, c *Config) { c.AckTimeout, c.StatusTimeout = time.Second, 30*time.Second })
	rt := e.m.routes["core"]
	e.working("c2", 100)
	e.m.New(buy("c1", 100))
	e.core.wait(t, 2)
	e.m.tick(e.advance(1500 * time.Millisecond)) // c1 unanswered: its status is asked
	if h, ok := e.core.wait(t, 3)[2].(fix.StatusRequest); !ok || h.ClOrdID != e.uid("c1") {
		t.Fatalf("after the ack timeout the upstream got %v", describe(e.core.list()))
	}
	if _, err := e.m.Cancel(CancelRequest{ClOrdID: "x2", OrigClOrdID: "c2", Account: "A1", Source: src}); err != nil {
		t.Fatal(err)
	}
	e.core.wait(t, 4)
	e.m.tick(e.advance(1100 * time.Millisecond)) // the cancel waited past the ack timeout
	if got := e.core.list(); len(got) != 5 || describe(got)[4] != "H:"+e.uid("c2") {
		t.Fatalf("the cancel waited 1.1s, ack timeout 1s, behind a status request of timeout 30s: the upstream got %v; want a status request of c2 last",
			describe(got))
	}
	e.m.tick(e.advance(1100 * time.Millisecond)) // and its status request too: the cancel ends
	evs := e.ev.wait(t, 5)                       // c2 accepted, acknowledged, c1 accepted, cancel accepted, refused
	if last := evs[len(evs)-1]; last.Kind != EventCancelReject || last.Ref != "x2" || last.Code != CodeUpstreamReject {
		t.Fatalf("the unanswered cancel ended with %+v", last)
	}
	uid := e.uid("c1")
	e.m.mu.Lock()
	c1Asked := rt.awaiting.byStatus[e.m.byUID[uid]] != nil
	e.m.mu.Unlock()
	if !c1Asked {
		t.Fatal("c1's status request was given up before its status timeout")
	}
}

// TestHoldExpiresEachAtItsTime: a request held while the session is up
// (its queue full) is ended once held longer than the hold time, even
// behind a request the session gave back at a later drop (held from
// then). Before, only the front of the queue was looked at, and the
// later one hid the earlier one's end until its own.
func TestHoldExpiresEachAtItsTime(t *testing.T) {
	e := newEnv(t, t.TempDir(), func(_ *env, c *Config) { c.HoldTimeout = 5 * time.Second })
	e.m.New(buy("a1", 100))
	a1 := e.core.wait(t, 1)[0] // in the session's queue
	e.core.setFull(true)
	if _, err := e.m.New(buy("b1", 100)); err != nil {
		t.Fatal(err)
	}
	e.ev.wait(t, 2)                      // accepted both; b1 held
	e.m.tick(e.advance(4 * time.Second)) // the queue stays full
	e.core.setDown(true)
	e.m.OnSessionDown("core", "carrierA", fix.ErrLineSilent, []any{a1}) // a1 held from now, before b1
	e.m.tick(e.advance(2 * time.Second))
	if o, _ := e.m.Get("A1", "b1"); o.Status != StatusRejected {
		t.Fatalf("b1 held 6s, hold time 5s, behind a1 held 2s: %s; want rejected", o.Status)
	}
	if o, _ := e.m.Get("A1", "a1"); o.Status.Terminal() {
		t.Fatalf("a1 held 2s, hold time 5s: %s", o.Status)
	}
	if evs := e.ev.wait(t, 3); evs[2].Ref != "b1" || evs[2].Code != CodeUpstreamDown {
		t.Fatalf("b1 ended with %+v", evs[2])
	}
	e.m.tick(e.advance(4 * time.Second))
	if o, _ := e.m.Get("A1", "a1"); o.Status != StatusRejected {
		t.Fatalf("a1 held 6s, hold time 5s: %s; want rejected", o.Status)
	}
	e.core.setFull(false)
	e.core.setDown(false)
	e.m.OnSessionUp("core", "carrierB")
	if got := e.core.list(); len(got) != 1 {
		t.Fatalf("expired requests sent: %v", describe(got))
	}
}

// TestHoldExpiresReclaimedAtItsTime: a request the session gives back at
// a drop is held again from when it was first held, which may be before
// every request still held: it ends at its own hold time, though expire
// last looked through held after it had left.
func TestHoldExpiresReclaimedAtItsTime(t *testing.T) {
	e := newEnv(t, t.TempDir(), func(_ *env, c *Config) { c.HoldTimeout = 5 * time.Second })
	e.core.setDown(true)
	e.m.OnSessionDown("core", "carrierA", fix.ErrLineSilent, nil)
	if _, err := e.m.New(buy("f1", 100)); err != nil {
		t.Fatal(err)
	}
	e.ev.wait(t, 1) // f1 held from now
	e.advance(time.Second)
	e.core.setDown(false)
	e.m.OnSessionUp("core", "carrierB")
	f1 := e.core.wait(t, 1)[0] // in the session's queue
	e.core.setFull(true)
	if _, err := e.m.New(buy("g1", 100)); err != nil {
		t.Fatal(err)
	}
	e.ev.wait(t, 2)                              // g1 held from now
	e.m.tick(e.advance(4500 * time.Millisecond)) // f1 would be past the hold time, g1 is not
	e.core.setDown(true)
	e.m.OnSessionDown("core", "carrierB", fix.ErrLineSilent, []any{f1})
	e.m.tick(e.advance(100 * time.Millisecond))
	if o, _ := e.m.Get("A1", "f1"); o.Status != StatusRejected {
		t.Fatalf("f1 first held 5.6s ago, hold time 5s: %s; want rejected", o.Status)
	}
	if o, _ := e.m.Get("A1", "g1"); o.Status.Terminal() {
		t.Fatalf("g1 held 4.6s, hold time 5s: %s", o.Status)
	}
}

// TestHoldExpiredCountsOnce: a held cancel whose order passes the hold
// time in the same pass ends with the order and is not counted expired
// again, as when it was held later than its order.
func TestHoldExpiredCountsOnce(t *testing.T) {
	e := newEnv(t, t.TempDir(), func(_ *env, c *Config) { c.HoldTimeout = 5 * time.Second })
	e.core.setDown(true)
	e.m.OnSessionDown("core", "carrierA", fix.ErrLineSilent, nil)
	if _, err := e.m.New(buy("n1", 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Cancel(CancelRequest{ClOrdID: "x1", OrigClOrdID: "n1", Account: "A1", Source: src}); err != nil {
		t.Fatal(err)
	}
	e.ev.wait(t, 2) // both accepted, both held
	e.m.tick(e.advance(6 * time.Second))
	if o, _ := e.m.Get("A1", "n1"); o.Status != StatusRejected {
		t.Fatalf("n1 held past the hold time: %s; want rejected", o.Status)
	}
	if evs := e.ev.wait(t, 4); evs[3].Kind != EventCancelReject || evs[3].Ref != "x1" {
		t.Fatalf("x1 ended with %+v; want its cancel_reject", evs[3])
	}
	if n := testutil.ToFloat64(e.m.met.expired.WithLabelValues("core")); n != 1 {
		t.Fatalf("gateway_orders_hold_expired_total %v; want 1 (the order; its cancel ended with it)", n)
	}
}
