package soupbin_test

import (
	"testing"

	"sgw/feed/soupbin"
)

func BenchmarkParse(b *testing.B) {
	wire := soupbin.AppendSequenced(nil, addOrder(b))
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		p, n, err := soupbin.Parse(wire, 0)
		if err != nil || n != len(wire) || p.Type != soupbin.TypeSequenced {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	itch := addOrder(b)
	req := soupbin.LoginRequest{Username: "gw01", Password: "secret", Session: "S1", Sequence: 12345}
	benches := []struct {
		name string
		fn   func(buf []byte) []byte
	}{
		{name: "sequenced", fn: func(buf []byte) []byte { return soupbin.AppendSequenced(buf, itch) }},
		{name: "heartbeat", fn: soupbin.AppendServerHeartbeat},
		{name: "login-accepted", fn: func(buf []byte) []byte { return soupbin.AppendLoginAccepted(buf, "S1", 12345) }},
		{name: "login-request", fn: func(buf []byte) []byte {
			out, err := soupbin.AppendLoginRequest(buf, req)
			if err != nil {
				b.Fatal(err)
			}
			return out
		}},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			buf := make([]byte, 0, 128)
			b.ReportAllocs()
			for b.Loop() {
				buf = bb.fn(buf[:0])
			}
		})
	}
}
