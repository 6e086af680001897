package system

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"sgw/mdbus"
)

// TestMarketBusByTermConnClosedStops: a cluster node's ingest bus (byTerm:
// its Publisher runs only during the node's leadership terms) whose NATS
// connection is closed for good (here nats.go gives up after one failed
// reconnection) ends run with mdbus.ErrConnClosed, so that the gateway
// stops as a failed component and its supervisor restarts it with a new
// connection, as an edge and a single ingest do; run ends with nil at
// the gateway's stop otherwise. Before, run waited for the gateway's stop
// only: each term the node won failed at once (RunEpoch returned
// ErrConnClosed) and was handed over, for as long as the process lived,
// and a one-node cluster led with no term (no node to hand over to),
// order entry refused and nothing published, until restarted by hand.
func TestMarketBusByTermConnClosedStops(t *testing.T) {
	srv, err := StartNATS("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	connect := func() *nats.Conn {
		nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(1), nats.ReconnectWait(10*time.Millisecond), nats.ReconnectJitter(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	run := func(b *marketBus, ctx context.Context) <-chan error {
		done := make(chan error, 1)
		go func() { done <- b.run(ctx) }()
		return done
	}
	wait := func(done <-chan error, what string) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(time.Minute):
			t.Fatalf("run still running a minute after %s", what)
			return nil
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := run(&marketBus{conn: connect(), byTerm: true, log: brokerLog()}, ctx)
	cancel()
	if err := wait(done, "the gateway's stop"); err != nil {
		t.Fatalf("run at the gateway's stop returned %v, want nil", err)
	}

	nc := connect()
	done = run(&marketBus{conn: nc, byTerm: true, log: brokerLog()}, context.Background())
	srv.Shutdown()
	srv.WaitForShutdown()
	if err := wait(done, "its connection closed for good"); !errors.Is(err, mdbus.ErrConnClosed) {
		t.Fatalf("run returned %v (connection closed %v), want mdbus.ErrConnClosed", err, nc.IsClosed())
	}
}
