package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sgw/auth"
	"sgw/configs"
	"sgw/mdbus/mdbustest"
	"sgw/netsec/netsectest"
)

// TestTemplatesPassCheckConfig runs `gateway check-config` over the
// shipped configurations, so that they never rot. The production
// templates name files under /etc/gateway that a development machine
// lacks: check-config stays strict (it fails naming them, checked here
// too), and the test writes each one into a temporary directory (a
// throw-away PKI, token public keys of the right algorithm, password and
// key files, NATS credentials) and points a copy of the template there.
func TestTemplatesPassCheckConfig(t *testing.T) {
	for _, tc := range []struct {
		file string
		out  string // the report after "ok: FILE: "
	}{
		{file: "configs/gateway.example.yaml",
			out: "run, 5 instruments, 2 feeds (4 sources), orders: 2 upstreams over 4 lines, 3 accounts, 2 broker sessions, 2 token keys, 9 TLS configurations read, storage sealed"},
		{file: "configs/cluster.example.yaml",
			out: "run, 2 instruments, 2 feeds (4 sources), orders: 2 upstreams over 4 lines, 2 accounts, 1 token key, 10 TLS configurations read, cluster node gw1 of 3, market bus ingest"},
		{file: "configs/local.yaml",
			out: "run, 4 instruments, 2 feeds (4 sources), orders: 2 upstreams over 4 lines, 3 accounts, 1 broker session, 1 token key, 0 TLS configurations read, simulator"},
		{file: "configs/demo.yaml",
			out: "demo, 6 instruments, 2 feeds (4 sources), orders: 2 upstreams over 4 lines, 3 accounts, 1 broker session, 1 token key, 2 TLS configurations read, simulator"},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			b, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			path := tc.file
			if strings.Contains(string(b), "/etc/gateway/") {
				if _, err := os.Stat("/etc/gateway"); errors.Is(err, fs.ErrNotExist) {
					// As shipped, on a machine without the files: strict.
					err := run(context.Background(), []string{"check-config", tc.file}, &bytes.Buffer{}, &bytes.Buffer{})
					if err == nil || !strings.Contains(err.Error(), " /etc/gateway/") || !strings.Contains(err.Error(), "no such file or directory") {
						t.Errorf("check-config %s without its files = %v; want it to name a missing /etc/gateway file", tc.file, err)
					}
				}
				path = installTemplate(t, tc.file, b)
			}
			var out bytes.Buffer
			if err := run(context.Background(), []string{"check-config", path}, &out, &bytes.Buffer{}); err != nil {
				t.Fatalf("check-config %s: %v", tc.file, err)
			}
			if want := "ok: " + path + ": " + tc.out + "\n"; out.String() != want {
				t.Errorf("check-config %s:\n got %q\nwant %q", tc.file, out.String(), want)
			}
		})
	}
}

// installTemplate writes every file under /etc/gateway that the
// template names into a temporary directory, and returns the path of a
// copy of the template whose /etc/gateway and /var/lib/gateway point into
// it.
func installTemplate(t *testing.T, name string, text []byte) string {
	t.Helper()
	pki := netsectest.NewPKI(t, "template CA")
	root := t.TempDir()
	etc, state := filepath.Join(root, "etc"), filepath.Join(root, "state")
	s := strings.ReplaceAll(string(text), "/etc/gateway/", etc+"/")
	s = strings.ReplaceAll(s, "/var/lib/gateway/", state+"/")
	// Token public keys by algorithm, from the auth package's test keys.
	cfg, err := configs.Parse(name, []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	pubs := map[string]string{auth.AlgSM2SM3: "auth/testdata/sm2.pub", auth.AlgES256: "auth/testdata/es256.pub", auth.AlgEdDSA: "auth/testdata/ed25519-a.pub"}
	kinds := map[string]string{}
	for _, k := range cfg.Auth.Keys {
		if k.PublicKeyFile != "" {
			kinds[k.PublicKeyFile] = pubs[k.Alg]
		}
	}
	pairs := map[string]bool{}
	for _, p := range regexp.MustCompile(regexp.QuoteMeta(etc)+`/[^\s,}"]+`).FindAllString(s, -1) {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		var data []byte
		switch ext := filepath.Ext(p); {
		case kinds[p] != "":
			data, err = os.ReadFile(kinds[p])
			if err != nil {
				t.Fatal(err)
			}
		case ext == ".yaml": // the configuration itself, in the comments
			continue
		case ext == ".pem" && strings.Contains(s, strings.TrimSuffix(p, ".pem")+".key"):
			pairs[strings.TrimSuffix(p, ".pem")] = true
			continue
		case ext == ".key" && strings.Contains(s, strings.TrimSuffix(p, ".key")+".pem"):
			continue
		case ext == ".pem": // a CA bundle
			data = pki.CA.CertPEM()
		case ext == ".keys": // the storage key file
			data = []byte("k2026 00112233445566778899aabbccddeeff\n")
		case ext == ".password":
			data = []byte("broker-secret\n")
		case ext == ".key": // a secret
			data = []byte("0123456789abcdef0123456789abcdef\n")
		case ext == ".creds": // a NATS user's credentials
			mdbustest.NewOperator(t).Creds(filepath.Dir(p), strings.TrimSuffix(filepath.Base(p), ext), mdbustest.Ingest("sgw.md"))
			continue
		case ext == ".nk": // a NATS user's NKey seed
			mdbustest.NKeyUser(t, filepath.Dir(p), strings.TrimSuffix(filepath.Base(p), ext))
			continue
		default:
			t.Fatalf("%s names %s: the test does not know what to write there", name, p)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for stem := range pairs {
		pr := pki.Server(filepath.Base(stem))
		pki.Write(pr, stem+".pem", stem+".key")
	}
	out := filepath.Join(root, filepath.Base(name))
	if err := os.WriteFile(out, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}
