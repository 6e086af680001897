package main

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sgw/auth"
	"sgw/configs"
)

// TestTokenCommand runs the token command in-process and verifies what it
// prints with a Verifier of the matching public key or secret.
func TestTokenCommand(t *testing.T) {
	now := time.Unix(1767222000, 0)
	demo, err := configs.Load("configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(strings.Repeat("s", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := testKeys(t)
	tests := []struct {
		name   string
		args   []string
		verify auth.Config // the gateway's side
		want   auth.Claims
	}{
		{
			name:   "demo config",
			args:   []string{"-config", "configs/demo.yaml", "-sub", "u1", "-accounts", "A1,A2", "-ent", "SH:L2,SZ:L1", "-admin", "-ttl", "2h"},
			verify: *demo.Auth,
			want: auth.Claims{Subject: "u1", Accounts: []string{"A1", "A2"}, Admin: true, KeyID: "default",
				Entitlements: auth.Entitlements{"SH": auth.L2, "SZ": auth.L1}, Expires: now.Add(2 * time.Hour).Unix()},
		},
		{
			name:   "demo config, defaults",
			args:   []string{"-config", "configs/demo.yaml", "-sub", "viewer"},
			verify: *demo.Auth,
			want:   auth.Claims{Subject: "viewer", KeyID: "default", Entitlements: auth.FullEntitlements(), Expires: now.Add(time.Hour).Unix()},
		},
		{
			name:   "HS256 secret file",
			args:   []string{"-key", secret, "-alg", "HS256", "-kid", "s1", "-sub", "u2", "-ent", "*:L1"},
			verify: auth.Config{Keys: []auth.KeyConfig{{ID: "s1", Alg: auth.AlgHS256, SecretFile: secret}}},
			want:   auth.Claims{Subject: "u2", KeyID: "s1", Entitlements: auth.Entitlements{"*": auth.L1}, Expires: now.Add(time.Hour).Unix()},
		},
		{
			name:   "EdDSA",
			args:   []string{"-key", keys + "ed25519-a.key", "-alg", "EdDSA", "-kid", "ed1", "-sub", "ops", "-admin", "-ttl", "10m"},
			verify: auth.Config{Keys: []auth.KeyConfig{{ID: "ed1", Alg: auth.AlgEdDSA, PublicKeyFile: keys + "ed25519-a.pub"}}},
			want:   auth.Claims{Subject: "ops", Admin: true, KeyID: "ed1", Entitlements: auth.FullEntitlements(), Expires: now.Add(10 * time.Minute).Unix()},
		},
		{
			name:   "ES256 with issuer and audience",
			args:   []string{"-key", keys + "es256.key", "-alg", "ES256", "-kid", "es1", "-sub", "u3", "-accounts", "A1", "-iss", "login", "-aud", "sgw"},
			verify: auth.Config{Keys: []auth.KeyConfig{{ID: "es1", Alg: auth.AlgES256, PublicKeyFile: keys + "es256.pub"}}, Issuer: "login", Audience: "sgw"},
			want: auth.Claims{Subject: "u3", Accounts: []string{"A1"}, KeyID: "es1", Issuer: "login", Audience: []string{"sgw"},
				Entitlements: auth.FullEntitlements(), Expires: now.Add(time.Hour).Unix()},
		},
		{
			name:   "SM2SM3",
			args:   []string{"-key", keys + "sm2.key", "-alg", "SM2SM3", "-kid", "gm1", "-sub", "u4", "-ent", "none"},
			verify: auth.Config{Keys: []auth.KeyConfig{{ID: "gm1", Alg: auth.AlgSM2SM3, PublicKeyFile: keys + "sm2.pub"}}},
			want:   auth.Claims{Subject: "u4", KeyID: "gm1", Entitlements: auth.Entitlements{}, Expires: now.Add(time.Hour).Unix()},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := runToken(tc.args, &out, &errOut, now); err != nil {
				t.Fatalf("token %q: %v; stderr %s", tc.args, err, errOut.String())
			}
			tok, ok := strings.CutSuffix(out.String(), "\n")
			if !ok || strings.Contains(tok, "\n") || strings.Count(tok, ".") != 2 {
				t.Fatalf("printed %q, want one token and a newline", out.String())
			}
			v, err := auth.New(tc.verify)
			if err != nil {
				t.Fatal(err)
			}
			c, err := v.Verify(tok, now)
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			if c.Subject != w.Subject || !slices.Equal(c.Accounts, w.Accounts) || c.Admin != w.Admin || c.KeyID != w.KeyID ||
				!maps.Equal(c.Entitlements, w.Entitlements) || c.Expires != w.Expires || c.IssuedAt != now.Unix() ||
				c.Issuer != w.Issuer || !slices.Equal(c.Audience, w.Audience) {
				t.Fatalf("claims %+v\nwant %+v", c, w)
			}
		})
	}

	noAuth := filepath.Join(t.TempDir(), "noauth.yaml")
	if err := os.WriteFile(noAuth, []byte("instruments:\n  - {symbol: 600519.SH, board: main, prev_close: \"1700.00\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{name: "no subject", args: []string{"-config", "configs/demo.yaml"}, want: "-sub is required"},
		{name: "no key", args: []string{"-sub", "u1"}, want: "-config FILE or -key FILE is required"},
		{name: "both", args: []string{"-config", "configs/demo.yaml", "-key", secret, "-sub", "u1"}, want: "not both"},
		{name: "key without alg", args: []string{"-key", secret, "-kid", "k", "-sub", "u1"}, want: "-key needs -alg and -kid"},
		{name: "alg with config", args: []string{"-config", "configs/demo.yaml", "-alg", "EdDSA", "-sub", "u1"}, want: "-alg goes with -key"},
		{name: "unknown kid", args: []string{"-config", "configs/demo.yaml", "-kid", "nope", "-sub", "u1"}, want: `no key "nope"`},
		{name: "no auth section", args: []string{"-config", noAuth, "-sub", "u1"}, want: "has no auth section"},
		{name: "wrong alg for the key", args: []string{"-key", keys + "sm2.key", "-alg", "ES256", "-kid", "k", "-sub", "u1"}, want: "not a key for ES256"},
		{name: "public key", args: []string{"-key", keys + "sm2.pub", "-alg", "SM2SM3", "-kid", "k", "-sub", "u1"}, want: `PEM block "PUBLIC KEY"`},
		{name: "bad ent", args: []string{"-config", "configs/demo.yaml", "-sub", "u1", "-ent", "SH:L9"}, want: `level "L9"`},
		{name: "bad account", args: []string{"-config", "configs/demo.yaml", "-sub", "u1", "-accounts", "A 1"}, want: "accounts[0]"},
		{name: "ttl over max_ttl", args: []string{"-config", "configs/demo.yaml", "-sub", "u1", "-ttl", "25h"}, want: "max_ttl"},
		{name: "negative ttl", args: []string{"-config", "configs/demo.yaml", "-sub", "u1", "-ttl", "-1h"}, want: "not after now"},
		{name: "stray argument", args: []string{"-config", "configs/demo.yaml", "-sub", "u1", "extra"}, want: "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := runToken(tc.args, &out, &errOut, now)
			if err == nil || !strings.Contains(err.Error(), tc.want) || out.Len() != 0 {
				t.Fatalf("token %q = %v, printed %q; want an error containing %q", tc.args, err, out.String(), tc.want)
			}
		})
	}

	// Through run, as the command line reaches it.
	var out bytes.Buffer
	if err := run(context.Background(), []string{"token", "-config", "configs/demo.yaml", "-sub", "u1"}, &out, &bytes.Buffer{}); err != nil || strings.Count(out.String(), ".") != 2 {
		t.Fatalf("gateway token: %q, %v", out.String(), err)
	}
}

// testKeys copies auth/testdata's keys, which git keeps world-readable, to
// a directory of t's with mode 600, as a private_key_file must be, and
// returns the directory with a trailing slash.
func testKeys(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob("auth/testdata/*.[kp][eu][yb]")
	if err != nil || len(files) == 0 {
		t.Fatalf("auth/testdata keys: %v, %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir + "/"
}
