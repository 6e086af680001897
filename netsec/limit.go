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
	limits   *ConnLimits
	onRefuse func(remote net.Addr, reason string)
}

// ConnLimits counts open connections, in total and per client (by
// ClientKey), against two caps: the counting of LimitListener, and of
// any server that admits connections itself (the WebSocket server, which
// counts those it relays as well). Safe for concurrent use; its lock is
// held only to count.
type ConnLimits struct {
	max, maxPerIP int

	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
}

// NewConnLimits returns ConnLimits with the caps max (all connections)
// and maxPerIP (connections from one client); zero means no cap.
func NewConnLimits(max, maxPerIP int) *ConnLimits {
	return &ConnLimits{max: max, maxPerIP: maxPerIP, perIP: map[netip.Addr]int{}}
}

// Admit counts a new connection from ip (the zero Addr for a client that
// has none), or returns why it is refused: ReasonMaxConns or
// ReasonMaxConnsPerIP. Every connection admitted is released once.
func (l *ConnLimits) Admit(ip netip.Addr) string {
	key := ClientKey(ip)
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

// Release uncounts a connection from ip that Admit counted.
func (l *ConnLimits) Release(ip netip.Addr) {
	key := ClientKey(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.perIP[key]--; l.perIP[key] <= 0 {
		delete(l.perIP, key)
	}
}

// Open returns the number of connections counted, and of the clients
// they come from.
func (l *ConnLimits) Open() (conns, clients int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, len(l.perIP)
}

// OpenFrom returns the number of connections counted from ip's client.
func (l *ConnLimits) OpenFrom(ip netip.Addr) int {
	key := ClientKey(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.perIP[key]
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
	return &LimitListener{Listener: ln, limits: NewConnLimits(max, maxPerIP), onRefuse: onRefuse}
}

// Accept returns the next connection within the caps.
func (l *LimitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip, _ := AddrIP(c.RemoteAddr()) // the zero Addr when it is not IP
		if reason := l.limits.Admit(ip); reason != "" {
			l.onRefuse(c.RemoteAddr(), reason)
			c.Close()
			continue
		}
		return &limitConn{Conn: c, l: l.limits, ip: ip}, nil
	}
}

// Open returns the number of connections open.
func (l *LimitListener) Open() int {
	n, _ := l.limits.Open()
	return n
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

// limitConn releases its place when closed, once.
type limitConn struct {
	net.Conn
	l    *ConnLimits
	ip   netip.Addr
	once sync.Once
}

// NetConn returns the wrapped connection.
func (c *limitConn) NetConn() net.Conn { return c.Conn }

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.Release(c.ip) })
	return err
}
