package gateway

import (
	"time"

	"github.com/coder/websocket"
)

// Closing a connection. Every close the server starts (slow consumer,
// expired token, idle, flood, overflowing order events, shutdown) goes
// through client.close: it records the close, stops queueing, and lets
// the flush goroutine write the close frame, after what is queued or at
// once, so that one goroutine writes to a connection. coder/websocket's
// close handshake waits up to 5 s to write the frame and 5 s more for the
// client's reply, and a client that does not read never replies; so
// close also arms a timer that closes the TCP connection if the connection
// has not ended within a bound. Closing it makes every pending read and
// write of the connection fail, so the reader, the flush goroutine and the
// handshake all end.

// Close reasons sent to clients.
const reasonShutdown = "server shutting down"

// closeReq is a close the writer sends once the queue is written.
type closeReq struct {
	code   websocket.StatusCode
	reason string
}

// close asks the writer to end the connection with code and reason: after
// writing what is queued when flush is set, else at once, dropping the
// backlog. Nothing is queued afterwards. The connection ends within
// within: if it has not by then (the client does not read, or does not
// answer the close), its TCP connection is closed. Only the first close of
// a connection counts. Safe from any goroutine; mu must not be held.
func (c *client) close(code websocket.StatusCode, reason string, flush bool, within time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(code, reason, flush, within)
}

// closeLocked is close with mu held.
func (c *client) closeLocked(code websocket.StatusCode, reason string, flush bool, within time.Duration) {
	if c.closed || c.closing != nil {
		return
	}
	if !flush {
		clear(c.queue)
		c.queue, c.queued = c.queue[:0], 0
	}
	c.closing = &closeReq{code: code, reason: reason}
	c.kill = time.AfterFunc(within, c.forceClose)
	c.kick()
}

// forceClose closes the TCP connection of a client whose close overran its
// bound. It runs on the timer's goroutine and takes no lock.
func (c *client) forceClose() {
	if c.ended.Load() || c.raw == nil {
		return
	}
	c.srv.metrics.forcedCloses.Inc()
	c.raw.Close() // the error is the connection's, already ending
}

// finish records that the connection has ended and stops the close
// timer. Called once, by the serve goroutine, after the flush goroutine
// ended.
func (c *client) finish() {
	c.ended.Store(true)
	c.mu.Lock()
	kill := c.kill
	c.mu.Unlock()
	if kill != nil {
		kill.Stop()
	}
}
