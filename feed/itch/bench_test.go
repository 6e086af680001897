package itch_test

import (
	"testing"

	"sgw/feed/itch"
)

func BenchmarkDecode(b *testing.B) {
	for _, s := range samples(b) {
		wire, err := itch.Append(nil, &s.m)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(itch.TypeName(s.m.Type), func(b *testing.B) {
			var m itch.Message
			b.ReportAllocs()
			b.SetBytes(int64(len(wire)))
			for b.Loop() {
				if err := itch.Decode(wire, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppend(b *testing.B) {
	for _, s := range samples(b) {
		b.Run(itch.TypeName(s.m.Type), func(b *testing.B) {
			buf := make([]byte, 0, 64)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = itch.Append(buf[:0], &s.m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
