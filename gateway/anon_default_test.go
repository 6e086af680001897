package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestAnonymousWithoutAuthSectionIsL1: a gateway without an auth section
// that serves anonymous market data grants its anonymous viewers
// auth.DefaultAnonymous() (*:L1: quotes and trades, no book depth), as
// docs/SECURITY.md ("Entitlements") and auth.DefaultAnonymous say.
func TestAnonymousWithoutAuthSectionIsL1(t *testing.T) {
	books := newTestBooks(t, testSymbols...)
	srv, err := New(Config{WS: WSConfig{AnonymousMarketData: true}}, Deps{Market: books, PublishedDepth: 20, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	resp, err := http.Get(hs.URL + "/api/v1/book/600519.SH")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous REST book (level-2 depth) without an auth section: status %d, want 403 (anonymous is *:L1)", resp.StatusCode)
	}
	if err := srv.ws.anon.MayView("600519.SH", "book", 5); err == nil {
		t.Fatal("anonymous WebSocket viewer may subscribe to book depth without an auth section")
	}
}
