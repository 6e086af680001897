package system

import (
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"sgw/configs"
	"sgw/mdbus/mdbustest"
)

// TestBusReconnectsAfterAuthRefused: the NATS server a market-bus
// connection (busOptions) is on restarts, and for a while refuses its user
// (the server's accounts or its auth service not ready yet; a JWT expired
// before its credentials file was renewed). Once the server takes the user
// again the connection is back. Before, nats.go's default closed the
// connection for good at the second refusal: an edge served every symbol
// stale, and an ingest published nothing, until restarted by hand.
func TestBusReconnectsAfterAuthRefused(t *testing.T) {
	dir := t.TempDir()
	seed, pub := mdbustest.NKeyUser(t, dir, "edge")
	port := -1
	start := func(users ...string) *server.Server {
		t.Helper()
		opts := &server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true}
		for _, u := range users {
			opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: u})
		}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		if !s.ReadyForConnections(60 * time.Second) {
			t.Fatal("nats server not ready")
		}
		port = s.Addr().(*net.TCPAddr).Port
		return s
	}
	stop := func(s *server.Server) { s.Shutdown(); s.WaitForShutdown() }
	_, stranger := mdbustest.NKeyUser(t, dir, "stranger")
	srv := start(pub)
	t.Cleanup(func() { stop(srv) })

	opts, err := busOptions(&configs.MarketBus{Role: configs.RoleEdge, NKeySeedFile: seed}, brokerLog())
	if err != nil {
		t.Fatal(err)
	}
	var refused atomic.Int64
	opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrAuthorization) {
			refused.Add(1)
		}
	}))
	nc, err := nats.Connect("nats://127.0.0.1:"+strconv.Itoa(port), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)

	stop(srv)
	srv = start(stranger) // the edge's user refused
	waitUntil(t, "three refusals, or the connection closed", time.Minute, func() bool { return refused.Load() >= 3 || nc.IsClosed() })
	stop(srv)
	srv = start(pub)
	waitUntil(t, "the connection back, or closed", time.Minute, func() bool { return nc.IsConnected() || nc.IsClosed() })
	if !nc.IsConnected() {
		t.Fatalf("the connection is %v after %d refusals of its user: it gave up, and never came back once the server took the user again", nc.Status(), refused.Load())
	}
}
