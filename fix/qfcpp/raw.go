package qfcpp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Frame frames a message: BeginString begin, then BodyLength, fields, and
// CheckSum.
func Frame(begin string, fields ...Field) []byte {
	var body []byte
	for _, f := range fields {
		body = fmt.Appendf(body, "%d=%s\x01", f.Tag, f.Value)
	}
	out := fmt.Appendf(nil, "8=%s\x019=%d\x01%s", begin, len(body), body)
	return append(out, "10="+Checksum(out)+"\x01"...)
}

// Checksum is the CheckSum of b, the bytes before a frame's "10=": their
// sum modulo 256, as three digits.
func Checksum(b []byte) string {
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	return fmt.Sprintf("%03d", sum%256)
}

// VerifyFrame reports whether f is one whole FIX frame: "8=FIX"... SOH
// "9=" BodyLength SOH, then exactly BodyLength (at least 10) bytes ending
// in SOH and holding no CheckSum field, then "10=" three digits SOH equal
// to Checksum of the bytes before them.
func VerifyFrame(f []byte) bool {
	parts := bytes.SplitN(f, []byte{1}, 3)
	if len(parts) < 3 || !bytes.HasPrefix(parts[0], []byte("8=FIX")) || !bytes.HasPrefix(parts[1], []byte("9=")) {
		return false
	}
	n, err := strconv.Atoi(string(parts[1][2:]))
	if err != nil || n < 10 {
		return false
	}
	head := len(parts[0]) + 1 + len(parts[1]) + 1
	if len(f) != head+n+7 || f[head+n-1] != 1 || string(f[head+n:head+n+3]) != "10=" || f[len(f)-1] != 1 {
		return false
	}
	return string(f[head+n+3:head+n+6]) == Checksum(f[:head+n]) && !bytes.Contains(f[head-1:head+n-1], []byte("\x0110="))
}

// errGarbled is what SplitFrame returns for input that is not a frame.
var errGarbled = errors.New("qfcpp: garbled frame")

// SplitFrame returns the length of the frame at the start of b, or 0 when
// b holds only part of one. Input that does not begin with a frame
// VerifyFrame accepts is an error.
func SplitFrame(b []byte) (int, error) {
	size, err := frameSize(b)
	switch {
	case err != nil:
		return 0, err
	case size == 0 || len(b) < size:
		return 0, nil
	case !VerifyFrame(b[:size]):
		return 0, fmt.Errorf("%w: %q", errGarbled, b[:size])
	}
	return size, nil
}

// frameSize returns the size a frame starting at b declares (BeginString,
// BodyLength, the body and the CheckSum field), which may be more than
// len(b), or 0 when b is too short to tell. Bytes that do not start with
// "8=FIX" and a BodyLength are an error. Nothing else is checked.
func frameSize(b []byte) (int, error) {
	const begin = "8=FIX"
	if !bytes.HasPrefix(b, []byte(begin)[:min(len(b), len(begin))]) {
		return 0, fmt.Errorf("%w: %q", errGarbled, b)
	}
	parts := bytes.SplitN(b, []byte{1}, 3)
	if len(parts) < 3 {
		if len(b) > 64 {
			return 0, fmt.Errorf("%w: %q", errGarbled, b)
		}
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(parts[1]), "9="))
	if err != nil || n < 0 || n > 1<<20 || !bytes.HasPrefix(parts[1], []byte("9=")) {
		return 0, fmt.Errorf("%w: %q", errGarbled, b)
	}
	return len(parts[0]) + 1 + len(parts[1]) + 1 + n + len("10=000\x01"), nil
}

// RawConfig says whom a RawEngine speaks as.
type RawConfig struct {
	Sender string // SenderCompID of what it sends
	Target string // TargetCompID of what it sends
	// NextSeqNum is the MsgSeqNum of the first message it sends; zero
	// means 1.
	NextSeqNum int
	// ReadTimeout bounds each Read, from its call until a whole message is
	// in; zero means no bound.
	ReadTimeout time.Duration
}

// RawEngine is one side of a FIX 4.4 session on a connection, written by
// hand in Go, for orderings a real engine produces only by chance. It
// numbers what Send sends and keeps it; Serve answers the session as an
// engine must: a TestRequest with a Heartbeat, a ResendRequest with its
// application messages again (PossDupFlag) and gap fills for the rest.
// Everything else (Logon, Logout) the test does itself, with Send and Read.
//
// Send, Lose, GapFill and Close may be called from any goroutine, also
// while Serve runs. Read and Serve read the connection: one goroutine at a
// time. A write that fails reports an error on the test, unless Close was
// called first.
type RawEngine struct {
	tb  testing.TB
	c   net.Conn
	cfg RawConfig

	mu    sync.Mutex
	next  int             // MsgSeqNum of the next message sent
	quiet bool            // closed: write nothing
	sent  map[int]rawSent // by MsgSeqNum

	in []byte // unread input; only the reading goroutine
}

// rawSent is a message as Send first sent it.
type rawSent struct {
	msgType string
	at      string // SendingTime
	body    []Field
}

// NewRawEngine returns a RawEngine on c. The caller closes it (Close),
// typically in a cleanup.
func NewRawEngine(tb testing.TB, c net.Conn, cfg RawConfig) *RawEngine {
	if cfg.NextSeqNum == 0 {
		cfg.NextSeqNum = 1
	}
	return &RawEngine{tb: tb, c: c, cfg: cfg, next: cfg.NextSeqNum, sent: map[int]rawSent{}}
}

// Send sends a message of the given type, fields "tag=value", with the
// next MsgSeqNum. A malformed field ends the test (tb.Fatalf).
func (e *RawEngine) Send(msgType string, fields ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.write(e.keep(msgType, fields))
}

// Lose numbers and keeps a message as Send does, but does not write it: a
// frame lost on the way, for the peer to ask for again.
func (e *RawEngine) Lose(msgType string, fields ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.keep(msgType, fields)
}

// keep numbers and keeps a message and returns its frame; e.mu is held.
func (e *RawEngine) keep(msgType string, fields []string) []byte {
	body := make([]Field, 0, len(fields))
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		t, err := strconv.Atoi(k)
		if !ok || err != nil {
			e.tb.Fatalf("qfcpp: bad field %q", f)
		}
		body = append(body, Field{Tag: t, Value: v})
	}
	m := rawSent{msgType: msgType, at: sendingTime(), body: body}
	seq := e.next
	e.sent[seq] = m
	e.next++
	return e.frame(msgType, seq, m.at, "", body)
}

// GapFill sends a SequenceReset-GapFill numbered from, to newSeqNo.
func (e *RawEngine) GapFill(from, newSeqNo int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.gapFill(from, newSeqNo)
}

// gapFill is GapFill with e.mu held.
func (e *RawEngine) gapFill(from, newSeqNo int) {
	at := sendingTime()
	e.write(e.frame("4", from, at, at, []Field{{Tag: 123, Value: "Y"}, {Tag: 36, Value: strconv.Itoa(newSeqNo)}}))
}

// frame frames a message: a resent one (PossDupFlag) when orig, its
// OrigSendingTime, is not "".
func (e *RawEngine) frame(msgType string, seq int, at, orig string, body []Field) []byte {
	h := []Field{{Tag: 35, Value: msgType}, {Tag: 49, Value: e.cfg.Sender}, {Tag: 56, Value: e.cfg.Target},
		{Tag: 34, Value: strconv.Itoa(seq)}, {Tag: 52, Value: at}}
	if orig != "" {
		h = append(h, Field{Tag: 43, Value: "Y"}, Field{Tag: 122, Value: orig})
	}
	return Frame(FIX44, append(h, body...)...)
}

func sendingTime() string { return time.Now().UTC().Format("20060102-15:04:05.000") }

// write writes f; e.mu is held.
func (e *RawEngine) write(f []byte) {
	if e.quiet {
		return
	}
	if _, err := e.c.Write(f); err != nil {
		e.tb.Errorf("qfcpp: write: %v", err)
	}
}

// Close stops all writing and closes the connection, which ends Serve.
func (e *RawEngine) Close() {
	e.mu.Lock()
	e.quiet = true
	e.mu.Unlock()
	e.c.Close()
}

// Read returns the peer's next message, or an error when the connection
// ends, a frame is garbled, or RawConfig.ReadTimeout passes.
func (e *RawEngine) Read() (Message, error) {
	if e.cfg.ReadTimeout > 0 {
		_ = e.c.SetReadDeadline(time.Now().Add(e.cfg.ReadTimeout))
	}
	buf := make([]byte, 4<<10)
	for {
		n, err := SplitFrame(e.in)
		if err != nil {
			return Message{}, err
		}
		if n > 0 {
			m, err := ParseMessage(string(e.in[:n]), 1)
			e.in = e.in[n:]
			return m, err
		}
		k, err := e.c.Read(buf)
		e.in = append(e.in, buf[:k]...)
		if err != nil {
			return Message{}, err
		}
	}
}

// Serve answers the session until Read fails or other, given every
// message but TestRequests and ResendRequests (nil: ignore them), returns
// false.
func (e *RawEngine) Serve(other func(Message) bool) {
	for {
		m, err := e.Read()
		if err != nil {
			return
		}
		switch m.Type() {
		case "1":
			e.Send("0", "112="+m.Get(112))
		case "2":
			begin, _ := strconv.Atoi(m.Get(7))
			end, _ := strconv.Atoi(m.Get(16))
			e.resend(begin, end)
		default:
			if other != nil && !other(m) {
				return
			}
		}
	}
}

// resend answers a ResendRequest for begin through end (0: all).
func (e *RawEngine) resend(begin, end int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if end == 0 || end >= e.next {
		end = e.next - 1
	}
	gap := 0 // the first number of a run to gap fill, or 0
	for seq := begin; seq <= end; seq++ {
		m, ok := e.sent[seq]
		if !ok || isAdmin(m.msgType) {
			if gap == 0 {
				gap = seq
			}
			continue
		}
		if gap != 0 {
			e.gapFill(gap, seq)
			gap = 0
		}
		e.write(e.frame(m.msgType, seq, sendingTime(), m.at, m.body))
	}
	if gap != 0 {
		e.gapFill(gap, end+1)
	}
}
