package soupbin_test

import (
	"bytes"
	"errors"
	"testing"

	"sgw/feed/soupbin"
)

// seedPackets returns real packets built by the Append functions.
func seedPackets(tb testing.TB) [][]byte {
	tb.Helper()
	login := mustLoginRequest(tb, soupbin.LoginRequest{Username: "gw01", Password: "secret", Session: "S1", Sequence: 1})
	return [][]byte{
		login,
		soupbin.AppendLoginAccepted(nil, "S1", 1),
		soupbin.AppendLoginRejected(nil, soupbin.RejectSessionUnavailable),
		soupbin.AppendSequenced(nil, addOrder(tb)),
		soupbin.AppendServerHeartbeat(nil),
		soupbin.AppendClientHeartbeat(nil),
		soupbin.AppendDebug(nil, "debug text"),
		soupbin.AppendEndOfSession(nil),
		// A whole conversation in one buffer, then a torn packet.
		bytes.Join([][]byte{soupbin.AppendLoginAccepted(nil, "S1", 9), soupbin.AppendSequenced(nil, addOrder(tb)),
			soupbin.AppendServerHeartbeat(nil)}, nil),
		soupbin.AppendSequenced(nil, addOrder(tb))[:20],
		{0, 0},
		{0xff, 0xff, 'S'},
	}
}

// FuzzParse frames arbitrary bytes as a stream and checks that each packet
// found re-encodes to exactly its bytes and that the login payloads it
// carries survive a parse-append-parse round trip.
func FuzzParse(f *testing.F) {
	for _, s := range seedPackets(f) {
		f.Add(s, 0)
		f.Add(s, 16)
	}
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		for b := data; ; {
			p, n, err := soupbin.Parse(b, max)
			if err != nil {
				if n != 0 || !(errors.Is(err, soupbin.ErrEmptyPacket) || errors.Is(err, soupbin.ErrTooLarge)) {
					t.Fatalf("n = %d with unexpected error %v", n, err)
				}
				return
			}
			if n == 0 {
				return
			}
			if n > len(b) || n != 3+len(p.Payload) {
				t.Fatalf("n = %d for a %d-byte payload in %d bytes", n, len(p.Payload), len(b))
			}
			if re := soupbin.AppendPacket(nil, p.Type, p.Payload); !bytes.Equal(re, b[:n]) {
				t.Fatalf("re-encoded % x, want % x", re, b[:n])
			}
			checkLoginPayload(t, p)
			b = b[n:]
		}
	})
}

// checkLoginPayload round-trips the login packets Parse may yield.
func checkLoginPayload(t *testing.T, p soupbin.Packet) {
	t.Helper()
	switch p.Type {
	case soupbin.TypeLoginRequest:
		r, err := soupbin.ParseLoginRequest(p.Payload)
		if err != nil {
			return
		}
		wire, err := soupbin.AppendLoginRequest(nil, r)
		if err != nil {
			t.Fatalf("AppendLoginRequest(%+v) of a parsed request: %v", r, err)
		}
		p2, _, _ := soupbin.Parse(wire, 0)
		if r2, err := soupbin.ParseLoginRequest(p2.Payload); err != nil || r2 != r {
			t.Fatalf("round trip: %+v, %v; want %+v", r2, err, r)
		}
	case soupbin.TypeLoginAccepted:
		session, seq, err := soupbin.ParseLoginAccepted(p.Payload)
		if err != nil {
			return
		}
		p2, _, _ := soupbin.Parse(soupbin.AppendLoginAccepted(nil, session, seq), 0)
		if s2, q2, err := soupbin.ParseLoginAccepted(p2.Payload); err != nil || s2 != session || q2 != seq {
			t.Fatalf("round trip: (%q, %d, %v), want (%q, %d)", s2, q2, err, session, seq)
		}
	}
}

func FuzzParseLoginRequest(f *testing.F) {
	for _, s := range seedPackets(f) {
		if p, n, err := soupbin.Parse(s, 0); err == nil && n > 0 {
			f.Add(p.Payload)
		}
	}
	f.Add([]byte("trader" + "pass      " + "ABC       " + "                 12a"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		if _, err := soupbin.ParseLoginRequest(payload); err != nil {
			if !errors.Is(err, soupbin.ErrLength) && !errors.Is(err, soupbin.ErrBadField) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		checkLoginPayload(t, soupbin.Packet{Type: soupbin.TypeLoginRequest, Payload: payload})
	})
}

func FuzzParseLoginAccepted(f *testing.F) {
	for _, s := range seedPackets(f) {
		if p, n, err := soupbin.Parse(s, 0); err == nil && n > 0 {
			f.Add(p.Payload)
		}
	}
	f.Add([]byte("S         " + "18446744073709551616"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		_, _, err := soupbin.ParseLoginAccepted(payload)
		if err != nil {
			if !errors.Is(err, soupbin.ErrLength) && !errors.Is(err, soupbin.ErrBadField) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		checkLoginPayload(t, soupbin.Packet{Type: soupbin.TypeLoginAccepted, Payload: payload})
	})
}
