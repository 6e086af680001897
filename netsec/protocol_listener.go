package netsec

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"sgw/tlcp"
)

// DefaultPeekTimeout bounds, for a zero timeout, the wait for the first
// bytes of a connection on a ProtocolListener.
const DefaultPeekTimeout = 10 * time.Second

var (
	// ErrProtocol reports a connection whose first bytes are neither a
	// TLS nor a TLCP record.
	ErrProtocol = errors.New("netsec: neither TLS nor TLCP")
	// ErrTLCPHandshake reports a TLCP connection whose handshake failed.
	ErrTLCPHandshake = errors.New("netsec: TLCP handshake failed")
	// ErrHandshakePanic reports, with ErrTLCPHandshake, a handshake that
	// panicked: a bug, in package tlcp or a callback of its Config. The
	// error carries the panic's value and stack.
	ErrHandshakePanic = errors.New("netsec: panic in the handshake")
)

// peekLen is what tells the protocols apart: a handshake record (22)
// with major version 3 is TLS; with version 1.1 (0x0101) TLCP
// (GB/T 38636-2020 6.3.2.1).
const peekLen = 3

// ProtocolListener serves TLS and TLCP on one listener. Each accepted
// connection's first record header is read on a goroutine of its own,
// within the peek timeout, so that a silent client holds no other; the
// connection is then handed to crypto/tls or to tlcp, and Accept returns
// it as a *tls.Conn or a *tlcp.Conn (net/http treats the former as
// HTTPS and runs its handshake; both carry HTTP and WebSocket alike). A
// TLCP connection's handshake runs on that goroutine too, within the
// tlcp.Config's HandshakeTimeout, so that its failure is reported (net/http
// would drop it silently); a panic in it fails that connection alone
// (ErrHandshakePanic), as net/http's recover does for a TLS handshake.
// Anything else is closed and reported to the refused callback. Safe for
// concurrent use.
type ProtocolListener struct {
	inner   net.Listener
	tls     *tls.Config
	tlcp    *tlcp.Config
	timeout time.Duration
	refused func(remote net.Addr, err error)

	conns     chan net.Conn
	errs      chan error
	done      chan struct{}
	closeOnce sync.Once
}

// NewProtocolListener starts accepting on inner. timeout bounds the wait
// for a connection's first bytes (zero means DefaultPeekTimeout). refused
// hears of each connection closed here, with an error wrapping
// ErrProtocol or ErrTLCPHandshake; it may be nil; it runs on the
// connection's goroutine and must not block.
// Close the listener to stop its goroutines.
func NewProtocolListener(inner net.Listener, tlsConfig *tls.Config, tlcpConfig *tlcp.Config, timeout time.Duration, refused func(remote net.Addr, err error)) *ProtocolListener {
	if timeout <= 0 {
		timeout = DefaultPeekTimeout
	}
	if refused == nil {
		refused = func(net.Addr, error) {}
	}
	l := &ProtocolListener{
		inner: inner, tls: tlsConfig, tlcp: tlcpConfig, timeout: timeout, refused: refused,
		conns: make(chan net.Conn), errs: make(chan error), done: make(chan struct{}),
	}
	go l.acceptLoop()
	return l
}

// acceptLoop accepts until inner closes, classifying each connection on
// its own goroutine. An Accept error goes to the next Accept call.
func (l *ProtocolListener) acceptLoop() {
	for {
		c, err := l.inner.Accept()
		if err != nil {
			select {
			case l.errs <- err:
			case <-l.done:
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go l.classify(c)
	}
}

// classify reads the first record header of c and hands c on.
func (l *ProtocolListener) classify(c net.Conn) {
	var hdr [peekLen]byte
	c.SetReadDeadline(time.Now().Add(l.timeout))
	_, err := io.ReadFull(c, hdr[:])
	c.SetReadDeadline(time.Time{})
	if err != nil {
		l.refused(c.RemoteAddr(), fmt.Errorf("%w: first bytes: %w", ErrProtocol, err))
		c.Close()
		return
	}
	pc := &peekedConn{Conn: c, peeked: hdr[:]}
	var out net.Conn
	switch {
	case hdr[0] == 22 && hdr[1] == 3:
		out = tls.Server(pc, l.tls)
	case hdr[0] == 22 && hdr[1] == 1 && hdr[2] == 1 && l.tlcp != nil:
		tc := tlcp.Server(pc, l.tlcp)
		if err := tlcpHandshake(tc); err != nil {
			l.refused(c.RemoteAddr(), fmt.Errorf("%w: %w", ErrTLCPHandshake, err))
			tc.Close()
			return
		}
		out = tc
	default:
		l.refused(c.RemoteAddr(), fmt.Errorf("%w: first bytes % x", ErrProtocol, hdr))
		c.Close()
		return
	}
	select {
	case l.conns <- out:
	case <-l.done:
		c.Close()
	}
}

// tlcpHandshake runs tc's handshake. A panic in it fails this connection
// only: the goroutine is the connection's, and nothing above it would
// recover the panic before it ended the process (with every connection's
// place under the caps).
func tlcpHandshake(tc *tlcp.Conn) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v\n%s", ErrHandshakePanic, p, debug.Stack())
		}
	}()
	return tc.Handshake()
}

// Accept returns the next classified connection, a *tls.Conn or a
// *tlcp.Conn whose handshake runs on first use.
func (l *ProtocolListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close closes the inner listener; connections still being classified
// are closed as they finish.
func (l *ProtocolListener) Close() error {
	err := net.ErrClosed
	l.closeOnce.Do(func() {
		close(l.done)
		err = l.inner.Close()
	})
	return err
}

// Addr returns the inner listener's address.
func (l *ProtocolListener) Addr() net.Addr { return l.inner.Addr() }

// peekedConn gives back the bytes read to classify a connection before
// reading on.
type peekedConn struct {
	net.Conn
	peeked []byte // guarded by the single reader: crypto/tls and tlcp read under their own lock
}

func (c *peekedConn) Read(b []byte) (int, error) {
	if len(c.peeked) > 0 {
		n := copy(b, c.peeked)
		c.peeked = c.peeked[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}
