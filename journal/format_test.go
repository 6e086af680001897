package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"hash/crc32"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files of the current format in testdata")

// goldenRecords are the records of the golden files.
var goldenRecords = []Record{
	{Seq: 1, Type: 1, Time: 1767225600_000000000, Body: []byte(`{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","price":17000000,"qty":100}`)},
	{Seq: 2, Type: 2, Time: 1767225600_000150000, Body: []byte(`{"clOrdId":"c1","status":"new","orderId":"X1"}`)},
	{Seq: 3, Type: 3, Time: 1767225600_002000000, Body: nil},
	{Seq: 4, Type: 255, Time: -1, Body: []byte{0, 1, 2, 0xFF}},
}

// goldenBatchIndex is the batch index of each golden record in formats 3
// and 4: records 1 and 2 are one batch, 3 and 4 another.
var goldenBatchIndex = []uint32{0, 1, 0, 1}

var goldenCreated = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// goldenBytes encodes the golden records in plain format version v.
func goldenBytes(v uint16) []byte {
	b := appendHeaderVersion(nil, v, goldenCreated)
	for i, r := range goldenRecords {
		b = appendFrame(b, plainLayout(v), goldenBatchIndex[i], r.Type, r.Seq, r.Time, r.Body)
	}
	return b
}

// TestGolden pins the plain file formats: the encoder must reproduce the
// checked-in files byte for byte and ReadFile must decode them. Format 1
// (golden.jrnl) is what earlier versions wrote; it must keep reading.
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		path    string
		version uint16
	}{
		{path: "testdata/golden.jrnl", version: formatV1},
		{path: "testdata/golden-v3.jrnl", version: formatVersion},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if *update && tc.version == formatVersion {
				writeAll(t, tc.path, goldenBytes(tc.version))
			}
			data := readAll(t, tc.path)
			if got := goldenBytes(tc.version); !bytes.Equal(got, data) {
				t.Fatalf("encoder output differs from %s:\n got %x\nwant %x", tc.path, got, data)
			}
			recs, err := collect(t, func(fn func(Record) error) error { return ReadFile(tc.path, fn) })
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, recs)
		})
	}
}

// checkGolden fails unless recs are goldenRecords.
func checkGolden(t *testing.T, recs []Record) {
	t.Helper()
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

// TestFrameLayout spells out one frame byte by byte, in format 3 and in
// format 1.
func TestFrameLayout(t *testing.T) {
	for _, tc := range []struct {
		version uint16
		index   string // the batch index field
	}{
		{version: formatVersion, index: "00000002"},
		{version: formatV1},
	} {
		got := appendFrame(nil, plainLayout(tc.version), 2, 0x07, 0x0102030405060708, 0x1112131415161718, []byte("hi"))
		payload := "07" + "0102030405060708" + "1112131415161718" + tc.index + "6869"
		p, _ := hex.DecodeString(payload)
		var hdr [8]byte
		binary.BigEndian.PutUint32(hdr[:], uint32(len(p)))
		binary.BigEndian.PutUint32(hdr[4:], crc32.Checksum(p, crc32.MakeTable(crc32.Castagnoli)))
		if want := hex.EncodeToString(hdr[:]) + payload; hex.EncodeToString(got) != want {
			t.Errorf("format %d: frame = %x, want %s", tc.version, got, want)
		}
	}
	// The CRC-32C check value: the table is Castagnoli, not IEEE.
	if c := crc32.Checksum([]byte("123456789"), castagnoli); c != 0xE3069283 {
		t.Errorf("CRC-32C check value %#x, want 0xe3069283", c)
	}
}

func TestHeaderLayout(t *testing.T) {
	h := appendHeader(nil, time.UnixMilli(0x0A0B0C0D0E0F))
	if want := "5347574a524e4c31" + "0003" + "0a0b0c0d0e0f"; hex.EncodeToString(h) != want {
		t.Errorf("header = %x, want %s", h, want)
	}
	if err := checkHeader(h); err != nil {
		t.Errorf("checkHeader: %v", err)
	}
}
