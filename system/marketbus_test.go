package system

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"sgw/configs"
)

// restBook is what the comparison reads of /api/v1/book/{symbol}.
type restBook struct {
	Seq      uint64   `json:"seq"`
	State    string   `json:"state"`
	Bids     [][2]any `json:"bids"`
	Asks     [][2]any `json:"asks"`
	Checksum uint32   `json:"checksum"`
}

// TestMarketBusEdge runs the demo's ingest gateway (the simulator's feeds)
// publishing on a NATS server and an edge gateway mirroring it: with the
// flow paused, the edge serves every book exactly as the ingest does (same
// seq, levels and checksum). When NATS stops, the edge's /readyz goes 503;
// when it is back (on the same port), the edge rebuilds from snapshots and
// serves the ingest's books again.
func TestMarketBusEdge(t *testing.T) {
	srv, err := StartNATS("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	natsAddr := srv.Addr().String()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })

	cfg, err := configs.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Gateway.HTTP = "127.0.0.1:0"
	cfg.Orders, cfg.Brokers, cfg.FIXSim = nil, nil, nil
	cfg.MarketBus = &configs.MarketBus{URL: srv.ClientURL(), Role: configs.RoleIngest}
	d, err := NewDemo(cfg, brokerLog())
	if err != nil {
		t.Fatal(err)
	}

	ecfg, err := configs.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	ecfg.Orders, ecfg.Brokers, ecfg.FIXSim, ecfg.Sim, ecfg.Feeds = nil, nil, nil, nil, nil
	ecfg.MarketBus = &configs.MarketBus{URL: srv.ClientURL(), Role: configs.RoleEdge}
	edge, err := New(ecfg, brokerLog().With("node", "edge"))
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	edgeURL := "http://" + ln.Addr().String()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- d.Run(ctx) }()
	go func() { done <- edge.Run(ctx, ln) }()
	defer func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("gateway: %v", err)
			}
		}
	}()

	ready := func(base string) int { code, _ := brokerGet(t, base+"/readyz"); return code }
	brokerWaitUntil(t, "the ingest's /readyz", func() bool { return ready(d.BaseURL) == http.StatusOK })
	brokerWaitUntil(t, "the edge's /readyz", func() bool { return ready(edgeURL) == http.StatusOK })

	book := func(base, sym string) restBook {
		code, body := brokerGet(t, base+"/api/v1/book/"+sym+"?depth=20")
		var b restBook
		if code != http.StatusOK || json.Unmarshal(body, &b) != nil {
			t.Fatalf("GET %s book %s: %d %s", base, sym, code, body)
		}
		return b
	}
	var diff string
	same := func() bool {
		for _, in := range cfg.Instruments {
			a, b := book(d.BaseURL, in.Symbol), book(edgeURL, in.Symbol)
			if !reflect.DeepEqual(a, b) || a.State == "stale" {
				diff = fmt.Sprintf("%s: ingest %+v\nedge %+v", in.Symbol, a, b)
				return false
			}
		}
		return true
	}
	settle := func(phase string) {
		t.Helper()
		d.Sim.Pause()
		brokerWaitUntil(t, phase+": the edge's books equal to the ingest's", func() bool { return same() || t.Failed() })
		if t.Failed() {
			t.Fatalf("%s: %s", phase, diff)
		}
		if b := book(edgeURL, "600519.SH"); b.Seq == 0 || len(b.Bids) == 0 {
			t.Fatalf("%s: edge book %+v: the flow never reached it", phase, b)
		}
	}
	brokerWaitUntil(t, "books to move", func() bool { return book(edgeURL, "600519.SH").Seq > 100 })
	settle("running")

	// NATS stops: the edge is not ready; it comes back on the same port,
	// the flow resumes, and the edge rebuilds from snapshots.
	srv.Shutdown()
	srv.WaitForShutdown()
	brokerWaitUntil(t, "the edge's /readyz to go 503 with the bus down", func() bool { return ready(edgeURL) == http.StatusServiceUnavailable })
	_, body := brokerGet(t, edgeURL+"/readyz")
	if !strings.Contains(string(body), "market_bus") {
		t.Errorf("/readyz with the bus down: %s; want it to name market_bus", body)
	}
	d.Sim.Resume()
	if srv, err = StartNATS(natsAddr); err != nil {
		t.Fatal(err)
	}
	brokerWaitUntil(t, "the edge's /readyz to return to 200", func() bool { return ready(edgeURL) == http.StatusOK })
	settle("after the bus came back")

	_, metrics := authGet(t, edgeURL+"/metrics", operatorToken(t, ecfg))
	for _, want := range []string{"gateway_mdbus_connected 1", "gateway_mdbus_disconnects_total 1", "gateway_mdbus_stale_symbols 0"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("edge /metrics lacks %q", want)
		}
	}
}

// TestStartNATSAddressInUse starts the embedded NATS server on an address
// another process holds (a second gateway on the same box, a leftover
// nats-server): the error names the listen failure. Before, the server's
// own error went to no log (NoLog) and the gateway waited 10 s to fail
// with "not ready after 10s", which names no cause.
func TestStartNATSAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv, err := StartNATS(ln.Addr().String())
	if err == nil {
		srv.Shutdown()
		t.Fatalf("StartNATS on %s, an address in use: no error", ln.Addr())
	}
	if !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("StartNATS on an address in use: %v; want the listen error", err)
	}
}
