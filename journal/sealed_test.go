package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"sgw/atrest"
)

// Test master keys; never use them anywhere else.
var testKeys = map[string]string{
	"k1": "00112233445566778899aabbccddeeff",
	"k2": "0f0e0d0c0b0a09080706050403020100",
}

// keyRing returns a ring of the named test keys; the last is current.
func keyRing(t testing.TB, ids ...string) *atrest.KeyRing {
	t.Helper()
	keys := map[string][]byte{}
	for _, id := range ids {
		k, err := hex.DecodeString(testKeys[id])
		if err != nil || len(k) != atrest.KeySize {
			t.Fatalf("no test key %q", id)
		}
		keys[id] = k
	}
	r, err := atrest.NewKeyRing(keys, ids[len(ids)-1])
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// writeSealed opens path with keys, appends testBody records until the
// journal holds n, and closes it.
func writeSealed(t testing.TB, path string, keys *atrest.KeyRing, n int) {
	t.Helper()
	j := mustOpen(t, Config{Path: path, NoSync: true, Keys: keys})
	for j.LastSeq() < uint64(n) {
		want := j.LastSeq() + 1
		if seq, err := j.Append(byte(want%7), testBody(want)); err != nil || seq != want {
			t.Fatalf("Append = %d, %v; want %d, nil", seq, err, want)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}

// sealedFrameSize is the size on disk of testBody(seq)'s sealed frame.
func sealedFrameSize(seq uint64) int { return sealedFrameSizeOf(testBody(seq)) }

// sealedFrameSizeOf is the size on disk of body's sealed frame.
func sealedFrameSizeOf(body []byte) int { return frameHeaderSize + minSealedPayload + len(body) }

// recrc recomputes the checksum of the frame at off, as a careful
// attacker would after changing its payload.
func recrc(data []byte, off int) {
	n := int(binary.BigEndian.Uint32(data[off:]))
	binary.BigEndian.PutUint32(data[off+4:], crc32.Checksum(data[off+8:off+8+n], castagnoli))
}

// readSealed reads path with keys.
func readSealed(t testing.TB, path string, keys *atrest.KeyRing) ([]Record, error) {
	t.Helper()
	return collect(t, func(fn func(Record) error) error { return ReadFileKeys(path, keys, fn) })
}

func TestSealedRoundTrip(t *testing.T) {
	path := tempPath(t)
	keys := keyRing(t, "k1")
	j := mustOpen(t, Config{Path: path, Keys: keys})
	for i := uint64(1); i <= 10; i++ {
		if seq, err := j.Append(byte(i%7), testBody(i)); err != nil || seq != i {
			t.Fatalf("Append = %d, %v", seq, err)
		}
	}
	recs, err := collect(t, j.Replay)
	if err != nil {
		t.Fatal(err)
	}
	checkTestRecords(t, recs, 10)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	data := readAll(t, path)
	if v := binary.BigEndian.Uint16(data[8:]); v != formatSealed {
		t.Fatalf("header version %d, want %d", v, formatSealed)
	}
	if id, err := atrest.HeaderKeyID(data[headerSize:]); err != nil || id != "k1" {
		t.Fatalf("header names key %q, %v; want k1", id, err)
	}
	want := sealedHeaderSize
	for i := uint64(1); i <= 10; i++ {
		want += sealedFrameSize(i)
	}
	if len(data) != want {
		t.Fatalf("file is %d bytes, want %d", len(data), want)
	}
	for _, leak := range []string{"order.new", "clOrdId", `"c1"`} {
		if bytes.Contains(data, []byte(leak)) {
			t.Fatalf("sealed file holds plaintext %q", leak)
		}
	}
	recs, err = readSealed(t, path, keys)
	if err != nil {
		t.Fatal(err)
	}
	checkTestRecords(t, recs, 10)
	// The plain reader refuses it, naming the key.
	if _, err := collect(t, func(fn func(Record) error) error { return ReadFile(path, fn) }); !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), `"k1"`) {
		t.Fatalf("ReadFile of a sealed file: err = %v, want ErrKey naming k1", err)
	}
}

// TestSealedReopen restarts a sealed journal: the records replay, the
// sequence continues, and each open seals under a fresh nonce epoch.
func TestSealedReopen(t *testing.T) {
	path := tempPath(t)
	keys := keyRing(t, "k1")
	writeSealed(t, path, keys, 3)
	j := mustOpen(t, Config{Path: path, Keys: keys})
	if got := j.Recovered(); got != (Recovered{Records: 3}) {
		t.Fatalf("Recovered = %+v, want 3 records", got)
	}
	recs, err := collect(t, j.Replay)
	if err != nil {
		t.Fatal(err)
	}
	checkTestRecords(t, recs, 3)
	if seq, err := j.Append(4%7, testBody(4)); err != nil || seq != 4 {
		t.Fatalf("Append = %d, %v; want 4", seq, err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err = readSealed(t, path, keys)
	if err != nil {
		t.Fatal(err)
	}
	checkTestRecords(t, recs, 4)
	data := readAll(t, path)
	epoch := func(seq uint64) uint32 {
		off := sealedHeaderSize
		for s := uint64(1); s < seq; s++ {
			off += sealedFrameSize(s)
		}
		return binary.BigEndian.Uint32(data[off+frameHeaderSize+17:])
	}
	if epoch(1) != epoch(3) || epoch(3) == epoch(4) {
		t.Fatalf("epochs %d %d %d: want one per open, new after the reopen", epoch(1), epoch(3), epoch(4))
	}
}

// TestSealedRotation: file A sealed under k1, then k2 becomes current and
// file B is sealed under it; a ring with both reads both; once k1 is
// removed, A is refused with ErrKey naming k1 and B still opens.
func TestSealedRotation(t *testing.T) {
	dir := t.TempDir()
	a, b := dir+"/a.jrnl", dir+"/b.jrnl"
	writeSealed(t, a, keyRing(t, "k1"), 3)
	both := keyRing(t, "k1", "k2") // k2 current
	writeSealed(t, b, both, 2)
	if id, _ := atrest.HeaderKeyID(readAll(t, b)[headerSize:]); id != "k2" {
		t.Fatalf("new file sealed under %q, want k2", id)
	}
	// A stays under k1 while it is appended to.
	writeSealed(t, a, both, 5)
	if id, _ := atrest.HeaderKeyID(readAll(t, a)[headerSize:]); id != "k1" {
		t.Fatalf("old file now names %q, want k1", id)
	}
	for _, tc := range []struct {
		path string
		n    int
	}{{a, 5}, {b, 2}} {
		j := mustOpen(t, Config{Path: tc.path, Keys: both, NoSync: true})
		recs, err := collect(t, j.Replay)
		if err != nil {
			t.Fatal(err)
		}
		checkTestRecords(t, recs, tc.n)
		j.Close()
	}
	onlyK2 := keyRing(t, "k2")
	_, err := Open(Config{Path: a, Keys: onlyK2, NoSync: true})
	var ke *atrest.KeyError
	if !errors.Is(err, ErrKey) || !errors.As(err, &ke) || ke.ID != "k1" || !strings.Contains(err.Error(), a) {
		t.Fatalf("open A without k1: err = %v, want ErrKey naming k1 and the file", err)
	}
	j := mustOpen(t, Config{Path: b, Keys: onlyK2, NoSync: true})
	j.Close()
}

func TestSealedKeyErrors(t *testing.T) {
	path := tempPath(t)
	writeSealed(t, path, keyRing(t, "k1"), 2)
	orig := readAll(t, path)
	k2bytes, _ := hex.DecodeString(testKeys["k2"])
	wrong, err := atrest.NewKeyRing(map[string][]byte{"k1": k2bytes}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		keys *atrest.KeyRing
	}{
		{name: "no key ring", keys: nil},
		{name: "key missing", keys: keyRing(t, "k2")},
		{name: "wrong key under the id", keys: wrong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(Config{Path: path, Keys: tc.keys, NoSync: true})
			if !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), `"k1"`) {
				t.Fatalf("Open err = %v, want ErrKey naming k1", err)
			}
			if !bytes.Equal(readAll(t, path), orig) {
				t.Fatal("Open changed a file it refused")
			}
		})
	}
}

// TestSealedRefusesPlain: a plain journal is not opened with encryption
// configured, and a plain journal keeps working without it.
func TestSealedRefusesPlain(t *testing.T) {
	path := tempPath(t)
	writeRecords(t, path, 3)
	orig := readAll(t, path)
	_, err := Open(Config{Path: path, Keys: keyRing(t, "k1"), NoSync: true})
	if !errors.Is(err, ErrPlain) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open err = %v, want ErrPlain naming the file", err)
	}
	if !bytes.Equal(readAll(t, path), orig) {
		t.Fatal("Open changed a file it refused")
	}
	writeRecords(t, path, 5)
	recs, err := readSealed(t, path, keyRing(t, "k1")) // a reader with keys reads plain files
	if err != nil {
		t.Fatal(err)
	}
	checkTestRecords(t, recs, 5)
}

// TestSealedTamperedRecord changes each byte of record 2's payload (type,
// sequence, time, epoch, ciphertext, tag) and fixes the checksum, as a
// careful attacker would: Open must refuse the file with a *TamperedError
// naming the file and sequence number 2, and leave it alone. The same
// change in the last record is not taken for a torn tail.
func TestSealedTamperedRecord(t *testing.T) {
	const n = 4
	keys := keyRing(t, "k1")
	path := tempPath(t)
	writeSealed(t, path, keys, n)
	full := readAll(t, path)
	dir := t.TempDir()
	for _, target := range []uint64{2, n} {
		start := sealedHeaderSize
		for s := uint64(1); s < target; s++ {
			start += sealedFrameSize(s)
		}
		for i := start + frameHeaderSize; i < start+sealedFrameSize(target); i++ {
			data := bytes.Clone(full)
			data[i] ^= 0x10
			recrc(data, start)
			p := dir + "/tampered.jrnl"
			writeAll(t, p, data)
			_, err := Open(Config{Path: p, Keys: keys, NoSync: true})
			var te *TamperedError
			if !errors.As(err, &te) || !errors.Is(err, ErrTampered) || te.Path != p || te.Seq != target || te.Offset != int64(start) {
				t.Fatalf("record %d byte %d changed: err = %v, want a *TamperedError for seq %d at %d", target, i-start, err, target, start)
			}
			if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), fmt.Sprintf("record %d ", target)) {
				t.Fatalf("message %q does not name the file and record", err)
			}
			if !bytes.Equal(readAll(t, p), data) {
				t.Fatalf("record %d byte %d changed: Open changed the file", target, i-start)
			}
			recs, err := readSealed(t, p, keys)
			if !errors.As(err, &te) || te.Seq != target {
				t.Fatalf("ReadFileKeys err = %v, want a *TamperedError for seq %d", err, target)
			}
			checkTestRecords(t, recs, int(target-1))
		}
	}
	t.Run("record moved", func(t *testing.T) {
		// Record 2's frame written over record 3's place (same size).
		s2 := sealedHeaderSize + sealedFrameSize(1)
		s3 := s2 + sealedFrameSize(2)
		data := bytes.Clone(full)
		copy(data[s3:], full[s2:s3])
		p := dir + "/moved.jrnl"
		writeAll(t, p, data)
		_, err := Open(Config{Path: p, Keys: keys, NoSync: true})
		var te *TamperedError
		if !errors.As(err, &te) || te.Seq != 3 {
			t.Fatalf("err = %v, want a *TamperedError at seq 3", err)
		}
	})
	t.Run("careless edit", func(t *testing.T) {
		// A change that breaks the checksum, with valid records after it,
		// is damage the journal refuses (ErrCorrupt), as in a plain file.
		s2 := sealedHeaderSize + sealedFrameSize(1)
		data := bytes.Clone(full)
		data[s2+40] ^= 1
		p := dir + "/careless.jrnl"
		writeAll(t, p, data)
		_, err := Open(Config{Path: p, Keys: keys, NoSync: true})
		if off := corruptOffset(t, err); off != int64(s2) {
			t.Fatalf("CorruptError offset %d, want %d", off, s2)
		}
	})
	t.Run("frame from another file", func(t *testing.T) {
		// Record 2 of another journal under the same key: its file key
		// differs, so it does not authenticate here.
		other := dir + "/other.jrnl"
		writeSealed(t, other, keys, n)
		o := readAll(t, other)
		s2 := sealedHeaderSize + sealedFrameSize(1)
		data := bytes.Clone(full)
		copy(data[s2:], o[s2:s2+sealedFrameSize(2)])
		p := dir + "/spliced.jrnl"
		writeAll(t, p, data)
		_, err := Open(Config{Path: p, Keys: keys, NoSync: true})
		var te *TamperedError
		if !errors.As(err, &te) || te.Seq != 2 {
			t.Fatalf("err = %v, want a *TamperedError at seq 2", err)
		}
	})
}

// TestSealedTamperedHeader changes each byte of a sealed file's header:
// Open refuses every one (bad magic, unknown version, a key it lacks or
// that does not check, or a header that fails authentication) and leaves
// the file alone.
func TestSealedTamperedHeader(t *testing.T) {
	keys := keyRing(t, "k1", "k2")
	path := tempPath(t)
	writeSealed(t, path, keys, 2)
	full := readAll(t, path)
	p := t.TempDir() + "/h.jrnl"
	for i := range sealedHeaderSize {
		data := bytes.Clone(full)
		data[i] ^= 0x01
		writeAll(t, p, data)
		_, err := Open(Config{Path: p, Keys: keys, NoSync: true})
		var want error
		switch {
		case i < 8:
			want = ErrBadHeader
		case i < 10:
			want = ErrVersion // 2 becomes 3 or 0x0102
		default:
			want = ErrTampered
		}
		if !errors.Is(err, want) && !(want == ErrTampered && errors.Is(err, ErrKey)) {
			t.Fatalf("header byte %d changed: err = %v, want %v", i, err, want)
		}
		if !bytes.Equal(readAll(t, p), data) {
			t.Fatalf("header byte %d changed: Open changed the file", i)
		}
	}
	// The creation time is covered by the tag.
	data := bytes.Clone(full)
	data[15] ^= 0x80
	writeAll(t, p, data)
	if _, err := Open(Config{Path: p, Keys: keys, NoSync: true}); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "header") {
		t.Fatalf("creation time changed: err = %v, want ErrTampered naming the header", err)
	}
}

// TestSealedTornTail cuts a sealed file at every byte offset inside its
// last record, with and without garbage after the cut: Open recovers the
// earlier records and truncates the rest, as for a plain file.
func TestSealedTornTail(t *testing.T) {
	const n = 4
	keys := keyRing(t, "k1")
	path := tempPath(t)
	writeSealed(t, path, keys, n)
	full := readAll(t, path)
	lastStart := len(full) - sealedFrameSize(n)
	garbage := []struct {
		name  string
		bytes []byte
	}{
		{name: "none"},
		{name: "zeros", bytes: make([]byte, 4096)},
		{name: "random", bytes: randomBytes(rand.New(rand.NewPCG(3, 4)), 300)},
		{name: "frame header", bytes: full[lastStart : lastStart+frameHeaderSize]},
	}
	p := t.TempDir() + "/cut.jrnl"
	for cut := lastStart; cut <= len(full); cut++ {
		for _, g := range garbage {
			data := append(bytes.Clone(full[:cut]), g.bytes...)
			wantRecords, wantEnd := n-1, lastStart
			// The garbage may restore the cut bytes by chance (the tag's
			// last byte is random: 0x00 one time in 256, and then the
			// zeros complete the record): the last record is then whole.
			if len(data) >= len(full) && bytes.Equal(data[:len(full)], full) {
				wantRecords, wantEnd = n, len(full)
			}
			writeAll(t, p, data)
			recs, err := readSealed(t, p, keys)
			if wantEnd != len(data) && !errors.Is(err, ErrTornTail) || wantEnd == len(data) && err != nil {
				t.Fatalf("cut %d, garbage %s: ReadFileKeys err = %v", cut, g.name, err)
			}
			checkTestRecords(t, recs, wantRecords)
			j, err := Open(Config{Path: p, Keys: keys, NoSync: true})
			if err != nil {
				t.Fatalf("cut %d, garbage %s: Open: %v", cut, g.name, err)
			}
			if got, want := j.Recovered(), (Recovered{Records: int64(wantRecords), TruncatedBytes: int64(len(data) - wantEnd)}); got != want {
				t.Fatalf("cut %d, garbage %s: Recovered = %+v, want %+v", cut, g.name, got, want)
			}
			next := uint64(wantRecords + 1)
			if seq, err := j.Append(byte(next%7), testBody(next)); err != nil || seq != next {
				t.Fatalf("cut %d, garbage %s: Append = %d, %v", cut, g.name, seq, err)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			recs, err = readSealed(t, p, keys)
			if err != nil {
				t.Fatalf("cut %d, garbage %s: after recovery: %v", cut, g.name, err)
			}
			checkTestRecords(t, recs, int(next))
		}
	}
}

// TestSealedReplayDetectsLaterTamper: a record changed on disk while the
// journal is open is caught by Replay.
func TestSealedReplayDetectsLaterTamper(t *testing.T) {
	keys := keyRing(t, "k1")
	path := tempPath(t)
	j := mustOpen(t, Config{Path: path, Keys: keys, NoSync: true})
	defer j.Close()
	for i := uint64(1); i <= 3; i++ {
		if _, err := j.Append(byte(i%7), testBody(i)); err != nil {
			t.Fatal(err)
		}
	}
	data := readAll(t, path)
	s2 := sealedHeaderSize + sealedFrameSize(1)
	data[s2+frameHeaderSize+sealedPayloadHeaderSize] ^= 1
	recrc(data, s2)
	if _, err := j.f.WriteAt(data[s2:s2+sealedFrameSize(2)], int64(s2)); err != nil {
		t.Fatal(err)
	}
	_, err := collect(t, j.Replay)
	var te *TamperedError
	if !errors.As(err, &te) || te.Seq != 2 || te.Path != path {
		t.Fatalf("Replay err = %v, want a *TamperedError for seq 2", err)
	}
}

// TestSealedGolden pins the sealed formats: files sealed under test key
// k1, checked in, must still read as goldenRecords. Format 2
// (golden-sealed.jrnl) is what earlier versions wrote.
func TestSealedGolden(t *testing.T) {
	keys := keyRing(t, "k1")
	for _, tc := range []struct {
		path    string
		version uint16
	}{
		{path: "testdata/golden-sealed.jrnl", version: formatSealedV2},
		{path: "testdata/golden-sealed-v4.jrnl", version: formatSealed},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if *update && tc.version == formatSealed {
				b, err := appendSealedHeader(nil, tc.version, goldenCreated, keys)
				if err != nil {
					t.Fatal(err)
				}
				lay, err := readHeader(bytes.NewReader(b), int64(len(b)), keys, tc.path)
				if err != nil {
					t.Fatal(err)
				}
				start := len(b)
				for i, r := range goldenRecords {
					b = appendOpenFrame(b, lay, goldenBatchIndex[i], r.Type, r.Seq, r.Time, 0x5EA1ED, r.Body)
				}
				sealFrames(b[start:], lay, new(atrest.Nonce))
				writeAll(t, tc.path, b)
			}
			data := readAll(t, tc.path)
			if v := binary.BigEndian.Uint16(data[8:]); v != tc.version {
				t.Fatalf("format version %d, want %d", v, tc.version)
			}
			recs, err := readSealed(t, tc.path, keys)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, recs)
			if created := int64(binary.BigEndian.Uint64(data[8:]) & (1<<48 - 1)); created != goldenCreated.UnixMilli() {
				t.Errorf("created %d, want %d", created, goldenCreated.UnixMilli())
			}
		})
	}
}

// TestSealedConcurrentFsync appends from many goroutines with fsync on, so
// that records are sealed both by the presealer (during an fsync) and by
// the writer: every record must replay, in order, with its own body.
func TestSealedConcurrentFsync(t *testing.T) {
	keys := keyRing(t, "k1")
	path := tempPath(t)
	j := mustOpen(t, Config{Path: path, Keys: keys})
	const writers, each = 8, 150
	bodies := make(chan [2]uint64, writers*each)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				body := fmt.Appendf(nil, "w%d-%d", w, i)
				seq, err := j.Append(byte(w), body)
				if err != nil {
					t.Error(err)
					return
				}
				bodies <- [2]uint64{seq, uint64(w*each + i)}
			}
		}()
	}
	wg.Wait()
	close(bodies)
	want := map[uint64]string{}
	for b := range bodies {
		want[b[0]] = fmt.Sprintf("w%d-%d", b[1]/each, b[1]%each)
	}
	check := func(recs []Record, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != writers*each {
			t.Fatalf("%d records, want %d", len(recs), writers*each)
		}
		for i, r := range recs {
			if r.Seq != uint64(i+1) || string(r.Body) != want[r.Seq] {
				t.Fatalf("record %d = seq %d %q, want %q", i, r.Seq, r.Body, want[r.Seq])
			}
		}
	}
	check(collect(t, j.Replay))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	check(readSealed(t, path, keys))
}
