package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/auth"
	"sgw/internal/syncbuf"
)

// fakeAdmin records kill switch calls.
type fakeAdmin struct{ calls int }

func (a *fakeAdmin) Kill(string, bool) (int, error) { a.calls++; return 0, nil }

// operatorToken issues an operator's token for subject: adm set, an hour.
func operatorToken(t *testing.T, v *auth.Verifier, subject string) string {
	t.Helper()
	tok, err := v.Issue(auth.Claims{Subject: subject, Admin: true, Expires: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestAccessRules: with anonymous market data off, every REST path follows
// the same rules as the WebSocket: market data needs a valid token,
// operator endpoints an operator's token (a listed subject and adm), the
// bearer scheme is read in any case, an admin token is never taken from
// the URL, and the kill switch's audit line names the token's subject.
// Each of these answered without a token, or ignored "bearer", before; and
// before, a listed subject's token without adm (its trading token, which
// the trading page carries in its URL) was an operator's.
func TestAccessRules(t *testing.T) {
	books := newTestBooks(t, "600519.SH")
	v, err := auth.New(auth.Config{Secret: strings.Repeat("k", 32)})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	admin := &fakeAdmin{}
	s, err := New(Config{Admins: []string{"ops"}, Pprof: true}, Deps{Market: books, PublishedDepth: 20, Feeds: []Feed{&fakeFeed{}},
		Registry: prometheus.NewRegistry(), Tokens: v, Admin: admin, Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	user, _ := v.IssueFor("u1", []string{"A1"}, time.Hour, time.Now())
	ops := operatorToken(t, v, "ops")
	// The operator's own trading (or viewing) token: a listed subject,
	// no adm claim.
	opsTrading, _ := v.IssueFor("ops", []string{"A1"}, time.Hour, time.Now())
	// adm on a subject that is not listed.
	admUnlisted := operatorToken(t, v, "u1")
	do := func(method, path, authz, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		name, method, path, authz, body string
		code                            int
		want                            string
	}{
		{"book, no token", "GET", "/api/v1/book/600519.SH", "", "", 401, "auth_required"},
		{"book, bad token", "GET", "/api/v1/book/600519.SH", "Bearer nope", "", 401, "bad_token"},
		{"book, token", "GET", "/api/v1/book/600519.SH", "Bearer " + user, "", 200, `"symbol":"600519.SH"`},
		{"book, lower-case scheme", "GET", "/api/v1/book/600519.SH", "bearer " + user, "", 200, `"symbol"`},
		{"book, upper-case scheme", "GET", "/api/v1/book/600519.SH", "BEARER " + user, "", 200, `"symbol"`},
		{"book, token in the URL is not a header", "GET", "/api/v1/book/600519.SH?token=" + user, "", "", 401, "auth_required"},
		{"instruments, no token", "GET", "/api/v1/instruments", "", "", 401, "auth_required"},
		{"metrics, no token", "GET", "/metrics", "", "", 401, "auth_required"},
		{"metrics, a trader's token", "GET", "/metrics", "Bearer " + user, "", 403, "not an operator"},
		{"metrics, operator", "GET", "/metrics", "Bearer " + ops, "", 200, "gateway_ws_"},
		{"metrics, an operator's token without adm", "GET", "/metrics", "Bearer " + opsTrading, "", 403, "adm"},
		{"metrics, adm on an unlisted subject", "GET", "/metrics", "Bearer " + admUnlisted, "", 403, "not an operator"},
		{"feeds, an operator's token without adm", "GET", "/api/v1/feeds", "Bearer " + opsTrading, "", 403, "adm"},
		{"pprof, an operator's token without adm", "GET", "/debug/pprof/", "Bearer " + opsTrading, "", 403, "adm"},
		{"kill, an operator's token without adm", "POST", "/api/v1/admin/kill", "Bearer " + opsTrading, `{"account":"A1","on":true}`, 403, "adm"},
		{"kill, adm on an unlisted subject", "POST", "/api/v1/admin/kill", "Bearer " + admUnlisted, `{"account":"A1","on":true}`, 403, "not an operator"},
		{"feeds, no token", "GET", "/api/v1/feeds", "", "", 401, "auth_required"},
		{"feeds, operator", "GET", "/api/v1/feeds", "bearer " + ops, "", 200, `"name":"cn"`},
		{"pprof, a trader's token", "GET", "/debug/pprof/", "Bearer " + user, "", 403, "forbidden"},
		{"health stays open", "GET", "/healthz", "", "", 200, "ok"},
		{"kill, token in the URL", "POST", "/api/v1/admin/kill?token=" + ops, "", `{"account":"A1","on":true}`, 400, "never in the URL"},
		{"kill, a trader's token", "POST", "/api/v1/admin/kill", "Bearer " + user, `{"account":"A1","on":true}`, 403, "forbidden"},
		{"kill, operator", "POST", "/api/v1/admin/kill", "Bearer " + ops, `{"account":"A1","on":true}`, 200, `"on":true`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(tc.method, tc.path, tc.authz, tc.body)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("%s %s = %d %.200s; want %d containing %s", tc.method, tc.path, code, body, tc.code, tc.want)
			}
		})
	}
	if admin.calls != 1 {
		t.Fatalf("kill switch called %d times, want once (only the operator's request)", admin.calls)
	}
	if l := logs.String(); !strings.Contains(l, "audit: kill switch") || !strings.Contains(l, "subject=ops") {
		t.Fatalf("no audit line naming the subject: %s", l)
	}
}
