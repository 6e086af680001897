package fix

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/quickfixgo/quickfix"
)

// AcceptorPacer applies the upstream relay's pacing, one message at a
// time, to the sessions of a quickfix Acceptor in the same process: the
// gateway's broker acceptor, test acceptors. Without it, a quickfix
// acceptor that answers from FromApp with SendToTarget
// spins its session goroutine while the connection writer is busy, and
// starves the writers of every other session on a small machine (see the
// package documentation).
//
// Use: pass Listener's callback to Acceptor.SetNewListenerCallback, call
// OnLogon, OnLogout, Received (from FromAdmin and FromApp) and Sending
// (from ToAdmin and ToApp) from the Application's callbacks, and send with
// Send instead of quickfix.SendToTarget. Sessions are told apart by
// BeginString, SenderCompID and TargetCompID. Received and Sending hold a
// session's messages while quickfix serves the counterparty's
// ResendRequest (see pacer).
//
// All methods are safe from any goroutine.
type AcceptorPacer struct {
	queueSize int
	log       *slog.Logger
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	mu     sync.Mutex
	pacers map[quickfix.SessionID]*pacer
	closed bool

	// held counts the sessions held for a resend (pacer.heldCount), so
	// that Received and Sending look a session up only when one is.
	held atomic.Int64
}

// NewAcceptorPacer returns a pacer whose per-session queues hold queueSize
// messages (zero means 65536). log may be nil.
func NewAcceptorPacer(queueSize int, log *slog.Logger) *AcceptorPacer {
	if queueSize <= 0 {
		queueSize = DefaultQueueSize
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &AcceptorPacer{queueSize: queueSize, log: log, ctx: ctx, cancel: cancel,
		pacers: map[quickfix.SessionID]*pacer{}}
}

// Listener returns a callback for Acceptor.SetNewListenerCallback that
// serves ln (whatever address quickfix asks for; the acceptor's
// SocketAcceptPort must be ln's port) with connections whose writes are
// observed for pacing. With a TLS config, TLS runs over ln.
func (a *AcceptorPacer) Listener(ln net.Listener) quickfix.NewListenerCallback {
	return func(_ string, cfg *tls.Config) (net.Listener, error) {
		inner := ln
		if cfg != nil {
			inner = tls.NewListener(ln, cfg)
		}
		return pacedListener{Listener: inner, a: a}, nil
	}
}

// OnLogon lets Send's messages for sid flow; call it from
// Application.OnLogon.
func (a *AcceptorPacer) OnLogon(sid quickfix.SessionID) {
	if p := a.pacerFor(sid); p != nil {
		p.setUp(true)
	}
}

// OnLogout holds sid's messages until the next logon; call it from
// Application.OnLogout.
func (a *AcceptorPacer) OnLogout(sid quickfix.SessionID) {
	if p := a.pacerFor(sid); p != nil {
		p.setUp(false)
	}
}

// Received tells the pacer of a message quickfix passes sid's
// Application (FromAdmin, FromApp), and whether it is a ResendRequest: a
// ResendRequest holds sid's messages until quickfix serves it, and any
// later message releases them. Call it on the session goroutine, as
// quickfix does.
func (a *AcceptorPacer) Received(sid quickfix.SessionID, resendRequest bool) {
	if a.held.Load() == 0 && !resendRequest {
		return
	}
	if p := a.pacerFor(sid); p != nil {
		p.received(resendRequest)
	}
}

// Sending tells the pacer of a message quickfix is about to send for sid
// (ToAdmin, ToApp): a resent one releases sid's messages.
func (a *AcceptorPacer) Sending(sid quickfix.SessionID, m *quickfix.Message) {
	if a.held.Load() == 0 {
		return
	}
	if p := a.pacerFor(sid); p != nil {
		p.sending(m)
	}
}

// Send queues m for sid without blocking; it returns ErrQueueFull when the
// session's queue is full. Messages queued while the session is logged out
// go out after its next logon. m must not be used after the call.
func (a *AcceptorPacer) Send(sid quickfix.SessionID, m quickfix.Messagable) error {
	p := a.pacerFor(sid)
	if p == nil {
		return ErrNotLoggedOn
	}
	return p.enqueue(m.ToMessage())
}

// Close stops the pacers; queued messages are dropped.
func (a *AcceptorPacer) Close() {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.cancel()
	a.wg.Wait()
}

func (a *AcceptorPacer) pacerFor(sid quickfix.SessionID) *pacer {
	key := quickfix.SessionID{BeginString: sid.BeginString, SenderCompID: sid.SenderCompID, TargetCompID: sid.TargetCompID}
	a.mu.Lock()
	defer a.mu.Unlock()
	if p, ok := a.pacers[key]; ok {
		return p
	}
	if a.closed {
		return nil
	}
	p := newPacer(sid, a.queueSize, 1, a.log.With("fix_session", sid.String()))
	p.heldCount = &a.held
	a.pacers[key] = p
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		p.run(a.ctx)
	}()
	return p
}

// lookup returns the pacer of the session that writes frames with these
// header values, if it exists.
func (a *AcceptorPacer) lookup(begin, sender, target []byte) *pacer {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pacers[quickfix.SessionID{BeginString: string(begin), SenderCompID: string(sender), TargetCompID: string(target)}]
}

type pacedListener struct {
	net.Listener
	a *AcceptorPacer
}

func (l pacedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &pacedConn{Conn: c, a: l.a, sc: newFrameScanner()}, nil
}

// pacedConn reports each frame quickfix's writer has written to the
// session's pacer. Write is called only by that writer goroutine.
type pacedConn struct {
	net.Conn
	a  *AcceptorPacer
	sc *frameScanner
	p  *pacer
}

var _ net.Conn = (*pacedConn)(nil)

func (c *pacedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	last := 0
	c.sc.Scan(b[:n], func(f frame) {
		if c.p == nil {
			begin := f.Head[2:]
			if i := indexSOH(begin); i >= 0 {
				begin = begin[:i]
			}
			c.p = c.a.lookup(begin, f.Field("\x0149="), f.Field("\x0156="))
		}
		if s := f.SeqNum(); s > last {
			last = s
		}
	})
	if c.p != nil && last > 0 {
		c.p.wrote(last)
	}
	return n, err
}

func indexSOH(b []byte) int {
	for i, c := range b {
		if c == 0x01 {
			return i
		}
	}
	return -1
}
