package netsec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
)

// The PROXY protocol, version 2 (the binary header of
// https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt, section
// 2.2), as a layer-4 load balancer sends it at the start of each
// connection:
//
//	signature    12 bytes  \r\n\r\n\0\r\nQUIT\n
//	ver_cmd       1 byte   version 2 (high nibble), LOCAL 0 or PROXY 1
//	fam           1 byte   family: UNSPEC 0, INET 1, INET6 2, UNIX 3 (high
//	                       nibble); transport: UNSPEC 0, STREAM 1, DGRAM 2
//	len           2 bytes  big endian: the bytes that follow
//	addresses              INET: src 4, dst 4, src port 2, dst port 2;
//	                       INET6: 16, 16, 2, 2; UNIX: 108, 108
//	TLVs                   the rest: type 1, length 2, value
//
// Version 1, the text header ("PROXY TCP4 ..."), is refused: the gateway
// requires v2, which a load balancer sends in one segment of known length.

// proxySignature starts every v2 header.
var proxySignature = []byte("\r\n\r\n\x00\r\nQUIT\n")

// proxyV1Prefix starts every v1 header.
var proxyV1Prefix = []byte("PROXY ")

// ProxyHeaderLen is the length of the fixed part of a v2 header; the
// whole header is ProxyHeaderLen plus its len field.
const ProxyHeaderLen = 16

// Address block sizes by family.
const (
	proxyAddrLen4    = 12
	proxyAddrLen6    = 36
	proxyAddrLenUnix = 216
)

// ProxyCommand is a header's command.
type ProxyCommand byte

const (
	// ProxyLocal: the load balancer's own connection (a health check);
	// the connection's endpoints are the real ones.
	ProxyLocal ProxyCommand = 0
	// ProxyProxy: a connection relayed for the client the addresses name.
	ProxyProxy ProxyCommand = 1
)

// ProxyHeader is a parsed v2 header.
type ProxyHeader struct {
	// Command is ProxyLocal or ProxyProxy.
	Command ProxyCommand
	// Source and Destination are the client's address and the address it
	// connected to, for a PROXY command over TCP (IPv4 or IPv6); both are
	// zero (invalid) otherwise, and the connection's own endpoints stand.
	Source, Destination netip.AddrPort
}

// ParseProxyHeader parses the v2 header at the front of b, the first bytes
// of a connection. The results:
//
//   - n > 0, err == nil: b[:n] is a valid header, h what it says;
//   - n == 0, err == nil: b is the start of a valid header (or empty): read
//     more (at least ProxyHeaderLen bytes in all, then the length they
//     give);
//   - err != nil (wrapping ErrProxyHeader): b does not start with a valid
//     v2 header: no signature, a v1 header, a version or command other
//     than 2 and LOCAL/PROXY, an unknown family or transport, UDP or UNIX
//     sockets in a PROXY command, addresses longer than len, or TLVs that
//     do not exactly fill the rest (they are otherwise skipped).
//
// It never reads past b and keeps nothing; safe for concurrent use.
func ParseProxyHeader(b []byte) (h ProxyHeader, n int, err error) {
	switch sniffProxy(b) {
	case proxyNone:
		return h, 0, fmt.Errorf("%w: no v2 signature", ErrProxyHeader)
	case proxyV1:
		return h, 0, fmt.Errorf("%w: version 1 (text) header; configure the load balancer to send version 2", ErrProxyHeader)
	case proxyUndecided:
		return h, 0, nil
	}
	if len(b) < ProxyHeaderLen {
		// The signature is complete; check what has arrived of the rest.
		if len(b) > 12 {
			if _, err := proxyCommand(b[12]); err != nil {
				return h, 0, err
			}
		}
		if len(b) > 13 {
			if _, err := proxyAddrLen(b[13]); err != nil {
				return h, 0, err
			}
		}
		return h, 0, nil
	}
	cmd, err := proxyCommand(b[12])
	if err != nil {
		return h, 0, err
	}
	fam := b[13]
	addrLen, err := proxyAddrLen(fam)
	if err != nil {
		return h, 0, err
	}
	size := int(binary.BigEndian.Uint16(b[14:16]))
	if size < addrLen {
		return h, 0, fmt.Errorf("%w: length %d is shorter than the addresses of family 0x%02x (%d bytes)", ErrProxyHeader, size, fam, addrLen)
	}
	total := ProxyHeaderLen + size
	if len(b) < total {
		return h, 0, nil
	}
	body := b[ProxyHeaderLen:total]
	if err := checkTLVs(body[addrLen:]); err != nil {
		return h, 0, err
	}
	h.Command = cmd
	if cmd == ProxyLocal {
		return h, total, nil // the family is ignored: real endpoints
	}
	switch fam {
	case 0x00: // UNSPEC: the sender could not tell; real endpoints
	case 0x11: // TCP over IPv4
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[0:4])), binary.BigEndian.Uint16(body[8:10]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[4:8])), binary.BigEndian.Uint16(body[10:12]))
	case 0x21: // TCP over IPv6
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[0:16])).Unmap(), binary.BigEndian.Uint16(body[32:34]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[16:32])).Unmap(), binary.BigEndian.Uint16(body[34:36]))
	default:
		return h, 0, fmt.Errorf("%w: family and transport 0x%02x: only TCP over IPv4 or IPv6 is served", ErrProxyHeader, fam)
	}
	return h, total, nil
}

// proxyCommand checks the version and command byte.
func proxyCommand(vc byte) (ProxyCommand, error) {
	if vc>>4 != 2 {
		return 0, fmt.Errorf("%w: version %d; want 2", ErrProxyHeader, vc>>4)
	}
	switch c := ProxyCommand(vc & 0x0f); c {
	case ProxyLocal, ProxyProxy:
		return c, nil
	default:
		return 0, fmt.Errorf("%w: command %d; want LOCAL (0) or PROXY (1)", ErrProxyHeader, c)
	}
}

// proxyAddrLen checks the family and transport byte and returns the size
// of its address block.
func proxyAddrLen(fam byte) (int, error) {
	transport := fam & 0x0f
	if transport > 2 {
		return 0, fmt.Errorf("%w: transport %d unknown", ErrProxyHeader, transport)
	}
	switch fam >> 4 {
	case 0:
		if transport != 0 {
			return 0, fmt.Errorf("%w: family UNSPEC with transport %d", ErrProxyHeader, transport)
		}
		return 0, nil
	case 1:
		return proxyAddrLen4, nil
	case 2:
		return proxyAddrLen6, nil
	case 3:
		return proxyAddrLenUnix, nil
	}
	return 0, fmt.Errorf("%w: family %d unknown", ErrProxyHeader, fam>>4)
}

// checkTLVs checks that b is a sequence of whole TLVs.
func checkTLVs(b []byte) error {
	for len(b) > 0 {
		if len(b) < 3 {
			return fmt.Errorf("%w: truncated TLV (%d bytes left)", ErrProxyHeader, len(b))
		}
		n := 3 + int(binary.BigEndian.Uint16(b[1:3]))
		if n > len(b) {
			return fmt.Errorf("%w: TLV type 0x%02x of %d bytes overruns the header (%d left)", ErrProxyHeader, b[0], n-3, len(b)-3)
		}
		b = b[n:]
	}
	return nil
}

// proxyKind is what the first bytes of a connection tell of a header.
type proxyKind int

const (
	proxyUndecided proxyKind = iota // too few bytes to tell
	proxyNone                       // not a PROXY header
	proxyV2                         // the v2 signature
	proxyV1                         // the v1 prefix
)

// sniffProxy tells from the first bytes of a connection whether it begins
// with a PROXY header, deciding as soon as a byte differs from both
// signatures.
func sniffProxy(b []byte) proxyKind {
	for _, s := range []struct {
		sig  []byte
		kind proxyKind
	}{{proxySignature, proxyV2}, {proxyV1Prefix, proxyV1}} {
		n := min(len(b), len(s.sig))
		if !bytes.Equal(b[:n], s.sig[:n]) {
			continue
		}
		if n == len(s.sig) {
			return s.kind
		}
		return proxyUndecided
	}
	return proxyNone
}

// AppendProxyHeader appends a v2 header with command PROXY over TCP from
// src to dst (both IPv4, or both IPv6; an IPv4-mapped IPv6 address counts
// as IPv4) to b: what a node that relays a client's connection to another
// gateway sends first, so that the other's caps and logs see the client.
// It fails when the families differ or an address is invalid.
func AppendProxyHeader(b []byte, src, dst netip.AddrPort) ([]byte, error) {
	s, d := src.Addr().Unmap(), dst.Addr().Unmap()
	if !s.IsValid() || !d.IsValid() || s.Is4() != d.Is4() {
		return b, fmt.Errorf("%w: source %v and destination %v are not both IPv4 or both IPv6", ErrProxyHeader, src, dst)
	}
	b = append(b, proxySignature...)
	b = append(b, 0x21) // version 2, PROXY
	if s.Is4() {
		b = append(b, 0x11) // INET, STREAM
		b = binary.BigEndian.AppendUint16(b, proxyAddrLen4)
		s4, d4 := s.As4(), d.As4()
		b = append(b, s4[:]...)
		b = append(b, d4[:]...)
	} else {
		b = append(b, 0x21) // INET6, STREAM
		b = binary.BigEndian.AppendUint16(b, proxyAddrLen6)
		s16, d16 := s.As16(), d.As16()
		b = append(b, s16[:]...)
		b = append(b, d16[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port()), nil
}
