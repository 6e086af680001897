package orders

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sgw/fix"
	"sgw/fix/qfcpp"
	"sgw/risk"
	"sgw/sim/faultproxy"
)

// wireLog is a slog.Handler that keeps the upstream's log records, every
// FIX message in and out among them (fix.LogFactory logs them below
// Debug, as "fix: message" with dir and msg), for a test to wait on. A
// failed test logs them. Safe for concurrent use.
type wireLog struct {
	st    *wireStore
	attrs []slog.Attr
}

type wireStore struct {
	mu     sync.Mutex
	recs   []wireRec
	notify chan struct{} // closed and replaced on each record
}

// wireRec is one log record: its message and attributes.
type wireRec struct {
	msg   string
	attrs map[string]string
}

// fields returns the fields of the FIX message a "fix: message" record
// carries (tag -> value, the last of a repeated tag).
func (r wireRec) fields() map[int]string {
	out := map[int]string{}
	for f := range strings.SplitSeq(r.attrs["msg"], "|") {
		k, v, ok := strings.Cut(f, "=")
		if n, err := strconv.Atoi(k); ok && err == nil {
			out[n] = v
		}
	}
	return out
}

// isMsg reports whether r is a FIX message in direction dir ("in", "out")
// of msgType whose fields include want.
func (r wireRec) isMsg(dir, msgType string, want map[int]string) bool {
	if r.msg != "fix: message" || r.attrs["dir"] != dir {
		return false
	}
	f := r.fields()
	if f[35] != msgType {
		return false
	}
	for k, v := range want {
		if f[k] != v {
			return false
		}
	}
	return true
}

func newWireLog(t *testing.T) *wireLog {
	w := &wireLog{st: &wireStore{notify: make(chan struct{})}}
	t.Cleanup(func() {
		if t.Failed() {
			var b strings.Builder
			for _, r := range w.records() {
				fmt.Fprintf(&b, "%s %v\n", r.msg, r.attrs)
			}
			t.Logf("gateway log:\n%s", b.String())
		}
	})
	return w
}

func (w *wireLog) Enabled(context.Context, slog.Level) bool { return true }
func (w *wireLog) Handle(_ context.Context, r slog.Record) error {
	rec := wireRec{msg: r.Message, attrs: map[string]string{}}
	for _, a := range w.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	w.st.mu.Lock()
	w.st.recs = append(w.st.recs, rec)
	close(w.st.notify)
	w.st.notify = make(chan struct{})
	w.st.mu.Unlock()
	return nil
}
func (w *wireLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &wireLog{st: w.st, attrs: append(append([]slog.Attr(nil), w.attrs...), attrs...)}
}
func (w *wireLog) WithGroup(string) slog.Handler { return w }

func (w *wireLog) records() []wireRec {
	w.st.mu.Lock()
	defer w.st.mu.Unlock()
	return w.st.recs[:len(w.st.recs):len(w.st.recs)]
}

// await waits for the first record from index from on that match
// accepts, and returns it and its index.
func (w *wireLog) await(t *testing.T, from int, what string, match func(wireRec) bool) (wireRec, int) {
	t.Helper()
	deadline := time.After(interopWait)
	for {
		w.st.mu.Lock()
		recs, ch := w.st.recs, w.st.notify
		w.st.mu.Unlock()
		for i := from; i < len(recs); i++ {
			if match(recs[i]) {
				return recs[i], i
			}
		}
		from = len(recs)
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("waiting for %s in the gateway's log", what)
		}
	}
}

// count counts the records that match accepts.
func (w *wireLog) count(match func(wireRec) bool) int {
	n := 0
	for _, r := range w.records() {
		if match(r) {
			n++
		}
	}
	return n
}

// venueCount counts the messages of msgType the venue received (kind
// qfcpp.Incoming) or sent (qfcpp.Outgoing) whose fields include want,
// PossDup resends (43=Y) among them: fresh, and resent.
func venueCount(v *qfcpp.Proc, kind, msgType string, want map[int]string) (fresh, dup int) {
	for _, e := range v.Entries() {
		if e.Kind != kind || e.Msg.Type() != msgType {
			continue
		}
		ok := true
		for k, val := range want {
			ok = ok && e.Msg.Get(k) == val
		}
		switch {
		case !ok:
		case e.Msg.Get(43) == "Y":
			dup++
		default:
			fresh++
		}
	}
	return fresh, dup
}

// isStatusAnswer reports whether m is the venue's answer to a status
// request of order uid (FIX 4.4 ExecType I; FIX 4.2 ExecTransType 3).
func isStatusAnswer(m qfcpp.Message, uid string) bool {
	return m.Type() == "8" && m.Get(11) == uid && (m.Get(150) == "I" || m.Get(20) == "3")
}

// TestStatusAskedAgainOverResendAgainstQuickFIX: QuickFIX C++ on the
// venue's side (qfcpp's statusvenue, which answers status requests) asks
// the gateway, by a ResendRequest, for messages of orders in doubt that a
// dead line lost: a NewOrderSingle, a cancel and (reconnect, and restart
// with lostStatus) the status requests of both, sent after the ack
// timeout. The resend delivers the order and the cancel once each,
// flagged PossDup (the venue sees each order once, none sent again as
// new), and gap-fills the status requests: the venue never reads them.
// Every order in doubt has its status asked again, after the resend, and
// answered; the order manager awaits nothing more.
//
// In the restart cases the gateway stops while the line is dead and
// starts again on its journal and store: its recovery asks the status of
// every order the venue has at the first logon, racing the venue's
// ResendRequest. A status request the gateway sent before it serves the
// ResendRequest is stashed by QuickFIX C++ behind the gap, and gap-filled
// and asked again by the gateway. QuickFIX C++ drops what it stashed when
// a gap fill jumps past it, which it does when the gateway's last lost
// messages were gap-filled too (lostStatus: one gap fill spans them, the
// logon and the recovery's requests), so each order is answered once.
// When the resend ends in a message sent again (the cancel), QuickFIX C++
// reads what it stashed once the resend reaches the logon and ignores the
// gap fill that follows: such a status request is answered twice, the
// one asked again included, which is harmless.
func TestStatusAskedAgainOverResendAgainstQuickFIX(t *testing.T) {
	for _, tc := range []struct {
		name, begin string
		restart     bool
		// lostStatus has the line lose status requests too, asked after
		// the ack timeout (always so without restart).
		lostStatus bool
	}{
		{name: "reconnect-FIX44", begin: qfcpp.FIX44, lostStatus: true},
		{name: "reconnect-FIX42", begin: qfcpp.FIX42, lostStatus: true},
		{name: "restart-FIX44", begin: qfcpp.FIX44, restart: true},
		{name: "restart-lostStatus-FIX44", begin: qfcpp.FIX44, restart: true, lostStatus: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kit := qfcpp.Build(t)
			gw, venue := "GWRS"+tc.name, "SVRS"+tc.name // quickfix (Go) registers sessions process-wide
			v := kit.StartStatusVenue(t, qfcpp.Venue{BeginString: tc.begin, SenderCompID: venue, TargetCompID: gw})
			line, err := faultproxy.New(v.Addr())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { line.Close() })
			// Heartbeats every 30 s: the stalled line is cut by the test,
			// not found silent by either side.
			up := fix.UpstreamConfig{Name: "core", SenderCompID: gw, TargetCompID: venue, BeginString: tc.begin,
				Lines: []fix.LineConfig{{Name: "lineA", Addr: line.Addr()}}, StoreDir: t.TempDir(), HeartBtInt: 30 * time.Second}
			clk := risk.NewManualClock(time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)) // Tuesday 10:00 in Shanghai
			j := &clockJournal{clk: clk}
			wl := newWireLog(t)
			r := startQFRunLog(t, clk, j, up, slog.New(wl))
			status := func(m *Manager, id string) Status {
				o, _ := m.Get("A1", id)
				return o.Status
			}
			r.place(t, "a1", risk.Buy, 200, 17_000_000)
			r.place(t, "a2", risk.Buy, 100, 16_900_000)
			r.await(t, "a1 and a2 resting", func(m *Manager) bool {
				return status(m, "a1") == StatusNew && status(m, "a2") == StatusNew
			})

			// The line goes dead: b1 and a1's cancel leave the gateway
			// and are lost.
			line.Stall()
			r.place(t, "b1", risk.Buy, 100, 16_800_000)
			if _, err := r.m.Cancel(CancelRequest{OrigClOrdID: "a1", Account: "A1", Source: src}); err != nil {
				t.Fatal(err)
			}
			uid := map[string]string{}
			for _, id := range []string{"a1", "a2", "b1"} {
				o, _ := r.m.Get("A1", id)
				uid[id] = o.UpstreamID
			}
			wl.await(t, 0, "b1 sent", func(r wireRec) bool { return r.isMsg("out", "D", map[int]string{11: uid["b1"]}) })
			_, at := wl.await(t, 0, "a1's cancel sent", func(r wireRec) bool { return r.isMsg("out", "F", map[int]string{41: uid["a1"]}) })
			inDoubt := []string{"a1", "a2", "b1"} // the recovery asks about every order the venue may have
			if !tc.restart {
				inDoubt = []string{"a1", "b1"} // those awaiting answers
			}
			lostStatus := map[string]int{} // order -> MsgSeqNum of its status request the line lost
			if tc.lostStatus {
				// Unanswered past the ack timeout: their status is asked,
				// and the line loses those requests too.
				clk.Advance(DefaultAckTimeout + time.Second)
				r.m.tick(clk.Now())
				for _, id := range []string{"a1", "b1"} {
					h, _ := wl.await(t, at, id+"'s status request sent", func(r wireRec) bool {
						return r.isMsg("out", "H", map[int]string{11: uid[id]})
					})
					lostStatus[id], _ = strconv.Atoi(h.fields()[34])
				}
			}
			line.Cut()
			line.Unstall() // what it held is dropped: the line was cut
			wl.await(t, 0, "the session down", func(r wireRec) bool { return r.msg == "fix: session down" })
			if tc.restart {
				r.stop()
				wl = newWireLog(t)
			}
			line.Restore()
			if tc.restart {
				r = startQFRunLog(t, clk, j, up, slog.New(wl))
			}

			// The venue asks for what it missed and gets it: b1 rests, a1
			// is canceled, and every status is answered.
			r.await(t, "b1 resting and a1 canceled", func(m *Manager) bool {
				return status(m, "b1") == StatusNew && status(m, "a1") == StatusCanceled
			})
			for _, id := range inDoubt {
				if _, err := v.Await(r.ctx(t), func(e qfcpp.Entry) bool {
					return e.Kind == qfcpp.Outgoing && isStatusAnswer(e.Msg, uid[id])
				}); err != nil {
					t.Fatalf("the venue never answered the status of %s (%s): %v", id, uid[id], err)
				}
			}
			// The venue answers in order: once c1's ack reaches the
			// client, the gateway has read every answer before it.
			r.place(t, "c1", risk.Buy, 100, 16_700_000)
			r.await(t, "c1 resting", func(m *Manager) bool { return status(m, "c1") == StatusNew })
			o, _ := r.m.Get("A1", "c1")
			uid["c1"] = o.UpstreamID

			r.m.mu.Lock()
			awaiting := r.m.routes["core"].awaiting.len()
			r.m.mu.Unlock()
			if awaiting != 0 {
				t.Errorf("the manager still awaits %d answers", awaiting)
			}
			for id, want := range map[string]Status{"a1": StatusCanceled, "a2": StatusNew, "b1": StatusNew, "c1": StatusNew} {
				if got := status(r.m, id); got != want {
					t.Errorf("%s: %s, want %s", id, got, want)
				}
			}

			// The venue's view: each order once, b1 as the resend of the
			// copy the line lost; one cancel; one answered status request
			// per order in doubt; no duplicate refused, no cancel refused.
			for _, id := range []string{"a1", "a2", "b1", "c1"} {
				fresh, dup := venueCount(v, qfcpp.Incoming, "D", map[int]string{11: uid[id]})
				want := [2]int{1, 0}
				if id == "b1" {
					want = [2]int{0, 1}
				}
				if [2]int{fresh, dup} != want {
					t.Errorf("the venue got %s %d times fresh and %d as a PossDup resend, want %v", id, fresh, dup, want)
				}
			}
			if fresh, dup := venueCount(v, qfcpp.Incoming, "F", map[int]string{41: uid["a1"]}); fresh != 0 || dup != 1 {
				t.Errorf("the venue got a1's cancel %d times fresh and %d as a resend, want the resend once", fresh, dup)
			}
			if n, _ := venueCount(v, qfcpp.Outgoing, "8", map[int]string{103: "6"}); n != 0 {
				t.Errorf("the venue refused %d duplicate orders", n)
			}
			if n, _ := venueCount(v, qfcpp.Outgoing, "9", nil); n != 0 {
				t.Errorf("the venue refused %d cancels", n)
			}
			answered := map[string]int{}
			for _, e := range v.Entries() {
				for _, id := range []string{"a1", "a2", "b1", "c1"} {
					if e.Kind == qfcpp.Outgoing && isStatusAnswer(e.Msg, uid[id]) {
						answered[id]++
					}
				}
			}
			for _, id := range inDoubt {
				// Twice only where QuickFIX C++ read a request it stashed
				// that the gateway gap-filled and asked again.
				if answered[id] != 1 && (answered[id] != 2 || !tc.restart || tc.lostStatus) {
					t.Errorf("the venue answered %d status requests of %s, want 1", answered[id], id)
				}
			}
			if len(answered) != len(inDoubt) {
				t.Errorf("the venue answered status requests of %v, want those of %v", answered, inDoubt)
			}
			// The status requests the line lost: the venue never read
			// them, its resend skipped their numbers by a gap fill, and
			// the gateway asked again.
			for id, seq := range lostStatus {
				for _, e := range v.Entries() {
					if e.Kind == qfcpp.Incoming && e.Msg.Type() == "H" && e.Msg.Get(34) == strconv.Itoa(seq) {
						t.Errorf("the venue read %s's lost status request (MsgSeqNum %d) as %s", id, seq, e.Text)
					}
				}
				filled := false
				for _, e := range v.Entries() {
					first, _ := strconv.Atoi(e.Msg.Get(34))
					next, _ := strconv.Atoi(e.Msg.Get(36))
					filled = filled || e.Kind == qfcpp.Incoming && e.Msg.Type() == "4" && e.Msg.Get(123) == "Y" && first <= seq && seq < next
				}
				if !filled {
					t.Errorf("no gap fill over %s's lost status request (MsgSeqNum %d) reached the venue", id, seq)
				}
			}
			again := wl.count(func(r wireRec) bool {
				return r.msg == "fix: a status request the upstream asked for again is asked afresh"
			})
			if !tc.restart && again != len(inDoubt) {
				t.Errorf("the gateway asked %d status requests again, want %d", again, len(inDoubt))
			}
			t.Logf("%d status requests gap-filled and asked again; status answers by order: %v", again, answered)
		})
	}
}

// ctx returns a context for a wait of the run: it ends after interopWait
// or with t.
func (r *qfRun) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), interopWait)
	t.Cleanup(cancel)
	return ctx
}
