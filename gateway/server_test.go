package gateway

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/auth"
	"sgw/feed"
)

// fakeFeed reports a fixed state.
type fakeFeed struct {
	ready     bool
	delivered uint64
	stale     bool
	reason    string
}

func (f *fakeFeed) StaleReason() string { return f.reason }

func (f *fakeFeed) Name() string { return "cn" }
func (f *fakeFeed) Ready() bool  { return f.ready }
func (f *fakeFeed) Status() feed.Status {
	return feed.Status{Name: "cn", Delivered: f.delivered, Stale: f.stale}
}

type fakeCluster struct {
	role, leader string
	quorum       bool
	fault        error
}

func (c *fakeCluster) Role() (string, string, bool) { return c.role, c.leader, c.quorum }
func (c *fakeCluster) Fault() error                 { return c.fault }

func TestHandlers(t *testing.T) {
	books := newTestBooks(t, "600519.SH")
	books.add(t, 0, 'B', 17000000, 300)
	books.add(t, 0, 'B', 16999900, 100)
	waitUntil(t, func() bool { return books.seq(0) == 2 })
	ff := &fakeFeed{}
	fc := &fakeCluster{role: "follower", leader: "n1", quorum: true}
	// Anonymous viewers at level 2 (book depth) need an auth section that
	// grants it (TestAnonymousWithoutAuthSectionIsL1).
	v, err := auth.New(auth.Config{Secret: strings.Repeat("k", 32), Anonymous: auth.FullEntitlements()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{WS: WSConfig{AnonymousMarketData: true}}, Deps{Market: books, PublishedDepth: 20, Feeds: []Feed{ff}, Registry: prometheus.NewRegistry(), Cluster: fc, Tokens: v})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name, path string
		setup      func()
		code       int
		want       string
	}{
		{name: "book", path: "/api/v1/book/600519.SH?depth=1", code: 200, want: `"bids":[["1700.00",300]],"asks":[]`},
		{name: "book default depth", path: "/api/v1/book/600519.SH", code: 200, want: `["1699.99",100]`},
		{name: "unknown symbol", path: "/api/v1/book/000000.SZ", code: 404, want: `"unknown_symbol"`},
		{name: "negative depth", path: "/api/v1/book/600519.SH?depth=-1", code: 400, want: `"bad_depth"`},
		{name: "instruments", path: "/api/v1/instruments", code: 200, want: `"limitDown":"1530.00"`},
		{name: "not ready: no source", path: "/readyz", code: 503, want: `feed cn: no source up`},
		{name: "not ready: nothing delivered", path: "/readyz", setup: func() { ff.ready = true }, code: 503, want: `no message delivered`},
		{name: "not ready: stale", path: "/readyz", setup: func() { ff.delivered, ff.stale = 1, true }, code: 503, want: `feed cn: books stale`},
		{name: "not ready: stale, the feed telling why", path: "/readyz", setup: func() { ff.reason = "the ingest publisher is silent" }, code: 503,
			want: `feed cn: the ingest publisher is silent`},
		{name: "ready", path: "/readyz", setup: func() { ff.stale, ff.reason = false, "" }, code: 200, want: `"ready"`},
		{name: "ready follower", path: "/readyz", code: 200, want: `"leader":"n1","role":"follower","status":"ready"`},
		{name: "no quorum", path: "/readyz", setup: func() { fc.role, fc.leader, fc.quorum = "candidate", "", false }, code: 503, want: `cluster: node candidate sees no quorum`},
		{name: "ready again", path: "/readyz", setup: func() { fc.role, fc.leader, fc.quorum = "follower", "n1", true }, code: 200, want: `"ready"`},
		{name: "replica stopped", path: "/readyz", setup: func() { fc.fault = errors.New("record at index 7: unknown kind") }, code: 503, want: `cluster: this node's replica stopped, it cannot lead and its state is behind: record at index 7: unknown kind`},
		{name: "ready once more", path: "/readyz", setup: func() { fc.fault = nil }, code: 200, want: `"ready"`},
		// Draining at shutdown (StopOrders, the listener still open): a
		// load balancer must send no new client here.
		{name: "draining", path: "/readyz", setup: func() {
			if err := s.StopOrders(t.Context()); err != nil {
				t.Fatal(err)
			}
		}, code: 503, want: `draining`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			code, body := get(tc.path)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("GET %s = %d %s; want %d containing %s", tc.path, code, body, tc.code, tc.want)
			}
		})
	}
	resp, err := http.Post(srv.URL+"/api/v1/book/600519.SH", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST book = %d, want 405", resp.StatusCode)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{name: "bad address", cfg: Config{HTTP: "8080"}},
		{name: "default over max", cfg: Config{DefaultDepth: 30, MaxDepth: 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.cfg.withDefaults(20); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// testBound bounds every wait of the tests for an event. Only a broken
// test reaches it: it is generous so that a loaded machine never does.
const testBound = 2 * time.Minute

// waitUntil polls cond; the bound only keeps a broken test from hanging.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestAPIResponseHeaders checks that JSON answers, errors that repeat the
// request's words included, are served as inert JSON: nosniff, a policy
// that runs nothing and allows no framing, no caching, and the request's
// markup escaped in the body.
func TestAPIResponseHeaders(t *testing.T) {
	books := newTestBooks(t, "600519.SH")
	s, err := New(Config{WS: WSConfig{AnonymousMarketData: true}}, Deps{Market: books, PublishedDepth: 20, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	const markup = "<svg onload=alert(1)>"
	for _, tc := range []struct {
		name, path string
		code       int
	}{
		{name: "instruments", path: "/api/v1/instruments", code: 200},
		{name: "healthz", path: "/healthz", code: 200},
		{name: "unknown symbol", path: "/api/v1/book/" + url.PathEscape(markup), code: 404},
		{name: "bad depth", path: "/api/v1/book/600519.SH?depth=" + url.QueryEscape(markup), code: 400},
		{name: "no such endpoint", path: "/api/" + url.PathEscape(markup), code: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.code, body)
			}
			for name, want := range map[string]string{
				"Content-Type":            "application/json",
				"X-Content-Type-Options":  "nosniff",
				"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
				"Cache-Control":           "no-store",
			} {
				if got := resp.Header.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if strings.ContainsAny(string(body), "<>") {
				t.Errorf("body repeats markup unescaped: %s", body)
			}
		})
	}
}
