package netsec

import (
	"net"
	"net/netip"
	"sync"
)

// Reasons LimitListener refuses a connection.
const (
	ReasonMaxConns      = "max_connections"
	ReasonMaxConnsPerIP = "max_connections_per_ip"
)

// LimitListener caps the open connections of a listener: in total and per
// client address (the address the wrapped listener reports: stack it on a
// ProxyListener to count clients behind load balancers). IPv6 clients are
// counted by their /64, which one client usually holds whole. A
// connection over a cap is closed as soon as it is accepted, before a
// byte is read or written, and reported to onRefuse. A connection counts
// until it is closed, whoever closes it (net/http, or a handler that
// hijacked it).
//
// Accept is for one goroutine (the server's accept loop); Open and the
// connections' Close are safe from any.
type LimitListener struct {
	net.Listener
	max, maxPerIP int
	onRefuse      func(remote net.Addr, reason string)

	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
}

// NewLimitListener wraps ln with the caps max (all connections) and
// maxPerIP (connections from one client address); zero means no cap.
// onRefuse, if not nil, is told of each refused connection with
// ReasonMaxConns or ReasonMaxConnsPerIP, before it is closed, on Accept's
// goroutine; it must not block.
func NewLimitListener(ln net.Listener, max, maxPerIP int, onRefuse func(net.Addr, string)) *LimitListener {
	if onRefuse == nil {
		onRefuse = func(net.Addr, string) {}
	}
	return &LimitListener{Listener: ln, max: max, maxPerIP: maxPerIP, onRefuse: onRefuse, perIP: map[netip.Addr]int{}}
}

// Accept returns the next connection within the caps.
func (l *LimitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := clientKey(c.RemoteAddr())
		if reason := l.admit(key); reason != "" {
			l.onRefuse(c.RemoteAddr(), reason)
			c.Close()
			continue
		}
		return &limitConn{Conn: c, l: l, key: key}, nil
	}
}

// Open returns the number of connections open.
func (l *LimitListener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// clientKey is the address a client is counted by (ClientKey); the zero
// Addr for an address that is not IP.
func clientKey(addr net.Addr) netip.Addr {
	ip, ok := AddrIP(addr)
	if !ok {
		return netip.Addr{}
	}
	return ClientKey(ip)
}

// ClientKey is the address a client's connections are counted by, here
// and by the WebSocket limits: its IPv4 address (an IPv4-mapped IPv6 one
// unmapped), or its IPv6 /64, one subscriber's network.
func ClientKey(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

func (l *LimitListener) admit(key netip.Addr) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.max > 0 && l.total >= l.max:
		return ReasonMaxConns
	case l.maxPerIP > 0 && l.perIP[key] >= l.maxPerIP:
		return ReasonMaxConnsPerIP
	}
	l.total++
	l.perIP[key]++
	return ""
}

func (l *LimitListener) release(key netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.perIP[key]--; l.perIP[key] <= 0 {
		delete(l.perIP, key)
	}
}

// limitConn releases its place when closed, once.
type limitConn struct {
	net.Conn
	l    *LimitListener
	key  netip.Addr
	once sync.Once
}

// NetConn returns the wrapped connection.
func (c *limitConn) NetConn() net.Conn { return c.Conn }

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key) })
	return err
}
