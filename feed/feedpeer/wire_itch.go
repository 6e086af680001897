package feedpeer

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// ITCH 5.0 message lengths (the Sequenced Data payload), from the Nasdaq
// TotalView-ITCH 5.0 specification, section 4.
const (
	itchLenSystem        = 12
	itchLenDirectory     = 39
	itchLenTradingAction = 25
	itchLenAdd           = 36
	itchLenAddMPID       = 40
	itchLenExecuted      = 31
	itchLenExecutedPrice = 36
	itchLenCancel        = 23
	itchLenDelete        = 19
	itchLenReplace       = 35
	itchLenTrade         = 44
)

// appendITCHHeader appends the common ITCH 5.0 header: Message Type (1),
// Stock Locate (2), Tracking Number (2), Timestamp (6, nanoseconds since
// midnight), all big-endian.
func appendITCHHeader(dst []byte, typ byte, locate, tracking uint16, ts int64) []byte {
	dst = append(dst, typ)
	dst = binary.BigEndian.AppendUint16(dst, locate)
	dst = binary.BigEndian.AppendUint16(dst, tracking)
	t := uint64(ts)
	return append(dst, byte(t>>40), byte(t>>32), byte(t>>24), byte(t>>16), byte(t>>8), byte(t))
}

// appendAlpha appends s left-justified and padded on the right with spaces
// to n bytes (ITCH and SoupBinTCP Alpha fields).
func appendAlpha(dst []byte, s string, n int) []byte {
	if len(s) > n {
		s = s[:n]
	}
	dst = append(dst, s...)
	for i := len(s); i < n; i++ {
		dst = append(dst, ' ')
	}
	return dst
}

// appendNumeric appends v in ASCII, right-justified and padded on the left
// with spaces to n bytes (SoupBinTCP Numeric fields).
func appendNumeric(dst []byte, v uint64, n int) []byte {
	s := strconv.FormatUint(v, 10)
	for i := len(s); i < n; i++ {
		dst = append(dst, ' ')
	}
	return append(dst, s...)
}

// appendITCH appends the ITCH 5.0 message for ev. locate is the symbol's
// Stock Locate (0 for a system event).
func appendITCH(dst []byte, ev Event, locate, tracking uint16) ([]byte, error) {
	be := binary.BigEndian
	switch ev.Kind {
	case KindSystem:
		dst = appendITCHHeader(dst, 'S', 0, tracking, ev.Time)
		return append(dst, ev.Code), nil
	case KindDirectory:
		dst = appendITCHHeader(dst, 'R', locate, tracking, ev.Time)
		dst = appendAlpha(dst, ev.Symbol, 8)
		dst = append(dst, 'Q', 'N') // Market Category: Nasdaq Global Select; Financial Status: normal
		lot := ev.Qty
		if lot == 0 {
			lot = 100
		}
		dst = be.AppendUint32(dst, uint32(lot)) // Round Lot Size
		dst = append(dst, 'N', 'C')             // Round Lots Only: no; Issue Classification: common stock
		dst = appendAlpha(dst, "Z", 2)          // Issue Sub-Type: not applicable
		dst = append(dst, 'P', 'N', 'N', '2', 'N')
		dst = be.AppendUint32(dst, 0) // ETP Leverage Factor
		return append(dst, 'N'), nil  // Inverse Indicator
	case KindTradingAction:
		dst = appendITCHHeader(dst, 'H', locate, tracking, ev.Time)
		dst = appendAlpha(dst, ev.Symbol, 8)
		dst = append(dst, ev.Code, ' ')
		return appendAlpha(dst, "", 4), nil
	case KindAdd:
		typ := byte('A')
		if ev.MPID != "" {
			typ = 'F'
		}
		dst = appendITCHHeader(dst, typ, locate, tracking, ev.Time)
		dst = be.AppendUint64(dst, ev.Order)
		dst = append(dst, byte(ev.Side))
		dst = be.AppendUint32(dst, uint32(ev.Qty))
		dst = appendAlpha(dst, ev.Symbol, 8)
		dst = be.AppendUint32(dst, uint32(ev.Price))
		if typ == 'F' {
			dst = appendAlpha(dst, ev.MPID, 4)
		}
		return dst, nil
	case KindExecute:
		if ev.Contra != 0 {
			return dst, fmt.Errorf("%w: ITCH cannot show an execution between two displayed orders: %v", ErrBadEvent, ev)
		}
		typ := byte('E')
		if ev.WithPrice {
			typ = 'C'
		}
		dst = appendITCHHeader(dst, typ, locate, tracking, ev.Time)
		dst = be.AppendUint64(dst, ev.Order)
		dst = be.AppendUint32(dst, uint32(ev.Qty))
		dst = be.AppendUint64(dst, ev.Match)
		if typ == 'C' {
			dst = append(dst, 'Y')
			dst = be.AppendUint32(dst, uint32(ev.Price))
		}
		return dst, nil
	case KindCancel:
		dst = appendITCHHeader(dst, 'X', locate, tracking, ev.Time)
		dst = be.AppendUint64(dst, ev.Order)
		return be.AppendUint32(dst, uint32(ev.Qty)), nil
	case KindDelete:
		dst = appendITCHHeader(dst, 'D', locate, tracking, ev.Time)
		return be.AppendUint64(dst, ev.Order), nil
	case KindReplace:
		dst = appendITCHHeader(dst, 'U', locate, tracking, ev.Time)
		dst = be.AppendUint64(dst, ev.Order)
		dst = be.AppendUint64(dst, ev.NewOrder)
		dst = be.AppendUint32(dst, uint32(ev.Qty))
		return be.AppendUint32(dst, uint32(ev.Price)), nil
	case KindTrade:
		dst = appendITCHHeader(dst, 'P', locate, tracking, ev.Time)
		dst = be.AppendUint64(dst, 0) // Order Reference Number: zero, as Nasdaq sends
		dst = append(dst, 'B')        // Buy/Sell Indicator: always B, as Nasdaq sends
		dst = be.AppendUint32(dst, uint32(ev.Qty))
		dst = appendAlpha(dst, ev.Symbol, 8)
		dst = be.AppendUint32(dst, uint32(ev.Price))
		return be.AppendUint64(dst, ev.Match), nil
	}
	return dst, fmt.Errorf("%w: no ITCH message for %v", ErrBadEvent, ev)
}

// SoupBinTCP 3.0 packet types.
const (
	soupDebug         = '+'
	soupLoginAccepted = 'A'
	soupLoginRejected = 'J'
	soupSequenced     = 'S'
	soupServerHB      = 'H'
	soupEndOfSession  = 'Z'
	soupLoginRequest  = 'L'
	soupUnsequenced   = 'U'
	soupClientHB      = 'R'
	soupLogout        = 'O'
)

// SoupBinTCP Login Rejected reason codes.
const (
	RejectNotAuthorized      = 'A'
	RejectSessionUnavailable = 'S'
)

// soupLoginRequestLen is the Login Request payload: Username (6), Password
// (10), Requested Session (10), Requested Sequence Number (20).
const soupLoginRequestLen = 46

// appendSoup appends one SoupBinTCP packet: a big-endian 2-byte length
// counting the type and the payload, the type, the payload.
func appendSoup(dst []byte, typ byte, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(1+len(payload)))
	dst = append(dst, typ)
	return append(dst, payload...)
}

// appendLoginAccepted appends a Login Accepted packet: Session (10, padded
// on the left with spaces) and Sequence Number (20, numeric).
func appendLoginAccepted(dst []byte, session string, next uint64) []byte {
	p := make([]byte, 0, 30)
	for i := len(session); i < 10; i++ {
		p = append(p, ' ')
	}
	p = append(p, session...)
	p = appendNumeric(p, next, 20)
	return appendSoup(dst, soupLoginAccepted, p)
}

// loginRequest is a parsed SoupBinTCP Login Request.
type loginRequest struct {
	username, password, session string
	sequence                    uint64
}

// parseLoginRequest parses a Login Request payload. Alpha fields are
// trimmed of spaces; the sequence number is ASCII digits padded with spaces
// on either side (the specification pads on the left; a peer tolerates
// both).
func parseLoginRequest(p []byte) (loginRequest, error) {
	if len(p) != soupLoginRequestLen {
		return loginRequest{}, fmt.Errorf("%w: login request of %d bytes, want %d", ErrProtocol, len(p), soupLoginRequestLen)
	}
	r := loginRequest{
		username: strings.TrimSpace(string(p[0:6])),
		password: strings.TrimSpace(string(p[6:16])),
		session:  strings.TrimSpace(string(p[16:26])),
	}
	seq := strings.TrimSpace(string(p[26:46]))
	if seq == "" {
		seq = "0"
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil {
		return loginRequest{}, fmt.Errorf("%w: requested sequence number %q", ErrProtocol, p[26:46])
	}
	r.sequence = n
	return r, nil
}
