package fix

import "bytes"

// frameHeadMax is how many leading bytes of each frame the scanner keeps
// for header lookups (BeginString through TargetCompID fit easily).
const frameHeadMax = 256

// frameBodyMax bounds BodyLength. A larger value is taken as garbage and
// the scanner resynchronises on the next "8=FIX".
const frameBodyMax = 1 << 20

// frameTrailerLen is len("10=nnn\x01").
const frameTrailerLen = 7

// frameScanner splits a byte stream into FIX frames without copying it:
// it only follows BeginString, BodyLength, the body and the CheckSum field,
// and hands the caller each complete frame's size and first bytes. It does
// not validate checksums or fields; quickfix does that on the session side.
// A stream that does not look like FIX is skipped up to the next "8=FIX".
//
// A frameScanner is used by one goroutine at a time.
type frameScanner struct {
	head []byte // first bytes of the current frame, up to frameHeadMax
	need int    // bytes of the current frame still to skip once its length is known; -1 while reading the header
	size int    // total size of the current frame once known

	state int // header state (hdrBegin...) while need < 0
	k     int // bytes matched in the current header state
	n     int // BodyLength being parsed
}

// frame describes one complete frame reported by frameScanner.Scan. Head
// is only valid during the callback.
type frame struct {
	Size int
	Head []byte
}

// SeqNum returns the frame's MsgSeqNum (34), or 0 if it is not in Head.
func (f frame) SeqNum() int {
	v := headField(f.Head, "\x0134=")
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' || n > 1<<40 {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// Field returns the value of the field whose "\x01tag=" prefix is given,
// if it lies within Head.
func (f frame) Field(prefix string) []byte { return headField(f.Head, prefix) }

func headField(head []byte, prefix string) []byte {
	i := bytes.Index(head, []byte(prefix))
	if i < 0 {
		return nil
	}
	v := head[i+len(prefix):]
	j := bytes.IndexByte(v, 0x01)
	if j < 0 {
		return nil
	}
	return v[:j]
}

func newFrameScanner() *frameScanner {
	return &frameScanner{head: make([]byte, 0, frameHeadMax), need: -1}
}

// Scan consumes p and calls fn for every frame that p completes, in order.
func (s *frameScanner) Scan(p []byte, fn func(frame)) {
	for len(p) > 0 {
		if s.need < 0 {
			p = s.scanHeader(p)
			continue
		}
		// Body and trailer: keep the head, skip the rest.
		if room := frameHeadMax - len(s.head); room > 0 {
			n := min(room, len(p), s.need)
			s.head = append(s.head, p[:n]...)
		}
		n := min(len(p), s.need)
		s.need -= n
		p = p[n:]
		if s.need == 0 {
			fn(frame{Size: s.size, Head: s.head})
			s.head = s.head[:0]
			s.need = -1
		}
	}
}

// Header states of frameScanner.
const (
	hdrBegin    = iota // matching "8=FIX"
	hdrBeginVal        // rest of the BeginString value, up to SOH
	hdrLenTag          // expecting "9="
	hdrLenVal          // BodyLength digits, up to SOH
)

// scanHeader consumes "8=FIX...\x019=NNN\x01" one byte at a time and, once
// complete, sets need to the rest of the frame's length. Anything else
// restarts the match, so garbage is skipped up to the next "8=FIX". It
// returns the unconsumed input.
func (s *frameScanner) scanHeader(p []byte) []byte {
	const begin = "8=FIX"
	for len(p) > 0 {
		c := p[0]
		p = p[1:]
		s.head = append(s.head, c)
		switch s.state {
		case hdrBegin:
			if c != begin[s.k] {
				s.restart(c)
				continue
			}
			if s.k++; s.k == len(begin) {
				s.state = hdrBeginVal
			}
		case hdrBeginVal:
			if c == 0x01 {
				s.state, s.k = hdrLenTag, 0
			} else if len(s.head) > 32 {
				s.restart(c)
			}
		case hdrLenTag:
			if c != "9="[s.k] {
				s.restart(c)
				continue
			}
			if s.k++; s.k == 2 {
				s.state, s.n, s.k = hdrLenVal, 0, 0
			}
		case hdrLenVal:
			switch {
			case c >= '0' && c <= '9' && s.k < 8:
				s.n = s.n*10 + int(c-'0')
				s.k++
			case c == 0x01 && s.k > 0 && s.n <= frameBodyMax:
				s.size = len(s.head) + s.n + frameTrailerLen
				s.need = s.n + frameTrailerLen
				s.state, s.k = hdrBegin, 0
				return p
			default:
				s.restart(c)
			}
		}
	}
	return p
}

// restart abandons the header being matched; c, its last byte, may begin
// the next one.
func (s *frameScanner) restart(c byte) {
	s.head = s.head[:0]
	s.state, s.k = hdrBegin, 0
	if c == '8' {
		s.head = append(s.head, c)
		s.k = 1
	}
}

// FrameCounter counts the FIX frames of a byte stream seen in arbitrary
// pieces, with the frame scanner the pacers use: a load generator that
// paces its own initiator counts with it what has left. A FrameCounter is
// used by one goroutine at a time.
type FrameCounter struct{ sc *frameScanner }

// NewFrameCounter returns a counter at the start of a stream.
func NewFrameCounter() *FrameCounter { return &FrameCounter{sc: newFrameScanner()} }

// Count consumes the next piece of the stream and returns how many frames
// it completed.
func (c *FrameCounter) Count(p []byte) int {
	n := 0
	c.sc.Scan(p, func(frame) { n++ })
	return n
}
