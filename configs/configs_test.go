package configs

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sgw/atrest"
	"sgw/auth"
)

func TestShippedConfigsLoad(t *testing.T) {
	demo, err := LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	if len(demo.Feeds) != 2 || demo.Sim == nil || len(demo.Instruments) < 3 || !demo.Sim.SZSE.Enabled {
		t.Fatalf("demo config incomplete (want an ITCH feed, an SZSE feed and the simulator in SZSE mode): %+v", demo)
	}
	if demo.Feeds[0].Backup.TLS == nil || demo.Feeds[1].Backup.TLS == nil || demo.Feeds[1].Protocol != "szse" {
		t.Fatal("demo backups are not TLS, or the second feed is not SZSE Binary")
	}
	if demo.Instruments[0].Tick != 100 || demo.Instruments[0].Lot != 100 || demo.Instruments[0].FeedSymbol != "600519" {
		t.Fatalf("instrument defaults not filled: %+v", demo.Instruments[0])
	}
	onDisk, err := os.ReadFile("demo.yaml")
	if err != nil || string(onDisk) != string(demo_) {
		t.Fatal("the embedded demo config differs from configs/demo.yaml")
	}
	prod, err := Load("gateway.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if prod.Feeds[0].HeartbeatTimeout != 3*time.Second || prod.Feeds[0].Backup.TLS.CAFile == "" {
		t.Fatalf("example config: %+v", prod.Feeds[0])
	}
	if prod.Storage == nil || prod.Storage.Encryption == nil || prod.Storage.Encryption.KeyFile != "/etc/gateway/storage.keys" {
		t.Fatalf("example config: storage %+v", prod.Storage)
	}
	if demo.Storage != nil {
		t.Fatal("the demo config encrypts its storage; it keeps plain files")
	}
	if demo.Auth == nil || demo.Auth.Secret == "" || demo.Auth.Anonymous.String() != "*:L2" {
		t.Fatalf("demo auth: %+v", demo.Auth)
	}
	a := prod.Auth
	if a == nil || len(a.Keys) != 2 || a.Keys[0].Alg != auth.AlgSM2SM3 || a.Keys[0].PublicKeyFile == "" ||
		a.Keys[1].Alg != auth.AlgES256 || a.Issuer == "" || a.Audience == "" ||
		a.Anonymous.String() != "*:L1" || a.DefaultEntitlements.String() != "*:L2" {
		t.Fatalf("example auth: %+v", a)
	}
}

// TestAuthSection: the auth section decodes strictly, entitlements in
// either form, and is validated without reading its key files.
func TestAuthSection(t *testing.T) {
	const base = `
instruments:
  - {symbol: 600519.SH, board: main, prev_close: "1700.00"}
auth:
  keys:
    - {id: k1, alg: EdDSA, public_key_file: /nonexistent/k1.pub}
`
	f, err := Parse("auth.yaml", []byte(base+"  anonymous: {\"*\": L1, SH: L2}\n  default_entitlements: none\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(f.Auth.Anonymous, auth.Entitlements{"*": auth.L1, "SH": auth.L2}) ||
		f.Auth.DefaultEntitlements == nil || len(f.Auth.DefaultEntitlements) != 0 {
		t.Fatalf("entitlements: %v %v", f.Auth.Anonymous, f.Auth.DefaultEntitlements)
	}
	f, err = Parse("auth.yaml", []byte(base+"  anonymous: \"SZ:L1,*:none\"\n"))
	if err != nil || !maps.Equal(f.Auth.Anonymous, auth.Entitlements{"*": auth.LevelNone, "SZ": auth.L1}) {
		t.Fatalf("text form: %v, %v", f, err)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{name: "bad level", yaml: base + "  anonymous: {SH: L3}\n", want: `level "L3"`},
		{name: "bad level text", yaml: base + "  anonymous: \"SH:L3\"\n", want: `level "L3"`},
		{name: "bad market", yaml: base + "  anonymous: {sh: L1}\n", want: `anonymous: ent: market "sh"`},
		{name: "unknown key field", yaml: strings.Replace(base, "alg: EdDSA", "alg: EdDSA, colour: red", 1), want: "field colour not found"},
		{name: "unknown alg", yaml: strings.Replace(base, "EdDSA", "RS256", 1), want: `alg "RS256"`},
		{name: "no key", yaml: strings.Split(base, "  keys:")[0] + "  leeway: 5s\n", want: "no key"},
		{name: "short secret", yaml: base + "  secret: short\n", want: "secret is 5 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("auth.yaml", []byte(tc.yaml))
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "auth.yaml") {
				t.Fatalf("Parse = %v; want ErrConfig naming auth.yaml and containing %q", err, tc.want)
			}
		})
	}
}

// demo_ is the embedded file under a name the test can compare.
var demo_ = demo

func TestParseRejects(t *testing.T) {
	const base = `
instruments:
  - {symbol: 600519.SH, board: main, prev_close: "1700.00"}
`
	tests := []struct {
		name string
		yaml string
		want string // in the error
	}{
		{name: "unknown top-level key", yaml: base + "bogus: 1\n", want: "field bogus not found"},
		{name: "unknown nested key", yaml: base + "gateway: {htp: x}\n", want: "field htp not found"},
		{name: "unknown instrument key", yaml: "instruments:\n  - {symbol: 600519.SH, board: main, prev_close: \"1.00\", colour: red}\n", want: "field colour not found"},
		{name: "bad board", yaml: "instruments:\n  - {symbol: 600519.SH, board: nasdaq, prev_close: \"1.00\"}\n", want: `bad board: "nasdaq"`},
		{name: "bad price", yaml: "instruments:\n  - {symbol: 600519.SH, board: main, prev_close: \"1.00001\"}\n", want: "bad price"},
		{name: "bad duration", yaml: base + "feeds:\n  - {name: a, heartbeat_timeout: soon}\n", want: "heartbeat_timeout"},
		{name: "wrong type", yaml: base + "books: {shards: many}\n", want: "cannot unmarshal"},
		{name: "no instruments", yaml: "gateway: {http: \"127.0.0.1:1\"}\n", want: "at least one is required"},
		{name: "duplicate symbol", yaml: base + "  - {symbol: 600519.SH, board: main, prev_close: \"1.00\"}\n", want: "duplicate symbol"},
		{name: "duplicate feed", yaml: base + "feeds:\n  - {name: a}\n  - {name: a}\n", want: `name "a" must be set and unique`},
		{name: "bad log level", yaml: base + "log: {level: loud}\n", want: "log.level"},
		{name: "two documents", yaml: base + "---\n" + base, want: "more than one YAML document"},
		{name: "empty", yaml: "", want: "empty file"},
		{name: "unknown encryption key", yaml: base + "storage: {encryption: {key_file: /k, cipher: aes}}\n", want: "field cipher not found"},
		{name: "encryption without key file", yaml: base + "storage: {encryption: {current_key: k1}}\n", want: "storage.encryption.key_file: required"},
		{name: "negative drain timeout", yaml: base + "orders: {journal: j, drain_timeout: -1s}\n", want: "orders.drain_timeout -1s is negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("test.yaml", []byte(tc.yaml))
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "test.yaml") {
				t.Fatalf("Parse = %v; want ErrConfig naming test.yaml and containing %q", err, tc.want)
			}
		})
	}
}

// TestBooksDepthBelowFanOut: a books depth the WebSocket fan-out cannot
// serve (it used to produce checksum failures on depth 10 and 20 books) is
// refused, naming the key.
func TestBooksDepthBelowFanOut(t *testing.T) {
	demo, err := os.ReadFile("demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b := bytes.Replace(demo, []byte("  max_depth: 20\n"), []byte("  max_depth: 10\n"), 1)
	if _, err := Parse("depth.yaml", b); err == nil || !strings.Contains(err.Error(), "books.max_depth: 10") {
		t.Fatalf("max_depth 10: %v", err)
	}
}

// TestInstrumentFeedNamed: an instrument's feed must be one of the feeds.
func TestInstrumentFeedNamed(t *testing.T) {
	doc := strings.Replace(string(demo_), "feed: szse}", "feed: nasdaq}", 1)
	_, err := Parse("demo.yaml", []byte(doc))
	if err == nil || !strings.Contains(err.Error(), `feed "nasdaq" names no feed`) {
		t.Fatalf("err = %v", err)
	}
}

// TestInstrumentFeedRequiredWithSeveral: with several feeds an instrument
// must name its feed: without one every feed would carry it (each writing
// its book, one marking it valid while another has it stale).
func TestInstrumentFeedRequiredWithSeveral(t *testing.T) {
	doc := strings.Replace(string(demo_), `,  feed: szse}`, "}", 1)
	_, err := Parse("demo.yaml", []byte(doc))
	if err == nil || !strings.Contains(err.Error(), "feed must name one of the 2 feeds") {
		t.Fatalf("err = %v", err)
	}
}

// TestStorageKeys loads storage.encryption's key file: plain without the
// section; a missing file, loose permissions or an unknown current key
// refused.
func TestStorageKeys(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "storage.keys")
	if err := os.WriteFile(keyFile, []byte("k1 00112233445566778899aabbccddeeff\nk2 0f0e0d0c0b0a09080706050403020100\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	loose := filepath.Join(dir, "loose.keys")
	if err := os.WriteFile(loose, []byte("k1 00112233445566778899aabbccddeeff\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	const base = "instruments:\n  - {symbol: 600519.SH, board: main, prev_close: \"1700.00\"}\n"
	for _, tc := range []struct {
		name    string
		storage string
		current string // want; "" with wantErr nil means no key ring
		wantErr error
	}{
		{name: "no storage section"},
		{name: "last key is current", storage: "storage: {encryption: {key_file: " + keyFile + "}}\n", current: "k2"},
		{name: "configured current", storage: "storage: {encryption: {key_file: " + keyFile + ", current_key: k1}}\n", current: "k1"},
		{name: "unknown current", storage: "storage: {encryption: {key_file: " + keyFile + ", current_key: k9}}\n", wantErr: atrest.ErrKey},
		{name: "missing key file", storage: "storage: {encryption: {key_file: " + dir + "/absent.keys}}\n", wantErr: atrest.ErrKeyFile},
		{name: "loose permissions", storage: "storage: {encryption: {key_file: " + loose + "}}\n", wantErr: atrest.ErrKeyFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("test.yaml", []byte(base+tc.storage))
			if err != nil {
				t.Fatal(err)
			}
			keys, err := f.StorageKeys()
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), "storage.encryption") {
					t.Fatalf("StorageKeys err = %v, want %v", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case tc.current == "" && keys != nil, tc.current != "" && (keys == nil || keys.Current() != tc.current):
				t.Fatalf("StorageKeys = %v, want current %q", keys, tc.current)
			}
		})
	}
}

// TestExampleTransportKeys checks the templates' transport security keys:
// TLS, PROXY protocol and HTTP limits of the listener, the brokers' TLS
// with each session's certificate, the lines' TLS and tunnels, and the
// cluster template's market bus.
func TestExampleTransportKeys(t *testing.T) {
	f, err := Load("gateway.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	node, err := Load("cluster.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g := f.Gateway
	if g.TLS == nil || g.TLS.CertFile == "" || g.TLS.MinVersion != "1.3" || g.ProxyProtocol == nil || len(g.ProxyProtocol.Trusted) != 2 ||
		g.ReadTimeout != 10*time.Second || g.IdleTimeout != time.Minute || g.MaxConnectionsPerIP != 200 || g.MaxBodyBytes != 65536 {
		t.Fatalf("gateway section: %+v", g)
	}
	if f.Brokers == nil || f.Brokers.TLS == nil || f.Brokers.TLS.ClientCAFile == "" || f.Brokers.ProxyProtocol == nil ||
		f.Brokers.Sessions[0].ClientCertCN == "" || f.Brokers.Sessions[1].ClientCertSPKI == "" {
		t.Fatalf("brokers section: %+v", f.Brokers)
	}
	if mb := node.MarketBus; mb == nil || mb.Role != RoleIngest || mb.Embedded != nil || mb.SubjectPrefix != "sgw.md" || mb.TLS == nil || mb.TLS.CAFile == "" || mb.Credentials == "" {
		t.Fatalf("market_bus section: %+v", mb)
	}
	lines := f.Orders.Upstreams[0].Lines
	if len(lines) != 2 || lines[0].TLS == nil || lines[0].TLS.CertFile == "" || lines[1].TLS.ServerName != "fix.core.example" ||
		f.Orders.Upstreams[1].Lines[1].Tunnel == "" {
		t.Fatalf("upstream lines: %+v %+v", lines, f.Orders.Upstreams[1].Lines)
	}
}

func TestClusterSection(t *testing.T) {
	base := "instruments: [{symbol: 600519.SH, name: Moutai, board: main, tick: 100, lot: 100, prev_close: 17000000}]\norders: {journal: j}\n"
	for _, c := range []struct{ name, yaml, want string }{
		{"ok", "cluster: {node_id: n1, data_dir: d, nodes: [{id: n1, raft: '127.0.0.1:7001'}, {id: n2, raft: '127.0.0.1:7002'}]}", ""},
		{"self missing", "cluster: {node_id: n3, nodes: [{id: n1, raft: '127.0.0.1:7001'}]}", "cluster.node_id \"n3\" is not one of cluster.nodes"},
		{"bad id", "cluster: {node_id: 'n 1', nodes: [{id: n1, raft: '127.0.0.1:7001'}]}", "cluster.node_id"},
		{"twice", "cluster: {node_id: n1, nodes: [{id: n1, raft: '127.0.0.1:7001'}, {id: n1, raft: '127.0.0.1:7002'}]}", "listed twice"},
		{"raft address twice", "cluster: {node_id: n1, nodes: [{id: n1, raft: '127.0.0.1:7001'}, {id: n2, raft: '127.0.0.1:7001'}]}", `cluster.nodes[1].raft "127.0.0.1:7001": also member n1's`},
		{"wildcard", "cluster: {node_id: n1, nodes: [{id: n1, raft: '0.0.0.0:7001'}]}", "cluster.nodes[0].raft"},
		{"no port", "cluster: {node_id: n1, nodes: [{id: n1, raft: '127.0.0.1'}]}", "cluster.nodes[0].raft"},
		{"brokers wildcard", "cluster: {node_id: n1, nodes: [{id: n1, raft: '127.0.0.1:7001', brokers: '0.0.0.0:9878'}]}", "cluster.nodes[0].brokers"},
		{"no members", "cluster: {node_id: n1}", "cluster.nodes"},
		{"dial", "cluster: {node_id: n1, data_dir: d, dial: {n2: '10.1.0.2:7001'}, nodes: [{id: n1, raft: '127.0.0.1:7001'}, {id: n2, raft: '127.0.0.1:7002'}]}", ""},
		{"dial unknown member", "cluster: {node_id: n1, dial: {n3: '10.1.0.3:7001'}, nodes: [{id: n1, raft: '127.0.0.1:7001'}, {id: n2, raft: '127.0.0.1:7002'}]}", "cluster.dial.n3: not one of cluster.nodes"},
		{"dial wildcard", "cluster: {node_id: n1, dial: {n2: '0.0.0.0:7001'}, nodes: [{id: n1, raft: '127.0.0.1:7001'}, {id: n2, raft: '127.0.0.1:7002'}]}", "cluster.dial.n2"},
		{"dial host name", "cluster: {node_id: n1, dial: {n2: 'relay:7001'}, nodes: [{id: n1, raft: '127.0.0.1:7001'}, {id: n2, raft: '127.0.0.1:7002'}]}", "cluster.dial.n2"},
		{"http_tls cert without key", "cluster: {node_id: n1, http_tls: {cert_file: /a.pem}, nodes: [{id: n1, raft: '127.0.0.1:7001'}]}", "cluster.http_tls: cert_file and key_file go together"},
		{"http_tls version", "cluster: {node_id: n1, http_tls: {min_version: '1.1'}, nodes: [{id: n1, raft: '127.0.0.1:7001'}]}", "cluster.http_tls.min_version"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse("test.yaml", []byte(base+c.yaml))
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				n := f.Cluster.Node()
				if n.BindAddr != "127.0.0.1:7001" || len(n.Peers) != 2 || n.DataDir != "d" || !maps.Equal(n.DialAddrs, f.Cluster.Dial) {
					t.Fatalf("node config %+v", n)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v; want %q", err, c.want)
			}
		})
	}
}

func TestMarketBusSection(t *testing.T) {
	const ins = "instruments: [{symbol: 600519.SH, name: Moutai, board: main, tick: 100, lot: 100, prev_close: 17000000, feed: cn}]\n"
	const feeds = "feeds: [{name: cn, primary: {addr: '127.0.0.1:1'}, backup: {addr: '127.0.0.1:2'}}]\n"
	for _, c := range []struct{ name, yaml, want string }{
		{name: "ingest", yaml: feeds + "market_bus: {url: 'nats://10.0.0.5:4222', role: ingest, tls: {ca_file: ca.pem}, credentials: ingest.creds}"},
		{name: "ingest cluster urls", yaml: feeds + "market_bus: {url: 'nats://10.0.0.5:4222,nats://10.0.0.6:4222', role: ingest, subject_prefix: md.cn, tls: {}, nkey_seed_file: ingest.nk}"},
		{name: "embedded", yaml: feeds + "market_bus: {embedded: {listen: '127.0.0.1:4222'}, role: ingest}"},
		{name: "edge", yaml: "market_bus: {url: 'tls://nats.example:4222', role: edge, tls: {cert_file: edge.pem, key_file: edge.key}}"},
		{name: "edge inbox", yaml: "market_bus: {url: 'tls://nats.example:4222', role: edge, tls: {}, credentials: edge.creds, inbox_prefix: _INBOX.edge-1}"},
		{name: "bad inbox", yaml: "market_bus: {url: 'nats://127.0.0.1:4222', role: edge, inbox_prefix: '_INBOX.*'}", want: `market_bus.inbox_prefix "_INBOX.*": want dot-separated tokens`},
		{name: "inbox trailing dot", yaml: "market_bus: {url: 'nats://127.0.0.1:4222', role: edge, inbox_prefix: '_INBOX.'}", want: "market_bus.inbox_prefix"},
		{name: "ingest inbox", yaml: feeds + "market_bus: {url: 'nats://127.0.0.1:4222', role: ingest, inbox_prefix: _INBOX.x}", want: "only an edge asks for snapshots"},
		{name: "loopback plain, no auth", yaml: feeds + "market_bus: {url: 'nats://127.0.0.1:4222,nats://localhost:4223,nats://[::1]:4224', role: ingest}"},
		{name: "plain on an isolated segment", yaml: feeds + "market_bus: {url: 'nats://10.0.0.5:4222', role: ingest, insecure_plaintext: true, nkey_seed_file: ingest.nk}"},
		{name: "off loopback without tls", yaml: feeds + "market_bus: {url: 'nats://127.0.0.1:4222,nats://10.0.0.6:4222', role: ingest, credentials: ingest.creds}",
			want: `market_bus.url "nats://127.0.0.1:4222,nats://10.0.0.6:4222": a NATS server off loopback needs market_bus.tls`},
		{name: "tls scheme is no tls section", yaml: "market_bus: {url: 'tls://nats.example:4222', role: edge, credentials: edge.creds}", want: "needs market_bus.tls"},
		{name: "off loopback without authentication", yaml: feeds + "market_bus: {url: 'nats://10.0.0.5:4222', role: ingest, tls: {ca_file: ca.pem}}",
			want: "a NATS server off loopback needs the gateway to authenticate"},
		{name: "plain without authentication", yaml: feeds + "market_bus: {url: 'nats://10.0.0.5:4222', role: ingest, insecure_plaintext: true}", want: "needs the gateway to authenticate"},
		{name: "tls and plaintext", yaml: feeds + "market_bus: {url: 'nats://10.0.0.5:4222', role: ingest, tls: {}, insecure_plaintext: true, credentials: c}", want: "tls and insecure_plaintext are exclusive"},
		{name: "two identities", yaml: feeds + "market_bus: {url: 'nats://10.0.0.5:4222', role: ingest, tls: {}, credentials: c, nkey_seed_file: n}", want: "credentials and nkey_seed_file are exclusive"},
		{name: "password in url", yaml: feeds + "market_bus: {url: 'nats://gw:s3cret@10.0.0.5:4222', role: ingest, tls: {}, credentials: c}", want: `market_bus.url "nats://gw:xxxxx@10.0.0.5:4222": carries a user or password`},
		{name: "bad tls", yaml: feeds + "market_bus: {url: 'nats://10.0.0.5:4222', role: ingest, tls: {cert_file: a.pem}, credentials: c}", want: "market_bus.tls: cert_file and key_file go together"},
		{name: "embedded with credentials", yaml: feeds + "market_bus: {embedded: {listen: '127.0.0.1:4222'}, role: ingest, credentials: c}", want: "the embedded one has neither TLS nor authentication"},
		{name: "no role", yaml: feeds + "market_bus: {url: 'nats://10.0.0.5:4222'}", want: "market_bus.role: required"},
		{name: "bad role", yaml: feeds + "market_bus: {url: 'nats://10.0.0.5:4222', role: leader}", want: `market_bus.role "leader": want ingest or edge`},
		{name: "no url", yaml: feeds + "market_bus: {role: ingest}", want: "market_bus.url: required"},
		{name: "bad url scheme", yaml: feeds + "market_bus: {url: 'http://10.0.0.5:4222', role: ingest}", want: `market_bus.url "http://10.0.0.5:4222"`},
		{name: "url without port", yaml: feeds + "market_bus: {url: 'nats://10.0.0.5', role: ingest}", want: "market_bus.url"},
		{name: "embedded off loopback", yaml: feeds + "market_bus: {embedded: {listen: '0.0.0.0:4222'}, role: ingest}", want: "market_bus.embedded.listen \"0.0.0.0:4222\": the embedded NATS server"},
		{name: "embedded no port", yaml: feeds + "market_bus: {embedded: {listen: '127.0.0.1'}, role: ingest}", want: "market_bus.embedded.listen"},
		{name: "bad prefix", yaml: feeds + "market_bus: {url: 'nats://127.0.0.1:4222', role: ingest, subject_prefix: 'md.>'}", want: "market_bus.subject_prefix"},
		{name: "edge with feeds", yaml: feeds + "market_bus: {url: 'nats://10.0.0.5:4222', role: edge}", want: "an edge runs no feeds"},
		{name: "edge depth", yaml: "books: {max_depth: 30}\nmarket_bus: {url: 'nats://10.0.0.5:4222', role: edge}", want: "books.max_depth 30"},
		{name: "unknown key", yaml: feeds + "market_bus: {url: 'nats://10.0.0.5:4222', role: ingest, subjects: x}", want: "field subjects not found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse("test.yaml", []byte(ins+c.yaml))
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if f.MarketBus == nil || f.MarketBus.Role == "" {
					t.Fatalf("market_bus %+v", f.MarketBus)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v; want %q", err, c.want)
			}
		})
	}
}
