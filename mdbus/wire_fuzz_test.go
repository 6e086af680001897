package mdbus

import (
	"bytes"
	"testing"

	"sgw/mdbus/internal/wireref"
)

// FuzzDecode feeds the decoder arbitrary bytes, seeded with real
// encodings of every message type and with the reference's frames at the
// limits of the format and at random: it must never panic, and whatever it
// accepts must encode back to the same bytes (the format has one encoding
// per message: no overlong varint, no field beyond the ones its message
// has).
func FuzzDecode(f *testing.F) {
	for _, u := range sampleUpdates() {
		f.Add(AppendUpdate(nil, 1700000000000000000, "600519.SH", &u))
	}
	v := sampleView()
	f.Add(AppendSnapshot(nil, 3, "000001.SZ", &v))
	f.Add(AppendError(nil, 3, "X", "unknown symbol"))
	f.Add(AppendBeat(AppendBeat(AppendHeartbeat(nil, 3, 2), "600519.SH", 7), "000001.SZ", 0))
	for _, fr := range wireref.EdgeCases() {
		f.Add(wireref.Encode(fr))
	}
	g := wireref.NewGenerator(1)
	for range 20 {
		f.Add(wireref.Encode(g.Frame()))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if Decode(b, &m) != nil {
			return
		}
		again := appendAny(&m)
		if !bytes.Equal(again, b) {
			t.Fatalf("%x decodes but encodes back to %x", b, again)
		}
	})
}

// appendAny encodes a decoded message again.
func appendAny(m *Message) []byte {
	switch m.Type {
	case TypeUpdate:
		return AppendUpdate(nil, m.Epoch, string(m.Symbol), &m.Update)
	case TypeSnapshot:
		return AppendSnapshot(nil, m.Epoch, string(m.Symbol), &m.View)
	case TypeHeartbeat:
		b := AppendHeartbeat(nil, m.Epoch, len(m.Beats))
		for _, e := range m.Beats {
			b = AppendBeat(b, string(e.Symbol), e.Seq)
		}
		return b
	}
	return AppendError(nil, m.Epoch, string(m.Symbol), string(m.Text))
}
