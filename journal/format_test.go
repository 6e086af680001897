package journal

import (
	"bytes"
	"encoding/hex"
	"flag"
	"hash/crc32"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.jrnl")

// goldenRecords are the records of testdata/golden.jrnl.
var goldenRecords = []Record{
	{Seq: 1, Type: 1, Time: 1767225600_000000000, Body: []byte(`{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","price":17000000,"qty":100}`)},
	{Seq: 2, Type: 2, Time: 1767225600_000150000, Body: []byte(`{"clOrdId":"c1","status":"new","orderId":"X1"}`)},
	{Seq: 3, Type: 3, Time: 1767225600_002000000, Body: nil},
	{Seq: 4, Type: 255, Time: -1, Body: []byte{0, 1, 2, 0xFF}},
}

var goldenCreated = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func goldenBytes() []byte {
	b := appendHeader(nil, goldenCreated)
	for _, r := range goldenRecords {
		b = appendFrame(b, r.Type, r.Seq, r.Time, r.Body)
	}
	return b
}

// TestGolden pins the file format: the encoder must reproduce the checked-in
// file byte for byte and ReadFile must decode it.
func TestGolden(t *testing.T) {
	const path = "testdata/golden.jrnl"
	if *update {
		writeAll(t, path, goldenBytes())
	}
	data := readAll(t, path)
	if got := goldenBytes(); !bytes.Equal(got, data) {
		t.Fatalf("encoder output differs from %s:\n got %x\nwant %x", path, got, data)
	}
	recs, err := collect(t, func(fn func(Record) error) error { return ReadFile(path, fn) })
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(goldenRecords) {
		t.Fatalf("read %d records, want %d", len(recs), len(goldenRecords))
	}
	for i, r := range recs {
		w := goldenRecords[i]
		if r.Seq != w.Seq || r.Type != w.Type || r.Time != w.Time || !bytes.Equal(r.Body, w.Body) {
			t.Errorf("record %d = %+v, want %+v", i, r, w)
		}
	}
}

// TestFrameLayout spells out one frame byte by byte.
func TestFrameLayout(t *testing.T) {
	got := appendFrame(nil, 0x07, 0x0102030405060708, 0x1112131415161718, []byte("hi"))
	payload := "07" + "0102030405060708" + "1112131415161718" + "6869"
	p, _ := hex.DecodeString(payload)
	var crc [4]byte
	c := crc32.Checksum(p, crc32.MakeTable(crc32.Castagnoli))
	crc[0], crc[1], crc[2], crc[3] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
	want := "00000013" + hex.EncodeToString(crc[:]) + payload
	if hex.EncodeToString(got) != want {
		t.Errorf("frame = %x, want %s", got, want)
	}
	// The CRC-32C check value: the table is Castagnoli, not IEEE.
	if c := crc32.Checksum([]byte("123456789"), castagnoli); c != 0xE3069283 {
		t.Errorf("CRC-32C check value %#x, want 0xe3069283", c)
	}
}

func TestHeaderLayout(t *testing.T) {
	h := appendHeader(nil, time.UnixMilli(0x0A0B0C0D0E0F))
	if want := "5347574a524e4c31" + "0001" + "0a0b0c0d0e0f"; hex.EncodeToString(h) != want {
		t.Errorf("header = %x, want %s", h, want)
	}
	if err := checkHeader(h); err != nil {
		t.Errorf("checkHeader: %v", err)
	}
}
