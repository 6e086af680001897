package auth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	dir := t.TempDir()
	lf := writeFile(t, dir, "lf", testSecret+"\n")
	crlf := writeFile(t, dir, "crlf", testSecret+"\r\n")
	bare := writeFile(t, dir, "bare", testSecret)
	short := writeFile(t, dir, "short", testSecret[:31]+"\n")
	notPEM := writeFile(t, dir, "not.pem", "hello\n")
	garbage := writeFile(t, dir, "garbage.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
	readOnly := writeFile(t, dir, "read-only", testSecret+"\n")
	loose := writeFile(t, dir, "loose", testSecret+"\n")
	groupRead := writeFile(t, dir, "group-read", testSecret+"\n")
	edKey, err := os.ReadFile(keyEdA.PrivateKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	looseKey := writeFile(t, dir, "loose.key", string(edKey))
	groupKey := writeFile(t, dir, "group.key", string(edKey))
	readOnlyKey := writeFile(t, dir, "read-only.key", string(edKey))
	for f, mode := range map[string]os.FileMode{readOnly: 0o400, loose: 0o644, groupRead: 0o640, looseKey: 0o644, groupKey: 0o640, readOnlyKey: 0o400} {
		if err := os.Chmod(f, mode); err != nil {
			t.Fatal(err)
		}
	}
	pub := func(id, alg, file string) KeyConfig { return KeyConfig{ID: id, Alg: alg, PublicKeyFile: file} }
	priv := func(id, alg, file string) KeyConfig { return KeyConfig{ID: id, Alg: alg, PrivateKeyFile: file} }
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // "" = valid; else in the error
		same    bool   // tokens interchange with kid "default", secret testSecret
	}{
		{name: "secret", cfg: Config{Secret: testSecret}, same: true},
		{name: "file with newline", cfg: Config{SecretFile: lf}, same: true},
		{name: "file with CRLF", cfg: Config{SecretFile: crlf}, same: true},
		{name: "file without newline", cfg: Config{SecretFile: bare}, same: true},
		{name: "file wins over secret", cfg: Config{Secret: strings.Repeat("x", 40), SecretFile: lf}, same: true},
		{name: "HS256 key named default", cfg: Config{Keys: []KeyConfig{{ID: "default", Alg: AlgHS256, SecretFile: lf}}}, same: true},
		{name: "secret and keys", cfg: Config{Secret: testSecret, Keys: allKeys}, same: true},
		{name: "other secret", cfg: Config{Secret: strings.Repeat("x", 32)}},
		{name: "every algorithm", cfg: Config{Keys: allKeys}},
		{name: "public keys only", cfg: Config{Keys: []KeyConfig{pub("e", AlgEdDSA, keyEdA.PublicKeyFile), pub("s", AlgSM2SM3, keySM2.PublicKeyFile)}}},
		{name: "private keys only", cfg: Config{Keys: []KeyConfig{priv("e", AlgES256, keyES.PrivateKeyFile), priv("s", AlgSM2SM3, keySM2.PrivateKeyFile)}}},
		{name: "SEC 1 keys", cfg: Config{Keys: []KeyConfig{priv("e", AlgES256, testKey("es256-sec1.key")), priv("s", AlgSM2SM3, testKey("sm2-sec1.key"))}}},
		{name: "certificate", cfg: Config{Keys: []KeyConfig{pub("e", AlgEdDSA, "testdata/ed25519-a.crt")}}},
		{name: "durations", cfg: Config{Secret: testSecret, MaxTTL: time.Hour, Leeway: time.Second}, same: true},
		{name: "no key", cfg: Config{}, wantErr: "no key"},
		{name: "short secret", cfg: Config{Secret: testSecret[:31]}, wantErr: "secret: key default: secret is 31 bytes"},
		{name: "short file", cfg: Config{Secret: testSecret, SecretFile: short}, wantErr: "is 31 bytes, need at least 32"},
		{name: "missing file", cfg: Config{Secret: testSecret, SecretFile: filepath.Join(dir, "none")}, wantErr: "secret_file"},
		{name: "file mode 0400", cfg: Config{SecretFile: readOnly}, same: true},
		{name: "file readable by others", cfg: Config{SecretFile: loose}, wantErr: "has permissions 0644: group and others must have no access"},
		{name: "file readable by its group", cfg: Config{Keys: []KeyConfig{{ID: "k", Alg: AlgHS256, SecretFile: groupRead}}}, wantErr: "has permissions 0640"},
		{name: "file not a regular file", cfg: Config{SecretFile: dir}, wantErr: "not a regular file"},
		{name: "private key mode 0400", cfg: Config{Keys: []KeyConfig{priv("k", AlgEdDSA, readOnlyKey)}}},
		{name: "private key readable by others", cfg: Config{Keys: []KeyConfig{priv("k", AlgEdDSA, looseKey)}}, wantErr: "private_key_file: " + looseKey + " has permissions 0644: group and others must have no access"},
		{name: "private key readable by its group", cfg: Config{Keys: []KeyConfig{{ID: "k", Alg: AlgEdDSA, PublicKeyFile: keyEdA.PublicKeyFile, PrivateKeyFile: groupKey}}}, wantErr: "has permissions 0640"},
		{name: "private key not a regular file", cfg: Config{Keys: []KeyConfig{priv("k", AlgEdDSA, dir)}}, wantErr: "not a regular file"},
		{name: "public key not a regular file", cfg: Config{Keys: []KeyConfig{pub("k", AlgEdDSA, dir)}}, wantErr: "not a regular file"},
		{name: "duplicate id", cfg: Config{Keys: []KeyConfig{keyHS, keyEdA, {ID: "hs", Alg: AlgHS256, Secret: testSecret}}}, wantErr: `keys[2]: key id "hs" is used twice`},
		{name: "secret and key default", cfg: Config{Secret: testSecret, Keys: []KeyConfig{{ID: "default", Alg: AlgHS256, Secret: testSecret}}}, wantErr: "used twice"},
		{name: "no alg", cfg: Config{Keys: []KeyConfig{{ID: "k", Secret: testSecret}}}, wantErr: "alg is required"},
		{name: "alg none", cfg: Config{Keys: []KeyConfig{{ID: "k", Alg: "none", Secret: testSecret}}}, wantErr: `alg "none"`},
		{name: "alg RS256", cfg: Config{Keys: []KeyConfig{{ID: "k", Alg: "RS256", PublicKeyFile: keyES.PublicKeyFile}}}, wantErr: `alg "RS256"`},
		{name: "no id", cfg: Config{Keys: []KeyConfig{{Alg: AlgHS256, Secret: testSecret}}}, wantErr: "key id"},
		{name: "id with a space", cfg: Config{Keys: []KeyConfig{{ID: "a b", Alg: AlgHS256, Secret: testSecret}}}, wantErr: "key id"},
		{name: "HS256 with a key file", cfg: Config{Keys: []KeyConfig{{ID: "k", Alg: AlgHS256, Secret: testSecret, PublicKeyFile: keyEdA.PublicKeyFile}}}, wantErr: "HS256 takes secret"},
		{name: "EdDSA with a secret", cfg: Config{Keys: []KeyConfig{{ID: "k", Alg: AlgEdDSA, Secret: testSecret}}}, wantErr: "not a secret"},
		{name: "EdDSA without a key", cfg: Config{Keys: []KeyConfig{{ID: "k", Alg: AlgEdDSA}}}, wantErr: "needs public_key_file"},
		{name: "P-256 key for EdDSA", cfg: Config{Keys: []KeyConfig{pub("k", AlgEdDSA, keyES.PublicKeyFile)}}, wantErr: "an ECDSA P-256 key, not a key for EdDSA"},
		{name: "SM2 key for ES256", cfg: Config{Keys: []KeyConfig{pub("k", AlgES256, keySM2.PublicKeyFile)}}, wantErr: "an SM2 key, not a key for ES256"},
		{name: "P-256 key for SM2SM3", cfg: Config{Keys: []KeyConfig{pub("k", AlgSM2SM3, keyES.PublicKeyFile)}}, wantErr: "not a key for SM2SM3"},
		{name: "P-384 key for ES256", cfg: Config{Keys: []KeyConfig{pub("k", AlgES256, "testdata/es384.pub")}}, wantErr: "P-384 key, not a key for ES256"},
		{name: "P-384 private key for ES256", cfg: Config{Keys: []KeyConfig{priv("k", AlgES256, testKey("es384.key"))}}, wantErr: "not a key for ES256"},
		{name: "SM2 private key for ES256", cfg: Config{Keys: []KeyConfig{priv("k", AlgES256, keySM2.PrivateKeyFile)}}, wantErr: "not a key for ES256"},
		{name: "P-256 private key for SM2SM3", cfg: Config{Keys: []KeyConfig{priv("k", AlgSM2SM3, testKey("es256-sec1.key"))}}, wantErr: "not an SM2 curve"},
		{name: "private key as public", cfg: Config{Keys: []KeyConfig{pub("k", AlgEdDSA, keyEdA.PrivateKeyFile)}}, wantErr: `PEM block "PRIVATE KEY"`},
		{name: "public key as private", cfg: Config{Keys: []KeyConfig{priv("k", AlgEdDSA, testKey("ed25519-a.pub"))}}, wantErr: `PEM block "PUBLIC KEY"`},
		{name: "halves of two keys", cfg: Config{Keys: []KeyConfig{{ID: "k", Alg: AlgEdDSA, PublicKeyFile: keyEdB.PublicKeyFile, PrivateKeyFile: keyEdA.PrivateKeyFile}}}, wantErr: "is not the public half"},
		{name: "not PEM", cfg: Config{Keys: []KeyConfig{pub("k", AlgEdDSA, notPEM)}}, wantErr: "no PEM block"},
		{name: "PEM of garbage", cfg: Config{Keys: []KeyConfig{pub("k", AlgEdDSA, garbage)}}, wantErr: "public_key_file"},
		{name: "missing key file", cfg: Config{Keys: []KeyConfig{pub("k", AlgEdDSA, filepath.Join(dir, "none.pem"))}}, wantErr: "no such file"},
		{name: "signing_key unknown", cfg: Config{Keys: []KeyConfig{keyHS}, SigningKey: "x"}, wantErr: `signing_key "x" names no key`},
		{name: "signing_key public only", cfg: Config{Keys: []KeyConfig{pub("k", AlgEdDSA, keyEdA.PublicKeyFile)}, SigningKey: "k"}, wantErr: "has no secret or private_key_file"},
		{name: "issuer with newline", cfg: Config{Secret: testSecret, Issuer: "a\nb"}, wantErr: "issuer"},
		{name: "negative max_ttl", cfg: Config{Secret: testSecret, MaxTTL: -time.Hour}, wantErr: "max_ttl"},
		{name: "sub-second max_ttl", cfg: Config{Secret: testSecret, MaxTTL: time.Millisecond}, wantErr: "max_ttl"},
		{name: "negative leeway", cfg: Config{Secret: testSecret, Leeway: -time.Second}, wantErr: "leeway"},
		{name: "leeway beyond the maximum", cfg: Config{Secret: testSecret, Leeway: MaxLeeway + time.Second}, wantErr: "leeway"},
		{name: "bad anonymous", cfg: Config{Secret: testSecret, Anonymous: Entitlements{"sh": L1}}, wantErr: "anonymous"},
		{name: "bad default_entitlements", cfg: Config{Secret: testSecret, DefaultEntitlements: Entitlements{"SH": 7}}, wantErr: "default_entitlements"},
	}
	ref, err := New(Config{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	refTok, err := ref.IssueFor("u1", nil, time.Hour, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(tt.cfg)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrConfig) || v != nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New = %v, %v; want ErrConfig containing %q", v, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), testSecret[:31]) {
					t.Fatalf("error %q leaks the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.cfg.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if _, err := v.Verify(refTok, testNow); (err == nil) != tt.same {
				t.Fatalf("Verify of a token of kid default signed with the test secret: %v", err)
			}
			for _, s := range []string{fmt.Sprintf("%v %+v %#v %s", v, v, v, v), fmt.Sprintf("%v %+v %#v", v.Signer(), v.Signer(), v.Signer())} {
				if strings.Contains(s, testSecret) || strings.Contains(s, "0x") {
					t.Fatalf("printing shows a key: %s", s)
				}
			}
		})
	}
	if _, err := New(Config{SecretFile: filepath.Join(dir, "none")}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want fs.ErrNotExist", err)
	}
}

// TestValidateReadsNoFiles: a configuration loader can check a config whose
// key files live on the production host.
func TestValidateReadsNoFiles(t *testing.T) {
	cfg := Config{Keys: []KeyConfig{{ID: "login-2026", Alg: AlgSM2SM3, PublicKeyFile: "/nonexistent/login.pub"}}, Issuer: "login"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("New: %v, want fs.ErrNotExist", err)
	}
	cfg.Keys[0].Alg = "SM2"
	if err := cfg.Validate(); !errors.Is(err, ErrConfig) {
		t.Fatalf("Validate of alg SM2: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := Config{Secret: testSecret}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxTTL != 24*time.Hour || cfg.Leeway != 5*time.Second || cfg.SigningKey != DefaultKeyID ||
		cfg.Anonymous.String() != "*:L1" || cfg.DefaultEntitlements.String() != "*:L2" {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestConfigSigner(t *testing.T) {
	cfg := Config{Keys: []KeyConfig{{ID: "pub", Alg: AlgEdDSA, PublicKeyFile: keyEdA.PublicKeyFile}, keyES, keySM2}, MaxTTL: time.Hour}
	for _, tc := range []struct{ id, want, wantErr string }{
		{id: "", want: "es"},
		{id: "sm2", want: "sm2"},
		{id: "pub", wantErr: "no private_key_file"},
		{id: "nope", wantErr: `no key "nope"`},
	} {
		s, err := cfg.Signer(tc.id)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Signer(%q) = %v, %v; want %q", tc.id, s, err, tc.wantErr)
			}
			continue
		}
		if err != nil || s.KeyID() != tc.want {
			t.Fatalf("Signer(%q) = %v, %v; want kid %s", tc.id, s, err, tc.want)
		}
		if _, err := s.Sign(Claims{Subject: "u1", Expires: testNow.Add(time.Hour + time.Second).Unix()}, testNow); !errors.Is(err, ErrClaims) {
			t.Fatalf("max_ttl not applied: %v", err)
		}
	}
	pubOnly := Config{Keys: cfg.Keys[:1]}
	if _, err := pubOnly.Signer(""); !errors.Is(err, ErrNoSigner) {
		t.Fatalf("Signer of public keys only: %v", err)
	}
}
