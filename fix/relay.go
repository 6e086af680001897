package fix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"sgw/netsec"
)

// relayBuf is the read size of each direction of the relay.
const relayBuf = 64 << 10

// relay stands between quickfix and the carriers' lines. quickfix has no
// dialer hook, so it connects to the relay's loopback listener; for each
// connection the relay asks its owner which line to use, dials that line
// and copies bytes both ways, counting frames and bytes per direction and
// telling the pacer which MsgSeqNums have gone out. Copying in our own
// goroutines also means quickfix's writer only ever writes to a loopback
// socket, which does not block on a slow carrier.
//
// The session has one connection at a time, so the relay carries at most
// one (a second one is relayed all the same).
type relay struct {
	ln      net.Listener
	owner   relayOwner
	lines   []*line
	pacer   *pacer
	dialTO  time.Duration
	log     *slog.Logger
	wg      sync.WaitGroup
	closing chan struct{}

	mu    sync.Mutex
	conns map[net.Conn]struct{}

	// fence, if set before serve, is asked before each dial and each
	// write to a carrier (UpstreamConfig.Fence).
	fence func() error

	// wireHook, if set before serve, is called with the MsgSeqNum of each
	// frame written to a carrier, just before the write (benchmarks).
	wireHook func(seq int)

	// logonTO, if set before serve, bounds the wait for quickfix's Logon
	// on a new connection (readLogon); zero means dialTO. quickfix builds
	// it after any store reset its connection brings (a reservation
	// written durably, in a cluster a Raft commit).
	logonTO time.Duration
}

// line is one carrier's line.
type line struct {
	cfg   LineConfig
	index int
	m     *lineMetrics
	sec   *netsec.ClientSecurity // TLS or TLCP; nil: plain text
}

// relayOwner chooses lines and hears how each connection went.
type relayOwner interface {
	// pickLine returns the index of the line for a new connection.
	pickLine() int
	// mayDial returns nil when the connection may be dialed now, and
	// otherwise why not (the connection is then closed and reported to
	// connEnded with that error).
	mayDial() error
	// connStarted reports that a connection over line i began.
	connStarted(i int)
	// connEnded reports its end: err is nil when quickfix closed it (logout
	// or timeout) and the carrier's failure otherwise (reset, closed by the
	// far end); dialFailed reports that the line could not be dialed.
	connEnded(i int, err error, dialFailed bool)
}

func newRelay(lines []*line, p *pacer, dialTO time.Duration, owner relayOwner, log *slog.Logger) (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fix: relay listener: %w", err)
	}
	return &relay{
		ln: ln, owner: owner, lines: lines, pacer: p, dialTO: dialTO, log: log,
		closing: make(chan struct{}),
		conns:   map[net.Conn]struct{}{},
	}, nil
}

// addr is the loopback address quickfix connects to.
func (r *relay) addr() string { return r.ln.Addr().String() }

// serve accepts quickfix's connections until close.
func (r *relay) serve() {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			local, err := r.ln.Accept()
			if err != nil {
				return
			}
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				r.relay(local)
			}()
		}
	}()
}

// close stops the listener and every connection and waits for them.
func (r *relay) close() {
	close(r.closing)
	r.ln.Close()
	r.mu.Lock()
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// cut closes every connection, as a broken line would; quickfix then
// ends its session and reconnects. Any goroutine.
func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.conns {
		c.Close()
	}
}

// endGrace bounds how long the relay goes on writing to a carrier what
// quickfix wrote before it ended its session (a Logout, a reply to one).
const endGrace = time.Second

// sessionEnded is told that quickfix ended the session (OnLogout): every
// write to a connection must now finish within endGrace. Until quickfix
// closes its side, copyOut forwards what it wrote and ends the
// connection when it reads the close; but a copyOut blocked in a write to
// a carrier that takes nothing more (a silent line with full socket
// buffers) reads nothing, would never see the close, and held the
// connection open, unreported to the owner, until Run ended: the line
// choice stayed on the silent line. The deadline ends that write, and
// with it the connection. Any goroutine.
func (r *relay) sessionEnded() {
	dl := time.Now().Add(endGrace)
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.conns {
		_ = c.SetWriteDeadline(dl)
	}
}

func (r *relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.closing:
		c.Close()
		return false
	default:
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *relay) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
	c.Close()
}

// relay connects local (quickfix) to a carrier and copies until either
// side ends.
func (r *relay) relay(local net.Conn) {
	if !r.track(local) {
		return
	}
	defer r.untrack(local)
	l := r.lines[r.owner.pickLine()]
	r.owner.connStarted(l.index)
	if err := r.fenced(); err != nil {
		r.log.Warn("fix: not dialing the upstream", "line", l.cfg.Name, "err", err)
		r.owner.connEnded(l.index, err, true)
		return
	}
	// quickfix writes its Logon as soon as it has connected, after its
	// session time check and the store reset that check may make: asked
	// once the Logon is here, the owner sees the store the Logon was built
	// from.
	logon, err := r.readLogon(local)
	if err == nil {
		err = r.owner.mayDial()
	}
	if err != nil {
		lvl := slog.LevelInfo
		if errors.Is(err, errBackingOff) {
			lvl = slog.LevelDebug // one every ReconnectInterval while backing off
		}
		r.log.Log(context.Background(), lvl, "fix: not dialing the upstream", "line", l.cfg.Name, "err", err)
		r.owner.connEnded(l.index, err, false)
		return
	}
	// Asked again just before the dial: the Logon may have taken a while.
	if err := r.fenced(); err != nil {
		r.log.Warn("fix: not dialing the upstream", "line", l.cfg.Name, "err", err)
		r.owner.connEnded(l.index, err, true)
		return
	}

	ctx, cancel := context.WithTimeout(context.Background(), r.dialTO)
	go func() {
		select {
		case <-r.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	remote, err := r.dial(ctx, l)
	cancel()
	if err != nil {
		r.log.Warn("fix: line dial failed", "line", l.cfg.Name, "addr", l.cfg.Addr, "err", err)
		r.owner.connEnded(l.index, fmt.Errorf("%w: %s: dial: %w", ErrLineBroken, l.cfg.Name, err), true)
		return
	}
	if !r.track(remote) {
		return
	}
	defer r.untrack(remote)

	// The first side to end decides the reason: the carrier failing is
	// reported as such, quickfix closing (logout, timeout, stop) as nil.
	var once sync.Once
	end := func(err error) {
		once.Do(func() {
			if err != nil {
				err = fmt.Errorf("%w: %s: %w", ErrLineBroken, l.cfg.Name, err)
			}
			select {
			case <-r.closing:
			default:
				r.owner.connEnded(l.index, err, false)
			}
		})
		local.Close()
		remote.Close()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		end(r.copyOut(l, remote, local, logon))
	}()
	end(r.copyIn(l, local, remote))
	<-done
}

// dial connects over line l within ctx: TCP, then TLS or TLCP if the
// line has it.
func (r *relay) dial(ctx context.Context, l *line) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", l.cfg.Addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	if l.sec == nil {
		return c, nil
	}
	return l.sec.Handshake(ctx, c)
}

// readLogon reads quickfix's connection until its first message (the
// Logon) is whole, within logonTO, and returns the bytes read. The error
// wraps errNoLogon.
func (r *relay) readLogon(local net.Conn) ([]byte, error) {
	to := r.logonTO
	if to == 0 {
		to = r.dialTO
	}
	_ = local.SetReadDeadline(time.Now().Add(to))
	defer local.SetReadDeadline(time.Time{})
	sc := newFrameScanner()
	buf := make([]byte, 4<<10) // a Logon is a few hundred bytes; copyOut reads on with relayBuf
	var got []byte
	for {
		n, err := local.Read(buf)
		if n > 0 {
			whole := false
			sc.Scan(buf[:n], func(frame) { whole = true })
			got = append(got, buf[:n]...)
			if whole {
				return got, nil
			}
			if len(got) > frameBodyMax+relayBuf {
				return nil, fmt.Errorf("%w: %d bytes without a whole message", errNoLogon, len(got))
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errNoLogon, err)
		}
	}
}

// copyOut copies quickfix's output to the carrier, first the bytes already
// read (readLogon), telling the pacer which MsgSeqNums have been written.
// The pacer is woken before the carrier write so that the next message is
// prepared meanwhile. It returns nil when quickfix closed the connection
// and the carrier's error otherwise.
func (r *relay) copyOut(l *line, remote, local net.Conn, first []byte) error {
	sc := newFrameScanner()
	forward := func(p []byte) error {
		if ferr := r.fenced(); ferr != nil {
			r.log.Warn("fix: connection to the upstream cut, nothing more sent", "line", l.cfg.Name, "err", ferr)
			return ferr
		}
		frames, last := 0, 0
		sc.Scan(p, func(f frame) {
			frames++
			s := f.SeqNum()
			last = max(last, s)
			if r.wireHook != nil {
				r.wireHook(s)
			}
		})
		if last > 0 {
			r.pacer.wrote(last)
		}
		l.m.msgOut.Add(float64(frames))
		l.m.bytesOut.Add(float64(len(p)))
		if _, werr := remote.Write(p); werr != nil {
			return carrierErr(werr)
		}
		return nil
	}
	if len(first) > 0 {
		if err := forward(first); err != nil {
			return err
		}
	}
	buf := make([]byte, relayBuf)
	for {
		n, err := local.Read(buf)
		if n > 0 {
			if ferr := forward(buf[:n]); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			return nil
		}
	}
}

// fenced asks the fence, if any; its error wraps ErrFenced.
func (r *relay) fenced() error {
	if r.fence == nil {
		return nil
	}
	if err := r.fence(); err != nil {
		return fmt.Errorf("%w: %w", ErrFenced, err)
	}
	return nil
}

// copyIn copies the carrier's output to quickfix. It returns nil when
// quickfix closed the connection and the carrier's error otherwise.
func (r *relay) copyIn(l *line, local, remote net.Conn) error {
	buf := make([]byte, relayBuf)
	sc := newFrameScanner()
	for {
		n, err := remote.Read(buf)
		if n > 0 {
			frames := 0
			sc.Scan(buf[:n], func(frame) { frames++ })
			l.m.msgIn.Add(float64(frames))
			l.m.bytesIn.Add(float64(n))
			if _, werr := local.Write(buf[:n]); werr != nil {
				return nil
			}
		}
		if err != nil {
			return carrierErr(err)
		}
	}
}

// carrierErr maps a carrier read or write error to the failure to report;
// nil means the connection was closed on our side.
func carrierErr(err error) error {
	switch {
	case errors.Is(err, net.ErrClosed):
		return nil
	case errors.Is(err, io.EOF):
		return errors.New("closed by the far end")
	}
	return err
}
