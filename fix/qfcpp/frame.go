package qfcpp

import (
	"bytes"
	"strconv"
)

// SplitFIX returns the size of the FIX frame at the front of b, or 0 if b
// does not hold a whole one yet: BeginString (8=), BodyLength (9=n), n
// bytes and the CheckSum field (10=nnn and SOH, 7 bytes). It checks
// nothing else: a line to a peer (sim/faultproxy.NewFramed) forwards the
// frame, and the peer judges it. Bytes that cannot start a frame, up to
// the next "8=FIX", are returned as a frame of their own. It is a
// faultproxy.Split; it shares no code with the gateway's framing.
func SplitFIX(b []byte) int {
	const begin = "8=FIX"
	if len(b) < len(begin) {
		if bytes.HasPrefix([]byte(begin), b) {
			return 0
		}
		return len(b)
	}
	if !bytes.HasPrefix(b, []byte(begin)) {
		if i := bytes.Index(b[1:], []byte(begin)); i >= 0 {
			return i + 1
		}
		return len(b) - len(begin) + 1 // the tail may start the next frame
	}
	soh := bytes.IndexByte(b, 0x01)
	if soh < 0 {
		return 0
	}
	rest := b[soh+1:]
	if len(rest) < 2 {
		return 0
	}
	end := bytes.IndexByte(rest, 0x01)
	if !bytes.HasPrefix(rest, []byte("9=")) || (end < 0 && len(rest) > 16) {
		return soh + 1 // no BodyLength: not a frame
	}
	if end < 0 {
		return 0
	}
	n, err := strconv.Atoi(string(rest[2:end]))
	if err != nil || n < 0 {
		return soh + 1
	}
	size := soh + 1 + end + 1 + n + len("10=000\x01")
	if len(b) < size {
		return 0
	}
	return size
}

// FrameIs returns a match for a raw FIX frame (SOH-separated) of msgType
// whose fields include want (tag -> value), such as a faultproxy.DropOnce
// rule.
func FrameIs(msgType string, want map[int]string) func(frame []byte) bool {
	return func(b []byte) bool {
		m, err := ParseMessage(string(b), 0x01)
		if err != nil || m.Type() != msgType {
			return false
		}
		for tag, v := range want {
			if m.Get(tag) != v {
				return false
			}
		}
		return true
	}
}
