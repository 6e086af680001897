package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"sgw/auth"
	"sgw/configs"
	"sgw/internal/syncbuf"
	"sgw/system"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // a bound for a loaded machine, not a wait
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	return getAuth(t, url, "")
}

// getAuth is get with a bearer token ("" for none).
func getAuth(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// TestDemo runs `gateway demo` with the embedded configuration (HTTP on a
// free port) and checks what the README promises: books move, the
// operator surface answers, bad requests get JSON errors.
func TestDemo(t *testing.T) {
	base, token, ops := startDemoOps(t)

	// The printed token is a JWT of the demo's key, for the demo accounts.
	cfg, err := configs.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.New(*cfg.Auth)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := v.Verify(token, time.Now()); err != nil || c.Subject != "demo" || c.KeyID != auth.DefaultKeyID ||
		!slices.Equal(c.Accounts, system.DemoAccounts) || c.MayView("600519.SH", auth.ChannelBook, 20) != nil {
		t.Fatalf("demo token: %+v, %v", c, err)
	}

	type book struct {
		Symbol   string   `json:"symbol"`
		Seq      uint64   `json:"seq"`
		Bids     [][2]any `json:"bids"`
		Asks     [][2]any `json:"asks"`
		Checksum uint32   `json:"checksum"`
	}
	read := func() book {
		code, body := get(t, base+"/api/v1/book/600519.SH?depth=5")
		if code != http.StatusOK {
			t.Fatalf("book: %d %s", code, body)
		}
		var b book
		if err := json.Unmarshal(body, &b); err != nil {
			t.Fatalf("book: %v: %s", err, body)
		}
		return b
	}
	first := read()
	waitFor(t, "the book to move", func() bool {
		b := read()
		return b.Seq > first.Seq && len(b.Bids) > 0 && len(b.Asks) > 0 && len(b.Bids) <= 5
	})

	for _, tc := range []struct {
		path  string
		code  int
		want  string
		token string
	}{
		{path: "/api/v1/book/999999.SH", code: 404, want: `"code":"unknown_symbol"`},
		{path: "/api/v1/book/600519.SH?depth=0", code: 400, want: `"code":"bad_depth"`},
		{path: "/api/v1/book/600519.SH?depth=abc", code: 400, want: `"code":"bad_depth"`},
		{path: "/api/v1/book/600519.SH?depth=21", code: 400, want: `"code":"bad_depth"`},
		{path: "/api/v1/nope", code: 404, want: `"code":"not_found"`},
		{path: "/api/v1/instruments", code: 200, want: `"limitUp":"1870.00"`},
		{path: "/api/v1/feeds", code: 401, want: `"code":"auth_required"`},
		{path: "/api/v1/feeds", code: 200, want: `"name":"backup"`, token: ops},
		{path: "/healthz", code: 200, want: `"ok"`},
		{path: "/metrics", code: 401, want: `"code":"auth_required"`},
		{path: "/metrics", code: 200, want: `gateway_feed_source_up{feed="cn",source="backup"} 1`, token: ops},
		{path: "/metrics", code: 200, want: `gateway_book_updates_total`, token: ops},
		{path: "/metrics", code: 200, want: `gateway_feed_lost_total{feed="cn"} 0`, token: ops},
		{path: "/metrics", code: 200, want: `gateway_feed_source_up{feed="szse",source="backup"} 1`, token: ops},
		{path: "/metrics", code: 200, want: `gateway_build_info{goversion="` + runtime.Version() + `",revision="`, token: ops},
	} {
		code, body := getAuth(t, base+tc.path, tc.token)
		if code != tc.code || !strings.Contains(string(body), tc.want) {
			t.Errorf("GET %s = %d %.300s; want %d containing %s", tc.path, code, body, tc.code, tc.want)
		}
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "no command", args: nil, want: "no command"},
		{name: "unknown command", args: []string{"frobnicate"}, want: `unknown command "frobnicate"`},
		{name: "run needs config", args: []string{"run"}, want: "-config FILE is required"},
		{name: "missing file", args: []string{"run", "-config", "/nonexistent.yaml"}, want: "no such file"},
		{name: "demo config outside demo", args: []string{"run", "-config", "configs/demo.yaml"}, want: "names the in-process simulator"},
		{name: "stray argument", args: []string{"demo", "extra"}, want: "unexpected arguments"},
		{name: "cluster with -http", args: []string{"demo", "-cluster", "3", "-http", "127.0.0.1:0"}, want: "-http and -cluster"},
		{name: "cluster with -tls", args: []string{"demo", "-cluster", "3", "-tls"}, want: "-tls and -cluster"},
		{name: "cluster too large", args: []string{"demo", "-cluster", "10"}, want: "1 to 9 nodes"},
		{name: "plain text off loopback", args: []string{"demo", "-http", "0.0.0.0:0"}, want: "gateway.http 0.0.0.0:0 would carry plain text across a network"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tc.args, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
	// go test records no VCS state by default: the version is then the
	// go command's "(devel)", the revision unknown.
	var out bytes.Buffer
	b := system.ReadBuild()
	if err := run(context.Background(), []string{"version"}, &out, io.Discard); err != nil ||
		!regexp.MustCompile(`^gateway \S+\n  module:   sgw\n  revision: \S+\n  time:     \S+\n  modified: (true|false)\n  go:       `+regexp.QuoteMeta(runtime.Version())+`\n$`).MatchString(out.String()) ||
		!strings.HasPrefix(out.String(), "gateway "+b.Version+"\n") {
		t.Fatalf("version: %q, %v", out.String(), err)
	}
}

// startDemo runs `gateway demo` with the embedded configuration and HTTP
// on a free port until the test ends (when run must return nil), and
// returns the printed base URL and token once /readyz answers 200.
func startDemo(t *testing.T) (base, token string) {
	t.Helper()
	base, token, _ = startDemoOps(t)
	return base, token
}

// startDemoOps is startDemo that also returns the operator token the demo
// prints.
func startDemoOps(t *testing.T) (base, token, ops string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncbuf.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"demo", "-http", "127.0.0.1:0"}, &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo returned %v; log:\n%s", err, stderr.String())
		}
	})
	addr := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
	tokenLine := regexp.MustCompile(`(?m)^  token:\s+(\S+)$`)
	opsLine := regexp.MustCompile(`(?m)^  operator token \(Authorization: Bearer \.\.\.\):\s+(\S+)$`)
	waitFor(t, "the demo to print its address and tokens", func() bool {
		out := stdout.String()
		base = addr.FindString(out)
		if m := tokenLine.FindStringSubmatch(out); m != nil {
			token = m[1]
		}
		if m := opsLine.FindStringSubmatch(out); m != nil {
			ops = m[1]
		}
		return base != "" && token != "" && ops != ""
	})
	waitFor(t, "/readyz", func() bool {
		code, _ := get(t, base+"/readyz")
		return code == http.StatusOK
	})
	return base, token, ops
}

// TestDemoTLSFilesRemovedAtExit: `demo -tls` writes its CAs' certificates
// and the listener's keys to a temporary directory, and removes it when it
// stops, as the cluster demo removes its Raft data. Before, every run left
// a directory of private keys behind.
func TestDemoTLSFilesRemovedAtExit(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncbuf.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"demo", "-tls", "-http", "127.0.0.1:0"}, &stdout, &stderr) }()
	caLine := regexp.MustCompile(`(?m)^  TLS CA:\s+(\S+)`)
	var ca string
	waitFor(t, "the demo to print its CA file", func() bool {
		if m := caLine.FindStringSubmatch(stdout.String()); m != nil {
			ca = m[1]
		}
		return ca != ""
	})
	if _, err := os.Stat(ca); err != nil {
		t.Fatalf("the printed CA file: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("demo returned %v; log:\n%s", err, stderr.String())
	}
	if _, err := os.Stat(filepath.Dir(ca)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the demo's TLS directory %s after exit: %v, want it removed", filepath.Dir(ca), err)
	}
}
