package system

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"sgw/fix/broker"
	"sgw/netsec"
)

// brokerWait bounds how long a broker's connection waits, on a node that
// neither leads nor knows the leader, for a term to open here or a leader
// to be named (an election: 1 to 2 s on the default timings); after it the
// connection is closed and the broker's engine connects again.
const brokerWait = 10 * time.Second

// brokerDial bounds the dial of the leader's broker listener.
const brokerDial = 3 * time.Second

// brokerRelayCheck is how often a relayed connection checks that the
// node it goes to still leads; one that no longer does is cut, and the
// broker's engine connects again, to the leader now (a node that lost
// the lead behind a partition, or lost power, closes nothing itself).
const brokerRelayCheck = 250 * time.Millisecond

// brokerRelayDrain bounds how long a relay whose broker closed its side
// waits for the leader's side to close after it.
const brokerRelayDrain = 5 * time.Second

// brokerFront is a clustered gateway's broker FIX listener
// (brokers.listen). Every member listens, because a broker may reach any
// of them (one address behind a load balancer, or each member's), but only
// the leader serves the sessions, whose stores are replicated state: while
// a term runs here, the front hands each connection to the term's
// acceptor (open); otherwise it relays the connection's bytes to the
// leader's broker listener (cluster.nodes[].brokers), preceded by a PROXY
// v2 header naming the broker, so that the leader checks the sessions'
// allowed addresses against the broker's own. TLS, when configured, runs
// end to end between the broker and the leader's acceptor.
//
// The front bounds what a connection may cost a node: at most
// brokers.max_connections are open at once (relayed, waiting, or handed
// to the acceptor, until whoever holds them closes them), at most
// brokers.max_waiting_connections wait for a leader, and a connection
// from an address no session allows is closed before it is relayed or
// waits (broker.AllowedAddrs: the check the leader's acceptor makes). A
// connection over a bound is closed at once, logged and counted
// (gateway_broker_logon_rejects_total, by reason).
//
// run accepts until its context ends; open and the connection goroutines
// may run on any goroutine. No callback runs under mu.
type brokerFront struct {
	ln       net.Listener      // the public listener: PROXY headers read when trusted, connections capped
	members  map[string]string // member id → its broker listener; missing: not relayed to
	self     string
	leader   func() string // the leader's id, "" when unknown
	allowed  broker.AllowedAddrs
	refusals *broker.Refusals
	log      *slog.Logger
	waiting  chan struct{} // a slot per connection waiting for a leader; its capacity is the bound

	// onWait, when set before run, is called when a connection starts
	// waiting for a leader (tests), on the connection's goroutine.
	onWait func()
	// onRelayEnd, when set before run, is called when a relayed
	// connection has ended and its place is free (tests), on the
	// connection's goroutine.
	onRelayEnd func()
	// drain is how long a relay whose broker closed waits for the
	// leader's side: brokerRelayDrain (tests shorten it).
	drain time.Duration

	mu      sync.Mutex
	cur     *chanListener // the running term's acceptor's; nil or closed between terms
	changed chan struct{} // closed and replaced when cur changes
}

// brokerFrontConfig is what a brokerFront is built from; newBrokerFront
// reads it once, and leader is then called from the connections'
// goroutines.
type brokerFrontConfig struct {
	addr    string              // where brokers connect (brokers.listen)
	proxy   *netsec.ProxyConfig // the peers whose PROXY v2 header is read (load balancers, members); nil: none
	members map[string]string   // member id → its broker listener
	self    string              // this node's id
	leader  func() string       // the leader's id, "" when unknown; safe from any goroutine
	// allowed are the addresses some session allows
	// (broker.Config.AllowedAddrs).
	allowed broker.AllowedAddrs
	// maxConns and maxWaiting are brokers.max_connections and
	// brokers.max_waiting_connections, defaults filled; both positive.
	maxConns, maxWaiting int
	refusals             *broker.Refusals
	log                  *slog.Logger
}

// newBrokerFront listens on cfg.addr.
func newBrokerFront(cfg brokerFrontConfig) (*brokerFront, error) {
	if cfg.maxConns <= 0 || cfg.maxWaiting <= 0 {
		return nil, fmt.Errorf("system: broker front: limits %d and %d must be positive", cfg.maxConns, cfg.maxWaiting)
	}
	raw, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("system: brokers listen %s: %w", cfg.addr, err)
	}
	f := &brokerFront{ln: raw, members: cfg.members, self: cfg.self, leader: cfg.leader, allowed: cfg.allowed,
		refusals: cfg.refusals, log: cfg.log, waiting: make(chan struct{}, cfg.maxWaiting), changed: make(chan struct{}),
		drain: brokerRelayDrain}
	if cfg.proxy != nil {
		pl, err := netsec.NewProxyListener(raw, *cfg.proxy, "brokers.proxy_protocol", func(remote net.Addr, err error) {
			f.refusals.Refuse(broker.ReasonProxy, remote, "", err.Error())
		})
		if err != nil {
			raw.Close()
			return nil, fmt.Errorf("system: broker front: %w", err)
		}
		f.ln = pl
	}
	f.ln = netsec.NewLimitListener(f.ln, cfg.maxConns, 0, func(remote net.Addr, reason string) {
		f.refusals.Refuse(reason, remote, "", fmt.Sprintf("%d connections open (brokers.max_connections)", cfg.maxConns))
	})
	return f, nil
}

// Addr returns the address brokers connect to.
func (f *brokerFront) Addr() string { return f.ln.Addr().String() }

// open returns the listener of a new term's acceptor: connections go to
// it until it is closed (by the acceptor, when the term ends).
func (f *brokerFront) open() *chanListener {
	l := &chanListener{addr: f.ln.Addr(), conns: make(chan net.Conn, 64), done: make(chan struct{})}
	f.mu.Lock()
	f.cur = l
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
	return l
}

// run accepts connections until ctx ends, then closes the listener and
// the connections it relays, and returns once their goroutines ended.
func (f *brokerFront) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	go func() { <-ctx.Done(); f.ln.Close() }()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("system: brokers accept: %w", err)
		}
		wg.Go(func() { f.serve(ctx, c) })
	}
}

// close releases the listener of a front that will not run.
func (f *brokerFront) close() { f.ln.Close() }

// serve routes one connection: to this node's term, or to the leader.
func (f *brokerFront) serve(ctx context.Context, c net.Conn) {
	if !f.allowed.Allows(c.RemoteAddr()) {
		f.refusals.Refuse(broker.ReasonAddress, c.RemoteAddr(), "", "no session allows the address")
		c.Close()
		return
	}
	var deadline <-chan time.Time // set when the connection starts waiting
	// The connection holds a waiting slot from its first wait until it
	// is relayed, handed over or closed.
	waiting := false
	stopWaiting := func() {
		if waiting {
			waiting = false
			<-f.waiting
		}
	}
	defer stopWaiting()
	for {
		f.mu.Lock()
		cur, changed := f.cur, f.changed
		f.mu.Unlock()
		if cur != nil && cur.deliver(c) {
			return
		}
		if id := f.leader(); id != "" && id != f.self {
			stopWaiting()
			addr, ok := f.members[id]
			if !ok {
				f.log.Warn("broker: connection closed: the leader has no broker address (cluster.nodes[].brokers)", "leader", id, "remote", c.RemoteAddr().String())
				c.Close()
				return
			}
			f.relay(ctx, c, id, addr)
			if f.onRelayEnd != nil {
				f.onRelayEnd()
			}
			return
		}
		// No term here and no other leader named: an election, or this
		// node won and its term is starting. Look again when the term
		// opens, or shortly (the leader is learnt from Raft).
		if deadline == nil {
			if !f.startWaiting() {
				f.refusals.Refuse(broker.ReasonMaxWaiting, c.RemoteAddr(), "", fmt.Sprintf("%d connections wait for a leader (brokers.max_waiting_connections)", cap(f.waiting)))
				c.Close()
				return
			}
			waiting = true
			t := time.NewTimer(brokerWait)
			defer t.Stop()
			deadline = t.C
			if f.onWait != nil {
				f.onWait()
			}
		}
		poll := time.NewTimer(50 * time.Millisecond)
		select {
		case <-changed:
		case <-poll.C:
		case <-deadline:
			f.log.Warn("broker: connection closed: no leader", "remote", c.RemoteAddr().String(), "waited", brokerWait)
			c.Close()
			return
		case <-ctx.Done():
			c.Close()
			return
		}
		poll.Stop()
	}
}

// startWaiting takes a waiting slot, or reports that none is free.
func (f *brokerFront) startWaiting() bool {
	select {
	case f.waiting <- struct{}{}:
		return true
	default:
		return false
	}
}

// relay copies c's bytes to and from the leader's broker listener at addr,
// after a PROXY v2 header naming c's peer, until the leader's side closes
// (or, once the broker closed its side, f.drain has passed),
// leader no longer leads, or ctx ends. A relay holds its connection's
// slot (brokers.max_connections) until it returns.
func (f *brokerFront) relay(ctx context.Context, c net.Conn, leader, addr string) {
	defer c.Close()
	d := net.Dialer{Timeout: brokerDial}
	up, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		f.log.Warn("broker: connection closed: the leader's broker listener cannot be reached", "leader", leader, "addr", addr, "err", err)
		return
	}
	defer up.Close()
	src, okSrc := addrPort(c.RemoteAddr())
	dst, okDst := addrPort(c.LocalAddr())
	if !okSrc || !okDst {
		f.log.Warn("broker: connection closed: not TCP", "remote", c.RemoteAddr().String())
		return
	}
	if src.Addr().Unmap().Is4() != dst.Addr().Unmap().Is4() {
		// An IPv6 broker behind a balancer that reaches this node over
		// IPv4 (or the reverse): the header's addresses share a family,
		// and the leader needs only the broker's.
		dst = netip.AddrPortFrom(netip.IPv6Unspecified(), dst.Port())
		if src.Addr().Unmap().Is4() {
			dst = netip.AddrPortFrom(netip.IPv4Unspecified(), dst.Port())
		}
	}
	hdr, err := netsec.AppendProxyHeader(nil, src, dst)
	if err != nil {
		f.log.Warn("broker: connection closed", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	if _, err := up.Write(hdr); err != nil {
		return
	}
	rctx, cut := context.WithCancel(ctx)
	defer cut()
	stop := context.AfterFunc(rctx, func() { c.Close(); up.Close() })
	defer stop()
	go func() {
		t := time.NewTicker(brokerRelayCheck)
		defer t.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-t.C:
				if f.leader() != leader {
					f.log.Info("broker: relayed connection cut: the node it goes to no longer leads", "to", leader, "remote", c.RemoteAddr().String())
					cut()
					return
				}
			}
		}
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(up, c)
		if tc, ok := up.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		// The broker closed: what the leader still sends has nowhere to
		// go, and a leader that neither answers nor closes must not hold
		// the connection's slot.
		_ = up.SetReadDeadline(time.Now().Add(f.drain))
	}()
	io.Copy(c, up)
	c.Close() // the leader ended the session: the broker's read ends
	<-done
}

// addrPort returns a TCP address as a netip.AddrPort.
func addrPort(a net.Addr) (netip.AddrPort, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	return ta.AddrPort(), true
}

// chanListener is a term's acceptor's listener: the front delivers the
// connections, Accept returns them. Close (by the acceptor, at the end of
// its term) closes the connections still queued. Safe from any goroutine.
type chanListener struct {
	addr  net.Addr
	conns chan net.Conn
	once  sync.Once
	mu    sync.Mutex // orders deliver's send with Close's drain
	done  chan struct{}
}

// deliver queues c for Accept; false when the listener is closed or its
// queue is full (the acceptor is not accepting).
func (l *chanListener) deliver(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.done:
		return false
	default:
	}
	select {
	case l.conns <- c:
		return true
	default:
		return false
	}
}

// Accept returns the next connection delivered, or net.ErrClosed.
func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close closes the listener and the connections not accepted.
func (l *chanListener) Close() error {
	l.once.Do(func() {
		l.mu.Lock()
		close(l.done)
		l.mu.Unlock()
		for {
			select {
			case c := <-l.conns:
				c.Close()
			default:
				return
			}
		}
	})
	return nil
}

// Addr returns the front's address.
func (l *chanListener) Addr() net.Addr { return l.addr }
