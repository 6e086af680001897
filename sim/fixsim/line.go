package fixsim

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// dialTimeout bounds a line's connection to the acceptor's internal
// address; it is on loopback, so only a broken process reaches it.
const dialTimeout = 5 * time.Second

// LineStats describes one line.
type LineStats struct {
	// Accepted counts the connections the line accepted (refused ones
	// while cut included).
	Accepted uint64
	// Open is the number of connections the line is carrying now.
	Open int
	// Cut and Stalled are the injected faults in force.
	Cut, Stalled bool
}

// line stands in for one carrier's line in front of the acceptor: a TCP
// proxy from its listen address to the acceptor's internal address that
// can be cut (every connection closed, new ones refused) or stalled
// (connections held open, nothing forwarded either way, as a line that
// silently drops traffic). Its methods are safe from any goroutine.
type line struct {
	ln     net.Listener
	target string
	// dialed and hungUp tell the acceptor which local address (at the
	// acceptor's side) belongs to the line's connection, so it can tell
	// over which line a session logged on.
	dialed, hungUp func(local string)

	accepted atomic.Uint64
	mu       sync.Mutex
	cut      bool
	stalled  bool
	unstall  chan struct{} // closed while not stalled
	pairs    map[*pair]struct{}
	closed   bool
	wg       sync.WaitGroup
}

// pair is one proxied connection: the counterparty's and the line's own
// connection to the acceptor.
type pair struct {
	client, server net.Conn
	local          string // server's local address
	done           chan struct{}
	once           sync.Once
}

func (p *pair) close() {
	p.once.Do(func() {
		close(p.done)
		p.client.Close()
		p.server.Close()
	})
}

// listenLine binds a line on addr forwarding to target. It serves only
// after serve is called.
func listenLine(addr, target string, dialed, hungUp func(string)) (*line, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fixsim: line %s: %w", addr, err)
	}
	l := &line{ln: ln, target: target, dialed: dialed, hungUp: hungUp, pairs: map[*pair]struct{}{}, unstall: make(chan struct{})}
	close(l.unstall)
	return l, nil
}

func (l *line) addr() string { return l.ln.Addr().String() }

// start serves the line until close.
func (l *line) start() {
	l.wg.Add(1)
	go l.serve()
}

// serve accepts and forwards connections until close.
func (l *line) serve() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.accepted.Add(1)
		l.connect(c)
	}
}

func (l *line) connect(c net.Conn) {
	l.mu.Lock()
	refuse := l.cut || l.closed
	l.mu.Unlock()
	if refuse {
		c.Close()
		return
	}
	up, err := net.DialTimeout("tcp", l.target, dialTimeout)
	if err != nil {
		c.Close()
		return
	}
	p := &pair{client: c, server: up, local: up.LocalAddr().String(), done: make(chan struct{})}
	l.dialed(p.local)
	l.mu.Lock()
	if l.cut || l.closed {
		l.mu.Unlock()
		p.close()
		l.hungUp(p.local)
		return
	}
	l.pairs[p] = struct{}{}
	l.wg.Add(2)
	l.mu.Unlock()
	go l.pipe(p, up, c)
	go l.pipe(p, c, up)
}

// pipe copies src to dst, holding each chunk while the line is stalled,
// and ends the pair when either side ends or the line is cut.
func (l *line) pipe(p *pair, dst, src net.Conn) {
	defer l.wg.Done()
	defer l.drop(p)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			l.mu.Lock()
			wait := l.unstall
			l.mu.Unlock()
			select {
			case <-wait:
			case <-p.done:
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// drop closes a pair and forgets it.
func (l *line) drop(p *pair) {
	p.close()
	l.mu.Lock()
	_, ok := l.pairs[p]
	delete(l.pairs, p)
	l.mu.Unlock()
	if ok {
		l.hungUp(p.local)
	}
}

// closeAll closes every pair; the caller holds mu.
func (l *line) closeAllLocked() {
	for p := range l.pairs {
		p.close()
	}
}

func (l *line) setCut(cut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = cut
	if cut {
		l.closeAllLocked()
	}
}

func (l *line) setStalled(stalled bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case stalled && !l.stalled:
		l.unstall = make(chan struct{})
	case !stalled && l.stalled:
		close(l.unstall)
	}
	l.stalled = stalled
}

func (l *line) stats() LineStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return LineStats{Accepted: l.accepted.Load(), Open: len(l.pairs), Cut: l.cut, Stalled: l.stalled}
}

// close stops the line and waits for its goroutines.
func (l *line) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	l.closeAllLocked()
	l.mu.Unlock()
	l.ln.Close()
	l.wg.Wait()
}
