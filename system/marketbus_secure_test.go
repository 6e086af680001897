package system

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"sgw/configs"
	"sgw/feed/event"
	"sgw/internal/syncbuf"
	"sgw/mdbus"
	"sgw/mdbus/mdbustest"
	"sgw/netsec"
	"sgw/orderbook"
	"sgw/refdata"
)

// TestMarketBusSecured runs an ingest and an edge, as buildBooks wires
// them, on a NATS server that requires TLS and authenticates each as a
// user with its role's permissions (docs/SECURITY.md, "Market-data bus"),
// both as NKey users the server lists and as users of a decentralized
// (operator/JWT) account with credentials files. The books flow from the
// ingest to the edge, snapshots included: their replies come to the edge's
// own inbox (market_bus.inbox_prefix), the only one its user may read. An edge without credentials,
// with a stranger's, or without the CA fails at once with the server's or
// TLS's refusal. A connection with the edge's credentials cannot publish
// a frame on the data subjects (one with an epoch far ahead would make
// every edge follow it), nor answer snapshot requests, nor read every
// inbox: the server refuses each, and the running edge never sees the
// frame.
func TestMarketBusSecured(t *testing.T) {
	const prefix, inbox = "md.secure", "_INBOX.edge-1"
	for _, tc := range []struct {
		name string
		// users sets the server's authentication up and returns the
		// ingest's, the edge's and a stranger's files, and how a
		// market_bus section names one.
		users func(t *testing.T, dir string) (auth func(*server.Options), ingest, edge, stranger string, set func(*configs.MarketBus, string))
	}{
		{name: "nkey", users: func(t *testing.T, dir string) (func(*server.Options), string, string, string, func(*configs.MarketBus, string)) {
			ingest, ipub := mdbustest.NKeyUser(t, dir, "ingest")
			edge, epub := mdbustest.NKeyUser(t, dir, "edge")
			stranger, _ := mdbustest.NKeyUser(t, dir, "stranger")
			auth := mdbustest.NKeyUsers(map[string]mdbustest.Role{ipub: mdbustest.Ingest(prefix), epub: mdbustest.Edge(prefix, inbox)})
			return auth, ingest, edge, stranger, func(mb *configs.MarketBus, f string) { mb.NKeySeedFile = f }
		}},
		{name: "creds", users: func(t *testing.T, dir string) (func(*server.Options), string, string, string, func(*configs.MarketBus, string)) {
			op := mdbustest.NewOperator(t)
			ingest := op.Creds(dir, "ingest", mdbustest.Ingest(prefix))
			edge := op.Creds(dir, "edge", mdbustest.Edge(prefix, inbox))
			stranger := mdbustest.NewOperator(t).Creds(dir, "stranger", mdbustest.Edge(prefix, inbox))
			return op.Configure, ingest, edge, stranger, func(mb *configs.MarketBus, f string) { mb.Credentials = f }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auth, ingestFile, edgeFile, strangerFile, set := tc.users(t, t.TempDir())
			srv := mdbustest.Start(t, auth)
			section := func(role, file string) *configs.MarketBus {
				mb := &configs.MarketBus{URL: srv.URL, Role: role, SubjectPrefix: prefix, TLS: &netsec.ClientTLSConfig{CAFile: srv.PKI.CAFile}}
				if file != "" {
					set(mb, file)
				}
				if role == configs.RoleEdge {
					mb.InboxPrefix = inbox
				}
				return mb
			}
			ins := []refdata.Instrument{{Symbol: "600519.SH", Board: refdata.BoardMain, PrevClose: 17000000}, {Symbol: "000001.SZ", Board: refdata.BoardMain, PrevClose: 100000}}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			t.Cleanup(func() { cancel(); wg.Wait() })
			start := func(role, file string) (*orderbook.Engine, *marketBus) {
				t.Helper()
				books, bus, err := buildBooks(&configs.File{Instruments: ins, MarketBus: section(role, file)}, prometheus.NewRegistry(), brokerLog())
				if err != nil {
					t.Fatalf("%s: %v", role, err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer bus.close()
					if !bus.ownsBooks() {
						wg.Add(1)
						go func() { defer wg.Done(); books.Run(ctx) }()
					}
					if err := bus.run(ctx); err != nil {
						t.Errorf("%s: %v", role, err)
					}
				}()
				return books, bus
			}
			books, _ := start(configs.RoleIngest, ingestFile)
			mirror, edge := start(configs.RoleEdge, edgeFile)

			in := books.NewInput("test")
			var ts uint64
			apply := func(ev event.Event) {
				ts += 1000
				ev.Time, ev.Recv = 34200000000000+ts, time.Now().UnixNano()
				if err := in.Apply(&ev); err != nil {
					t.Fatal(err)
				}
			}
			var ref uint64
			flow := func(n int) {
				for i := range n {
					ref++
					apply(event.Event{Kind: event.Add, Symbol: uint32(i % len(ins)), Ref: ref, Side: event.Buy, Price: refdata.Price(17000000 - 100*(i%30)), Qty: 100})
				}
			}
			synced := func(what string) {
				t.Helper()
				var want, got orderbook.View
				brokerWaitUntil(t, what, func() bool {
					for _, id := range books.Symbols() {
						books.View(id, 20, &want)
						mirror.View(id, 20, &got)
						if want.Seq == 0 || got.Seq != want.Seq || edge.edge.Stale() != 0 {
							return false
						}
					}
					return true
				})
			}
			for i := range ins {
				apply(event.Event{Kind: event.State, Symbol: uint32(i), Code: 'T'})
			}
			flow(50)
			synced("the edge to mirror the ingest over TLS with its credentials")

			// Refused at once, with the reason.
			for _, c := range []struct {
				name string
				mb   *configs.MarketBus
				want string
			}{
				{name: "no credentials", mb: section(configs.RoleEdge, ""), want: "authorization violation"},
				{name: "a stranger's credentials", mb: section(configs.RoleEdge, strangerFile), want: "authorization violation"},
				{name: "no CA", mb: func() *configs.MarketBus {
					mb := section(configs.RoleEdge, edgeFile)
					mb.TLS = &netsec.ClientTLSConfig{}
					return mb
				}(),
					want: "certificate signed by unknown authority"},
			} {
				_, _, err := buildBooks(&configs.File{Instruments: ins, MarketBus: c.mb}, prometheus.NewRegistry(), brokerLog())
				if err == nil || !strings.Contains(strings.ToLower(err.Error()), c.want) {
					t.Errorf("an edge with %s: %v; want an error with %q", c.name, err, c.want)
				}
			}

			// A connection with the edge's credentials tries to publish a
			// hostile update and heartbeat and to answer snapshot requests.
			before := edge.edge.Stats()
			opts, err := busOptions(section(configs.RoleEdge, edgeFile), brokerLog())
			if err != nil {
				t.Fatal(err)
			}
			refused := make(chan error, 10)
			rogue, err := nats.Connect(srv.URL, append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
				select {
				case refused <- err:
				default:
				}
			}))...)
			if err != nil {
				t.Fatal(err)
			}
			defer rogue.Close()
			hostile := mdbus.AppendUpdate(nil, math.MaxUint64, "600519.SH", &orderbook.Update{Seq: 1, Kind: orderbook.KindBook})
			beat := mdbus.AppendBeat(mdbus.AppendHeartbeat(nil, math.MaxUint64, 1), "600519.SH", 1)
			if err := rogue.Publish(prefix+".d.600519.SH", hostile); err != nil {
				t.Fatal(err)
			}
			if err := rogue.Publish(prefix+".hb", beat); err != nil {
				t.Fatal(err)
			}
			if _, err := rogue.Subscribe(prefix+".snap.>", func(*nats.Msg) {}); err != nil {
				t.Fatal(err)
			}
			// Nor read the replies to other edges' (or other applications')
			// requests: its user reads its own inbox only.
			if _, err := rogue.Subscribe("_INBOX.>", func(*nats.Msg) {}); err != nil {
				t.Fatal(err)
			}
			if err := rogue.Flush(); err != nil {
				t.Fatal(err)
			}
			wantRefused := map[string]bool{`publish to "` + prefix + `.d.600519.SH"`: true, `publish to "` + prefix + `.hb"`: true, `subscription to "` + prefix + `.snap.>"`: true,
				`subscription to "_INBOX.>"`: true}
			deadline := time.After(brokerAwait)
			for len(wantRefused) > 0 {
				select {
				case err := <-refused:
					if !errors.Is(err, nats.ErrPermissionViolation) {
						t.Fatalf("the rogue connection: %v; want a permissions violation", err)
					}
					for k := range wantRefused {
						if strings.Contains(strings.ToLower(err.Error()), strings.ToLower(k)) {
							delete(wantRefused, k)
						}
					}
				case <-deadline:
					t.Fatalf("the server did not refuse the edge's user: %v", wantRefused)
				}
			}
			// The server handled the rogue's frames before its PONG, so the
			// edge would have them queued ahead of the ingest's next ones.
			flow(50)
			synced("the edge to mirror the ingest after the rogue's attempts")
			after := edge.edge.Stats()
			// A frame of the rogue's epoch would have made the edge follow
			// it, and count every later frame of the ingest as of an old
			// epoch.
			if after.OldEpoch != before.OldEpoch || after.Malformed != before.Malformed {
				t.Errorf("the edge saw the rogue's frames: stats before %+v, after %+v", before, after)
			}
		})
	}
}

// TestBusErrorsLogOncePerInterval checks that the errors NATS reports on
// an open bus connection are logged, each kind at most once per
// busErrorEvery with the count of those suppressed.
func TestBusErrorsLogOncePerInterval(t *testing.T) {
	var buf syncbuf.Buffer
	e := &busErrors{log: slog.New(slog.NewTextHandler(&buf, nil))}
	perm := func(subj string) error {
		return errors.Join(nats.ErrPermissionViolation, errors.New("for publish to "+subj))
	}
	e.handle(nil, nil, perm("a"))
	e.handle(nil, nil, perm("b"))
	e.handle(nil, nil, nats.ErrSlowConsumer)
	e.last[0] = e.last[0].Add(-busErrorEvery)
	e.handle(nil, nil, perm("c"))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "for publish to a") || !strings.Contains(lines[1], "slow consumer") ||
		!strings.Contains(lines[2], "for publish to c") || !strings.Contains(lines[2], "suppressed=1") {
		t.Errorf("log:\n%s\nwant a, the slow consumer, then c with 1 suppressed", buf.String())
	}
}

// TestBusOptionsQuoteNoSecret checks that a credentials or NKey seed file
// that does not work stops busOptions (and so the start and check-config)
// with an error naming the file and never quoting what it holds.
func TestBusOptionsQuoteNoSecret(t *testing.T) {
	dir := t.TempDir()
	seedFile, _ := mdbustest.NKeyUser(t, dir, "seed")
	seed, err := os.ReadFile(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	creds := mdbustest.NewOperator(t).Creds(dir, "user", mdbustest.Edge("sgw.md", "_INBOX"))
	good, err := os.ReadFile(creds)
	if err != nil {
		t.Fatal(err)
	}
	// A creds file whose seed lost characters: the JWT reads, the key does not.
	broken := regexp.MustCompile(`(SU[A-Z2-7]{20})[A-Z2-7]+`).ReplaceAll(good, []byte("${1}"))
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name   string
		mb     configs.MarketBus
		secret string
	}{
		{name: "a bare seed as credentials", mb: configs.MarketBus{Credentials: seedFile}, secret: strings.TrimSpace(string(seed))},
		{name: "credentials with a broken seed", mb: configs.MarketBus{Credentials: write("broken.creds", broken)}, secret: string(regexp.MustCompile(`SU[A-Z2-7]{20}`).Find(broken))},
		{name: "an NKey seed file of another kind", mb: configs.MarketBus{NKeySeedFile: write("other.nk", []byte("not-a-seed hunter2\n"))}, secret: "hunter2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.mb.Role = configs.RoleEdge
			_, err := busOptions(&c.mb, brokerLog())
			t.Log(err)
			file := c.mb.Credentials + c.mb.NKeySeedFile
			if err == nil || !strings.Contains(err.Error(), file) {
				t.Fatalf("busOptions: %v; want an error naming %s", err, file)
			}
			if c.secret == "" || strings.Contains(err.Error(), c.secret) {
				t.Errorf("busOptions: %v quotes the file (%q)", err, c.secret)
			}
		})
	}
}

// TestBusOptionsSecretFiles: market_bus.credentials and nkey_seed_file
// hold the bus user's NKey seed and are read as the gateway's other
// secrets are (internal/secretfile): one its group or others may access,
// a directory, or a named pipe is refused naming the file. Before, a
// world-readable seed was used, and a named pipe held the start until
// something wrote to it.
func TestBusOptionsSecretFiles(t *testing.T) {
	dir := t.TempDir()
	seedFile, _ := mdbustest.NKeyUser(t, dir, "seed")
	creds := mdbustest.NewOperator(t).Creds(dir, "user", mdbustest.Edge("sgw.md", "_INBOX"))
	for _, f := range []string{seedFile, creds} {
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		mb   configs.MarketBus
		want string
	}{
		{name: "credentials others may read", mb: configs.MarketBus{Credentials: creds}, want: creds + " has permissions 0644"},
		{name: "seed others may read", mb: configs.MarketBus{NKeySeedFile: seedFile}, want: seedFile + " has permissions 0644"},
		{name: "credentials a directory", mb: configs.MarketBus{Credentials: dir}, want: dir + " is not a regular file"},
		{name: "seed a named pipe", mb: configs.MarketBus{NKeySeedFile: fifo}, want: fifo + " is not a regular file"},
		{name: "credentials a named pipe", mb: configs.MarketBus{Credentials: fifo}, want: fifo + " is not a regular file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.mb.Role = configs.RoleEdge
			_, err := busOptions(&c.mb, brokerLog())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("busOptions: %v; want an error containing %q", err, c.want)
			}
		})
	}
}
