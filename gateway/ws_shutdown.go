package gateway

import (
	"sync"

	"github.com/coder/websocket"
)

// orderGate counts the order requests (new, cancel, replace) in flight
// from WebSocket clients to the order entry, and once stopped admits no
// more. Safe for concurrent use; mu guards every field.
type orderGate struct {
	mu      sync.Mutex
	n       int           // requests in flight
	stopped bool          // no more requests are admitted
	idle    chan struct{} // closed once stopped and n is 0; made by stop
}

// enter admits one request, or reports false once the gate is stopped.
// Every admitted request must leave.
func (g *orderGate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return false
	}
	g.n++
	return true
}

// leave ends a request that entered.
func (g *orderGate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.stopped && g.n == 0 {
		close(g.idle)
	}
}

// stop admits no more requests and returns a channel closed once the
// requests in flight have left. It may be called more than once.
func (g *orderGate) stop() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.stopped {
		g.stopped = true
		g.idle = make(chan struct{})
		if g.n == 0 {
			close(g.idle)
		}
	}
	return g.idle
}

// isStopped reports whether stop was called.
func (g *orderGate) isStopped() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stopped
}

// snapshotClients returns the clients being served.
func (w *wsServer) snapshotClients() []*client {
	w.mu.Lock()
	defer w.mu.Unlock()
	clients := make([]*client, 0, len(w.clients))
	for c := range w.clients {
		clients = append(clients, c)
	}
	return clients
}

// shutdown refuses new connections and closes every connection with 1001
// (going away): each client gets what was queued for it, then the close,
// and a client that has not completed the close within cfg.CloseTimeout
// has its TCP connection closed (client.close). It returns when every
// connection's serve goroutine has ended, so within about CloseTimeout.
// Called once, from Server.Serve's goroutine; the hubs and the janitor may
// still run or have stopped.
func (w *wsServer) shutdown() {
	w.mu.Lock()
	w.stopping = true
	w.mu.Unlock()
	// No client is added once stopping is set: this is all of them.
	for _, c := range w.snapshotClients() {
		c.close(websocket.StatusGoingAway, reasonShutdown, true, w.cfg.CloseTimeout)
	}
	w.live.Wait()
}
