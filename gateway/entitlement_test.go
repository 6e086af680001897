package gateway

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/auth"
	"sgw/gateway/mdclient"
)

// TestEntitlements: the fan-out and REST enforce the token's market-data
// entitlements per subscription and answer forbidden with the reason; an
// anonymous viewer gets the configured anonymous entitlements (level 1
// here: quotes, no depth); a client that authenticates again with
// narrower entitlements loses the subscriptions they no longer cover.
func TestEntitlements(t *testing.T) {
	books := newTestBooks(t, testSymbols...)
	reg := prometheus.NewRegistry()
	v, err := auth.New(auth.Config{Secret: strings.Repeat("k", 32)}) // anonymous: level 1
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{WS: WSConfig{AnonymousMarketData: true}}, Deps{Market: books, PublishedDepth: 20, Registry: reg, Tokens: v})
	if err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, srv, books, reg, v)
	issue := func(ent string) string { return viewerToken(t, v, ent) }

	anon := e.dial("")
	expectError(t, anon, `{"op":"subscribe","channel":"book","symbols":["600519.SH"],"depth":5}`, codeNotEntitled)
	if err := anon.Send(context.Background(), map[string]any{"op": "subscribe", "channel": "quote", "symbols": []string{"600519.SH"}}); err != nil {
		t.Fatal(err)
	}
	collect(t, anon, func(m mdclient.Message) bool { return m.Type == "subscribed" })

	shOnly := issue("SH:L2,SZ:L1")
	c := e.dial(shOnly)
	expectError(t, c, `{"op":"subscribe","channel":"book","symbols":["000001.SZ"],"depth":5}`, codeNotEntitled)
	if err := c.Send(context.Background(), map[string]any{"op": "subscribe", "channel": "book", "symbols": []string{"600519.SH"}, "depth": 10}); err != nil {
		t.Fatal(err)
	}
	collect(t, c, func(m mdclient.Message) bool { return m.Type == "subscribed" })

	// Authenticated again with level 1 everywhere: the SH book goes.
	if err := c.Send(context.Background(), map[string]any{"op": "auth", "token": issue("*:L1")}); err != nil {
		t.Fatal(err)
	}
	collect(t, c, func(m mdclient.Message) bool {
		return m.Type == "unsubscribed" && m.Channel == "book" && len(m.Symbols) == 1 && m.Symbols[0] == "600519.SH"
	})

	// REST: the same rules.
	for _, tc := range []struct {
		token string
		path  string
		code  int
	}{
		{"", "/api/v1/book/600519.SH?depth=5", http.StatusForbidden},
		{shOnly, "/api/v1/book/600519.SH?depth=5", http.StatusOK},
		{shOnly, "/api/v1/book/000001.SZ?depth=5", http.StatusForbidden},
	} {
		req, _ := http.NewRequest(http.MethodGet, e.http.URL+tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("GET %s (token %v) = %d, want %d", tc.path, tc.token != "", resp.StatusCode, tc.code)
		}
	}
}

// viewerToken returns a token of "viewer" with entitlements ent ("*:L1").
func viewerToken(t *testing.T, v *auth.Verifier, ent string) string {
	t.Helper()
	en, err := auth.ParseEntitlements(ent)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := v.Issue(auth.Claims{Subject: "viewer", Entitlements: en, IssuedAt: now.Unix(), Expires: now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
