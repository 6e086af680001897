package fixsim

import (
	"net"
	"sync"
	"time"

	"github.com/quickfixgo/quickfix"
)

const (
	// maxPendingWrite bounds what a connection buffers for a peer that
	// does not read; beyond it the connection is closed and the session's
	// resend recovery takes over when the peer logs on again.
	maxPendingWrite = 16 << 20
	// closeFlushTimeout bounds the final flush of a closing connection.
	closeFlushTimeout = 2 * time.Second
	// takeOverWait bounds how long a new connection waits for the session's
	// old connection to be released (Config.TakeOver).
	takeOverWait = 2 * time.Second
)

// fixConn is an accepted connection as quickfix sees it. Its Write never
// blocks on the socket: it appends to a buffer that the connection's
// flusher goroutine writes out, batching whatever accumulated meanwhile.
//
// This matters because of how quickfix hands messages to its connection
// writer: a session's event loop offers each queued message on an
// unbuffered channel without blocking and, when the writer goroutine is
// still inside Write, re-notifies itself and goes round its loop again
// (session.SendAppMessages -> sendQueued -> notifyMessageOut). The loop
// spins until the writer is back at its receive: for as long as a Write
// takes, plus however long the writer waits to be scheduled. A Write that
// only copies bytes takes well under a microsecond instead of a system
// call (or, on a line that does not drain, instead of blocking until the
// session times out); fix.YieldOnSpin deals with the scheduling.
type fixConn struct {
	net.Conn
	g      *generation
	line   int  // index of the line the connection came over, or -1
	direct bool // Write goes to the socket (benchmark comparison only)

	mu      sync.Mutex
	buf     []byte
	err     error
	closing bool

	wake     chan struct{} // cap 1: data or closing
	flushed  chan struct{} // closed when the flusher has exited
	released chan struct{} // closed when quickfix is done with the connection
	once     sync.Once

	// sid is the session of the connection's Logon; guarded by g.mu.
	sid   quickfix.SessionID
	bound bool
}

// newFixConn wraps an accepted connection. With direct, Write goes
// straight to the socket as with a plain quickfix acceptor (the benchmark
// compares the two).
func newFixConn(c net.Conn, g *generation, direct bool) *fixConn {
	fc := &fixConn{
		Conn:     c,
		g:        g,
		line:     -1,
		direct:   direct,
		wake:     make(chan struct{}, 1),
		flushed:  make(chan struct{}),
		released: make(chan struct{}),
	}
	if direct {
		close(fc.flushed)
	} else {
		go fc.flush()
	}
	return fc
}

// Write queues p for the flusher. It fails once the connection failed or
// is closing, and closes the connection when the peer has not read
// maxPendingWrite bytes.
func (c *fixConn) Write(p []byte) (int, error) {
	if c.direct {
		return c.Conn.Write(p)
	}
	c.mu.Lock()
	switch {
	case c.err != nil:
		err := c.err
		c.mu.Unlock()
		return 0, err
	case c.closing:
		c.mu.Unlock()
		return 0, errConnGone
	case len(c.buf)+len(p) > maxPendingWrite:
		c.err = errSlowPeer
		c.mu.Unlock()
		c.Conn.Close()
		return 0, errSlowPeer
	}
	c.buf = append(c.buf, p...)
	c.mu.Unlock()
	c.signal()
	return len(p), nil
}

func (c *fixConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// flush writes what Write queued until the connection fails or closes.
func (c *fixConn) flush() {
	defer close(c.flushed)
	var spare []byte
	for range c.wake {
		c.mu.Lock()
		out, closing := c.buf, c.closing
		c.buf = spare[:0]
		c.mu.Unlock()
		if len(out) > 0 {
			if _, err := c.Conn.Write(out); err != nil {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
				c.Conn.Close()
				return
			}
		}
		spare = out
		if closing {
			c.Conn.Close()
			return
		}
	}
}

// Close flushes what is queued (for at most closeFlushTimeout), closes the
// socket and releases the connection. quickfix calls it when it is done
// with the connection.
func (c *fixConn) Close() error {
	c.once.Do(func() {
		c.mu.Lock()
		c.closing = true
		c.mu.Unlock()
		c.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
		c.signal()
		<-c.flushed
		if c.direct {
			c.Conn.Close()
		}
		c.g.release(c)
		close(c.released)
	})
	return nil
}

// kick closes the socket at once, dropping what is queued, so that
// quickfix sees the connection fail.
func (c *fixConn) kick() { c.Conn.Close() }

// generation is one run of the quickfix acceptor, from New or a Restart to
// the next Restart or Close. It is the quickfix acceptor's listener, fed
// with the connections the Acceptor accepts on its internal address, and
// its connection validator.
type generation struct {
	a     *Acceptor
	qfa   *quickfix.Acceptor
	conns chan *fixConn
	done  chan struct{} // closed by Close (the listener's)
	once  sync.Once

	mu        sync.Mutex
	started   bool
	stopping  bool
	live      map[*fixConn]struct{}
	bySession map[quickfix.SessionID][]*fixConn // validated connections, oldest first
}

var (
	_ net.Listener                 = (*generation)(nil)
	_ quickfix.ConnectionValidator = (*generation)(nil)
)

func newGeneration(a *Acceptor) *generation {
	return &generation{
		a:         a,
		conns:     make(chan *fixConn),
		done:      make(chan struct{}),
		live:      map[*fixConn]struct{}{},
		bySession: map[quickfix.SessionID][]*fixConn{},
	}
}

// offer hands an accepted connection to the quickfix acceptor; false when
// the generation is closed.
func (g *generation) offer(c net.Conn) bool {
	fc := newFixConn(c, g, g.a.directWrites)
	g.mu.Lock()
	if g.stopping {
		g.mu.Unlock()
		fc.Close() // ends its flusher too
		return false
	}
	g.live[fc] = struct{}{}
	g.mu.Unlock()
	select {
	case g.conns <- fc:
		return true
	case <-g.done:
		fc.Close()
		return false
	}
}

// Accept implements net.Listener for the quickfix acceptor.
func (g *generation) Accept() (net.Conn, error) {
	select {
	case c := <-g.conns:
		return c, nil
	case <-g.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener: it stops Accept.
func (g *generation) Close() error {
	g.once.Do(func() { close(g.done) })
	return nil
}

// Addr implements net.Listener.
func (g *generation) Addr() net.Addr { return g.a.inner.Addr() }

// Validate implements quickfix.ConnectionValidator. quickfix calls it with
// the session of a connection's Logon before it attaches the connection to
// the session. It records the session and the line, and with
// Config.TakeOver closes the session's older connections and waits until
// quickfix has let go of them, so that the session accepts this one.
func (g *generation) Validate(nc net.Conn, sid quickfix.SessionID) error {
	fc, ok := nc.(*fixConn)
	if !ok {
		return errConnGone
	}
	fc.line = g.a.lineOfConn(fc)
	g.mu.Lock()
	if g.stopping {
		g.mu.Unlock()
		return errStopping
	}
	old := append([]*fixConn(nil), g.bySession[sid]...)
	g.mu.Unlock()
	if g.a.cfg.TakeOver && len(old) > 0 {
		timeout := time.NewTimer(takeOverWait)
		defer timeout.Stop()
		for _, o := range old {
			g.a.log.Info("fixsim: connection takes over session", "session", sid.TargetCompID, "line", fc.line, "old_line", o.line)
			o.kick()
			select {
			case <-o.released:
			case <-timeout.C:
			}
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopping {
		return errStopping
	}
	fc.sid, fc.bound = sid, true
	g.bySession[sid] = append(g.bySession[sid], fc)
	return nil
}

// release forgets a connection quickfix has let go of.
func (g *generation) release(fc *fixConn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.live, fc)
	if !fc.bound {
		return
	}
	list := g.bySession[fc.sid]
	for i, c := range list {
		if c == fc {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(g.bySession, fc.sid)
	} else {
		g.bySession[fc.sid] = list
	}
}

// activeLine returns the line of the session's oldest live connection (the
// one attached to the session), or -1.
func (g *generation) activeLine(sid quickfix.SessionID) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if list := g.bySession[sid]; len(list) > 0 {
		return list[0].line
	}
	return -1
}

// start starts the quickfix acceptor.
func (g *generation) start() error {
	g.mu.Lock()
	g.started = true
	g.mu.Unlock()
	return g.qfa.Start()
}

// stop stops the generation. With kick it first closes every connection
// (as a crash of the acceptor would); otherwise quickfix logs the sessions
// out. A generation that never started only unregisters its sessions.
func (g *generation) stop(kick bool) {
	g.mu.Lock()
	g.stopping = true
	started := g.started
	var conns []*fixConn
	for c := range g.live {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	g.Close()
	if kick {
		for _, c := range conns {
			c.kick()
		}
	}
	if started {
		g.qfa.Stop()
	} else {
		g.a.unregister()
	}
}
