package system

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/fix/broker"
	"sgw/netsec"
)

// frontTest is a broker front of node n1 on loopback, and the broker
// listener of the leader it relays to (n2), played by the test.
type frontTest struct {
	f        *brokerFront
	reg      *prometheus.Registry
	leader   atomic.Value // the leader's id, "" for none
	leaderLn net.Listener
	accepted chan net.Conn // the leader listener's connections
}

// startFront runs a front whose sessions allow the addresses sessions
// lists (one list per session; an empty list is loopback only) and whose
// config edit may change, until the test ends. Its leader is n2.
func startFront(t *testing.T, sessions [][]string, edit func(*brokerFrontConfig)) *frontTest {
	t.Helper()
	ft := &frontTest{reg: prometheus.NewRegistry(), accepted: make(chan net.Conn, 16)}
	ft.leader.Store("n2")
	var err error
	if ft.leaderLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ft.leaderLn.Close() })
	go func() {
		for {
			c, err := ft.leaderLn.Accept()
			if err != nil {
				return
			}
			ft.accepted <- c
		}
	}()
	bc := broker.Config{StoreDir: t.TempDir()}
	for i, addrs := range sessions {
		bc.Sessions = append(bc.Sessions, broker.SessionConfig{TargetCompID: "B" + string(rune('1'+i)), Password: "p", Accounts: []string{"A1"}, AllowedAddrs: addrs})
	}
	full, err := bc.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	allowed, err := bc.AllowedAddrs()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	refusals, err := broker.NewRefusals(ft.reg, log)
	if err != nil {
		t.Fatal(err)
	}
	cfg := brokerFrontConfig{
		addr: "127.0.0.1:0", members: map[string]string{"n2": ft.leaderLn.Addr().String()}, self: "n1",
		leader:  func() string { return ft.leader.Load().(string) },
		allowed: allowed, maxConns: full.MaxConnections, maxWaiting: full.MaxWaitingConnections,
		refusals: refusals, log: log,
	}
	if edit != nil {
		edit(&cfg)
	}
	if ft.f, err = newBrokerFront(cfg); err != nil {
		t.Fatal(err)
	}
	return ft
}

// run runs the front until the test ends; hooks are set before.
func (ft *frontTest) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ft.f.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
}

// dial connects to the front as a broker; from, when valid, is sent as
// the broker's address in a PROXY v2 header (the front trusts loopback).
func (ft *frontTest) dial(t *testing.T, from netip.AddrPort) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ft.f.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if from.IsValid() {
		to := netip.MustParseAddrPort(ft.f.Addr())
		if from.Addr().Is6() {
			to = netip.AddrPortFrom(netip.IPv6Loopback(), to.Port()) // a balancer's IPv6 side
		}
		hdr, err := netsec.AppendProxyHeader(nil, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(hdr); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// relayed waits for the leader's listener to accept a relayed connection
// and returns it with the broker's address its PROXY header names.
func (ft *frontTest) relayed(t *testing.T) (net.Conn, *bufio.Reader, netip.AddrPort) {
	t.Helper()
	var up net.Conn
	select {
	case up = <-ft.accepted:
	case <-time.After(30 * time.Second): // a bound on a failure, not a synchronisation
		t.Fatal("nothing relayed to the leader")
	}
	r := bufio.NewReader(up)
	hdr := make([]byte, netsec.ProxyHeaderLen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		t.Fatal(err)
	}
	rest := make([]byte, int(hdr[14])<<8|int(hdr[15]))
	if _, err := io.ReadFull(r, rest); err != nil {
		t.Fatal(err)
	}
	h, n, err := netsec.ParseProxyHeader(append(hdr, rest...))
	if err != nil || n == 0 {
		t.Fatalf("header: n %d, err %v", n, err)
	}
	return up, r, h.Source
}

// closed checks that the front closed c without a byte.
func closed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a bound on a failure
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("read %d, %v; want EOF: the front closes the connection", n, err)
	}
}

// refused returns gateway_broker_logon_rejects_total{reason}.
func (ft *frontTest) refused(t *testing.T, reason string) float64 {
	t.Helper()
	mfs, err := ft.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gateway_broker_logon_rejects_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if l := m.GetLabel(); len(l) == 1 && l[0].GetValue() == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no gateway_broker_logon_rejects_total{reason=%q}", reason)
	return 0
}

// TestBrokerFrontRoutes checks the clustered broker listener: on a node
// that follows, a connection is relayed to the leader's broker listener
// behind a PROXY v2 header naming the broker, bytes flow both ways and
// the leader's close reaches the broker; once a term opens on the node,
// connections go to its acceptor's listener, and after the acceptor closed
// it, to the leader again.
func TestBrokerFrontRoutes(t *testing.T) {
	ft := startFront(t, [][]string{nil}, nil)
	ft.run(t)

	// Relayed: header, then the broker's bytes; the leader's answer back.
	b := ft.dial(t, netip.AddrPort{})
	if _, err := b.Write([]byte("8=FIX.4.4|logon\n")); err != nil {
		t.Fatal(err)
	}
	up, r, src := ft.relayed(t)
	if src.String() != b.LocalAddr().String() {
		t.Errorf("header names %v; want the broker %v", src, b.LocalAddr())
	}
	if line, err := r.ReadString('\n'); err != nil || line != "8=FIX.4.4|logon\n" {
		t.Fatalf("the leader read %q, %v", line, err)
	}
	if _, err := up.Write([]byte("answer\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(b)
	if line, err := br.ReadString('\n'); err != nil || line != "answer\n" {
		t.Fatalf("the broker read %q, %v", line, err)
	}
	up.Close()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after the leader closed, the broker's read = %v, want EOF", err)
	}

	// A term here: its acceptor gets the connection.
	ft.leader.Store("n1")
	term := ft.f.open()
	c2 := ft.dial(t, netip.AddrPort{})
	got, err := term.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if got.RemoteAddr().String() != c2.LocalAddr().String() {
		t.Errorf("the term's acceptor got %v, want %v", got.RemoteAddr(), c2.LocalAddr())
	}
	got.Close()
	// The term ended (its acceptor closed the listener), another leads.
	term.Close()
	if _, err := term.Accept(); err == nil {
		t.Fatal("Accept after Close")
	}
	ft.leader.Store("n2")
	ft.dial(t, netip.AddrPort{})
	ft.relayed(t)
}

// TestBrokerFrontAllowedAddrs checks that a follower relays a broker's
// connection only from an address some session allows (the broker's own,
// from a load balancer's PROXY header), and closes the others before
// relaying, counted by reason "address".
func TestBrokerFrontAllowedAddrs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sessions [][]string // allowed_addrs per session
		from     string     // the broker's address, from the balancer
		relayed  bool
	}{
		{name: "the session's prefix", sessions: [][]string{{"203.0.113.0/28"}}, from: "203.0.113.7:4000", relayed: true},
		{name: "outside the session's prefix", sessions: [][]string{{"203.0.113.0/28"}}, from: "203.0.113.16:4000"},
		{name: "the second session's address", sessions: [][]string{{"203.0.113.0/28"}, {"198.51.100.9"}}, from: "198.51.100.9:4000", relayed: true},
		{name: "no session's address", sessions: [][]string{{"203.0.113.0/28"}, {"198.51.100.9"}}, from: "198.51.100.10:4000"},
		{name: "a session allowing any IPv4 address", sessions: [][]string{{"203.0.113.0/28"}, {"0.0.0.0/0"}}, from: "192.0.2.1:4000", relayed: true},
		{name: "a session allowing any IPv6 address", sessions: [][]string{{"0.0.0.0/0", "::/0"}}, from: "[2001:db8::1]:4000", relayed: true},
		{name: "IPv6 outside the prefix", sessions: [][]string{{"2001:db8::/64"}}, from: "[2001:db8:0:1::1]:4000"},
		{name: "the default: loopback", sessions: [][]string{nil}, from: "127.0.0.9:4000", relayed: true},
		{name: "the default refuses the rest", sessions: [][]string{nil}, from: "203.0.113.7:4000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := startFront(t, tc.sessions, func(c *brokerFrontConfig) {
				c.proxy = &netsec.ProxyConfig{Trusted: []string{"127.0.0.1"}, Optional: true}
			})
			ft.run(t)
			from := netip.MustParseAddrPort(tc.from)
			b := ft.dial(t, from)
			if !tc.relayed {
				closed(t, b)
				if n := ft.refused(t, broker.ReasonAddress); n != 1 {
					t.Fatalf("address refusals %v; want 1", n)
				}
				return
			}
			_, _, src := ft.relayed(t)
			if src != from {
				t.Errorf("relayed as %v; want %v", src, from)
			}
			if n := ft.refused(t, broker.ReasonAddress); n != 0 {
				t.Fatalf("address refusals %v; want 0", n)
			}
		})
	}
}

// TestBrokerFrontMaxConnections opens max_connections relayed connections
// and one more: the extra one is closed at once and counted; once one of
// the others ends, a new connection is relayed again.
func TestBrokerFrontMaxConnections(t *testing.T) {
	const limit = 3
	ft := startFront(t, [][]string{nil}, func(c *brokerFrontConfig) { c.maxConns, c.maxWaiting = limit, limit })
	ft.run(t)
	var held []net.Conn
	var ups []net.Conn
	for range limit {
		held = append(held, ft.dial(t, netip.AddrPort{}))
		up, _, _ := ft.relayed(t)
		ups = append(ups, up)
	}
	extra := ft.dial(t, netip.AddrPort{})
	closed(t, extra)
	if n := ft.refused(t, broker.ReasonMaxConnections); n != 1 {
		t.Fatalf("max_connections refusals %v; want 1", n)
	}
	// The leader ends one session: its place is free once the front
	// closed the broker's side, which the broker sees.
	ups[0].Close()
	closed(t, held[0])
	// The front releases the place right after closing; a connection
	// racing the release is refused (and counted), and the next tried.
	for attempt := 0; ; attempt++ {
		c := ft.dial(t, netip.AddrPort{})
		eof := make(chan struct{})
		go func() {
			c.Read(make([]byte, 1))
			close(eof)
		}()
		select {
		case up := <-ft.accepted:
			up.Close()
			return
		case <-eof:
			if attempt > 100 {
				t.Fatal("no place freed after a connection ended")
			}
		}
	}
}

// TestBrokerFrontMaxWaiting checks that during an election (no leader
// known, no term here) at most max_waiting_connections wait: one more is
// closed at once and counted, and the waiting ones are relayed once a
// leader is known, which frees their places for the next election.
func TestBrokerFrontMaxWaiting(t *testing.T) {
	const waiting = 2
	ft := startFront(t, [][]string{nil}, func(c *brokerFrontConfig) { c.maxWaiting = waiting })
	ft.leader.Store("")
	started := make(chan struct{}, waiting+1)
	ft.f.onWait = func() { started <- struct{}{} }
	ft.run(t)
	// dialWaiting opens as many connections as may wait, and waits until
	// each waits for a leader.
	dialWaiting := func() {
		t.Helper()
		for range waiting {
			ft.dial(t, netip.AddrPort{})
		}
		for range waiting {
			select {
			case <-started:
			case <-time.After(30 * time.Second): // a bound on a failure, not a synchronisation
				t.Fatal("a connection did not wait for a leader")
			}
		}
	}
	dialWaiting()
	closed(t, ft.dial(t, netip.AddrPort{}))
	if n := ft.refused(t, broker.ReasonMaxWaiting); n != 1 {
		t.Fatalf("max_waiting refusals %v; want 1", n)
	}
	ft.leader.Store("n2")
	for range waiting {
		ft.relayed(t) // held open: relayed connections take no waiting place
	}
	// The next election: as many wait again.
	ft.leader.Store("")
	dialWaiting()
	if n := ft.refused(t, broker.ReasonMaxWaiting); n != 1 {
		t.Fatalf("max_waiting refusals %v; want still 1", n)
	}
}

// dialUntilRelayed dials the front as a broker until a connection reaches
// got: a place the front frees right after closing a connection may be
// taken by a dial racing the release, which is refused, and the next one
// tried.
func (ft *frontTest) dialUntilRelayed(t *testing.T, got <-chan net.Conn) net.Conn {
	t.Helper()
	for attempt := 0; ; attempt++ {
		c := ft.dial(t, netip.AddrPort{})
		if _, err := c.Write([]byte("logon\n")); err != nil {
			t.Fatal(err)
		}
		eof := make(chan struct{})
		go func() {
			c.Read(make([]byte, 1))
			close(eof)
		}()
		select {
		case up := <-got:
			t.Cleanup(func() { up.Close() })
			return up
		case <-eof:
			if attempt > 100 {
				t.Fatal("no place freed for a broker's new connection")
			}
		}
	}
}

// TestBrokerFrontCutsRelayWhenLeaderChanges: a broker's connection relayed
// to leader n2 is cut once the front learns that n3 leads, although n2
// (partitioned, or without power) neither answers nor closes; the broker's
// engine connects again and is relayed to n3, in the place the cut one
// held (max_connections 1).
func TestBrokerFrontCutsRelayWhenLeaderChanges(t *testing.T) {
	n3, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n3.Close() })
	n3got := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := n3.Accept()
			if err != nil {
				return
			}
			n3got <- c
		}
	}()
	ft := startFront(t, [][]string{nil}, func(c *brokerFrontConfig) {
		c.maxConns, c.maxWaiting = 1, 1
		c.members["n3"] = n3.Addr().String()
	})
	ft.run(t)
	b := ft.dial(t, netip.AddrPort{})
	if _, err := b.Write([]byte("logon\n")); err != nil {
		t.Fatal(err)
	}
	up, _, _ := ft.relayed(t) // n2 holds it: it never answers or closes
	defer up.Close()
	ft.leader.Store("n3")
	closed(t, b)
	ft.dialUntilRelayed(t, n3got)
}

// TestBrokerFrontReleasesAfterBrokerCloses: a broker closes its relayed
// connection while the leader neither answers nor closes (hung, or behind
// a partition the front has not learnt of): the front passes the broker's
// end on, and frees the connection's place once brokerRelayDrain has
// passed, so the broker's engine can connect again.
func TestBrokerFrontReleasesAfterBrokerCloses(t *testing.T) {
	ft := startFront(t, [][]string{nil}, func(c *brokerFrontConfig) { c.maxConns, c.maxWaiting = 1, 1 })
	ft.f.drain = 50 * time.Millisecond
	ended := make(chan struct{}, 1)
	ft.f.onRelayEnd = func() { ended <- struct{}{} }
	ft.run(t)
	b := ft.dial(t, netip.AddrPort{})
	if _, err := b.Write([]byte("logon\n")); err != nil {
		t.Fatal(err)
	}
	up, r, _ := ft.relayed(t)
	defer up.Close()
	if line, err := r.ReadString('\n'); err != nil || line != "logon\n" {
		t.Fatalf("the leader read %q, %v", line, err)
	}
	b.Close()
	// The leader reads the broker's end (a half-close) and never closes.
	_ = up.SetReadDeadline(time.Now().Add(30 * time.Second)) // a bound on a failure
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("the leader's read after the broker closed: %v; want EOF", err)
	}
	select {
	case <-ended:
	case <-time.After(30 * time.Second): // a bound on a failure, not a synchronisation
		t.Fatal("the relay still holds its place after the broker closed")
	}
	ft.dialUntilRelayed(t, ft.accepted)
}
