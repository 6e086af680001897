package soupbin_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"sgw/feed/soupbin"
)

// addOrderHex is an ITCH 5.0 Add Order message assembled by hand: locate 1,
// tracking 2, 09:30:00.000000000, order 42, buy 100 of "600000" at 10.5000.
const addOrderHex = "41" + "0001" + "0002" + "1f1aced9f000" + "000000000000002a" +
	"42" + "00000064" + "3630303030302020" + "00019a28"

func addOrder(tb testing.TB) []byte {
	tb.Helper()
	b, err := hex.DecodeString(addOrderHex)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustLoginRequest(tb testing.TB, r soupbin.LoginRequest) []byte {
	tb.Helper()
	b, err := soupbin.AppendLoginRequest(nil, r)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestParseEveryType(t *testing.T) {
	itch := addOrder(t)
	tests := []struct {
		name    string
		wire    []byte
		typ     byte
		payload []byte
		typName string
	}{
		{name: "debug", wire: soupbin.AppendDebug(nil, "hello"), typ: '+', payload: []byte("hello"), typName: "debug"},
		{name: "login accepted", wire: soupbin.AppendLoginAccepted(nil, "SESS01", 7), typ: 'A',
			payload: []byte("SESS01    " + "                   7"), typName: "login-accepted"},
		{name: "login rejected", wire: soupbin.AppendLoginRejected(nil, soupbin.RejectNotAuthorized), typ: 'J',
			payload: []byte("A"), typName: "login-rejected"},
		{name: "sequenced", wire: soupbin.AppendSequenced(nil, itch), typ: 'S', payload: itch, typName: "sequenced-data"},
		{name: "unsequenced", wire: soupbin.AppendUnsequenced(nil, []byte{1, 2}), typ: 'U', payload: []byte{1, 2},
			typName: "unsequenced-data"},
		{name: "server heartbeat", wire: soupbin.AppendServerHeartbeat(nil), typ: 'H', typName: "server-heartbeat"},
		{name: "end of session", wire: soupbin.AppendEndOfSession(nil), typ: 'Z', typName: "end-of-session"},
		{name: "login request", wire: mustLoginRequest(t, soupbin.LoginRequest{Username: "u1", Password: "pw",
			Session: "", Sequence: 1}), typ: 'L',
			payload: []byte("u1    " + "pw        " + "          " + strings.Repeat(" ", 19) + "1"), typName: "login-request"},
		{name: "client heartbeat", wire: soupbin.AppendClientHeartbeat(nil), typ: 'R', typName: "client-heartbeat"},
		{name: "logout request", wire: soupbin.AppendLogoutRequest(nil), typ: 'O', typName: "logout-request"},
		{name: "unknown type passes through", wire: soupbin.AppendPacket(nil, 'x', []byte("?")), typ: 'x',
			payload: []byte("?"), typName: "unknown(0x78)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := len(tt.payload) + 1
			if got := []byte{byte(size >> 8), byte(size)}; !bytes.Equal(tt.wire[:2], got) {
				t.Fatalf("length field % x, want % x", tt.wire[:2], got)
			}
			// Trailing bytes of the next packet must be left alone.
			in := append(bytes.Clone(tt.wire), 0x00, 0x05, 'S')
			p, n, err := soupbin.Parse(in, 0)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if n != len(tt.wire) {
				t.Errorf("n = %d, want %d", n, len(tt.wire))
			}
			if p.Type != tt.typ {
				t.Errorf("type %q, want %q", p.Type, tt.typ)
			}
			if !bytes.Equal(p.Payload, tt.payload) {
				t.Errorf("payload %q, want %q", p.Payload, tt.payload)
			}
			if cap(p.Payload) != len(p.Payload) {
				t.Errorf("payload cap %d exceeds its length %d", cap(p.Payload), len(p.Payload))
			}
			if got := soupbin.TypeName(p.Type); got != tt.typName {
				t.Errorf("TypeName = %q, want %q", got, tt.typName)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		max     int
		want    error
		wantMsg string
	}{
		{name: "empty packet", in: []byte{0, 0, 'H'}, want: soupbin.ErrEmptyPacket, wantMsg: "soupbin: empty packet"},
		{name: "empty packet alone", in: []byte{0, 0}, want: soupbin.ErrEmptyPacket},
		{name: "over explicit limit", in: []byte{0x01, 0x00, 'S'}, max: 255, want: soupbin.ErrTooLarge,
			wantMsg: "soupbin: packet too large: length 256, limit 255"},
		{name: "over limit before payload arrives", in: []byte{0xff, 0xff}, max: 1024, want: soupbin.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, n, err := soupbin.Parse(tt.in, tt.max)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("message %q, want %q", err.Error(), tt.wantMsg)
			}
			if n != 0 || p.Type != 0 || p.Payload != nil {
				t.Errorf("got (%v, %d) with the error", p, n)
			}
		})
	}
}

func TestParseLimit(t *testing.T) {
	tests := []struct {
		name    string
		payload int
		max     int
		wantErr bool
	}{
		{name: "at limit", payload: 9, max: 10},
		{name: "one over limit", payload: 10, max: 10, wantErr: true},
		{name: "zero max means MaxPacket", payload: soupbin.MaxPacket - 1, max: 0},
		{name: "negative max means MaxPacket", payload: soupbin.MaxPacket - 1, max: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire := soupbin.AppendSequenced(nil, make([]byte, tt.payload))
			_, n, err := soupbin.Parse(wire, tt.max)
			if tt.wantErr {
				if !errors.Is(err, soupbin.ErrTooLarge) {
					t.Fatalf("err = %v, want ErrTooLarge", err)
				}
				return
			}
			if err != nil || n != len(wire) {
				t.Fatalf("n = %d, err = %v; want %d, nil", n, err, len(wire))
			}
		})
	}
}

// TestParseSplit feeds packets one byte at a time, as a TCP stream may
// deliver them, and checks every partial buffer returns n == 0.
func TestParseSplit(t *testing.T) {
	tests := []struct {
		name string
		wire []byte
	}{
		{name: "heartbeat", wire: soupbin.AppendServerHeartbeat(nil)},
		{name: "sequenced add order", wire: soupbin.AppendSequenced(nil, addOrder(t))},
		{name: "login accepted", wire: soupbin.AppendLoginAccepted(nil, "S", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range len(tt.wire) {
				p, n, err := soupbin.Parse(tt.wire[:i], 0)
				if err != nil || n != 0 || p.Type != 0 || p.Payload != nil {
					t.Fatalf("prefix of %d bytes: got (%v, %d, %v), want zero", i, p, n, err)
				}
			}
			if _, n, err := soupbin.Parse(tt.wire, 0); err != nil || n != len(tt.wire) {
				t.Fatalf("whole packet: n = %d, err = %v", n, err)
			}
		})
	}
}

// TestParseStream parses a run of back-to-back packets the way a session
// loop does.
func TestParseStream(t *testing.T) {
	var stream []byte
	stream = soupbin.AppendLoginAccepted(stream, "S", 1)
	stream = soupbin.AppendSequenced(stream, addOrder(t))
	stream = soupbin.AppendServerHeartbeat(stream)
	stream = soupbin.AppendEndOfSession(stream)
	var got []string
	for len(stream) > 0 {
		p, n, err := soupbin.Parse(stream, 0)
		if err != nil || n == 0 {
			t.Fatalf("n = %d, err = %v with %d bytes left", n, err, len(stream))
		}
		got = append(got, soupbin.TypeName(p.Type))
		stream = stream[n:]
	}
	want := "login-accepted sequenced-data server-heartbeat end-of-session"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("got %q, want %q", s, want)
	}
}

func TestAppendPanicsOnOversizedPayload(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a payload longer than MaxPacket-1")
		}
	}()
	soupbin.AppendSequenced(nil, make([]byte, soupbin.MaxPacket))
}

func TestAppendKeepsPrefix(t *testing.T) {
	b := soupbin.AppendSequenced([]byte("prefix"), []byte("x"))
	if want := "prefix\x00\x02Sx"; string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
}
