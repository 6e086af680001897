package szse_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"sgw/feed/szse"
)

// frame assembles a frame of type t with body and a correct checksum,
// summing the bytes here rather than with szse.Checksum.
func frame(t szse.MsgType, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(t))
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	b = append(b, body...)
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	return binary.BigEndian.AppendUint32(b, uint32(sum%256))
}

// snapshotBody returns the fixed part of a snapshot body, NoMDEntries
// included, followed by rest.
func snapshotBody(noMDEntries uint32, rest ...byte) []byte {
	b := make([]byte, 65)
	b = binary.BigEndian.AppendUint32(b, noMDEntries)
	return append(b, rest...)
}

// entry returns a snapshot entry's fixed part with the given NoOrders.
func entry(noOrders uint32) []byte {
	b := make([]byte, 28)
	copy(b, "0 ")
	return binary.BigEndian.AppendUint32(b, noOrders)
}

func TestDecodeErrors(t *testing.T) {
	order := readFrame(t, "order.hex")
	badSum := bytes.Clone(order)
	badSum[len(badSum)-1]++
	flipped := bytes.Clone(order)
	flipped[20] ^= 0x01
	sumHigh := bytes.Clone(order) // the checksum field's high bytes must be zero
	sumHigh[len(sumHigh)-4] = 1
	short := bytes.Clone(order)
	binary.BigEndian.PutUint32(short[4:], 50)
	long := frame(szse.TypeOrder, make([]byte, 52))
	huge := binary.BigEndian.AppendUint32(nil, 309011)
	huge = binary.BigEndian.AppendUint32(huge, szse.MaxBodyLength+1)
	heartbeatBody := frame(szse.TypeHeartbeat, []byte{0})

	tests := []struct {
		name    string
		in      []byte
		want    error
		wantN   int
		wantMsg string
	}{
		{name: "empty", in: nil, want: szse.ErrTruncated, wantMsg: "szse: truncated frame"},
		{name: "partial header", in: order[:7], want: szse.ErrTruncated},
		{name: "header only", in: order[:8], want: szse.ErrTruncated},
		{name: "no checksum", in: order[:len(order)-4], want: szse.ErrTruncated},
		{name: "partial checksum", in: order[:len(order)-1], want: szse.ErrTruncated},
		{name: "bad checksum", in: badSum, want: szse.ErrChecksum,
			wantMsg: "szse: order (300192): checksum 41, computed 40"},
		{name: "flipped body bit", in: flipped, want: szse.ErrChecksum},
		{name: "checksum over 255", in: sumHigh, want: szse.ErrChecksum,
			wantMsg: "szse: order (300192): checksum 16777256, computed 40"},
		{name: "order body too short", in: short, want: szse.ErrBodyLength,
			wantMsg: "szse: order (300192): body length 50, want 51"},
		{name: "order body too long", in: long, want: szse.ErrBodyLength,
			wantMsg: "szse: order (300192): body length 52, want 51"},
		{name: "order header lies before its body", in: short[:8], want: szse.ErrBodyLength},
		{name: "heartbeat with a body", in: heartbeatBody, want: szse.ErrBodyLength,
			wantMsg: "szse: heartbeat (3): body length 1, want 0"},
		{name: "over the limit", in: huge, want: szse.ErrBodyLength,
			wantMsg: "szse: message type 309011: body length 1048577, limit 1048576"},
		{name: "snapshot shorter than its fixed part", in: frame(szse.TypeSnapshot, make([]byte, 68)),
			want: szse.ErrBodyLength, wantMsg: "szse: snapshot (300111): body length 68, want at least 69"},
		{name: "snapshot entries missing", in: frame(szse.TypeSnapshot, snapshotBody(2, entry(0)...)),
			want: szse.ErrBodyLength, wantN: 8 + 69 + 32 + 4,
			wantMsg: "szse: snapshot (300111): body length 101, groups need 133"},
		{name: "snapshot entry cut", in: frame(szse.TypeSnapshot, snapshotBody(1, entry(0)[:31]...)),
			want: szse.ErrBodyLength, wantN: 8 + 69 + 31 + 4,
			wantMsg: "szse: snapshot (300111): body length 100, groups need 101"},
		{name: "snapshot orders missing", in: frame(szse.TypeSnapshot, snapshotBody(1, append(entry(2), make([]byte, 8)...)...)),
			want: szse.ErrBodyLength, wantN: 8 + 69 + 40 + 4,
			wantMsg: "szse: snapshot (300111): body length 109, groups need 117"},
		{name: "snapshot NoOrders huge", in: frame(szse.TypeSnapshot, snapshotBody(1, entry(0xffffffff)...)),
			want: szse.ErrBodyLength, wantN: 8 + 69 + 32 + 4,
			wantMsg: "szse: snapshot (300111): body length 101, groups need 34359738461"},
		{name: "snapshot NoMDEntries huge", in: frame(szse.TypeSnapshot, snapshotBody(0xffffffff, entry(0)...)),
			want: szse.ErrBodyLength, wantN: 8 + 69 + 32 + 4},
		{name: "snapshot bytes left over", in: frame(szse.TypeSnapshot, snapshotBody(1, append(entry(0), 0)...)),
			want: szse.ErrBodyLength, wantN: 8 + 69 + 33 + 4,
			wantMsg: "szse: snapshot (300111): body length 102, groups end at 101"},
		{name: "snapshot with no entries but bytes", in: frame(szse.TypeSnapshot, snapshotBody(0, 1, 2)),
			want: szse.ErrBodyLength, wantN: 8 + 71 + 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := junk()
			before := fmt.Sprintf("%+v", m)
			n, err := szse.Decode(tt.in, &m)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if n != tt.wantN {
				t.Errorf("n = %d, want %d", n, tt.wantN)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("message %q, want %q", err.Error(), tt.wantMsg)
			}
			if after := fmt.Sprintf("%+v", m); after != before {
				t.Errorf("message changed on error:\n%s\nwas\n%s", after, before)
			}
		})
	}
}

// TestDecodeTruncatedEveryPrefix checks every proper prefix of every frame
// is ErrTruncated and never a misreading.
func TestDecodeTruncatedEveryPrefix(t *testing.T) {
	for _, name := range frameFiles(t) {
		t.Run(name, func(t *testing.T) {
			wire := readFrame(t, name)
			var m szse.Message
			for i := range len(wire) {
				if n, err := szse.Decode(wire[:i], &m); err != szse.ErrTruncated || n != 0 {
					t.Fatalf("Decode of %d of %d bytes: n = %d, err = %v; want 0, ErrTruncated", i, len(wire), n, err)
				}
			}
		})
	}
}

func TestTypedErrors(t *testing.T) {
	var m szse.Message
	_, err := szse.Decode(frame(szse.TypeTrade, make([]byte, 65)), &m)
	var le *szse.LengthError
	if !errors.As(err, &le) || le.Type != szse.TypeTrade || le.BodyLength != 65 || le.Want != 66 || le.Rule != "want" {
		t.Errorf("err = %#v, want a LengthError for trade, 65, want 66", err)
	}
	b := frame(szse.TypeChannelHeartbeat, make([]byte, 12))
	b[len(b)-1] = 7
	_, err = szse.Decode(b, &m)
	var ce *szse.ChecksumError
	if !errors.As(err, &ce) || ce.Type != szse.TypeChannelHeartbeat || ce.Got != 7 {
		t.Errorf("err = %#v, want a ChecksumError for channel heartbeat, got 7", err)
	}
	if ce != nil && (ce.Want != uint32(sum(b[:len(b)-4]))) {
		t.Errorf("ChecksumError.Want = %d, want %d", ce.Want, sum(b[:len(b)-4]))
	}
}

// sum returns the sum of b's bytes modulo 256, the spec's checksum
// computed the plain way.
func sum(b []byte) int {
	s := 0
	for _, c := range b {
		s += int(c)
	}
	return s % 256
}

func TestAppendErrors(t *testing.T) {
	t.Run("unknown type", func(t *testing.T) {
		b, err := szse.Append([]byte("keep"), &szse.Message{Type: 309011})
		if !errors.Is(err, szse.ErrUnknownType) || err.Error() != "szse: unknown message type 309011" {
			t.Errorf("err = %v, want ErrUnknownType naming 309011", err)
		}
		if string(b) != "keep" {
			t.Errorf("buffer changed to %q", b)
		}
	})
	t.Run("snapshot over the limit", func(t *testing.T) {
		// One entry with as many orders as reach one byte past the limit.
		orders := make([]szse.Qty2, (szse.MaxBodyLength-69-32)/8+1)
		m := szse.Message{Type: szse.TypeSnapshot, Snapshot: szse.Snapshot{Entries: []szse.MDEntry{{Orders: orders}}}}
		b, err := szse.Append([]byte("keep"), &m)
		var le *szse.LengthError
		if !errors.As(err, &le) || le.Rule != "limit" || le.BodyLength <= szse.MaxBodyLength {
			t.Errorf("err = %v, want a LengthError over the limit", err)
		}
		if string(b) != "keep" {
			t.Errorf("buffer changed to %q", b)
		}
		// One order fewer fits exactly and decodes.
		m.Snapshot.Entries[0].Orders = orders[:len(orders)-1]
		b, err = szse.Append(nil, &m)
		if err != nil {
			t.Fatal(err)
		}
		if want := 8 + 69 + 32 + 8*(len(orders)-1) + 4; len(b) != want || want > szse.MaxFrameLen {
			t.Errorf("frame of %d bytes, want %d", len(b), want)
		}
		var got szse.Message
		if n, err := szse.Decode(b, &got); err != nil || n != len(b) || len(got.Snapshot.Entries[0].Orders) != len(orders)-1 {
			t.Errorf("Decode: n = %d, err = %v", n, err)
		}
	})
}
