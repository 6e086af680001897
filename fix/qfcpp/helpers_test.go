package qfcpp

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/fix"
)

// waitTimeout bounds every wait of a test: generous, for a loaded
// two-core machine running the race detector. Tests wait for events, and
// only a broken test waits this long.
const waitTimeout = 90 * time.Second

// testContext returns a context that ends after waitTimeout or when t
// ends.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// compIDSeq keeps CompIDs unique within the test binary: quickfix (Go)
// registers sessions process-wide.
var compIDSeq atomic.Int64

// compIDs returns fresh CompIDs for the gateway (or broker) and the venue.
func compIDs() (gateway, venue string) {
	n := compIDSeq.Add(1)
	return fmt.Sprintf("GW%d", n), fmt.Sprintf("VENUE%d", n)
}

// upstreamEvent is one call of a fix.Handler.
type upstreamEvent struct {
	kind string // "up", "down", "exec" or "cancelReject"
	line string
	err  error
	er   fix.ExecReport
	cr   fix.CancelReject
}

// recorder is a fix.Handler that keeps every call, for tests to wait on.
type recorder struct {
	events feed[upstreamEvent]
}

var _ fix.Handler = (*recorder)(nil)

func (r *recorder) OnExecReport(_ string, er fix.ExecReport) {
	r.events.add(upstreamEvent{kind: "exec", er: er})
}
func (r *recorder) OnCancelReject(_ string, cr fix.CancelReject) {
	r.events.add(upstreamEvent{kind: "cancelReject", cr: cr})
}
func (r *recorder) OnSessionUp(_ string, line string) {
	r.events.add(upstreamEvent{kind: "up", line: line})
}
func (r *recorder) OnSessionDown(_ string, line string, err error) {
	r.events.add(upstreamEvent{kind: "down", line: line, err: err})
}

// awaitExec waits for the first execution report for clOrdID that match
// accepts (nil: any).
func (r *recorder) awaitExec(t *testing.T, ctx context.Context, clOrdID string, match func(fix.ExecReport) bool) fix.ExecReport {
	t.Helper()
	e, err := r.events.await(ctx, 0, nil, func(e upstreamEvent) bool {
		return e.kind == "exec" && e.er.ClOrdID == clOrdID && (match == nil || match(e.er))
	})
	if err != nil {
		t.Fatalf("waiting for an execution report for %s: %v", clOrdID, err)
	}
	return e.er
}

// awaitSession waits for the n-th event of kind "up" or "down" (n from 1).
func (r *recorder) awaitSession(t *testing.T, ctx context.Context, kind string, n int) upstreamEvent {
	t.Helper()
	seen := 0
	e, err := r.events.await(ctx, 0, nil, func(e upstreamEvent) bool {
		if e.kind == kind {
			seen++
		}
		return e.kind == kind && seen == n
	})
	if err != nil {
		t.Fatalf("waiting for session %s #%d: %v", kind, n, err)
	}
	return e
}

// execsFor returns the execution reports received so far for clOrdID.
func (r *recorder) execsFor(clOrdID string) []fix.ExecReport {
	events, _ := r.events.since(0)
	var out []fix.ExecReport
	for _, e := range events {
		if e.kind == "exec" && e.er.ClOrdID == clOrdID {
			out = append(out, e.er)
		}
	}
	return out
}

// logRecord is one record logged by the code under test.
type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (r logRecord) String() string {
	return fmt.Sprintf("%s %s %v", r.level, r.msg, r.attrs)
}

// logCapture is a slog.Handler that keeps every record, for tests to wait
// on; a failed test logs them.
type logCapture struct {
	recs  *feed[logRecord]
	attrs []slog.Attr
}

func newLogCapture(t *testing.T) *logCapture {
	c := &logCapture{recs: &feed[logRecord]{}}
	t.Cleanup(func() {
		if t.Failed() {
			recs, _ := c.recs.since(0)
			var b strings.Builder
			for _, r := range recs {
				b.WriteString(r.String())
				b.WriteByte('\n')
			}
			t.Logf("gateway log:\n%s", b.String())
		}
	})
	return c
}

func (c *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range c.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	c.recs.add(rec)
	return nil
}
func (c *logCapture) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logCapture{recs: c.recs, attrs: append(append([]slog.Attr(nil), c.attrs...), attrs...)}
}
func (c *logCapture) WithGroup(string) slog.Handler { return c }

// await waits for the first record whose message is msg and that match
// accepts (nil: any).
func (c *logCapture) await(t *testing.T, ctx context.Context, msg string, match func(logRecord) bool) logRecord {
	t.Helper()
	r, err := c.recs.await(ctx, 0, nil, func(r logRecord) bool {
		return r.msg == msg && (match == nil || match(r))
	})
	if err != nil {
		t.Fatalf("waiting for the log record %q: %v", msg, err)
	}
	return r
}

// upstream is a running fix.Upstream with its handler and log.
type upstream struct {
	u    *fix.Upstream
	rec  *recorder
	logs *logCapture
	stop func() // cancels Run and waits for it; idempotent
}

// startUpstream runs a fix.Upstream on cfg until stop or the end of t.
func startUpstream(t *testing.T, cfg fix.UpstreamConfig) *upstream {
	t.Helper()
	up := &upstream{rec: &recorder{}, logs: newLogCapture(t)}
	u, err := fix.NewUpstream(cfg, up.rec, prometheus.NewRegistry(), slog.New(up.logs))
	if err != nil {
		t.Fatal(err)
	}
	up.u = u
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	var stopped atomic.Bool
	up.stop = func() {
		cancel()
		if stopped.CompareAndSwap(false, true) {
			if err := <-done; err != nil {
				t.Errorf("Upstream.Run: %v", err)
			}
		}
	}
	t.Cleanup(up.stop)
	return up
}

// send sends req through the upstream, failing t on error.
func (up *upstream) send(t *testing.T, req any) {
	t.Helper()
	if err := up.u.Send(req); err != nil {
		t.Fatalf("Send %+v: %v", req, err)
	}
}

// awaitEntry waits for the venue's first log entry that match accepts.
func awaitEntry(t *testing.T, ctx context.Context, v *Proc, what string, match func(Entry) bool) Entry {
	t.Helper()
	e, err := v.Await(ctx, match)
	if err != nil {
		t.Fatalf("waiting for %s in the %s log: %v", what, v.kind.name, err)
	}
	return e
}

// isMsg returns a match for entries of kind carrying a message of msgType
// whose fields include want (tag -> value).
func isMsg(kind, msgType string, want map[int]string) func(Entry) bool {
	return func(e Entry) bool {
		if e.Kind != kind || e.Msg.Type() != msgType {
			return false
		}
		for tag, v := range want {
			if e.Msg.Get(tag) != v {
				return false
			}
		}
		return true
	}
}
