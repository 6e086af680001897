package system

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sgw/atrest"
	"sgw/configs"
	"sgw/feed"
	"sgw/fix"
	"sgw/mdbus/mdbustest"
	"sgw/netsec"
	"sgw/netsec/netsectest"
	"sgw/risk"
)

// checkFixture writes the files testdata/check/base.yaml names (a PKI,
// a token key, the storage key file, a broker password) into a fresh
// directory and returns it with the configuration's text, DIR replaced.
func checkFixture(t *testing.T) (dir, yaml string) {
	t.Helper()
	pki := netsectest.NewPKI(t, "check CA")
	dir = pki.Dir
	pki.Issue("gateway", netsec.LocalhostLeaf())
	pki.Client("client", "gw1")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]struct {
		data string
		mode fs.FileMode
	}{
		"login.pub":          {string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), 0o644},
		"storage.keys":       {"k1 00112233445566778899aabbccddeeff\n", 0o600},
		"broker-a.password":  {"s3cret-a\n", 0o600},
		"not-a-cert.pem":     {"hello\n", 0o644},
		"state/.placeholder": {"", 0o600},
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.data), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile("testdata/check/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return dir, strings.ReplaceAll(string(b), "DIR", dir)
}

// busSection is a market_bus section for TestCheck, before storage.
const busSection = "market_bus: {role: ingest, url: 'nats://10.0.0.5:4222', tls: {ca_file: DIR/ca.pem}, credentials: DIR/bus.creds}\n"

// clusterSection is a cluster section for TestCheck, before storage.
const clusterSection = "cluster:\n  node_id: gw1\n  data_dir: DIR/state/raft\n  nodes:\n" +
	"    - {id: gw1, raft: '10.0.1.11:7001', brokers: '10.0.1.11:9878'}\n" +
	"    - {id: gw2, raft: '10.0.2.11:7001', brokers: '10.0.2.11:9878'}\n" +
	"    - {id: gw3, raft: '10.0.3.11:7001', brokers: '10.0.3.11:9878'}\n"

// TestCheck breaks a valid production configuration one way at a time
// and checks that Check names the YAML path and what is wrong.
func TestCheck(t *testing.T) {
	type edit struct{ old, new string }
	tests := []struct {
		name  string
		edits []edit                         // replacements in the YAML, each of which must apply
		prep  func(t *testing.T, dir string) // changes to the files
		want  []string                       // substrings of the error, in order; none: valid
		is    error                          // errors.Is target, if any
		check func(t *testing.T, rep Report) // for valid configurations
	}{
		{name: "valid", check: func(t *testing.T, rep Report) {
			want := "run, 2 instruments, 1 feed (2 sources), orders: 2 upstreams over 4 lines, 2 accounts, 1 broker session, 1 token key, 7 TLS configurations read, storage sealed"
			if rep.String() != want {
				t.Errorf("report %q\nwant     %q", rep, want)
			}
		}},
		{name: "feed backup in plain text across the Internet",
			edits: []edit{{"      tls: {ca_file: DIR/ca.pem, cert_file: DIR/client.pem, key_file: DIR/client.key}\n", ""}},
			want:  []string{"feeds[0] (cn): ", "backup.addr relay.branch.example:24001 is not loopback", "set tls or name the tunnel"}, is: feed.ErrConfig},
		{name: "feed heartbeats", edits: []edit{{"heartbeat_timeout: 3s", "heartbeat_timeout: 1s"}},
			want: []string{"feeds[0] (cn): ", "heartbeat_interval 1s must be below heartbeat_timeout 1s"}},
		{name: "feed CA bundle missing", edits: []edit{{"tls: {ca_file: DIR/ca.pem}\n    backup", "tls: {ca_file: DIR/missing-ca.pem}\n    backup"}},
			want: []string{"feeds[0] (cn): ", "primary.tls.ca_file: stat ", "missing-ca.pem: no such file or directory"}, is: netsec.ErrConfig},
		{name: "feed CA bundle not PEM", edits: []edit{{"tls: {ca_file: DIR/ca.pem}\n    backup", "tls: {ca_file: DIR/not-a-cert.pem}\n    backup"}},
			want: []string{"feeds[0] (cn): ", "primary.tls: no PEM certificate in the CA bundle"}},
		{name: "feed client key pair half given", edits: []edit{{", cert_file: DIR/client.pem, key_file: DIR/client.key}", ", cert_file: DIR/client.pem}"}},
			want: []string{"feeds[0] (cn): ", "backup.tls: cert_file and key_file go together"}},
		{name: "HTTP listener key of another certificate", edits: []edit{{"key_file: DIR/gateway.key}\n  proxy", "key_file: DIR/client.key}\n  proxy"}},
			want: []string{"gateway: invalid config: ", "gateway.tls: cert_file ", "private key does not match public key"}},
		{name: "HTTP listener in plain text", edits: []edit{{"  tls: {cert_file: DIR/gateway.pem, key_file: DIR/gateway.key}\n  proxy", "  proxy"}},
			want: []string{"gateway: invalid config: ", "gateway.http 0.0.0.0:8443 would carry plain text across a network", "gateway.tls_terminated_by"}},
		{name: "HTTP certificate missing", edits: []edit{{"cert_file: DIR/gateway.pem, key_file: DIR/gateway.key}\n  proxy", "cert_file: DIR/nope.pem, key_file: DIR/gateway.key}\n  proxy"}},
			want: []string{"gateway: invalid config: ", "gateway.tls: cert_file: stat ", "nope.pem: no such file"}},
		{name: "proxy protocol peer", edits: []edit{{"trusted: [10.0.0.10]", "trusted: [10.0.0.300]"}},
			want: []string{"gateway: invalid config: ", "gateway.proxy_protocol.trusted"}},
		{name: "token key of another algorithm", edits: []edit{{"alg: ES256", "alg: EdDSA"}},
			want: []string{"auth: invalid config: ", "login-1"}},
		{name: "token key file missing", edits: []edit{{"DIR/login.pub", "DIR/nope.pub"}},
			want: []string{"auth: invalid config: key login-1: public_key_file: stat ", "nope.pub: no such file"}},
		{name: "storage key file readable by others", prep: func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "storage.keys"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"storage.encryption: ", "permissions 0644", "chmod 600"}, is: atrest.ErrKeyFile},
		{name: "journal missing", edits: []edit{{"  journal: DIR/state/orders.jrnl\n", ""}},
			want: []string{"orders.journal: required: the order journal's file"}},
		{name: "order id prefix", edits: []edit{{"id_prefix: GW1", "id_prefix: GATEWAY-ONE"}},
			want: []string{"orders: invalid config: id_prefix \"GATEWAY-ONE\": 1 to 8 characters"}},
		{name: "risk position in an unknown symbol", edits: []edit{{"positions: {600519.SH: 100}", "positions: {600000.SH: 100}"}},
			want: []string{"orders.risk: risk: invalid config: accounts: A1: position in unknown symbol 600000.SH"}, is: risk.ErrConfig},
		{name: "upstream line off loopback in plain text", edits: []edit{{`, tunnel: "ipsec carrierB-margin"}`, `}`}},
			want: []string{"orders.upstreams[1] (margin): fix: bad configuration: upstream \"margin\": ", "line carrierB 10.2.0.20:9880 would carry plain text", "lines[1].tunnel (or set lines[1].tls)"}, is: fix.ErrConfig},
		{name: "upstream line client certificate without key", edits: []edit{{"tls: {ca_file: DIR/ca.pem}}\n        - {name: carrierB", "tls: {ca_file: DIR/ca.pem, key_file: DIR/client.key}}\n        - {name: carrierB"}},
			want: []string{"orders.upstreams[1] (margin): ", "lines[0].tls: cert_file and key_file go together"}},
		{name: "upstream line CA missing", edits: []edit{{"tls: {ca_file: DIR/ca.pem}}\n        - {name: carrierB", "tls: {ca_file: DIR/x.pem}}\n        - {name: carrierB"}},
			want: []string{"orders.upstreams[1] (margin): ", "upstream \"margin\": line \"carrierA\": netsec: invalid config: lines[0].tls.ca_file: stat ", "x.pem: no such file"}},
		{name: "upstreams share a store", edits: []edit{{"store_dir: DIR/state/fix-margin", "store_dir: DIR/state/fix-core/"}},
			want: []string{"orders.upstreams[1] (margin): store_dir ", "is also upstream core's: each session needs its own"}},
		{name: "upstreams share a FIX session", edits: []edit{{"target_comp_id: MARGIN", "target_comp_id: CORE"}},
			want: []string{"orders.upstreams[1] (margin): FIX session FIX.4.4:GW1->CORE is also upstream core's"}},
		{name: "upstream without store", edits: []edit{{"      store_dir: DIR/state/fix-margin\n", ""}},
			want: []string{"orders.upstreams[1] (margin): ", "store_dir is required"}},
		{name: "upstream heartbeat", edits: []edit{{"target_comp_id: CORE\n", "target_comp_id: CORE\n      heart_bt_int: 1500ms\n"}},
			want: []string{"orders.upstreams[0] (core): ", "heart_bt_int 1.5s is not a whole number of seconds"}},
		{name: "broker password file missing", edits: []edit{{"DIR/broker-a.password", "DIR/broker-b.password"}},
			want: []string{"brokers: broker: bad configuration: sessions[0].password_file: stat ", "broker-b.password: no such file"}},
		{name: "broker client CAs not PEM", edits: []edit{{"client_ca_file: DIR/ca.pem", "client_ca_file: DIR/not-a-cert.pem"}},
			want: []string{"brokers: ", "brokers.tls.client_ca_file ", "no PEM certificate"}},
		{name: "broker session without its certificate", edits: []edit{{"      client_cert_cn: fix.brokera.example\n", ""}},
			want: []string{"brokers: ", "sessions[0].client_cert_cn or sessions[0].client_cert_spki_sha256: with mutual TLS each session names its broker's certificate"}},
		{name: "cluster node with its stores in the Raft log", edits: []edit{
			{"  journal: DIR/state/orders.jrnl\n", ""},
			{"      store_dir: DIR/state/fix-core\n", ""},
			{"      store_dir: DIR/state/fix-margin\n", ""},
			{"  store_dir: DIR/state/fix-brokers\n", ""},
			{"storage:\n", clusterSection + "storage:\n"},
		}, check: func(t *testing.T, rep Report) {
			// A cluster node keeps the upstream and broker sessions'
			// stores in the replicated state, as `run` builds it
			// (clustered.serveBrokers): no store_dir is needed, and the
			// systemd unit's check-config must not refuse the node.
			if !strings.Contains(rep.String(), "1 broker session") || !strings.Contains(rep.String(), "cluster node gw1 of 3") {
				t.Errorf("report %q: want the broker session and the cluster node", rep)
			}
		}},
		{name: "cluster without data_dir", edits: []edit{{"storage:\n  encryption: {key_file: DIR/storage.keys}\n", "cluster:\n  node_id: gw1\n  nodes: [{id: gw1, raft: 10.0.1.11:7001}]\n"}},
			want: []string{"cluster.data_dir: required"}},
		{name: "market bus", edits: []edit{{"storage:\n", busSection + "storage:\n"}},
			prep: func(t *testing.T, dir string) { mdbustest.NewOperator(t).Creds(dir, "bus", mdbustest.Ingest("sgw.md")) },
			check: func(t *testing.T, rep Report) {
				if !strings.Contains(rep.String(), "8 TLS configurations read, storage sealed, market bus ingest") {
					t.Errorf("report %q: want the bus's TLS counted and its role", rep)
				}
			}},
		{name: "market bus credentials missing", edits: []edit{{"storage:\n", busSection + "storage:\n"}},
			want: []string{"market_bus: system: market_bus.credentials: stat ", "bus.creds: no such file"}},
		{name: "market bus credentials that are a bare seed", edits: []edit{{"storage:\n", strings.Replace(busSection, "bus.creds", "bus.nk", 1) + "storage:\n"}},
			prep: func(t *testing.T, dir string) { mdbustest.NKeyUser(t, dir, "bus") },
			want: []string{"market_bus: system: market_bus.credentials ", "bus.nk: no NATS user JWT in it"}},
		{name: "market bus CA missing", edits: []edit{{"storage:\n", strings.Replace(busSection, "ca.pem", "nope.pem", 1) + "storage:\n"}},
			want: []string{"market_bus: system: netsec: invalid config: market_bus.tls.ca_file: stat ", "nope.pem: no such file"}},
		{name: "HTTP port out of range", edits: []edit{{"http: 0.0.0.0:8443", "http: 0.0.0.0:99999"}},
			want: []string{"gateway: ", "\"0.0.0.0:99999\": port \"99999\": want a number from 0 to 65535"}},
		{name: "broker account unknown to risk", edits: []edit{{"      accounts: [A1]\n", "      accounts: [A1, A7]\n"}},
			want: []string{"brokers.sessions[0] (BROKERA): accounts[1] \"A7\" is none of orders.risk.accounts"}},
		{name: "several sections at once", edits: []edit{{"heartbeat_timeout: 3s", "heartbeat_timeout: 1s"}, {"DIR/broker-a.password", "DIR/broker-b.password"}},
			want: []string{"2 problems:\n  feeds[0] (cn): ", "\n  brokers: "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, y := checkFixture(t)
			for _, e := range tc.edits {
				old := strings.ReplaceAll(e.old, "DIR", dir)
				if !strings.Contains(y, old) {
					t.Fatalf("the fixture has no %q", old)
				}
				y = strings.Replace(y, old, strings.ReplaceAll(e.new, "DIR", dir), 1)
			}
			if tc.prep != nil {
				tc.prep(t, dir)
			}
			cfg, err := configs.Parse("check.yaml", []byte(y))
			if err != nil {
				t.Fatalf("configs.Parse: %v", err)
			}
			rep, err := Check(cfg)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				tc.check(t, rep)
				return
			}
			if err == nil {
				t.Fatalf("Check passed: %s", rep)
			}
			t.Log(err)
			msg, at := err.Error(), 0
			for _, w := range tc.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("Check: %v\nwant, in order: %q", err, tc.want)
				}
				at += i + len(w)
			}
			var ce *CheckError
			if !errors.As(err, &ce) {
				t.Errorf("Check: %T, want *CheckError", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Check: %v does not wrap %v", err, tc.is)
			}
		})
	}
}

// TestCheckStartsNothing checks a configuration whose listeners' address
// is already taken (Check would fail if it bound them) and that nothing
// was written: no journal, no store, no new file.
func TestCheckStartsNothing(t *testing.T) {
	dir, y := checkFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	y = strings.Replace(y, "http: 0.0.0.0:8443", "http: "+ln.Addr().String(), 1)
	y = strings.Replace(y, "listen: 0.0.0.0:9878", "listen: "+ln.Addr().String(), 1)
	cfg, err := configs.Parse("check.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	list := func() []string {
		var files []string
		err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
			files = append(files, path)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	before := list()
	if _, err := Check(cfg); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if after := list(); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("Check changed %s:\nbefore %q\nafter  %q", dir, before, after)
	}
}
