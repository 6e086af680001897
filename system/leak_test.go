package system

import (
	"context"
	"log/slog"
	"net/http"
	"runtime"
	"testing"
	"time"

	"sgw/configs"
	"sgw/internal/leakcheck"
)

// TestDemoStopLeaksNoGoroutine runs the demo (simulator and gateway, with
// order entry, brokers and feeds) until ready, stops it and checks that
// every goroutine it started has ended.
func TestDemoStopLeaksNoGoroutine(t *testing.T) {
	http.DefaultClient.CloseIdleConnections()
	before := runtime.NumGoroutine()
	cfg, err := configs.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Gateway.HTTP = "127.0.0.1:0"
	d, err := NewDemo(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	brokerWaitUntil(t, "/readyz", func() bool { code, _ := brokerGet(t, d.BaseURL+"/readyz"); return code == 200 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitNoLeak(t, before)
}

// waitNoLeak waits until no more goroutines run than before, or fails
// with the stacks of those left.
func waitNoLeak(t *testing.T, before int) {
	t.Helper()
	http.DefaultClient.CloseIdleConnections()
	leakcheck.Wait(t, before, 30*time.Second)
}
