package feed

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sgw/feed/szse"
)

// jsonLog is a JSON log written by slog's JSON handler, safe from any
// goroutine.
type jsonLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *jsonLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *jsonLog) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// records returns the records logged so far.
func (l *jsonLog) records(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(l.b.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

// find returns the first record with message msg, if any.
func (l *jsonLog) find(t *testing.T, msg string) (map[string]any, bool) {
	for _, rec := range l.records(t) {
		if rec["msg"] == msg {
			return rec, true
		}
	}
	return nil, false
}

// stateKeys are the attributes that hold a state, a role or a reason: in
// every record they must be words.
var stateKeys = []string{"state", "status", "reason", "source", "kind", "type", "side", "role", "phase"}

// checkWords fails if a record holds a stateKeys attribute that is not a
// string.
func checkWords(t *testing.T, recs []map[string]any) {
	t.Helper()
	for _, rec := range recs {
		for _, k := range stateKeys {
			if v, ok := rec[k]; ok {
				if _, isString := v.(string); !isString {
					t.Errorf("%q: %s is %v (%T), not a word", rec["msg"], k, v, v)
				}
			}
		}
	}
}

// TestLogsNameStates runs feeds of both protocols whose sources cannot be
// reached and an SZSE arbiter refused a ReTransmit, with slog's JSON
// handler: the source's state, the source and the ReTransmit's status
// are logged as words, as is every state-like attribute logged meanwhile.
func TestLogsNameStates(t *testing.T) {
	t.Run("itch source reset", func(t *testing.T) {
		var l jsonLog
		f, err := New(Config{Name: "t", Primary: SourceConfig{Addr: "127.0.0.1:1"}, ReconnectMin: time.Millisecond,
			ReconnectMax: time.Millisecond, CheckInterval: time.Millisecond}, nil, l.logger())
		if err != nil {
			t.Fatal(err)
		}
		runUntilLogged(t, f.Run, &l, "feed source reset")
		rec, _ := l.find(t, "feed source reset")
		if rec["state"] != "dialing" || rec["source"] != "primary" {
			t.Errorf("record %v: want state dialing, source primary", rec)
		}
		checkWords(t, l.records(t))
	})
	t.Run("szse source reset", func(t *testing.T) {
		var l jsonLog
		f, err := NewSZSE(Config{Name: "t", Primary: SourceConfig{Addr: "127.0.0.1:1"}, ReconnectMin: time.Millisecond,
			ReconnectMax: time.Millisecond, CheckInterval: time.Millisecond}, newRecSZSESink(), l.logger())
		if err != nil {
			t.Fatal(err)
		}
		runUntilLogged(t, f.Run, &l, "feed source reset")
		rec, _ := l.find(t, "feed source reset")
		if rec["reason"] != "dial" || rec["source"] != "primary" {
			t.Errorf("record %v: want reason dial, source primary", rec)
		}
		checkWords(t, l.records(t))
	})
	t.Run("szse retransmit refused", func(t *testing.T) {
		var l jsonLog
		r := newArbRig(t, nil)
		r.a.log = l.logger()
		r.mustOffer(Primary, 2011, 1, 1)
		if err := r.a.Answer(Backup, &szse.ReTransmit{ResendType: szse.ResendTypeTick, ChannelNo: 2011, ApplBegSeqNum: 2, ApplEndSeqNum: 5,
			ResendStatus: szse.ResendStatusUnavailable}, r.now.UnixNano()); err != nil {
			t.Fatal(err)
		}
		rec, ok := l.find(t, "feed: SZSE ReTransmit refused")
		if !ok || rec["status"] != "unavailable" {
			t.Errorf("record %v: want status unavailable", rec)
		}
		checkWords(t, l.records(t))
	})
}

// runUntilLogged runs a feed until l holds a record with message msg.
func runUntilLogged(t *testing.T, run func(context.Context) error, l *jsonLog, msg string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	deadline := time.Now().Add(15 * time.Second) // a bound for a broken test, not a wait
	for {
		if _, ok := l.find(t, msg); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q logged", msg)
		}
		time.Sleep(time.Millisecond) // polls the log for the event
	}
}

// TestMissingDirectoryWarnedOnce: messages of Stock Locate 2 come with no
// Stock Directory (000001's, lost). The feed warns once, naming the
// locate and the stock its Add Order named, and the gauge
// (Decode.MissingDirectories) says one is missing; each rebuild while it
// is missing is noted (info) as for a directory, not warned of again nor
// logged as a book's missed message; the rebuild that maps it sets the
// gauge to 0. Before, every rebuild logged the error of a book's missed
// message, naming nothing missing.
func TestMissingDirectoryWarnedOnce(t *testing.T) {
	const warning = "feed: messages of ITCH Stock Locates no Stock Directory mapped (a relay or a rebuild's source lost it): their instrument is unknown, every book no directory mapped is stale, and the feed rebuilds from sequence 1 at most once per missed_rebuild_interval until a source sends the directory"
	const noted = "feed: a Stock Directory is still missing; rebuilding from sequence 1"
	var l jsonLog
	day, dir2 := directoryDay(t)
	d := NewITCHDecoder(twoSymbols{}, newBooksSink(t))
	f, err := New(Config{Name: "t", Primary: SourceConfig{Addr: "127.0.0.1:1"}, MissedRebuildInterval: time.Minute}, d, l.logger())
	if err != nil {
		t.Fatal(err)
	}
	count := func(msg string) (n int) {
		for _, rec := range l.records(t) {
			if rec["msg"] == msg {
				n++
			}
		}
		return n
	}
	check := func(now time.Time) { f.check(now, d) }
	missing := func() uint64 { return f.Status().Decode.MissingDirectories }
	deliverDay(f.arb, Primary, without(day, dir2), 0)
	check(time.Unix(100, 0))
	rec, ok := l.find(t, warning)
	if !ok {
		t.Fatalf("no warning of the directory missing: %v", l.records(t))
	}
	if locs, _ := rec["stock_locates"].([]any); len(locs) != 1 || locs[0] != "2 (000001)" || rec["missing_directories"] != 1.0 ||
		rec["metric"] != "gateway_feed_missing_directories" || rec["level"] != "WARN" {
		t.Errorf("warning %v: want stock_locates [2 (000001)], missing_directories 1, the metric named", rec)
	}
	if count(noted) != 1 || missing() != 1 {
		t.Errorf("rebuild: %d noted, %d missing; want 1, 1", count(noted), missing())
	}
	deliverDay(f.arb, Primary, without(day, dir2), 0) // the rebuild's source lost it too
	check(time.Unix(130, 0))                          // within the interval
	check(time.Unix(200, 0))
	if count(warning) != 1 || count(noted) != 2 || missing() != 1 {
		t.Errorf("after a rebuild still missing it: %d warnings, %d noted, %d missing; want 1, 2, 1", count(warning), count(noted), missing())
	}
	deliverDay(f.arb, Primary, day, 0)
	if f.arb.Rebuilding() || missing() != 0 {
		t.Errorf("rebuilt with the directory: stale %v, %d missing; want valid, 0", f.arb.Rebuilding(), missing())
	}
	if _, ok := l.find(t, "feed: a book found a message missing from the stream (an order it does not hold, or one added twice); rebuilding from sequence 1"); ok {
		t.Error("a directory missing logged as a book's missed message")
	}
	checkWords(t, l.records(t))
}

// missingSink is a booksSink whose books report a message missing
// (orderbook.Input.Missed) when missed is set.
type missingSink struct {
	*booksSink
	missed atomic.Bool
}

func (s *missingSink) Missed() bool { return s.missed.Load() }

// TestMissingDirectoryBookMissedLogsError: a rebuild begun while a Stock
// Directory is missing and a book found a message missing (an order it
// does not hold) is logged as the book's missed message, an error, not
// noted as the directory's: a directory missing must not hide a book's
// gap. Before, any rebuild while a directory was missing was only noted.
func TestMissingDirectoryBookMissedLogsError(t *testing.T) {
	const noted = "feed: a Stock Directory is still missing; rebuilding from sequence 1"
	const missed = "feed: a book found a message missing from the stream (an order it does not hold, or one added twice); rebuilding from sequence 1"
	var l jsonLog
	day, dir2 := directoryDay(t)
	sink := &missingSink{booksSink: newBooksSink(t)}
	d := NewITCHDecoder(twoSymbols{}, sink)
	f, err := New(Config{Name: "t", Primary: SourceConfig{Addr: "127.0.0.1:1"}, MissedRebuildInterval: time.Minute}, d, l.logger())
	if err != nil {
		t.Fatal(err)
	}
	deliverDay(f.arb, Primary, without(day, dir2), 0)
	sink.missed.Store(true)
	f.check(time.Unix(100, 0), d)
	if rec, ok := l.find(t, missed); !ok || rec["level"] != "ERROR" {
		t.Errorf("the book's missed message not logged as an error (%v): %v", rec, l.records(t))
	}
	if _, ok := l.find(t, noted); ok {
		t.Error("a rebuild a book's missed message caused noted as a directory's")
	}
}
