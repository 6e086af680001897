package tlcp_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"sgw/tlcp"
)

// record frames body as a record of type typ and version vers.
func record(typ byte, vers uint16, body []byte) []byte {
	b := []byte{typ, byte(vers >> 8), byte(vers), byte(len(body) >> 8), byte(len(body))}
	return append(b, body...)
}

// clientHello is a ClientHello message written from the spec (GB/T
// 38636-2020 6.4.5.2.1), independently of the package's encoder.
func clientHello(vers uint16, suites []uint16, compression []byte) []byte {
	var body []byte
	body = binary.BigEndian.AppendUint16(body, vers)
	body = append(body, bytes.Repeat([]byte{0x42}, 32)...)
	body = append(body, 0) // empty session ID
	body = binary.BigEndian.AppendUint16(body, uint16(2*len(suites)))
	for _, s := range suites {
		body = binary.BigEndian.AppendUint16(body, s)
	}
	body = append(body, byte(len(compression)))
	body = append(body, compression...)
	msg := []byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	return append(msg, body...)
}

// reframe makes body a ClientHello message with a header of its length.
func reframe(body []byte) []byte {
	return append([]byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
}

// TestMalformedRefused sends malformed and downgraded first flights and
// checks the alert the server answers with, in clear, and that the
// server's handshake fails.
func TestMalformedRefused(t *testing.T) {
	f := newFixture(t)
	good := []uint16{tlcp.ECC_SM4_GCM_SM3}
	for _, tc := range []struct {
		name  string
		send  []byte
		alert tlcp.Alert
	}{
		{name: "TLS 1.2 record", send: record(22, 0x0301, clientHello(0x0303, []uint16{0xc02f}, []byte{0})), alert: tlcp.AlertProtocolVersion},
		{name: "TLS version in a TLCP record", send: record(22, 0x0101, clientHello(0x0303, good, []byte{0})), alert: tlcp.AlertProtocolVersion},
		{name: "older version", send: record(22, 0x0101, clientHello(0x0100, good, []byte{0})), alert: tlcp.AlertProtocolVersion},
		{name: "SSL 3.0 record", send: record(22, 0x0300, clientHello(0x0101, good, []byte{0})), alert: tlcp.AlertProtocolVersion},
		{name: "no common suite", send: record(22, 0x0101, clientHello(0x0101, []uint16{0xe001, 0x002f}, []byte{0})), alert: tlcp.AlertHandshakeFailure},
		{name: "no null compression", send: record(22, 0x0101, clientHello(0x0101, good, []byte{1})), alert: tlcp.AlertHandshakeFailure},
		{name: "truncated ClientHello", send: record(22, 0x0101, reframe(clientHello(0x0101, good, []byte{0})[4:40])), alert: tlcp.AlertDecodeError},
		{name: "trailing bytes", send: record(22, 0x0101, reframe(append(clientHello(0x0101, good, []byte{0})[4:], 1))), alert: tlcp.AlertDecodeError},
		{name: "Finished first", send: record(22, 0x0101, append([]byte{20, 0, 0, 12}, make([]byte, 12)...)), alert: tlcp.AlertUnexpectedMessage},
		{name: "application data first", send: record(23, 0x0101, []byte("GET / HTTP/1.1\r\n")), alert: tlcp.AlertUnexpectedMessage},
		{name: "ChangeCipherSpec first", send: record(20, 0x0101, []byte{1}), alert: tlcp.AlertUnexpectedMessage},
		{name: "unknown record type", send: record(99, 0x0101, []byte{1}), alert: tlcp.AlertUnexpectedMessage},
		{name: "oversized record", send: record(22, 0x0101, make([]byte, 16385)), alert: tlcp.AlertRecordOverflow},
		{name: "oversized handshake message", send: record(22, 0x0101, []byte{1, 0x10, 0, 0}), alert: tlcp.AlertIllegalParameter},
		{name: "plain HTTP", send: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), alert: tlcp.AlertUnexpectedMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, results := serveEcho(t, f.serverConfig(false))
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 7)
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatalf("no alert: %v", err)
			}
			want := []byte{21, 1, 1, 0, 2, 2, byte(tc.alert)}
			if !bytes.Equal(got, want) {
				t.Fatalf("got % x, want alert %s (% x)", got, tc.alert, want)
			}
			if err := <-results; err == nil {
				t.Fatal("server handshake succeeded")
			}
		})
	}
}

// TestSilentClientTimesOut: a client that stops mid-record does not hold
// the server's handshake beyond HandshakeTimeout.
func TestSilentClientTimesOut(t *testing.T) {
	f := newFixture(t)
	cfg := f.serverConfig(false)
	cfg.HandshakeTimeout = 50 * time.Millisecond
	addr, results := serveEcho(t, cfg)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{22, 1, 1}); err != nil {
		t.Fatal(err)
	}
	if err := <-results; !errors.Is(err, tlcp.ErrHandshakeTimeout) {
		t.Fatalf("server: %v", err)
	}
}
