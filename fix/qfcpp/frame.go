package qfcpp

import (
	"bytes"
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
	size, err := frameSize(b)
	switch {
	case err == nil && size > len(b):
		return 0
	case err == nil:
		return size
	}
	if i := bytes.Index(b[1:], []byte(begin)); i >= 0 {
		return i + 1
	}
	if len(b) < len(begin) {
		return len(b)
	}
	return len(b) - len(begin) + 1 // the tail may start the next frame
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
