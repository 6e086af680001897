package netsec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// DefaultProxyHeaderTimeout bounds reading a trusted peer's header when
// ProxyConfig.HeaderTimeout is zero.
const DefaultProxyHeaderTimeout = 5 * time.Second

// maxProxyPending bounds the trusted connections whose header is being
// read; beyond it the listener accepts no more until one is done, leaving
// new connections in the kernel's backlog.
const maxProxyPending = 1024

// ProxyConfig configures the PROXY protocol v2 on a listener behind
// layer-4 load balancers.
type ProxyConfig struct {
	// Trusted are the load balancers' addresses: IPs ("10.0.0.5") or CIDR
	// prefixes ("10.0.0.0/28"). Only their connections may carry a
	// header; a connection from any other peer that sends one is refused
	// (its own address stands for connections that do not). Required.
	Trusted []string `yaml:"trusted"`
	// Optional lets a trusted peer connect without a header, its own
	// address then standing. Zero (false) means a trusted peer must send
	// one: a connection of a load balancer without a header is refused.
	Optional bool `yaml:"optional"`
	// HeaderTimeout bounds the wait for a trusted peer's header. Zero
	// means 5s.
	HeaderTimeout time.Duration `yaml:"header_timeout"`
}

// Validate checks cfg; key names the section in errors.
func (cfg ProxyConfig) Validate(key string) error {
	_, err := cfg.prefixes(key)
	return err
}

func (cfg ProxyConfig) prefixes(key string) ([]netip.Prefix, error) {
	if len(cfg.Trusted) == 0 {
		return nil, fmt.Errorf("%w: %s.trusted: name the load balancers (IPs or CIDR prefixes)", ErrConfig, key)
	}
	if cfg.HeaderTimeout < 0 {
		return nil, fmt.Errorf("%w: %s.header_timeout %v is negative", ErrConfig, key, cfg.HeaderTimeout)
	}
	return ParsePrefixes(key+".trusted", cfg.Trusted)
}

// ProxyListener is a listener behind load balancers that speak the PROXY
// protocol v2. Its connections report the client's address as RemoteAddr;
// LocalAddr stays the listener's own (servers such as quickfix's acceptor
// check it against the port they listen on).
//
// A connection from a trusted peer has its header read on a goroutine of
// its own, within HeaderTimeout, before Accept returns it, so that a slow
// peer never holds up the others; one whose header is missing (unless
// Optional), malformed or late is closed and reported to onRefuse. A
// connection from any other peer is returned at once, and refused on its
// first Read (the read fails and the connection closes) if it starts with
// a PROXY header, v2 or v1: no client may claim another's address.
//
// Accept, Close and Addr are safe from any goroutine.
type ProxyListener struct {
	net.Listener
	trusted  []netip.Prefix
	optional bool
	timeout  time.Duration
	onRefuse func(remote net.Addr, err error)

	results chan acceptResult
	slots   chan struct{} // one per header being read
	done    chan struct{} // closed by Close
	once    sync.Once
	wg      sync.WaitGroup // the accept loop and the header readers

	mu      sync.Mutex
	pending map[net.Conn]struct{} // connections whose header is being read
}

type acceptResult struct {
	c   net.Conn
	err error
}

// NewProxyListener wraps ln, whose connections come from cfg's trusted
// load balancers and from anyone else. key names the configuration
// section in errors. onRefuse, if not nil, is told of every connection
// refused (err wraps ErrProxyHeader or ErrProxyUntrusted), before the
// connection is closed; it is called from the listener's goroutines and
// from a refused connection's reader, and must not block. The listener starts accepting at once.
func NewProxyListener(ln net.Listener, cfg ProxyConfig, key string, onRefuse func(net.Addr, error)) (*ProxyListener, error) {
	trusted, err := cfg.prefixes(key)
	if err != nil {
		return nil, err
	}
	if cfg.HeaderTimeout == 0 {
		cfg.HeaderTimeout = DefaultProxyHeaderTimeout
	}
	if onRefuse == nil {
		onRefuse = func(net.Addr, error) {}
	}
	l := &ProxyListener{Listener: ln, trusted: trusted, optional: cfg.Optional, timeout: cfg.HeaderTimeout, onRefuse: onRefuse,
		results: make(chan acceptResult), slots: make(chan struct{}, maxProxyPending), done: make(chan struct{}),
		pending: map[net.Conn]struct{}{}}
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

// Accept returns the next connection whose client address is known.
func (l *ProxyListener) Accept() (net.Conn, error) {
	select {
	case r := <-l.results:
		return r.c, r.err
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
	}
}

// Close closes the listener and the connections whose header is still
// being read, and waits for its goroutines.
func (l *ProxyListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.Listener.Close()
		l.mu.Lock()
		for c := range l.pending {
			c.Close()
		}
		l.mu.Unlock()
		l.wg.Wait()
	})
	return err
}

// acceptLoop accepts from the wrapped listener until it fails for good.
func (l *ProxyListener) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			// Accept's caller decides what to do with an error that is
			// not the end (net/http backs off on a temporary one).
			if !l.deliver(acceptResult{err: err}) || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if !Contains(l.trusted, c.RemoteAddr()) {
			l.deliver(acceptResult{c: &proxyConn{Conn: c, sniff: true, onRefuse: l.onRefuse}})
			continue
		}
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			c.Close()
			return
		}
		if !l.track(c) {
			<-l.slots
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			pc, err := l.readHeader(c)
			l.untrack(c)
			<-l.slots
			if err != nil {
				l.onRefuse(c.RemoteAddr(), err)
				c.Close()
				return
			}
			l.deliver(acceptResult{c: pc})
		}()
	}
}

// deliver hands r to Accept, or closes its connection once the listener
// is closed; it reports whether Accept took it.
func (l *ProxyListener) deliver(r acceptResult) bool {
	select {
	case l.results <- r:
		return true
	case <-l.done:
		if r.c != nil {
			r.c.Close()
		}
		return false
	}
}

func (l *ProxyListener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.done:
		c.Close()
		return false
	default:
	}
	l.pending[c] = struct{}{}
	return true
}

func (l *ProxyListener) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.pending, c)
	l.mu.Unlock()
}

// readHeader reads a trusted peer's header, within the header timeout,
// and returns the connection as the header describes it. It reads no byte
// past the header; without one (Optional), the bytes read to tell are
// returned first by the connection's Read.
func (l *ProxyListener) readHeader(c net.Conn) (net.Conn, error) {
	if err := c.SetReadDeadline(time.Now().Add(l.timeout)); err != nil {
		return nil, err
	}
	buf := make([]byte, ProxyHeaderLen)
	n := 0
	for n < ProxyHeaderLen {
		k, err := c.Read(buf[n:])
		n += k
		switch sniffProxy(buf[:n]) {
		case proxyNone:
			if !l.optional {
				return nil, fmt.Errorf("%w: a trusted peer (load balancer) connected without a header", ErrProxyHeader)
			}
			if err := c.SetReadDeadline(time.Time{}); err != nil {
				return nil, err
			}
			return &proxyConn{Conn: c, pre: buf[:n]}, nil
		case proxyV1:
			_, _, perr := ParseProxyHeader(buf[:n])
			return nil, perr
		}
		if err != nil {
			return nil, fmt.Errorf("%w: reading the header: %w", ErrProxyHeader, err)
		}
	}
	if _, _, err := ParseProxyHeader(buf); err != nil {
		return nil, err
	}
	full := make([]byte, ProxyHeaderLen+int(binary.BigEndian.Uint16(buf[14:16])))
	copy(full, buf)
	if _, err := io.ReadFull(c, full[ProxyHeaderLen:]); err != nil {
		return nil, fmt.Errorf("%w: reading the header: %w", ErrProxyHeader, err)
	}
	h, _, err := ParseProxyHeader(full)
	if err != nil {
		return nil, err
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return nil, err
	}
	pc := &proxyConn{Conn: c}
	if h.Source.IsValid() {
		pc.remote = net.TCPAddrFromAddrPort(h.Source)
	}
	return pc, nil
}

// proxyConn is a connection as its PROXY header describes it. Read is for
// one goroutine; the other methods are safe from any.
type proxyConn struct {
	net.Conn
	remote net.Addr // the client's, from the header; nil: the peer's
	pre    []byte   // bytes read before the first Read, returned first

	// sniff: the peer is not trusted, and the connection is refused if its
	// first bytes are a PROXY header (checked by the first Read).
	sniff    bool
	onRefuse func(net.Addr, error)
	err      error // sticky, after a refusal
}

var _ net.Conn = (*proxyConn)(nil)

// NetConn returns the wrapped connection.
func (c *proxyConn) NetConn() net.Conn { return c.Conn }

// RemoteAddr returns the client's address.
func (c *proxyConn) RemoteAddr() net.Addr {
	if c.remote != nil {
		return c.remote
	}
	return c.Conn.RemoteAddr()
}

func (c *proxyConn) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	for c.sniff {
		if err := c.sniffHeader(); err != nil {
			return 0, err
		}
	}
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// sniffHeader reads the first bytes of an untrusted peer's connection into
// c.pre, until they tell whether they are a PROXY header: if they are, the
// connection is refused and closed. It clears c.sniff once they tell they
// are not, and returns a read error as it is, keeping what it read.
func (c *proxyConn) sniffHeader() error {
	switch sniffProxy(c.pre) {
	case proxyNone:
		c.sniff = false
		return nil
	case proxyV1, proxyV2:
		c.err = fmt.Errorf("%w: %s is not a trusted load balancer", ErrProxyUntrusted, c.Conn.RemoteAddr())
		c.pre = nil
		c.onRefuse(c.Conn.RemoteAddr(), c.err)
		c.Conn.Close()
		return c.err
	}
	if c.pre == nil {
		c.pre = make([]byte, 0, len(proxySignature))
	}
	n, err := c.Conn.Read(c.pre[len(c.pre):cap(c.pre)])
	c.pre = c.pre[:len(c.pre)+n]
	if err != nil && sniffProxy(c.pre) == proxyUndecided {
		return err
	}
	return nil
}
