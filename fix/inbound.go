package fix

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// Limits of inbound frames (InboundConfig.MaxFrameBytes).
const (
	// DefaultMaxFrameBytes is the default bound of one inbound frame, from
	// BeginString through CheckSum: 16 KiB, fifty times an order message.
	DefaultMaxFrameBytes = 16 << 10
	// MinFrameLimit and MaxFrameLimit bound MaxFrameBytes itself.
	MinFrameLimit = 256
	MaxFrameLimit = 1 << 20
	// DefaultLogonTimeout is the default bound of the wait for a
	// connection's Logon.
	DefaultLogonTimeout = 10 * time.Second
)

// Reasons CheckFrame discards bytes and InboundConn closes a connection,
// as reported in InboundEvent.Reason (and used as metric labels).
const (
	// GarbledChecksum: CheckSum (10) does not match the frame's bytes (a
	// bit changed in transit).
	GarbledChecksum = "checksum"
	// GarbledBodyLength: the frame does not end where BodyLength (9) says
	// (no CheckSum field there, or one before it), or BodyLength is too
	// small to hold a header (below 10).
	GarbledBodyLength = "body_length"
	// GarbledFraming: bytes that do not begin a frame ("8=FIX", a
	// BeginString of up to 16 characters, "9=" and digits).
	GarbledFraming = "framing"
	// ReasonTooLarge: a frame declares more than the connection's
	// MaxFrameBytes; the connection is closed before it is read.
	ReasonTooLarge = "too_large"
	// ReasonNotLogon: a connection's first frame is not a Logon (35=A).
	ReasonNotLogon = "not_logon"
	// ReasonLogonTimeout: no first frame within the connection's
	// LogonTimeout.
	ReasonLogonTimeout = "logon_timeout"
)

// ErrFrameTooLarge reports a frame whose BodyLength makes it larger than
// the limit.
var ErrFrameTooLarge = errors.New("fix: frame too large")

// Frame layout limits of CheckFrame.
const (
	maxBeginString = 16 // FIX.4.4, FIXT.1.1
	minBodyLength  = 10 // 35=0|34=1| alone is 10 bytes; quickfix cannot frame a one-digit BodyLength
	trailerLen     = len("10=000\x01")
)

// CheckFrame verifies the frame at the front of b, the unread bytes of a
// FIX stream, as FIX's session layer requires of every message before it
// is processed: it starts with BeginString (8=FIX...) and BodyLength (9),
// the CheckSum field (10=nnn) comes exactly BodyLength bytes after
// BodyLength's delimiter and is the first CheckSum field, and its value is
// the sum of every byte before it, modulo 256. The results:
//
//   - n > 0 and garbled == "": b[:n] is a verified frame;
//   - n > 0 and garbled != "": b[:n] is to be discarded, for that reason
//     (GarbledChecksum, GarbledBodyLength, GarbledFraming); after a
//     checksum failure n is the whole frame, otherwise n reaches the next
//     place a frame may start ("8=FIX");
//   - n == 0 and err == nil: b is an incomplete frame (or empty): read
//     more;
//   - err wraps ErrFrameTooLarge: the frame at the front declares more
//     than max bytes, known from its header alone.
//
// CheckFrame never reads past b and keeps nothing; it is safe for
// concurrent use.
func CheckFrame(b []byte, max int) (n int, garbled string, err error) {
	const begin = "8=FIX"
	if len(b) < len(begin) {
		if !bytes.HasPrefix([]byte(begin), b) {
			return resync(b, 1), GarbledFraming, nil
		}
		return 0, "", nil
	}
	if !bytes.HasPrefix(b, []byte(begin)) {
		return resync(b, 1), GarbledFraming, nil
	}
	// BeginString's value: up to 16 of [A-Z0-9.], then SOH.
	i := 2
	for ; ; i++ {
		if i >= len(b) {
			return 0, "", nil
		}
		c := b[i]
		if c == 0x01 {
			break
		}
		if i-2 >= maxBeginString || !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.') {
			return resync(b, 1), GarbledFraming, nil
		}
	}
	// "9=" and BodyLength's digits, then SOH.
	i++
	for k := 0; k < 2; k, i = k+1, i+1 {
		if i >= len(b) {
			return 0, "", nil
		}
		if b[i] != "9="[k] {
			return resync(b, 1), GarbledFraming, nil
		}
	}
	digits, body := 0, 0
	for ; ; i++ {
		if i >= len(b) {
			return 0, "", nil
		}
		c := b[i]
		if c == 0x01 && digits > 0 {
			break
		}
		if c < '0' || c > '9' {
			return resync(b, 1), GarbledFraming, nil
		}
		digits++
		body = body*10 + int(c-'0')
		// The body starts at i+2 at the earliest, and more digits only
		// make it longer.
		if i+2+body+trailerLen > max {
			return 0, "", fmt.Errorf("%w: a BodyLength starting %s makes more than %d bytes", ErrFrameTooLarge, b[i-digits+1:i+1], max)
		}
	}
	head := i + 1 // the body starts here
	if body < minBodyLength {
		return resync(b, 1), GarbledBodyLength, nil
	}
	end := head + body // the CheckSum field starts here
	total := end + trailerLen
	if len(b) < total {
		return 0, "", nil
	}
	t := b[end:total]
	if b[end-1] != 0x01 || !bytes.HasPrefix(t, []byte("10=")) || t[trailerLen-1] != 0x01 ||
		bytes.Index(b[head-1:end+3], []byte("\x0110=")) != body {
		return resync(b, 1), GarbledBodyLength, nil
	}
	want := 0
	for _, c := range t[3:6] {
		if c < '0' || c > '9' {
			return resync(b, 1), GarbledBodyLength, nil
		}
		want = want*10 + int(c-'0')
	}
	sum := 0
	for _, c := range b[:end] {
		sum += int(c)
	}
	if sum%256 != want {
		return total, GarbledChecksum, nil
	}
	return total, "", nil
}

// resync returns where, at or after from, a frame may start: "8=FIX", or
// a prefix of it that ends b. It is len(b) when there is no such place.
// The rule looks at nothing before the place, so that where garbage ends
// does not depend on how the stream was split into reads.
func resync(b []byte, from int) int {
	const begin = "8=FIX"
	for i := from; i < len(b); i++ {
		if b[i] != '8' {
			continue
		}
		rest := b[i:min(len(b), i+len(begin))]
		if bytes.HasPrefix([]byte(begin), rest) {
			return i
		}
	}
	return len(b)
}

// FrameMsgType returns the MsgType (35) of a frame CheckFrame verified: the
// value of its third field, or nil if that is not MsgType.
func FrameMsgType(frame []byte) []byte {
	i := bytes.Index(frame, []byte("\x019="))
	if i < 0 {
		return nil
	}
	j := bytes.IndexByte(frame[i+3:], 0x01)
	if j < 0 {
		return nil
	}
	rest := frame[i+3+j+1:]
	v, ok := bytes.CutPrefix(rest, []byte("35="))
	if !ok {
		return nil
	}
	k := bytes.IndexByte(v, 0x01)
	if k < 0 {
		return nil
	}
	return v[:k]
}

// ScanFields calls fn with the tag and value of each field of frame, in
// order, until fn returns false. A field whose tag is not a number of at
// most nine digits is passed with tag -1. value is frame's bytes: do not
// keep or modify it.
func ScanFields(frame []byte, fn func(tag int, value []byte) bool) {
	for len(frame) > 0 {
		f := frame
		if j := bytes.IndexByte(frame, 0x01); j >= 0 {
			f, frame = frame[:j], frame[j+1:]
		} else {
			frame = nil
		}
		k, v, ok := bytes.Cut(f, []byte("="))
		t := -1
		if ok && len(k) > 0 && len(k) <= 9 {
			t = 0
			for _, c := range k {
				if c < '0' || c > '9' {
					t = -1
					break
				}
				t = t*10 + int(c-'0')
			}
		}
		if !fn(t, v) {
			return
		}
	}
}

// InboundConfig configures an InboundConn.
type InboundConfig struct {
	// MaxFrameBytes bounds one frame, BeginString through CheckSum. Zero
	// means DefaultMaxFrameBytes; it must be within MinFrameLimit and
	// MaxFrameLimit.
	MaxFrameBytes int
	// LogonTimeout bounds the wait for the first frame. Zero means
	// DefaultLogonTimeout.
	LogonTimeout time.Duration
	// CheckLogon, if set, is given the connection's first frame, verified
	// and a Logon, before anything reads it. An error closes the
	// connection and the Logon is never read; CheckLogon may write a reply
	// to the connection first. It runs on the goroutine reading the
	// connection and may block only for bounded writes.
	CheckLogon func(logon []byte) error
	// OnEvent, if set, is told of every discard and of every close the
	// connection makes (not of one CheckLogon asked for). It runs on the
	// goroutine reading the connection, with no lock held, and must not
	// block.
	OnEvent func(InboundEvent)
}

// InboundEvent is a discard or close of an InboundConn.
type InboundEvent struct {
	// Reason is one of the Garbled* reasons, ReasonTooLarge,
	// ReasonNotLogon or ReasonLogonTimeout.
	Reason string
	// Bytes is how many bytes were discarded (for a frame too large, the
	// header read).
	Bytes int
	// Data is what was discarded, or its first bytes; valid during the
	// call only. It may hold a password: log it only masked
	// (RenderMessage) and below Info.
	Data []byte
	// Closed reports that the connection was closed: anything wrong before
	// the Logon passed, and a frame too large at any time.
	Closed bool
	// LoggedOn reports that the connection had passed its Logon.
	LoggedOn bool
}

// InboundConn is a connection of an acceptor whose reads return only
// verified frames (CheckFrame): what quickfix reads from it is whole
// frames whose BodyLength and CheckSum are right, so quickfix never sees a
// garbled message. (quickfix v0.9.11 never checks CheckSum; it finds a
// frame's end by searching for "\x0110=" past roughly BodyLength bytes,
// buffering whatever BodyLength announces, and compares BodyLength with
// the fields only after parsing them.) CheckFrame also refuses a CheckSum
// field inside the body and a one-digit BodyLength, the two things that
// would make quickfix's search frame a verified stream differently. A garbled frame is discarded without a trace on the
// session: it consumes no sequence number, so the counterparty's next
// message shows a gap and the session's ResendRequest recovers it, as
// FIX's session layer prescribes. Before its Logon a connection is held
// to more: its first bytes must be a verified frame of at most
// MaxFrameBytes, a Logon (which CheckLogon may refuse), within
// LogonTimeout; anything else closes it. A frame declaring more than
// MaxFrameBytes closes the connection at any time, before its body is
// read. The connection never buffers more than MaxFrameBytes plus one
// read.
//
// Read is for one goroutine (quickfix's reader); the other methods are
// net.Conn's and safe from any goroutine. SetReadDeadline before the Logon
// replaces the logon timeout.
type InboundConn struct {
	net.Conn
	cfg InboundConfig

	// Guarded by being used by the reading goroutine only.
	buf      []byte
	r, w     int // buf[r:w] is unread input
	ready    int // buf[r:r+ready] is verified and not yet returned
	loggedOn bool
	err      error // sticky
}

var _ net.Conn = (*InboundConn)(nil)

// inboundReadSize is the smallest read an InboundConn makes.
const inboundReadSize = 4 << 10

// NewInboundConn wraps c, a newly accepted connection, and starts its
// logon timeout. cfg's limits must be valid (see InboundConfig).
func NewInboundConn(c net.Conn, cfg InboundConfig) *InboundConn {
	if cfg.MaxFrameBytes == 0 {
		cfg.MaxFrameBytes = DefaultMaxFrameBytes
	}
	cfg.MaxFrameBytes = min(max(cfg.MaxFrameBytes, MinFrameLimit), MaxFrameLimit)
	if cfg.LogonTimeout <= 0 {
		cfg.LogonTimeout = DefaultLogonTimeout
	}
	_ = c.SetReadDeadline(time.Now().Add(cfg.LogonTimeout))
	return &InboundConn{Conn: c, cfg: cfg}
}

// BufferSize returns the bytes the connection holds for its reads (its
// buffer never shrinks, so after a close it is the most it held). Call it
// from the reading goroutine, or once reads have ended.
func (c *InboundConn) BufferSize() int { return cap(c.buf) }

// Read returns verified frames, whole or in part.
func (c *InboundConn) Read(p []byte) (int, error) {
	for c.ready == 0 {
		if c.err != nil {
			return 0, c.err
		}
		c.next()
	}
	n := copy(p, c.buf[c.r:c.r+c.ready])
	c.r += n
	c.ready -= n
	return n, nil
}

// next verifies the frame at the front of the unread input, discarding
// garbage, or reads more; it sets ready or err.
func (c *InboundConn) next() {
	in := c.buf[c.r:c.w]
	n, garbled, err := CheckFrame(in, c.cfg.MaxFrameBytes)
	switch {
	case err != nil:
		c.fail(ReasonTooLarge, in, err)
	case n > 0 && garbled != "":
		if !c.loggedOn {
			c.fail(garbled, in[:n], fmt.Errorf("fix: garbled first message (%s)", garbled))
			return
		}
		c.event(InboundEvent{Reason: garbled, Bytes: n, Data: in[:n], LoggedOn: true})
		c.r += n
	case n > 0 && c.loggedOn:
		c.ready = n
	case n > 0:
		if mt := FrameMsgType(in[:n]); !bytes.Equal(mt, []byte("A")) {
			c.fail(ReasonNotLogon, in[:n], errors.New("fix: first message is not a Logon"))
			return
		}
		if c.cfg.CheckLogon != nil {
			if err := c.cfg.CheckLogon(in[:n]); err != nil {
				c.closeWith(fmt.Errorf("fix: logon refused: %w", err))
				return
			}
		}
		c.loggedOn = true
		_ = c.Conn.SetReadDeadline(time.Time{})
		c.ready = n
	default:
		c.fill()
	}
}

// fill reads more input, making room first.
func (c *InboundConn) fill() {
	if c.r > 0 && (c.r == c.w || cap(c.buf)-c.w < inboundReadSize) {
		c.w = copy(c.buf, c.buf[c.r:c.w])
		c.r = 0
	}
	if cap(c.buf)-c.w < inboundReadSize {
		// Room for a whole frame and one read, at most.
		size := min(max(2*cap(c.buf), inboundReadSize), c.cfg.MaxFrameBytes+inboundReadSize)
		if size > cap(c.buf) {
			nb := make([]byte, size)
			c.w = copy(nb, c.buf[c.r:c.w])
			c.r = 0
			c.buf = nb
		}
	}
	c.buf = c.buf[:cap(c.buf)]
	n, err := c.Conn.Read(c.buf[c.w:])
	c.w += n
	if err == nil {
		return
	}
	if !c.loggedOn && errors.Is(err, os.ErrDeadlineExceeded) {
		c.fail(ReasonLogonTimeout, c.buf[c.r:c.w], fmt.Errorf("fix: no Logon within %v: %w", c.cfg.LogonTimeout, err))
		return
	}
	c.err = err
}

// fail reports a close for reason and closes the connection.
func (c *InboundConn) fail(reason string, data []byte, err error) {
	c.event(InboundEvent{Reason: reason, Bytes: len(data), Data: data[:min(len(data), c.cfg.MaxFrameBytes)],
		Closed: true, LoggedOn: c.loggedOn})
	c.closeWith(err)
}

func (c *InboundConn) closeWith(err error) {
	c.err = err
	c.r, c.w, c.ready = 0, 0, 0
	_ = c.Conn.Close()
}

func (c *InboundConn) event(ev InboundEvent) {
	if c.cfg.OnEvent != nil {
		c.cfg.OnEvent(ev)
	}
}
