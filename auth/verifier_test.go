package auth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// goldenToken was computed with Python's hmac, hashlib and base64 for
// testSecret and {"sub":"u1","acc":["A1","A2"],"exp":1767225600}.
const goldenToken = "eyJzdWIiOiJ1MSIsImFjYyI6WyJBMSIsIkEyIl0sImV4cCI6MTc2NzIyNTYwMH0" +
	".ZckZNMlkizby0ARPHLCBxFnaKnwx584ziV6qkVyohzk"

func TestGoldenToken(t *testing.T) {
	v := newTestVerifier(t, testSecret)
	tok, err := v.IssueFor("u1", []string{"A1", "A2"}, time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if tok != goldenToken {
		t.Fatalf("IssueFor = %s\nwant      %s", tok, goldenToken)
	}
	c, err := v.Verify(goldenToken, testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{Subject: "u1", Accounts: []string{"A1", "A2"}, Expires: testExp}
	if !sameClaims(c, want) {
		t.Fatalf("Verify = %+v, want %+v", c, want)
	}
}

func TestVerify(t *testing.T) {
	v := newTestVerifier(t, testSecret)
	tok, err := v.IssueFor("u1", []string{"A1", "A2"}, time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	body, sig, _ := strings.Cut(tok, ".")
	other, err := newTestVerifier(t, strings.Repeat("x", 32)).IssueFor("u1", []string{"A1", "A2"}, time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := v.IssueFor("u1", []string{"A1", "A2", "ADMIN"}, time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Unix(testExp, 0)
	// flip replaces the first byte of s with another base64url character.
	flip := func(s string) string {
		if s[0] == 'A' {
			return "B" + s[1:]
		}
		return "A" + s[1:]
	}
	tests := []struct {
		name  string
		token string
		now   time.Time
		want  error // nil: valid
	}{
		{name: "valid", token: tok, now: testNow},
		{name: "valid a second before exp", token: tok, now: exp.Add(-time.Second)},
		{name: "expired within leeway", token: tok, now: exp.Add(4 * time.Second)},
		{name: "expired at leeway end", token: tok, now: exp.Add(5 * time.Second), want: ErrExpired},
		{name: "expired", token: tok, now: exp.Add(time.Minute), want: ErrExpired},
		{name: "tampered payload", token: flip(body) + "." + sig, now: testNow, want: ErrSignature},
		{name: "tampered signature", token: body + "." + flip(sig), now: testNow, want: ErrSignature},
		{name: "swapped payload", token: strings.SplitN(admin, ".", 2)[0] + "." + sig, now: testNow, want: ErrSignature},
		{name: "wrong secret", token: other, now: testNow, want: ErrSignature},
		{name: "truncated signature", token: tok[:len(tok)-1], now: testNow, want: ErrMalformed},
		{name: "truncated to payload and dot", token: body + ".", now: testNow, want: ErrMalformed},
		{name: "truncated to payload", token: body, now: testNow, want: ErrMalformed},
		{name: "truncated payload", token: body[:len(body)-1] + "." + sig, now: testNow, want: ErrMalformed},
		{name: "no payload", token: "." + sig, now: testNow, want: ErrMalformed},
		{name: "extra dot at end", token: tok + ".", now: testNow, want: ErrMalformed},
		{name: "extra part", token: tok + "." + sig, now: testNow, want: ErrMalformed},
		{name: "double dot", token: body + ".." + sig, now: testNow, want: ErrMalformed},
		{name: "padded payload", token: body + "=." + sig, now: testNow, want: ErrMalformed},
		{name: "padded signature", token: tok + "=", now: testNow, want: ErrMalformed},
		{name: "std base64 payload", token: "+/" + body[2:] + "." + sig, now: testNow, want: ErrMalformed},
		{name: "newline in payload", token: body[:4] + "\n" + body[4:] + "." + sig, now: testNow, want: ErrMalformed},
		{name: "newline in signature", token: body + "." + sig[:4] + "\r\n" + sig[4:], now: testNow, want: ErrMalformed},
		{name: "non-canonical signature", token: tok[:len(tok)-1] + "l", now: testNow, want: ErrMalformed},
		{name: "space", token: " " + tok, now: testNow, want: ErrMalformed},
		{name: "unknown JSON field", token: signRaw([]byte(`{"sub":"u1","acc":["A1"],"exp":1767225600,"admin":true}`)), now: testNow, want: ErrMalformed},
		{name: "data after JSON", token: signRaw([]byte(`{"sub":"u1","acc":["A1"],"exp":1767225600}{}`)), now: testNow, want: ErrMalformed},
		{name: "JSON array", token: signRaw([]byte(`["u1"]`)), now: testNow, want: ErrMalformed},
		{name: "JSON null", token: signRaw([]byte(`null`)), now: testNow, want: ErrMalformed},
		{name: "not JSON", token: signRaw([]byte(`sub=u1`)), now: testNow, want: ErrMalformed},
		{name: "exp as string", token: signRaw([]byte(`{"sub":"u1","acc":[],"exp":"1767225600"}`)), now: testNow, want: ErrMalformed},
		{name: "empty subject", token: signRaw([]byte(`{"sub":"","acc":["A1"],"exp":1767225600}`)), now: testNow, want: ErrMalformed},
		{name: "control char in subject", token: signRaw([]byte(`{"sub":"u1\n","acc":["A1"],"exp":1767225600}`)), now: testNow, want: ErrMalformed},
		{name: "bad account", token: signRaw([]byte(`{"sub":"u1","acc":["A 1"],"exp":1767225600}`)), now: testNow, want: ErrMalformed},
		{name: "missing exp", token: signRaw([]byte(`{"sub":"u1","acc":["A1"]}`)), now: testNow, want: ErrExpired},
		{name: "signed and valid, no acc", token: signRaw([]byte(` {"sub":"u1","exp":1767225600} `)), now: testNow},
		{name: "oversized", token: strings.Repeat("a", MaxTokenBytes+1), now: testNow, want: ErrMalformed},
		{name: "oversized but signed", token: signRaw([]byte(`{"sub":"u1","exp":1767225600,"acc":[` + strings.Repeat(`"A1",`, 600) + `"A1"]}`)), now: testNow, want: ErrMalformed},
		{name: "empty", token: "", now: testNow, want: ErrMalformed},
		{name: "dot", token: ".", now: testNow, want: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(tt.token, tt.now)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c.Subject != "u1" || c.Expires != testExp {
					t.Fatalf("Verify = %+v", c)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			if !sameClaims(c, Claims{}) {
				t.Fatalf("Verify returned claims %+v with an error", c)
			}
			if strings.Contains(err.Error(), sig) || strings.Contains(err.Error(), testSecret) {
				t.Fatalf("error %q leaks the token or the secret", err)
			}
		})
	}
}

func TestIssueRoundTrip(t *testing.T) {
	v := newTestVerifier(t, testSecret)
	maxAccounts := make([]string, MaxAccounts)
	for i := range maxAccounts {
		maxAccounts[i] = fmt.Sprintf("%032d", i)
	}
	tests := []struct {
		name   string
		claims Claims
	}{
		{name: "one account", claims: Claims{Subject: "u1", Accounts: []string{"A1"}, Expires: testExp}},
		{name: "no accounts", claims: Claims{Subject: "viewer", Expires: testExp}},
		{name: "account charset", claims: Claims{Subject: "u1", Accounts: []string{"az-AZ_09"}, Expires: testExp}},
		{name: "punctuation subject", claims: Claims{Subject: ` !"#$%&'()*+,-./:;<=>?@[\]^_{|}~` + "`", Expires: testExp}},
		{name: "largest claims", claims: Claims{Subject: strings.Repeat("<", MaxSubjectLen), Accounts: maxAccounts, Expires: testExp}},
		{name: "exp at max_ttl", claims: Claims{Subject: "u1", Expires: testNow.Add(24 * time.Hour).Unix()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := v.issue(tt.claims, testNow)
			if err != nil {
				t.Fatalf("issue: %v", err)
			}
			if len(tok) > MaxTokenBytes {
				t.Fatalf("token is %d bytes, over %d", len(tok), MaxTokenBytes)
			}
			c, err := v.Verify(tok, testNow)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !sameClaims(c, tt.claims) {
				t.Fatalf("Verify = %+v, want %+v", c, tt.claims)
			}
		})
	}
}

func TestIssueWallClock(t *testing.T) {
	v := newTestVerifier(t, testSecret)
	now := time.Now()
	tok, err := v.Issue(Claims{Subject: "demo", Accounts: []string{"DEMO1"}, Expires: now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(tok, now); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Issue(Claims{Subject: "demo", Expires: now.Add(-time.Hour).Unix()}); !errors.Is(err, ErrClaims) {
		t.Fatalf("Issue of an expired token: %v, want ErrClaims", err)
	}
}

func TestIssueRejects(t *testing.T) {
	v := newTestVerifier(t, testSecret)
	tooMany := make([]string, MaxAccounts+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprint("A", i)
	}
	now := testNow.Add(300 * time.Millisecond)
	tests := []struct {
		name   string
		claims Claims
	}{
		{name: "empty subject", claims: Claims{Expires: testExp}},
		{name: "long subject", claims: Claims{Subject: strings.Repeat("u", MaxSubjectLen+1), Expires: testExp}},
		{name: "control char subject", claims: Claims{Subject: "u\x001", Expires: testExp}},
		{name: "DEL subject", claims: Claims{Subject: "u\x7f", Expires: testExp}},
		{name: "non-ASCII subject", claims: Claims{Subject: "用户", Expires: testExp}},
		{name: "too many accounts", claims: Claims{Subject: "u1", Accounts: tooMany, Expires: testExp}},
		{name: "empty account", claims: Claims{Subject: "u1", Accounts: []string{"A1", ""}, Expires: testExp}},
		{name: "long account", claims: Claims{Subject: "u1", Accounts: []string{strings.Repeat("A", MaxAccountLen+1)}, Expires: testExp}},
		{name: "account with dot", claims: Claims{Subject: "u1", Accounts: []string{"A.1"}, Expires: testExp}},
		{name: "exp in the past", claims: Claims{Subject: "u1", Expires: now.Unix() - 1}},
		{name: "exp now", claims: Claims{Subject: "u1", Expires: now.Unix()}},
		{name: "exp past max_ttl", claims: Claims{Subject: "u1", Expires: now.Add(24*time.Hour).Unix() + 1}},
		{name: "exp far in the future", claims: Claims{Subject: "u1", Expires: 1<<63 - 1}},
		{name: "exp far in the past", claims: Claims{Subject: "u1", Expires: -1 << 63}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := v.issue(tt.claims, now)
			if !errors.Is(err, ErrClaims) || tok != "" {
				t.Fatalf("issue = %q, %v; want ErrClaims", tok, err)
			}
		})
	}
}

func TestIssueFor(t *testing.T) {
	v := newTestVerifier(t, testSecret)
	now := testNow.Add(999 * time.Millisecond)
	for _, ttl := range []time.Duration{time.Second, time.Hour, 24 * time.Hour} {
		tok, err := v.IssueFor("u1", nil, ttl, now)
		if err != nil {
			t.Fatalf("ttl %v: %v", ttl, err)
		}
		c, err := v.Verify(tok, now)
		if err != nil {
			t.Fatalf("ttl %v: %v", ttl, err)
		}
		if want := now.Add(ttl).Unix(); c.Expires != want {
			t.Fatalf("ttl %v: exp %d, want %d", ttl, c.Expires, want)
		}
	}
	for _, ttl := range []time.Duration{0, -time.Hour, 24*time.Hour + time.Second} {
		if _, err := v.IssueFor("u1", nil, ttl, now); !errors.Is(err, ErrClaims) {
			t.Fatalf("ttl %v: %v, want ErrClaims", ttl, err)
		}
	}
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lf := write("lf", testSecret+"\n")
	crlf := write("crlf", testSecret+"\r\n")
	bare := write("bare", testSecret)
	short := write("short", testSecret[:31]+"\n")
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
		same    bool // tokens interchange with Config{Secret: testSecret}
	}{
		{name: "secret", cfg: Config{Secret: testSecret}, same: true},
		{name: "file with newline", cfg: Config{SecretFile: lf}, same: true},
		{name: "file with CRLF", cfg: Config{SecretFile: crlf}, same: true},
		{name: "file without newline", cfg: Config{SecretFile: bare}, same: true},
		{name: "file wins over secret", cfg: Config{Secret: strings.Repeat("x", 40), SecretFile: lf}, same: true},
		{name: "other secret", cfg: Config{Secret: strings.Repeat("x", 32)}},
		{name: "durations", cfg: Config{Secret: testSecret, MaxTTL: time.Hour, Leeway: time.Second}, same: true},
		{name: "no secret", cfg: Config{}, wantErr: true},
		{name: "short secret", cfg: Config{Secret: testSecret[:31]}, wantErr: true},
		{name: "short file", cfg: Config{Secret: testSecret, SecretFile: short}, wantErr: true},
		{name: "missing file", cfg: Config{Secret: testSecret, SecretFile: filepath.Join(dir, "none")}, wantErr: true},
		{name: "negative max_ttl", cfg: Config{Secret: testSecret, MaxTTL: -time.Hour}, wantErr: true},
		{name: "sub-second max_ttl", cfg: Config{Secret: testSecret, MaxTTL: time.Millisecond}, wantErr: true},
		{name: "negative leeway", cfg: Config{Secret: testSecret, Leeway: -time.Second}, wantErr: true},
	}
	ref := newTestVerifier(t, testSecret)
	refTok, err := ref.IssueFor("u1", nil, time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(tt.cfg)
			if tt.wantErr {
				if !errors.Is(err, ErrConfig) || v != nil {
					t.Fatalf("New = %v, %v; want ErrConfig", v, err)
				}
				if strings.Contains(err.Error(), testSecret[:31]) {
					t.Fatalf("error %q leaks the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(refTok, testNow); (err == nil) != tt.same {
				t.Fatalf("Verify of a token signed with the test secret: %v", err)
			}
			if s := fmt.Sprintf("%+v %#v", v, v); strings.Contains(s, testSecret) {
				t.Fatalf("printing a Verifier shows the secret: %s", s)
			}
		})
	}
	if _, err := New(Config{SecretFile: filepath.Join(dir, "none")}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestDefaults(t *testing.T) {
	v := newTestVerifier(t, testSecret)
	if v.maxTTL != 24*time.Hour || v.leeway != 5*time.Second {
		t.Fatalf("defaults: max_ttl %v, leeway %v", v.maxTTL, v.leeway)
	}
	v, err := New(Config{Secret: testSecret, MaxTTL: time.Hour, Leeway: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.IssueFor("u1", nil, time.Hour+time.Second, testNow); !errors.Is(err, ErrClaims) {
		t.Fatalf("ttl over max_ttl: %v", err)
	}
	tok, err := v.IssueFor("u1", nil, time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	exp := testNow.Add(time.Hour)
	if _, err := v.Verify(tok, exp.Add(59*time.Second)); err != nil {
		t.Fatalf("within a 1m leeway: %v", err)
	}
	if _, err := v.Verify(tok, exp.Add(time.Minute)); !errors.Is(err, ErrExpired) {
		t.Fatalf("past a 1m leeway: %v", err)
	}
}

// TestConcurrent shares one Verifier between goroutines; run with -race.
func TestConcurrent(t *testing.T) {
	v := newTestVerifier(t, testSecret)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				sub := fmt.Sprintf("u%d-%d", g, i)
				tok, err := v.IssueFor(sub, []string{"A1"}, time.Hour, testNow)
				if err != nil {
					t.Error(err)
					return
				}
				c, err := v.Verify(tok, testNow)
				if err != nil || c.Subject != sub {
					t.Errorf("Verify = %+v, %v; want subject %s", c, err, sub)
					return
				}
				body, sig, _ := strings.Cut(tok, ".")
				first := "A"
				if sig[0] == 'A' {
					first = "B"
				}
				forged := body + "." + first + sig[1:]
				if _, err := v.Verify(forged, testNow); err == nil {
					t.Error("a forged token verified")
					return
				}
			}
		})
	}
	wg.Wait()
}
