package cluster

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"sgw/journal"
)

// chunkedJournal is a journal that crosses chunk and arena boundaries:
// bodies empty, small, exactly ownArena, just over it, and of sizes that
// leave an arena's rest too short, some records grouped in one Raft entry.
type chunkedJournal struct {
	recs    []journal.Record // recs[i] has seq i+1
	indexes []uint64
	entries [][]byte // Raft entries, entries[k] at index firstIndex+k
	ends    []int    // the journal's length after entries[k]
}

const firstIndex = 5

func newChunkedJournal(n int, seed uint64) *chunkedJournal {
	rng := rand.New(rand.NewPCG(seed, 7))
	j := &chunkedJournal{}
	body := func(seq int) []byte {
		var size int
		switch k := rng.IntN(50); {
		case k == 0:
			size = 0
		case k == 1:
			size = ownArena
		case k == 2:
			size = ownArena + 1 + rng.IntN(arenaSize)
		case k < 8:
			size = 1 + rng.IntN(ownArena)
		default:
			size = 1 + rng.IntN(200)
		}
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(seq + i)
		}
		if size >= 8 {
			binary.BigEndian.PutUint64(b, uint64(seq))
		}
		return b
	}
	for len(j.recs) < n {
		idx := uint64(firstIndex + len(j.entries))
		k := 1
		if rng.IntN(10) == 0 {
			k = 1 + rng.IntN(5)
		}
		var recs [][]byte
		for range min(k, n-len(j.recs)) {
			seq := len(j.recs) + 1
			r := journal.Record{Seq: uint64(seq), Type: byte('A' + seq%26), Time: int64(seq) * 1000, Body: body(seq)}
			j.recs, j.indexes = append(j.recs, r), append(j.indexes, idx)
			recs = append(recs, appendJournalRecord(nil, r.Type, r.Time, r.Body))
		}
		if len(recs) == 1 {
			j.entries = append(j.entries, recs[0])
		} else {
			j.entries = append(j.entries, groupOf(recs...))
		}
		j.ends = append(j.ends, len(j.recs))
	}
	return j
}

// applyTo applies entries from to to of the journal to s.
func (j *chunkedJournal) applyTo(t *testing.T, s *State, from, to int) {
	t.Helper()
	for k := from; k < to; k++ {
		if err := s.Apply(uint64(firstIndex+k), j.entries[k]); err != nil {
			t.Fatalf("apply entry %d: %v", k, err)
		}
	}
}

// check compares what s holds with the journal's first n records.
func (j *chunkedJournal) check(t *testing.T, s *State, n int) {
	t.Helper()
	var got []journal.Record
	if err := s.Replay(func(r journal.Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if d := recordsDiff(got, j.recs[:n]); d != "" {
		t.Fatalf("Replay: %s", d)
	}
	s.mu.Lock()
	_, idx := s.records.all()
	s.mu.Unlock()
	for i := range n {
		if idx[i] != j.indexes[i] {
			t.Fatalf("record %d at index %d; want %d", i+1, idx[i], j.indexes[i])
		}
		pos := i
		for pos > 0 && j.indexes[pos-1] == j.indexes[i] {
			pos--
		}
		if seq, ok := s.journalSeq(j.indexes[i], i-pos); !ok || seq != uint64(i)+1 {
			t.Fatalf("journalSeq(%d, %d) = %d, %v; want %d", j.indexes[i], i-pos, seq, ok, i+1)
		}
	}
}

// TestStateJournalAcrossChunks applies a journal crossing chunk and
// arena boundaries, taking a snapshot and keeping the records Replay
// handed out at several points, then a Restore and more records: every
// record held reads back as applied, every snapshot encodes the State as
// it was, and no body handed out changes, not even when its caller
// appends to it.
func TestStateJournalAcrossChunks(t *testing.T) {
	n := 3*recChunkLen + 100
	j := newChunkedJournal(n, 1)
	type point struct {
		entries int              // applied when it was taken
		write   func() []byte    // writes the snapshot taken then
		kept    []journal.Record // what Replay handed out then
	}
	var points []*point
	stops := map[int]bool{0: true, 1: true, len(j.entries) / 2: true, len(j.entries): true}
	for k, end := range j.ends { // around each chunk boundary
		if end%recChunkLen <= 1 || end%recChunkLen == recChunkLen-1 {
			stops[k+1] = true
		}
	}
	s := NewState()
	for k := 0; k <= len(j.entries); k++ {
		if stops[k] {
			p := &point{entries: k}
			snap, err := s.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			p.write = func() []byte {
				var b bytes.Buffer
				if _, err := snap.WriteTo(&b); err != nil {
					t.Fatal(err)
				}
				return b.Bytes()
			}
			if err := s.Replay(func(r journal.Record) error { p.kept = append(p.kept, r); return nil }); err != nil {
				t.Fatal(err)
			}
			points = append(points, p)
		}
		if k < len(j.entries) {
			j.applyTo(t, s, k, k+1)
		}
	}
	j.check(t, s, n)

	// A caller appending to a body it was handed writes into a copy.
	for _, r := range points[len(points)-1].kept {
		_ = append(r.Body, 0xEE, 0xEE, 0xEE)
	}

	// Restore a mid-day snapshot, then apply other records after it.
	mid := points[len(points)/2]
	b := mid.write()
	if err := s.Restore(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	midLen := 0
	if mid.entries > 0 {
		midLen = j.ends[mid.entries-1]
	}
	j.check(t, s, midLen)
	other := newChunkedJournal(n, 2)
	for k, e := range other.entries[:len(other.entries)/2] {
		if err := s.Apply(uint64(firstIndex+mid.entries+k), e); err != nil {
			t.Fatal(err)
		}
	}
	var after []journal.Record
	if err := s.ReplayAfter(uint64(midLen), func(r journal.Record) error { after = append(after, r); return nil }); err != nil {
		t.Fatal(err)
	}
	for i := range after {
		w := other.recs[i]
		w.Seq += uint64(midLen)
		if d := recordsDiff(after[i:i+1], []journal.Record{w}); d != "" {
			t.Fatalf("after the Restore: %s", d)
		}
	}

	for _, p := range points {
		want := NewState()
		j.applyTo(t, want, 0, p.entries)
		wantB, err := encodeState(want)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.write(); !bytes.Equal(got, wantB) {
			t.Fatalf("the snapshot taken after %d entries changed with what was applied or restored after it", p.entries)
		}
		held := 0
		if p.entries > 0 {
			held = j.ends[p.entries-1]
		}
		if d := recordsDiff(p.kept, j.recs[:held]); d != "" {
			t.Fatalf("what Replay handed out after %d entries changed: %s", p.entries, d)
		}
	}
}

// TestJournalRecsSharedWindows restores records from one buffer in
// windows no larger than a limit (4 GiB in use, beyond what a test can
// allocate): each body reads back from its window.
func TestJournalRecsSharedWindows(t *testing.T) {
	buf := make([]byte, 1000)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	type rec struct{ off, n int }
	recs := []rec{{0, 10}, {10, 0}, {10, 90}, {100, 1}, {101, 99}, {200, 100}, {300, 100}, {400, 0}, {400, 600}}
	orig := bytes.Clone(buf)
	j := newJournalRecs()
	for i, r := range recs {
		j.addShared(uint64(i+1), 'X', int64(i), buf, r.off, r.n, 200)
	}
	j.add(99, 'Y', 99, []byte("copied"))
	for i, r := range recs {
		got := j.record(i)
		if !bytes.Equal(got.Body, buf[r.off:r.off+r.n]) || got.Seq != uint64(i+1) || j.meta(i).index != uint64(i+1) {
			t.Fatalf("record %d = %d %x; want %d %x", i, got.Seq, got.Body, i+1, buf[r.off:r.off+r.n])
		}
		if e := int(j.meta(i).off) + r.n; e > 200 && r.n <= 200 {
			t.Fatalf("record %d ends at %d in its window, beyond the limit", i, e)
		}
	}
	if got := j.record(len(recs)); string(got.Body) != "copied" {
		t.Fatalf("the record added after = %q", got.Body)
	}
	if !bytes.Equal(buf, orig) {
		t.Fatal("a body added after was copied into the shared buffer")
	}
	if j.n != len(recs)+1 {
		t.Fatalf("%d records; want %d", j.n, len(recs)+1)
	}
}

// TestStateJournalReadWhileApplied replays and snapshots the journal on
// other goroutines while records are applied across chunk and arena
// boundaries (run with -race): each reader sees a prefix of the journal,
// read without the State's lock.
func TestStateJournalReadWhileApplied(t *testing.T) {
	j := newChunkedJournal(2*recChunkLen+10, 3)
	s := NewState()
	done := make(chan struct{})
	errs := make(chan string, 2)
	read := func(snapshots bool) {
		for {
			select {
			case <-done:
				errs <- ""
				return
			default:
			}
			var got []journal.Record
			if err := s.Replay(func(r journal.Record) error { got = append(got, r); return nil }); err != nil {
				errs <- err.Error()
				return
			}
			if d := recordsDiff(got, j.recs[:len(got)]); d != "" {
				errs <- "Replay: " + d
				return
			}
			if snapshots {
				if err := writeSnapshot(s); err != nil {
					errs <- err.Error()
					return
				}
			}
		}
	}
	go read(false)
	go read(true)
	j.applyTo(t, s, 0, len(j.entries))
	close(done)
	for range 2 {
		if e := <-errs; e != "" {
			t.Fatal(e)
		}
	}
	j.check(t, s, len(j.recs))
}

// writeSnapshot takes a snapshot of s and writes it out whole (to
// memory), as Raft's snapshot goroutine does while s is applied.
func writeSnapshot(s *State) error {
	p, err := s.Snapshot()
	if err != nil {
		return err
	}
	var b bytes.Buffer
	_, err = p.WriteTo(&b)
	return err
}
