package soupbin

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// MaxPacket is the largest value of the two-byte length field, which counts
// the type byte and the payload but not itself.
const MaxPacket = 65535

// headerLen is the size of the length field.
const headerLen = 2

// Packet types. Debug and Unsequenced Data travel in both directions.
const (
	TypeDebug           byte = '+' // both directions: free-form text
	TypeLoginAccepted   byte = 'A' // server: session and next sequence number
	TypeLoginRejected   byte = 'J' // server: one-byte reject reason
	TypeSequenced       byte = 'S' // server: one sequenced message
	TypeUnsequenced     byte = 'U' // both directions: one unsequenced message
	TypeServerHeartbeat byte = 'H' // server: no payload
	TypeEndOfSession    byte = 'Z' // server: no payload
	TypeLoginRequest    byte = 'L' // client: credentials and requested position
	TypeClientHeartbeat byte = 'R' // client: no payload
	TypeLogoutRequest   byte = 'O' // client: no payload
)

// Packet is one SoupBinTCP packet. Payload aliases the buffer given to Parse
// and is valid only as long as that buffer is.
type Packet struct {
	Type    byte
	Payload []byte
}

// Parse parses one packet from the front of b and returns it with n, the
// number of bytes it occupied. A packet is reported as soon as it is whole;
// unknown packet types are returned to the caller, not rejected.
//
// (Packet{}, 0, nil) means b does not yet hold a whole packet: the caller
// reads more and calls Parse again with the longer buffer. A length field
// over max (MaxPacket when max <= 0) is reported as soon as the length field
// is read, without waiting for the payload.
//
// The errors are ErrEmptyPacket and ErrTooLarge (wrapped with detail). After
// an error the stream cannot be framed any further and the caller should
// close the connection.
func Parse(b []byte, max int) (p Packet, n int, err error) {
	if len(b) < headerLen {
		return Packet{}, 0, nil
	}
	size := int(binary.BigEndian.Uint16(b))
	if size == 0 {
		return Packet{}, 0, ErrEmptyPacket
	}
	if max <= 0 {
		max = MaxPacket
	}
	if size > max {
		return Packet{}, 0, fmt.Errorf("%w: length %d, limit %d", ErrTooLarge, size, max)
	}
	end := headerLen + size
	if len(b) < end {
		return Packet{}, 0, nil
	}
	return Packet{Type: b[headerLen], Payload: b[headerLen+1 : end : end]}, end, nil
}

// AppendPacket appends a packet of type t carrying payload to b.
// It panics if the payload is longer than MaxPacket-1 bytes, which no
// SoupBinTCP peer could frame.
func AppendPacket(b []byte, t byte, payload []byte) []byte {
	b = appendHeader(b, t, len(payload))
	return append(b, payload...)
}

// appendHeader appends the length field and type byte of a packet whose
// payload is n bytes long.
func appendHeader(b []byte, t byte, n int) []byte {
	if n > MaxPacket-1 {
		panic("soupbin: payload of " + strconv.Itoa(n) + " bytes exceeds the packet limit")
	}
	return append(b, byte((n+1)>>8), byte(n+1), t)
}

// AppendSequenced appends a Sequenced Data packet carrying payload to b.
// It panics if the payload is longer than MaxPacket-1 bytes.
func AppendSequenced(b []byte, payload []byte) []byte {
	return AppendPacket(b, TypeSequenced, payload)
}

// AppendUnsequenced appends an Unsequenced Data packet carrying payload to b.
// It panics if the payload is longer than MaxPacket-1 bytes.
func AppendUnsequenced(b []byte, payload []byte) []byte {
	return AppendPacket(b, TypeUnsequenced, payload)
}

// AppendDebug appends a Debug packet carrying text to b. It panics if the
// text is longer than MaxPacket-1 bytes.
func AppendDebug(b []byte, text string) []byte {
	b = appendHeader(b, TypeDebug, len(text))
	return append(b, text...)
}

// AppendServerHeartbeat appends a Server Heartbeat packet to b.
func AppendServerHeartbeat(b []byte) []byte { return appendHeader(b, TypeServerHeartbeat, 0) }

// AppendClientHeartbeat appends a Client Heartbeat packet to b.
func AppendClientHeartbeat(b []byte) []byte { return appendHeader(b, TypeClientHeartbeat, 0) }

// AppendEndOfSession appends an End of Session packet to b.
func AppendEndOfSession(b []byte) []byte { return appendHeader(b, TypeEndOfSession, 0) }

// AppendLogoutRequest appends a Logout Request packet to b.
func AppendLogoutRequest(b []byte) []byte { return appendHeader(b, TypeLogoutRequest, 0) }

// TypeName returns a short name for packet type t, such as "login-accepted",
// or "unknown(0x..)" for a type SoupBinTCP 3.0 does not define. It is meant
// for logs and metrics labels.
func TypeName(t byte) string {
	switch t {
	case TypeDebug:
		return "debug"
	case TypeLoginAccepted:
		return "login-accepted"
	case TypeLoginRejected:
		return "login-rejected"
	case TypeSequenced:
		return "sequenced-data"
	case TypeUnsequenced:
		return "unsequenced-data"
	case TypeServerHeartbeat:
		return "server-heartbeat"
	case TypeEndOfSession:
		return "end-of-session"
	case TypeLoginRequest:
		return "login-request"
	case TypeClientHeartbeat:
		return "client-heartbeat"
	case TypeLogoutRequest:
		return "logout-request"
	}
	return fmt.Sprintf("unknown(0x%02x)", t)
}
