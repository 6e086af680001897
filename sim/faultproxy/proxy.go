// Package faultproxy is a TCP proxy that stands in for a network line in
// failure tests: a feed source's Internet path, or one carrier's leased
// line to a FIX upstream. It forwards bytes both ways until told to stall
// (hold the connection open and forward nothing, as a line that silently
// drops traffic), to cut (close every connection and refuse new ones, as a
// line that is down) or to restore. It counts the bytes it delivered to the
// target (BytesUp), so a test can tell whether a client still sends.
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

// Proxy forwards connections from its loopback listener to a target.
type Proxy struct {
	ln     net.Listener
	target atomic.Pointer[string] // where connections go (SetTarget)

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
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{ln: ln, conns: map[net.Conn]struct{}{}, unstall: make(chan struct{})}
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
		go p.pipe(up, c, &p.up)
		go p.pipe(c, up, nil)
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

// pipe copies src to dst, holding data while stalled, adding the bytes
// written to count (if not nil), and closes both when either side ends.
// Cut closes both, so a write started after it fails.
func (p *Proxy) pipe(dst, src net.Conn, count *atomic.Uint64) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
		dst.Close()
		src.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			wait := p.unstall
			p.mu.Unlock()
			<-wait
			if p.cut.Load() {
				return
			}
			w, werr := dst.Write(buf[:n])
			if count != nil {
				count.Add(uint64(w))
			}
			if werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
