package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"

	"sgw/netsec"
)

// connCtx is the gnet connection context: the source and the connection
// generation it belongs to.
type connCtx struct {
	s   *source
	gen uint64
}

// gnetHandler runs the plain-text sources of a feed on one gnet event loop.
// Its callbacks run on the event-loop goroutine.
type gnetHandler struct {
	gnet.BuiltinEventEngine
}

var _ gnet.EventHandler = (*gnetHandler)(nil)

// OnOpen sends the Login Request of a newly enrolled connection.
func (*gnetHandler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	cc, ok := c.Context().(*connCtx)
	if !ok {
		return nil, gnet.Close
	}
	out := cc.s.onOpen(cc.gen, gnetLink{c})
	if out == nil {
		return nil, gnet.Close
	}
	return out, gnet.None
}

// OnTraffic hands the buffered bytes to the source, whole packets at a time.
func (*gnetHandler) OnTraffic(c gnet.Conn) gnet.Action {
	cc, ok := c.Context().(*connCtx)
	if !ok {
		return gnet.Close
	}
	buf, err := c.Peek(c.InboundBuffered())
	if err != nil {
		return gnet.Close
	}
	used, closeIt := cc.s.onData(cc.gen, buf, time.Now())
	_, _ = c.Discard(used)
	// Delivering to the books readied their writer goroutines on this P.
	// The event loop next blocks in epoll_wait, a raw syscall that keeps
	// the P, so a goroutine left in the P's run-next slot would wait until
	// sysmon retakes the P (up to 10 ms). Yield first so it runs now.
	runtime.Gosched()
	if closeIt {
		return gnet.Close
	}
	return gnet.None
}

// OnClose tells the source its connection ended.
func (*gnetHandler) OnClose(c gnet.Conn, err error) gnet.Action {
	if cc, ok := c.Context().(*connCtx); ok {
		cc.s.onClosed(cc.gen, err)
	}
	return gnet.None
}

// gnetLink is a link over a gnet connection.
type gnetLink struct{ c gnet.Conn }

func (l gnetLink) send(b []byte) { _ = l.c.AsyncWrite(b, nil) }
func (l gnetLink) close()        { _ = l.c.Close() }

// secureConn is what the link code needs of a secured source
// connection: a net.Conn and its handshake, which the dialling goroutine
// runs within the dial timeout; then that goroutine reads and the link's
// writer goroutine writes, as net.Conn allows. netsec.ClientSecurity
// makes them, over crypto/tls or package tlcp.
type secureConn interface {
	net.Conn
	HandshakeContext(ctx context.Context) error
}

var _ secureConn = netsec.SecureConn(nil)

// secureLink is a link over a TLS or TLCP connection, which gnet cannot
// carry: a reader goroutine (the one that dialled) feeds the source and a
// writer goroutine drains the send queue. send and close are safe from
// any goroutine.
type secureLink struct {
	c    net.Conn
	out  chan []byte
	done chan struct{}
	once sync.Once // closes done
}

var _ link = (*secureLink)(nil)

func (l *secureLink) send(b []byte) {
	select {
	case l.out <- b:
	case <-l.done:
	default: // the writer is stuck; the heartbeat timeout will reset the source
	}
}

// close may be called by several goroutines at once (the reader at the
// connection's end, the supervisor's stop): done is closed once.
func (l *secureLink) close() {
	l.once.Do(func() { close(l.done) })
	_ = l.c.Close()
}

// runSecureLink runs connection gen of s over c, whose handshake has
// completed, until it closes. It runs on the goroutine that dialled.
func runSecureLink(s *source, gen uint64, c secureConn) {
	l := &secureLink{c: c, out: make(chan []byte, 16), done: make(chan struct{})}
	login := s.onOpen(gen, l)
	if login == nil {
		l.close()
		return
	}
	l.out <- login
	go func() {
		for {
			select {
			case b := <-l.out:
				_ = c.SetWriteDeadline(time.Now().Add(s.f.cfg.HeartbeatTimeout))
				if _, err := c.Write(b); err != nil {
					l.close()
					return
				}
			case <-l.done:
				return
			}
		}
	}()
	buf := make([]byte, 0, 64<<10)
	for {
		if len(buf) == cap(buf) {
			// A whole packet is at most maxPacket bytes, so the consumed
			// prefix makes room.
			buf = append(make([]byte, 0, 2*cap(buf)), buf...)
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		if n > 0 {
			buf = buf[:len(buf)+n]
			used, closeIt := s.onData(gen, buf, time.Now())
			if closeIt {
				l.close()
				return
			}
			buf = buf[:copy(buf, buf[used:])]
		}
		if err != nil {
			l.close()
			s.onClosed(gen, err)
			return
		}
	}
}

// clientSecurity builds the transport security of a source (TLS, TLCP,
// or nil for plain text), reading its CA bundle and checking its client
// key pairs; name ("primary", "backup") names the source in errors, which
// the caller wraps with ErrConfig and the feed's name.
func clientSecurity(src SourceConfig, name string) (*netsec.ClientSecurity, error) {
	return netsec.NewClientSecurity(src.TLS, src.TLCP, src.Addr, name)
}

// gnetLogger routes gnet's log lines to slog.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...)) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error(fmt.Sprintf(f, a...)) }

var errNoClient = errors.New("feed: event loop not running")
