package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"sgw/auth"
	"sgw/gateway/mdclient"
)

// expectError sends raw and reads until an error message arrives.
func expectError(t *testing.T, c *mdclient.Client, raw, code string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	if err := c.SendRaw(ctx, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	for {
		msgs, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("%s: waiting for error %s: %v", raw, code, err)
		}
		for _, m := range msgs {
			if m.Type == "error" {
				if m.Code != code {
					t.Fatalf("%s: error %s (%s), want %s", raw, m.Code, m.Msg, code)
				}
				return
			}
		}
	}
}

// manyKeys returns n JSON object members "S0":1, "S1":1, ...
func manyKeys(n int) string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = `"S` + strconv.Itoa(i) + `":1`
	}
	return strings.Join(keys, ",")
}

func TestWSRejectsBadRequests(t *testing.T) {
	e := newWSEnv(t, WSConfig{AnonymousMarketData: true, MaxSubscriptions: 3})
	c := e.dial("")
	tests := []struct{ name, raw, code string }{
		{"not json", `hello`, codeBadJSON},
		{"array", `[1,2]`, codeBadJSON},
		{"truncated", `{"op":"subscribe"`, codeBadJSON},
		{"wrong type", `{"op":"subscribe","channel":"book","symbols":"600519.SH"}`, codeBadJSON},
		{"no op", `{}`, codeUnknownOp},
		{"unknown op", `{"op":"buy"}`, codeUnknownOp},
		{"no channel", `{"op":"subscribe","symbols":["600519.SH"]}`, codeUnknownChannel},
		{"unknown channel", `{"op":"subscribe","channel":"news","symbols":["600519.SH"]}`, codeUnknownChannel},
		{"unknown symbol", `{"op":"subscribe","channel":"book","symbols":["999999.SH"]}`, codeUnknownSymbol},
		{"bad depth", `{"op":"subscribe","channel":"book","depth":7,"symbols":["600519.SH"]}`, codeBadDepth},
		{"no symbols", `{"op":"subscribe","channel":"quote","symbols":[]}`, codeBadJSON},
		{"checksums on quotes", `{"op":"subscribe","channel":"quote","symbols":["600519.SH"],"checksums":{"600519.SH":1}}`, codeBadJSON},
		{"checksum not a uint32", `{"op":"subscribe","channel":"book","symbols":["600519.SH"],"resume":{"600519.SH":1},"checksums":{"600519.SH":4294967296}}`, codeBadJSON},
		{"resume of 101 symbols", `{"op":"subscribe","channel":"book","symbols":["600519.SH"],"resume":{` + manyKeys(101) + `}}`, codeBadJSON},
		{"checksums of 101 symbols", `{"op":"subscribe","channel":"book","symbols":["600519.SH"],"checksums":{` + manyKeys(101) + `}}`, codeBadJSON},
		{"too many subscriptions", `{"op":"subscribe","channel":"quote","symbols":["600519.SH","601318.SH","000001.SZ","300750.SZ"]}`, codeTooManySubs},
		{"bad token", `{"op":"auth","token":"abc.def"}`, codeBadToken},
		{"empty token", `{"op":"auth"}`, codeBadToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { expectError(t, c, tc.raw, tc.code) })
	}
	// The connection is still usable after all that.
	if err := c.Subscribe(context.Background(), "book", 5, nil, "600519.SH"); err != nil {
		t.Fatal(err)
	}
	collect(t, c, func(m mdclient.Message) bool { return m.Type == "snapshot" })
	if got := metricValue(t, e.reg, "gateway_ws_rejected_total", `reason="bad_json"`); got < 4 {
		t.Fatalf("gateway_ws_rejected_total{reason=bad_json} = %v", got)
	}
}

func TestWSAuth(t *testing.T) {
	e := newWSEnv(t, WSConfig{})
	ctx := context.Background()
	token, err := e.auth.IssueFor("u1", []string{"A1"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	anon := e.dial("")
	expectError(t, anon, `{"op":"subscribe","channel":"book","symbols":["600519.SH"]}`, codeAuthRequired)
	if err := anon.Send(ctx, map[string]string{"op": "auth", "token": token}); err != nil {
		t.Fatal(err)
	}
	collect(t, anon, func(m mdclient.Message) bool { return m.Type == "auth" && m.OK })
	if err := anon.Subscribe(ctx, "book", 5, nil, "600519.SH"); err != nil {
		t.Fatal(err)
	}
	collect(t, anon, func(m mdclient.Message) bool { return m.Type == "snapshot" })

	withToken := e.dial(token)
	if err := withToken.Subscribe(ctx, "quote", 0, nil, "600519.SH"); err != nil {
		t.Fatal(err)
	}
	collect(t, withToken, func(m mdclient.Message) bool { return m.Ch == "quote" })

	// A bad token at upgrade is refused with 401.
	_, resp, err := mdclient.Dial(ctx, e.url, mdclient.Options{Token: token + "x"})
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad token at upgrade: %v %v", resp, err)
	}
	other, err := auth.New(auth.Config{Secret: strings.Repeat("z", 32)})
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := other.IssueFor("u1", []string{"A1"}, time.Hour, time.Now())
	if _, resp, err := mdclient.Dial(ctx, e.url, mdclient.Options{Token: forged}); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged token at upgrade: %v", err)
	}
}

func TestWSTokenExpiryCloses(t *testing.T) {
	// A short ping interval makes the janitor look often; the long idle
	// timeout keeps a slow reader from being closed as idle first.
	e := newWSEnv(t, WSConfig{SlowTimeout: 200 * time.Millisecond, PingInterval: 200 * time.Millisecond, IdleTimeout: time.Minute})
	token, err := e.auth.IssueFor("u1", nil, 2*time.Second, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c := e.dial(token)
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	for {
		if _, err := c.Next(ctx); err != nil {
			if websocket.CloseStatus(err) != closeTokenExpired {
				t.Fatalf("closed with %v, want %d", err, closeTokenExpired)
			}
			return
		}
	}
}

func TestWSLimits(t *testing.T) {
	t.Run("oversized message closes with 1009", func(t *testing.T) {
		e := newWSEnv(t, WSConfig{AnonymousMarketData: true, MaxMessageBytes: 256})
		c := e.dial("")
		ctx, cancel := context.WithTimeout(context.Background(), testBound)
		defer cancel()
		_ = c.SendRaw(ctx, []byte(`{"op":"ping","id":"`+strings.Repeat("x", 300)+`"}`))
		_, err := c.Next(ctx)
		if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
			t.Fatalf("got %v, want close 1009", err)
		}
	})
	t.Run("flood is limited then closed", func(t *testing.T) {
		e := newWSEnv(t, WSConfig{AnonymousMarketData: true, MaxMessagesPerSecond: 5})
		c := e.dial("")
		ctx, cancel := context.WithTimeout(context.Background(), testBound)
		defer cancel()
		go func() {
			for range 100 {
				if c.SendRaw(ctx, []byte(`{"op":"ping"}`)) != nil {
					return
				}
			}
		}()
		limited := false
		for {
			msgs, err := c.Next(ctx)
			if err != nil {
				if websocket.CloseStatus(err) != websocket.StatusPolicyViolation || !limited {
					t.Fatalf("got %v (rate_limited seen: %v), want rate_limited errors then close 1008", err, limited)
				}
				return
			}
			for _, m := range msgs {
				limited = limited || m.Code == codeRateLimited
			}
		}
	})
	t.Run("connections per address", func(t *testing.T) {
		e := newWSEnv(t, WSConfig{AnonymousMarketData: true, MaxConnectionsPerIP: 2})
		e.dial("")
		e.dial("")
		_, resp, err := mdclient.Dial(context.Background(), e.url, mdclient.Options{})
		if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("third connection: %v %v", resp, err)
		}
	})
	t.Run("foreign origin", func(t *testing.T) {
		e := newWSEnv(t, WSConfig{AnonymousMarketData: true})
		_, resp, err := mdclient.Dial(context.Background(), e.url, mdclient.Options{Header: http.Header{"Origin": {"https://evil.example"}}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("foreign origin: %v %v", resp, err)
		}
		ok := newWSEnv(t, WSConfig{AnonymousMarketData: true, Origins: []string{"trade.example.com"}})
		c, _, err := mdclient.Dial(context.Background(), ok.url, mdclient.Options{Header: http.Header{"Origin": {"https://trade.example.com"}}})
		if err != nil {
			t.Fatalf("allowed origin refused: %v", err)
		}
		c.Close()
	})
	t.Run("idle client is closed", func(t *testing.T) {
		const ping, idle = 100 * time.Millisecond, 3 * time.Second
		e := newWSEnv(t, WSConfig{AnonymousMarketData: true, PingInterval: ping, IdleTimeout: idle})
		// A raw connection that never reads cannot answer pings.
		ctx, cancel := context.WithTimeout(context.Background(), testBound)
		defer cancel()
		conn, _, err := websocket.Dial(ctx, e.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		waitUntil(t, func() bool { return metricValue(t, e.reg, "gateway_ws_rejected_total", `reason="idle"`) == 1 })
		// A client that reads answers pings and stays. The janitor checks
		// a client for idleness before it pings it, and pings are at least
		// PingInterval apart; the only client that answers pings is the
		// live one, so once it has answered more than idle/ping pings, the
		// janitor has found it alive after it had sent nothing for longer
		// than IdleTimeout.
		live := e.dial("")
		go func() {
			for {
				if _, err := live.Next(ctx); err != nil {
					return
				}
			}
		}()
		waitUntil(t, func() bool { return metricValue(t, e.reg, "gateway_ws_pongs_total", "") > float64(idle/ping)+1 })
		if n := metricValue(t, e.reg, "gateway_ws_rejected_total", `reason="idle"`); n != 1 {
			t.Fatalf("a client answering pings was closed as idle (%v)", n)
		}
	})
}

// TestWSQueryTokenRefusedAfterUpgrade: a browser cannot read the status of
// a refused upgrade, so a ?token= that does not verify is answered with an
// upgrade and an immediate close whose code says why: 4001 for an expired
// token, 4003 for any other. The client may then connect without a token.
func TestWSQueryTokenRefusedAfterUpgrade(t *testing.T) {
	e := newWSEnv(t, WSConfig{AnonymousMarketData: true})
	expired, err := e.auth.IssueFor("u1", []string{"A1"}, time.Minute, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	good, err := e.auth.IssueFor("u1", []string{"A1"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		token  string
		code   websocket.StatusCode
		reason string
	}{
		{name: "expired", token: expired, code: closeTokenExpired, reason: "token expired: "},
		{name: "bad signature", token: good + "x", code: closeBadToken, reason: "bad token: "},
		{name: "garbage", token: "abc.def", code: closeBadToken, reason: "bad token: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), testBound)
			defer cancel()
			conn, _, err := websocket.Dial(ctx, e.url+"?token="+tc.token, nil)
			if err != nil {
				t.Fatalf("upgrade refused: %v, want an upgrade and a close", err)
			}
			defer conn.CloseNow()
			_, _, err = conn.Read(ctx)
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != tc.code || !strings.HasPrefix(ce.Reason, tc.reason) {
				t.Fatalf("read: %v, want close %d %q...", err, tc.code, tc.reason)
			}
		})
	}
	if got := metricValue(t, e.reg, "gateway_ws_rejected_total", `reason="bad_token"`); got < 3 {
		t.Errorf("gateway_ws_rejected_total{reason=bad_token} = %v, want 3", got)
	}
	// The same token in the Authorization header is still refused with
	// 401, and an anonymous connection still gets prices.
	ctx := context.Background()
	if _, resp, err := mdclient.Dial(ctx, e.url, mdclient.Options{Token: expired}); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("expired header token at upgrade: %v %v", resp, err)
	}
	anon := e.dial("")
	if err := anon.Subscribe(ctx, "quote", 0, nil, "600519.SH"); err != nil {
		t.Fatal(err)
	}
	collect(t, anon, func(m mdclient.Message) bool { return m.Ch == "quote" })
}

func TestCloseReason(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	tests := []struct {
		name, in string
		want     int
	}{
		{name: "short", in: "bad token: x", want: 12},
		{name: "cut at a rune", in: long, want: 122},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := closeReason(tc.in)
			if len(got) != tc.want || !utf8.ValidString(got) {
				t.Errorf("closeReason: %d bytes (valid %v), want %d", len(got), utf8.ValidString(got), tc.want)
			}
		})
	}
}
