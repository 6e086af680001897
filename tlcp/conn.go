package tlcp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is a TLCP connection over a net.Conn (GB/T 38636-2020 6.3, the
// record layer). See the package documentation for what may run
// concurrently.
type Conn struct {
	conn     net.Conn
	isClient bool
	config   *Config
	// sessionKey is the client session cache key (the server dialled).
	sessionKey string

	handshakeMu   sync.Mutex // held for the whole handshake; guards handshakeErr
	handshakeErr  error
	handshakeDone atomic.Bool // set, under handshakeMu, after state is written
	state         ConnectionState

	in  halfConn // guards rawInput, input, hand
	out halfConn // guards outBuf, closeNotifySent

	rawBuf   []byte // the array of rawInput
	rawInput []byte // bytes read from conn, not yet a whole record
	input    []byte // application data opened, not yet returned by Read
	hand     []byte // handshake bytes not yet a whole message

	outBuf          []byte
	closeNotifySent bool

	closed atomic.Bool
}

// halfConn is one direction's record state.
type halfConn struct {
	sync.Mutex
	err    error // sticky: the direction is unusable
	seq    [8]byte
	cipher recordCipher // nil until a ChangeCipherSpec
	next   recordCipher // the cipher the next ChangeCipherSpec switches to
}

// incSeq counts a record. At the 2^64th the direction fails: the
// sequence number must not wrap, and renegotiation is not supported.
func (h *halfConn) incSeq() error {
	for i := 7; i >= 0; i-- {
		h.seq[i]++
		if h.seq[i] != 0 {
			return nil
		}
	}
	h.err = errors.New("tlcp: record sequence number exhausted")
	return h.err
}

// changeCipher switches to the pending cipher and restarts the sequence.
func (h *halfConn) changeCipher() error {
	if h.next == nil {
		return errors.New("tlcp: ChangeCipherSpec before key exchange")
	}
	h.cipher, h.next = h.next, nil
	h.seq = [8]byte{}
	return nil
}

// Server returns the server side of TLCP over conn. The handshake runs
// on the first Read, Write or Handshake.
func Server(conn net.Conn, config *Config) *Conn {
	return &Conn{conn: conn, config: config}
}

// Client returns the client side of TLCP over conn. The handshake runs
// on the first Read, Write or Handshake.
func Client(conn net.Conn, config *Config) *Conn {
	c := &Conn{conn: conn, config: config, isClient: true}
	c.sessionKey = config.ServerName
	if c.sessionKey == "" {
		c.sessionKey = conn.RemoteAddr().String()
	}
	return c
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.conn }

// LocalAddr returns the local address.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// SetDeadline sets the read and write deadlines of the connection. A
// handshake replaces them while it runs and clears them at its end.
func (c *Conn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline sets the read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline. A Write that timed out leaves
// the connection unusable (a record may be half sent).
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// ConnectionState returns what the handshake agreed; zero before it
// completes.
func (c *Conn) ConnectionState() ConnectionState {
	if !c.handshakeDone.Load() {
		return ConnectionState{}
	}
	return c.state
}

// Handshake runs the handshake if it has not run yet.
func (c *Conn) Handshake() error { return c.HandshakeContext(context.Background()) }

// HandshakeContext runs the handshake if it has not run yet, within
// Config.HandshakeTimeout and until ctx ends: a ctx that ends before
// it returns fails it, even if the handshake got to its end. A failed
// handshake has sent the alert it names and leaves the Conn unusable;
// close it.
func (c *Conn) HandshakeContext(ctx context.Context) error {
	if c.handshakeDone.Load() {
		return nil
	}
	c.handshakeMu.Lock()
	defer c.handshakeMu.Unlock()
	if c.handshakeErr != nil || c.handshakeDone.Load() {
		return c.handshakeErr
	}
	if c.closed.Load() {
		return ErrClosed
	}

	deadline := time.Now().Add(c.config.handshakeTimeout())
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })

	c.in.Lock()
	var err error
	if c.isClient {
		err = c.clientHandshake()
	} else {
		err = c.serverHandshake()
	}
	c.in.Unlock()

	interrupted := !stop()
	if err == nil && interrupted {
		// ctx ended while the handshake ran: its AfterFunc has set, or
		// is about to set, a deadline in the past, which may land after
		// the one cleared below and would fail the first Read or Write.
		err = errors.New("tlcp: the context ended before the handshake did")
	}
	if err == nil {
		c.conn.SetDeadline(time.Time{})
		c.state.HandshakeComplete = true
		c.handshakeDone.Store(true)
		return nil
	}
	var pe *protocolError
	if errors.As(err, &pe) {
		c.sendAlert(pe.alert)
		err = fmt.Errorf("%w (%w)", err, &AlertError{Alert: pe.alert, Sent: true})
	}
	var ne net.Error
	switch {
	case interrupted:
		err = fmt.Errorf("tlcp: handshake: %w (%w)", ctx.Err(), err)
	case errors.As(err, &ne) && ne.Timeout():
		err = fmt.Errorf("%w: %w", ErrHandshakeTimeout, err)
	}
	c.handshakeErr = err
	return err
}

// Read reads application data, running the handshake first if needed.
// It returns io.EOF after the peer's close_notify.
func (c *Conn) Read(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	if len(b) == 0 {
		return 0, nil
	}
	c.in.Lock()
	defer c.in.Unlock()
	empty := 0
	for len(c.input) == 0 {
		typ, data, err := c.readRecord()
		if err != nil {
			return 0, err
		}
		switch typ {
		case recordTypeApplicationData:
			if len(data) == 0 {
				// Empty records are allowed but bounded, so that a peer
				// cannot spin the reader.
				if empty++; empty > 100 {
					return 0, c.fatal(AlertUnexpectedMessage, "too many empty records")
				}
			}
			c.input = data
		case recordTypeHandshake:
			return 0, c.fatal(AlertNoRenegotiation, "handshake message after the handshake (renegotiation is not supported)")
		default:
			return 0, c.fatal(AlertUnexpectedMessage, "record of type %d after the handshake", typ)
		}
	}
	n := copy(b, c.input)
	c.input = c.input[n:]
	return n, nil
}

// Write writes application data, running the handshake first if needed.
func (c *Conn) Write(b []byte) (int, error) {
	if err := c.Handshake(); err != nil {
		return 0, err
	}
	c.out.Lock()
	defer c.out.Unlock()
	if c.out.err != nil {
		return 0, c.out.err
	}
	if c.closeNotifySent {
		return 0, ErrClosed
	}
	if err := c.writeRecord(recordTypeApplicationData, b); err != nil {
		return 0, err
	}
	if err := c.flush(); err != nil {
		return 0, err
	}
	return len(b), nil
}

// CloseWrite sends close_notify: the peer reads io.EOF. The Conn can
// still Read.
func (c *Conn) CloseWrite() error {
	if !c.handshakeDone.Load() {
		return errors.New("tlcp: CloseWrite before the handshake")
	}
	return c.closeNotify()
}

func (c *Conn) closeNotify() error {
	// Bounded: a peer that does not read must not hold Close. Set before
	// taking the lock, it also ends a Write blocked on such a peer.
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	c.out.Lock()
	defer c.out.Unlock()
	if c.closeNotifySent {
		return nil
	}
	c.closeNotifySent = true
	return c.sendAlertLocked(AlertCloseNotify, alertLevelWarning)
}

// Close sends close_notify if the handshake completed, and closes the
// connection. It does not wait for a handshake in progress: that fails.
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return net.ErrClosed
	}
	var alertErr error
	if c.handshakeDone.Load() {
		alertErr = c.closeNotify()
	}
	if err := c.conn.Close(); err != nil {
		return err
	}
	return alertErr
}

// fatal sends alert a and returns the error it makes sticky for
// reading. c.in is held.
func (c *Conn) fatal(a Alert, format string, args ...any) error {
	c.sendAlert(a)
	err := fmt.Errorf("tlcp: "+format+" (%w)", append(args, &AlertError{Alert: a, Sent: true})...)
	c.in.err = err
	return err
}

// sendAlert sends a fatal alert; errors are ignored, the connection is
// failing anyway.
func (c *Conn) sendAlert(a Alert) {
	c.out.Lock()
	defer c.out.Unlock()
	c.sendAlertLocked(a, alertLevelError)
}

// sendAlertLocked sends an alert. c.out is held.
func (c *Conn) sendAlertLocked(a Alert, level byte) error {
	if c.out.err != nil {
		return c.out.err
	}
	if err := c.writeRecord(recordTypeAlert, []byte{level, byte(a)}); err != nil {
		return err
	}
	err := c.flush()
	if level == alertLevelError && err == nil {
		c.out.err = &AlertError{Alert: a, Sent: true}
	}
	return err
}

// writeRecord appends data as records of type typ to c.outBuf,
// protected by the current cipher. c.out is held.
func (c *Conn) writeRecord(typ recordType, data []byte) error {
	for first := true; first || len(data) > 0; first = false {
		n := min(len(data), maxPlaintext)
		frag := data[:n]
		data = data[n:]
		start := len(c.outBuf)
		c.outBuf = append(c.outBuf, byte(typ), byte(VersionTLCP>>8), byte(VersionTLCP&0xff), byte(n>>8), byte(n))
		if c.out.cipher == nil {
			c.outBuf = append(c.outBuf, frag...)
		} else {
			hdr := [5]byte(c.outBuf[start : start+5])
			out, err := c.out.cipher.seal(c.outBuf, &c.out.seq, hdr[:], frag, c.config.rand())
			if err != nil {
				c.out.err = err
				return err
			}
			c.outBuf = out
			binary.BigEndian.PutUint16(c.outBuf[start+3:], uint16(len(c.outBuf)-start-recordHeaderLen))
		}
		if err := c.out.incSeq(); err != nil {
			return err
		}
	}
	return nil
}

// flush writes c.outBuf to the connection. c.out is held.
func (c *Conn) flush() error {
	if len(c.outBuf) == 0 {
		return nil
	}
	_, err := c.conn.Write(c.outBuf)
	c.outBuf = c.outBuf[:0]
	if err != nil {
		c.out.err = fmt.Errorf("tlcp: write: %w", err)
		return c.out.err
	}
	return nil
}

// readRecord reads and opens one record. Alerts are handled here:
// close_notify is io.EOF, a fatal alert an AlertError, both sticky;
// warnings are skipped (a bounded number). c.in is held.
func (c *Conn) readRecord() (recordType, []byte, error) {
	for warnings := 0; ; warnings++ {
		if c.in.err != nil {
			return 0, nil, c.in.err
		}
		if warnings > 10 {
			return 0, nil, c.fatal(AlertUnexpectedMessage, "too many warning alerts")
		}
		if err := c.readFromConn(recordHeaderLen); err != nil {
			return 0, nil, err
		}
		hdr := c.rawInput[:recordHeaderLen]
		typ := recordType(hdr[0])
		vers := binary.BigEndian.Uint16(hdr[1:])
		n := int(binary.BigEndian.Uint16(hdr[3:]))
		switch {
		case typ < recordTypeChangeCipherSpec || typ > recordTypeApplicationData:
			return 0, nil, c.fatal(AlertUnexpectedMessage, "record of unknown type %d (%s)", typ, peek(hdr))
		case vers != VersionTLCP:
			return 0, nil, c.fatal(AlertProtocolVersion, "record version 0x%04x, want 0x0101 (%s)", vers, peek(hdr))
		case n > maxCiphertext || (c.in.cipher == nil && n > maxPlaintext):
			return 0, nil, c.fatal(AlertRecordOverflow, "record of %d bytes", n)
		}
		if err := c.readFromConn(recordHeaderLen + n); err != nil {
			return 0, nil, err
		}
		hdr = append([]byte(nil), c.rawInput[:recordHeaderLen]...)
		frag := c.rawInput[recordHeaderLen : recordHeaderLen+n]
		c.rawInput = c.rawInput[recordHeaderLen+n:]
		data := frag
		if c.in.cipher != nil {
			var err error
			data, err = c.in.cipher.open(&c.in.seq, hdr, frag)
			if err != nil {
				return 0, nil, c.fatal(AlertBadRecordMAC, "record %d: %v", binary.BigEndian.Uint64(c.in.seq[:]), err)
			}
			if len(data) > maxPlaintext {
				return 0, nil, c.fatal(AlertRecordOverflow, "record of %d bytes opened", len(data))
			}
		}
		// data aliases c.rawBuf: it is valid until the next
		// readFromConn, so callers consume or copy it before reading
		// again (Read drains c.input first; readHandshake appends).
		if err := c.in.incSeq(); err != nil {
			return 0, nil, err
		}
		if typ != recordTypeAlert {
			return typ, data, nil
		}
		if len(data) != 2 {
			return 0, nil, c.fatal(AlertDecodeError, "alert of %d bytes", len(data))
		}
		a := Alert(data[1])
		if a == AlertCloseNotify {
			c.in.err = io.EOF
			return 0, nil, io.EOF
		}
		if data[0] == alertLevelWarning {
			continue
		}
		c.in.err = &AlertError{Alert: a}
		return 0, nil, c.in.err
	}
}

// peek describes the start of a record that is not TLCP: a TLS client
// sends 0x16 0x03 0x0x, an HTTP client text.
func peek(hdr []byte) string {
	if hdr[0] == byte(recordTypeHandshake) && hdr[1] == 3 {
		return "a TLS record"
	}
	return fmt.Sprintf("first bytes % x", hdr)
}

// readFromConn reads until c.rawInput holds at least n bytes. c.in is
// held.
func (c *Conn) readFromConn(n int) error {
	if len(c.rawInput) >= n {
		return nil
	}
	if cap(c.rawInput) < n {
		// Move what is left to the front of the buffer, growing it.
		if cap(c.rawBuf) < n {
			c.rawBuf = make([]byte, max(n, recordHeaderLen+maxCiphertext))
		}
		c.rawInput = c.rawBuf[:copy(c.rawBuf[:cap(c.rawBuf)], c.rawInput)]
	}
	for len(c.rawInput) < n {
		m, err := c.conn.Read(c.rawInput[len(c.rawInput):cap(c.rawInput)])
		c.rawInput = c.rawInput[:len(c.rawInput)+m]
		if err != nil && len(c.rawInput) < n {
			if errors.Is(err, io.EOF) {
				if len(c.rawInput) == 0 {
					err = io.ErrUnexpectedEOF
				} else {
					err = fmt.Errorf("tlcp: connection closed within a record: %w", io.ErrUnexpectedEOF)
				}
			}
			// A deadline is not fatal: what was read stays in rawInput
			// and the next Read goes on (net/http aborts its background
			// read so, when a handler hijacks the connection).
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				c.in.err = err
			}
			return err
		}
	}
	return nil
}

// readHandshake returns the next handshake message, header included.
// Records of another type are refused with unexpected_message. c.in is
// held.
func (c *Conn) readHandshake() ([]byte, error) {
	for {
		if len(c.hand) >= 4 {
			n := int(c.hand[1])<<16 | int(c.hand[2])<<8 | int(c.hand[3])
			if n > maxHandshake {
				return nil, fail(AlertIllegalParameter, "handshake message of %d bytes", n)
			}
			if len(c.hand) >= 4+n {
				msg := c.hand[: 4+n : 4+n]
				c.hand = c.hand[4+n:]
				return msg, nil
			}
		}
		typ, data, err := c.readRecord()
		if err != nil {
			return nil, err
		}
		if typ != recordTypeHandshake {
			return nil, fail(AlertUnexpectedMessage, "record of type %d during the handshake", typ)
		}
		c.hand = append(c.hand, data...)
	}
}

// readChangeCipherSpec reads a ChangeCipherSpec record (6.3.3) and
// switches the read cipher. c.in is held.
func (c *Conn) readChangeCipherSpec() error {
	if len(c.hand) > 0 {
		return fail(AlertUnexpectedMessage, "ChangeCipherSpec within a handshake message")
	}
	typ, data, err := c.readRecord()
	if err != nil {
		return err
	}
	if typ != recordTypeChangeCipherSpec || len(data) != 1 || data[0] != 1 {
		return fail(AlertUnexpectedMessage, "want ChangeCipherSpec, got a record of type %d", typ)
	}
	if err := c.in.changeCipher(); err != nil {
		return fail(AlertUnexpectedMessage, "%v", err)
	}
	return nil
}

// writeHandshake buffers handshake messages; flush sends them.
func (c *Conn) writeHandshake(msgs ...[]byte) error {
	c.out.Lock()
	defer c.out.Unlock()
	for _, m := range msgs {
		if err := c.writeRecord(recordTypeHandshake, m); err != nil {
			return err
		}
	}
	return nil
}

// writeChangeCipherSpec buffers a ChangeCipherSpec and switches the
// write cipher.
func (c *Conn) writeChangeCipherSpec() error {
	c.out.Lock()
	defer c.out.Unlock()
	if err := c.writeRecord(recordTypeChangeCipherSpec, []byte{1}); err != nil {
		return err
	}
	return c.out.changeCipher()
}

// flushHandshake sends what the handshake buffered.
func (c *Conn) flushHandshake() error {
	c.out.Lock()
	defer c.out.Unlock()
	return c.flush()
}
