package feed

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
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
