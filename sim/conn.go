package sim

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"sgw/feed/soupbin"
)

// maxClientPacket bounds the packets a client may send: a Login Request is
// 47 bytes; the rest is room for Debug text.
const maxClientPacket = 1024

// maxBatch bounds the messages written in one batch.
const maxBatch = 1024

// conn is one SoupBinTCP session. Its serve goroutine does the login and
// then owns all writes; a reader goroutine handles the client's packets
// and asks the writer, through fail, to report a protocol error.
type conn struct {
	sessionConn
	s    *feedServer
	fail chan string // protocol error for the writer to report; buffered 1
}

var _ session = (*conn)(nil)

func newConn(s *feedServer, src *source, nc net.Conn) *conn {
	c := &conn{s: s, fail: make(chan string, 1)}
	c.init(src, nc)
	return c
}

// garbageLength is a Sequenced Data packet header announcing 65535 bytes
// that are not there.
var garbageLength = []byte{0xff, 0xff, soupbin.TypeSequenced}

// protoError is a client packet the session cannot accept; the session
// sends its text in a Debug packet before closing.
type protoError struct{ reason string }

func (e *protoError) Error() string { return e.reason }

// packetReader cuts SoupBinTCP packets out of a connection.
type packetReader struct {
	nc   net.Conn
	buf  []byte
	r, w int
}

// next returns the next packet; its payload is valid until the next call.
// Framing errors are *protoError; others come from the connection.
func (pr *packetReader) next() (soupbin.Packet, error) {
	for {
		p, n, err := soupbin.Parse(pr.buf[pr.r:pr.w], maxClientPacket)
		if err != nil {
			return p, &protoError{reason: err.Error()}
		}
		if n > 0 {
			pr.r += n
			return p, nil
		}
		if pr.r > 0 {
			pr.w = copy(pr.buf, pr.buf[pr.r:pr.w])
			pr.r = 0
		}
		k, err := pr.nc.Read(pr.buf[pr.w:])
		pr.w += k
		if err != nil && k == 0 {
			return p, err
		}
	}
}

// serve runs the session until it ends: login, then streaming while a
// reader goroutine handles the client's packets.
func (c *conn) serve() {
	defer c.src.remove(c)
	defer c.close()
	log := c.s.log.With("source", c.src.id, "remote", c.remote)
	pr := &packetReader{nc: c.nc, buf: make([]byte, maxClientPacket+2)}
	start, loginNext, err := c.login(pr)
	if err != nil {
		c.src.rejected.Add(1)
		log.Info("sim: login failed", "err", err)
		return
	}
	c.src.logins.Add(1)
	log.Info("sim: logged in", "seq", start)
	c.s.wg.Add(1)
	go func() {
		defer c.s.wg.Done()
		c.read(pr)
	}()
	err = c.stream(start, loginNext)
	log.Info("sim: connection closed", "err", err)
}

// login reads and answers the Login Request. It returns the first sequence
// number to send and the record's next sequence number at login.
func (c *conn) login(pr *packetReader) (start, loginNext uint64, err error) {
	cfg := &c.s.cfg
	c.nc.SetDeadline(time.Now().Add(cfg.LoginTimeout))
	p, err := pr.next()
	if err != nil {
		var pe *protoError
		if errors.As(err, &pe) {
			c.writeNow(soupbin.AppendDebug(nil, pe.reason))
		}
		return 0, 0, err
	}
	if p.Type != soupbin.TypeLoginRequest {
		reason := fmt.Sprintf("expected a login request, got %s", soupbin.TypeName(p.Type))
		c.writeNow(soupbin.AppendDebug(nil, reason))
		return 0, 0, errors.New(reason)
	}
	req, err := soupbin.ParseLoginRequest(p.Payload)
	if err != nil {
		c.writeNow(soupbin.AppendDebug(nil, err.Error()))
		return 0, 0, err
	}
	if cfg.Username != "" && (req.Username != cfg.Username || req.Password != cfg.Password) {
		c.writeNow(soupbin.AppendLoginRejected(nil, soupbin.RejectNotAuthorized))
		return 0, 0, fmt.Errorf("not authorized: user %q", req.Username)
	}
	if s := strings.TrimSpace(req.Session); s != "" && s != cfg.Session {
		c.writeNow(soupbin.AppendLoginRejected(nil, soupbin.RejectSessionUnavailable))
		return 0, 0, fmt.Errorf("session %q unavailable", s)
	}
	loginNext = c.s.rec.next()
	start = req.Sequence
	if start == 0 || start > loginNext {
		start = loginNext
	}
	if err := c.writeNow(soupbin.AppendLoginAccepted(nil, cfg.Session, start)); err != nil {
		return 0, 0, err
	}
	c.nc.SetDeadline(time.Time{})
	return start, loginNext, nil
}

// writeNow writes b with a deadline; only before streaming starts.
func (c *conn) writeNow(b []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.ClientTimeout))
	_, err := c.nc.Write(b)
	return err
}

// read handles the client's packets after login until the connection
// closes: heartbeats are noted, Logout closes, Unsequenced and Debug
// packets are ignored, anything else is a protocol error.
func (c *conn) read(pr *packetReader) {
	timeout := c.s.cfg.ClientTimeout
	for {
		c.nc.SetReadDeadline(time.Now().Add(timeout))
		p, err := pr.next()
		if err != nil {
			var pe *protoError
			if errors.As(err, &pe) {
				c.reject(pe.reason)
				return
			}
			c.close()
			return
		}
		switch p.Type {
		case soupbin.TypeClientHeartbeat, soupbin.TypeLogoutRequest:
			if len(p.Payload) != 0 {
				c.reject(fmt.Sprintf("%s with a %d-byte payload", soupbin.TypeName(p.Type), len(p.Payload)))
				return
			}
			if p.Type == soupbin.TypeLogoutRequest {
				c.close()
				return
			}
		case soupbin.TypeUnsequenced, soupbin.TypeDebug:
		case soupbin.TypeLoginRequest:
			c.reject("login request on a logged-in session")
			return
		default:
			c.reject(fmt.Sprintf("unexpected packet type %s", soupbin.TypeName(p.Type)))
			return
		}
	}
}

// reject hands a protocol error to the writer, which sends it as Debug and
// closes.
func (c *conn) reject(reason string) {
	select {
	case c.fail <- reason:
	default:
	}
}

// stream sends the record from seq start on: the backlog in batches, then
// each new message as it is recorded, a Server Heartbeat after
// HeartbeatInterval without a packet, and End of Session once the session
// has ended and everything was sent. It returns when the connection ends.
func (c *conn) stream(start, loginNext uint64) error {
	src, cfg := c.src, &c.s.cfg
	hb := time.NewTimer(cfg.HeartbeatInterval)
	defer hb.Stop()
	var (
		next  = start
		batch [][]byte
		out   []byte
	)
	write := func(b []byte) error {
		c.nc.SetWriteDeadline(time.Now().Add(cfg.ClientTimeout))
		_, err := c.nc.Write(b)
		hb.Reset(cfg.HeartbeatInterval)
		return err
	}
	for {
		select {
		case reason := <-c.fail:
			write(soupbin.AppendDebug(out[:0], reason))
			return errors.New(reason)
		case <-c.done:
			return nil
		case <-c.bad:
			src.garbage.Add(1)
			if err := write(garbageLength); err != nil {
				return err
			}
			continue
		default:
		}
		var (
			wake  <-chan struct{}
			ended bool
		)
		batch, wake, ended = c.s.rec.readSeq(batch[:0], next, maxBatch)
		if len(batch) > 0 {
			if d := time.Duration(src.delay.Load()); d > 0 {
				if err := c.sleep(d); err != nil {
					return err
				}
			}
			var ranges []dropRange
			if p := src.drops.Load(); p != nil {
				ranges = *p
			}
			out = out[:0]
			sent := 0
			for i, m := range batch {
				if seq := next + uint64(i); len(m) == 0 || seq >= loginNext && dropping(ranges, seq) {
					continue // a hole of a replayed record (Player), or a fault
				}
				out = soupbin.AppendSequenced(out, m)
				sent++
			}
			next += uint64(len(batch))
			src.dropped.Add(uint64(len(batch) - sent))
			if sent > 0 {
				src.sequenced.Add(uint64(sent))
				if err := write(out); err != nil {
					return err
				}
			}
			continue
		}
		if ended {
			src.ended.Add(1)
			return write(soupbin.AppendEndOfSession(out[:0]))
		}
		select {
		case <-wake:
		case <-hb.C:
			src.heartbeats.Add(1)
			if err := write(soupbin.AppendServerHeartbeat(out[:0])); err != nil {
				return err
			}
		case reason := <-c.fail:
			write(soupbin.AppendDebug(out[:0], reason))
			return errors.New(reason)
		case <-c.done:
			return nil
		case <-c.bad:
			src.garbage.Add(1)
			if err := write(garbageLength); err != nil {
				return err
			}
		}
	}
}

// sleep waits d unless the connection closes or fails first.
func (c *conn) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.done:
		return net.ErrClosed
	case reason := <-c.fail:
		c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.ClientTimeout))
		c.nc.Write(soupbin.AppendDebug(nil, reason))
		return errors.New(reason)
	}
}
