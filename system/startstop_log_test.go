package system

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"

	"sgw/cluster"
	"sgw/configs"
	"sgw/internal/syncbuf"
)

// TestStartStopLogReason runs a gateway (books and HTTP only) with slog's
// JSON handler and stops it with a cause, as a signal does: the start
// says why it started (SetStartReason) and which version runs, the stop
// why it stops, both as words.
func TestStartStopLogReason(t *testing.T) {
	cfg, err := configs.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Feeds, cfg.Brokers, cfg.Sim, cfg.FIXSim, cfg.Orders = nil, nil, nil, nil, nil
	var logs syncbuf.Buffer
	g, err := New(cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	g.SetStartReason("test start")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("signal terminated")) // stops at once: Run logs both ends
	if err := g.Run(ctx, ln); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"gateway starting": "test start", "gateway stopping": "signal terminated", "gateway stopped": "signal terminated"}
	for line := range strings.Lines(logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		msg, _ := rec["msg"].(string)
		w, ok := want[msg]
		if !ok {
			continue
		}
		if rec["reason"] != w {
			t.Errorf("%q: reason %v, want %q", msg, rec["reason"], w)
		}
		if v, _ := rec["version"].(string); msg == "gateway starting" && v == "" {
			t.Errorf("%q: no version", msg)
		}
		delete(want, msg)
	}
	if len(want) > 0 {
		t.Errorf("not logged: %v", want)
	}
}

// TestStoreFailedWhileStopping: a session store that loses its quorum
// while the gateway stops (the other members stopping too) is logged as a
// warning; otherwise as an error, and the running term hears of it either
// way.
func TestStoreFailedWhileStopping(t *testing.T) {
	for _, tt := range []struct {
		stopping bool
		want     string
	}{{false, "ERROR"}, {true, "WARN"}} {
		var logs syncbuf.Buffer
		c := &clustered{log: slog.New(slog.NewJSONHandler(&logs, nil)), entry: newLeaderEntry(func() string { return "" })}
		var heard error
		fail := func(err error) { heard = err }
		c.termFail.Store(&fail)
		if tt.stopping {
			if err := c.drain(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		c.storeFailed("FIX.4.4:GW->CORE", cluster.ErrNoQuorum)
		var rec map[string]any
		if err := json.Unmarshal([]byte(logs.String()), &rec); err != nil {
			t.Fatalf("log %q: %v", logs.String(), err)
		}
		if rec["level"] != tt.want {
			t.Errorf("stopping %v: logged at %v, want %s", tt.stopping, rec["level"], tt.want)
		}
		if !errors.Is(heard, cluster.ErrNoQuorum) {
			t.Errorf("stopping %v: the term heard %v", tt.stopping, heard)
		}
	}
}
