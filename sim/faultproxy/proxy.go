// Package faultproxy is a TCP proxy that stands in for a network line in
// failure tests: a feed source's Internet path, or one carrier's leased
// line to a FIX upstream. It forwards bytes both ways until told to stall
// (hold the connection open and forward nothing, as a line that silently
// drops traffic), to cut (close every connection and refuse new ones, as a
// line that is down) or to restore. It counts the bytes it delivered to the
// target (BytesUp), so a test can tell whether a client still sends.
//
// A proxy made with NewFramed knows where the frames of its protocol end
// (a Split, such as one over FIX's BodyLength and CheckSum) and forwards
// whole frames, so it can also lose one chosen frame (DropOnce), as a line
// that garbles it, and tell a test when one passes (WatchOnce).
//
// A Proxy's methods are safe from any goroutine. It listens on loopback
// only.
package faultproxy

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// ErrClosed reports use of a closed Proxy.
var ErrClosed = errors.New("faultproxy: closed")

// Direction is one way through a Proxy.
type Direction int

const (
	// Up is from the proxy's clients to its target.
	Up Direction = iota
	// Down is from the target to the clients.
	Down
)

// Split returns the size of the complete frame at the front of b, or 0 if
// b does not hold one yet. A result above len(b) is taken as 0. It must
// make progress: bytes that cannot start a frame are best reported as a
// frame of their own, which the proxy forwards like any other.
type Split func(b []byte) int

// frameRule is a pending DropOnce or WatchOnce.
type frameRule struct {
	dir   Direction
	match func(frame []byte) bool
	drop  bool // DropOnce: lose the frame
	got   chan []byte
}

// Proxy forwards connections from its loopback listener to a target.
type Proxy struct {
	ln     net.Listener
	target atomic.Pointer[string] // where connections go (SetTarget)
	split  Split                  // nil: forward bytes as they come
	rules  []*frameRule           // pending DropOnce and WatchOnce rules, in order; mu

	cut      atomic.Bool // written with mu held, so that track sees every Cut
	mu       sync.Mutex
	stalled  bool
	unstall  chan struct{} // closed when a stall ends
	conns    map[net.Conn]struct{}
	closed   bool
	accepted atomic.Uint64
	up       atomic.Uint64 // bytes written to the target
	wg       sync.WaitGroup
}

// New listens on 127.0.0.1:0 and forwards each connection to target.
func New(target string) (*Proxy, error) { return NewFramed(target, nil) }

// NewFramed is New for a protocol whose frames split finds: each direction
// of each connection forwards whole frames only (a frame still incomplete
// when its connection ends is not forwarded), so that DropOnce can lose
// one. A nil split forwards bytes as they come, as New does.
func NewFramed(target string, split Split) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{ln: ln, split: split, conns: map[net.Conn]struct{}{}, unstall: make(chan struct{})}
	p.target.Store(&target)
	close(p.unstall)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// SetTarget sends the connections accepted from now on to target: for a
// proxy whose target listens only once the proxy's own address is known
// (both bound to port 0). Any goroutine.
func (p *Proxy) SetTarget(target string) { p.target.Store(&target) }

// Addr returns the proxy's listen address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Accepted returns how many connections the proxy has accepted.
func (p *Proxy) Accepted() uint64 { return p.accepted.Load() }

// BytesUp returns how many bytes the proxy has delivered from its clients
// to the target, over all connections. A write the proxy started before a
// Cut returned may still be counted after it; none started after is.
func (p *Proxy) BytesUp() uint64 { return p.up.Load() }

// DropOnce makes the proxy lose the next frame going dir for which match
// returns true, on whichever connection it comes, and forward every other
// frame. The returned channel (buffered) receives a copy of the frame once
// it is dropped, so a test can wait for the loss. Rules (DropOnce and
// WatchOnce) wait in the order they were made; a frame goes to every
// pending WatchOnce rule that matches it and to the first DropOnce rule
// that does, and each rule takes one frame. match runs on the proxy's
// forwarding goroutines with the proxy's lock held: it must not block nor
// call the Proxy. It panics on a proxy made by New, which does not know
// where frames end.
func (p *Proxy) DropOnce(dir Direction, match func(frame []byte) bool) <-chan []byte {
	return p.addRule(dir, match, true)
}

// WatchOnce is DropOnce without the loss: the frame is forwarded, and a
// copy of it sent on the returned channel before it is.
func (p *Proxy) WatchOnce(dir Direction, match func(frame []byte) bool) <-chan []byte {
	return p.addRule(dir, match, false)
}

// ForgetRules drops every DropOnce and WatchOnce rule still pending: the
// line loses nothing more. Their channels receive nothing.
func (p *Proxy) ForgetRules() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.rules)
	p.rules = p.rules[:0]
}

func (p *Proxy) addRule(dir Direction, match func([]byte) bool, drop bool) <-chan []byte {
	if p.split == nil {
		panic("faultproxy: DropOnce and WatchOnce need a proxy made by NewFramed")
	}
	r := &frameRule{dir: dir, match: match, drop: drop, got: make(chan []byte, 1)}
	p.mu.Lock()
	p.rules = append(p.rules, r)
	p.mu.Unlock()
	return r.got
}

// dropped applies the pending rules to frame, going dir, and reports
// whether it is lost. The rules that take it are removed.
func (p *Proxy) dropped(dir Direction, frame []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	drop := false
	kept := p.rules[:0]
	for _, r := range p.rules {
		if r.dir != dir || (r.drop && drop) || !r.match(frame) {
			kept = append(kept, r)
			continue
		}
		drop = drop || r.drop
		r.got <- append([]byte(nil), frame...)
	}
	clear(p.rules[len(kept):])
	p.rules = kept
	return drop
}

// Stall stops forwarding in both directions while keeping every connection
// open: the peers see silence. Unstall resumes forwarding what was held.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stalled {
		p.stalled = true
		p.unstall = make(chan struct{})
	}
}

// Unstall ends a Stall.
func (p *Proxy) Unstall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled {
		p.stalled = false
		close(p.unstall)
	}
}

// Cut closes every connection and refuses new ones until Restore: a
// connection being set up when Cut is called is closed too, and once Cut
// returns no write to either side is started.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut.Store(true)
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
}

// Restore accepts and forwards connections again after Cut.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut.Store(false)
	p.mu.Unlock()
}

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	if p.stalled {
		p.stalled = false
		close(p.unstall)
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		if p.cut.Load() {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", *p.target.Load())
		if err != nil {
			c.Close()
			continue
		}
		if !p.track(c, up) {
			continue // cut (or closed: the next Accept fails)
		}
		p.wg.Add(2)
		go p.pipe(up, c, Up, &p.up)
		go p.pipe(c, up, Down, nil)
	}
}

// track registers a connection pair, or closes it and returns false if
// the proxy was cut or closed while the pair was being set up.
func (p *Proxy) track(a, b net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.cut.Load() {
		a.Close()
		b.Close()
		return false
	}
	p.conns[a], p.conns[b] = struct{}{}, struct{}{}
	return true
}

// pipe copies src to dst, going dir, holding data while stalled, adding
// the bytes written to count (if not nil), and closes both when either
// side ends. Cut closes both, so a write started after it fails. A framed
// proxy writes whole frames and loses those a DropOnce rule takes.
func (p *Proxy) pipe(dst, src net.Conn, dir Direction, count *atomic.Uint64) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
		dst.Close()
		src.Close()
	}()
	write := func(b []byte) bool {
		p.mu.Lock()
		wait := p.unstall
		p.mu.Unlock()
		<-wait
		if p.cut.Load() {
			return false
		}
		w, werr := dst.Write(b)
		if count != nil {
			count.Add(uint64(w))
		}
		return werr == nil
	}
	buf := make([]byte, 32<<10)
	var pending []byte // a framed proxy's bytes read but not yet a whole frame
	for {
		n, err := src.Read(buf)
		if n > 0 && p.split == nil && !write(buf[:n]) {
			return
		}
		if n > 0 && p.split != nil {
			pending = append(pending, buf[:n]...)
			done := 0
			for {
				size := p.split(pending[done:])
				if size <= 0 || size > len(pending)-done {
					break
				}
				frame := pending[done : done+size]
				if !p.dropped(dir, frame) && !write(frame) {
					return
				}
				done += size
			}
			pending = append(pending[:0], pending[done:]...)
		}
		if err != nil {
			return
		}
	}
}
