package cluster

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"
	"time"

	"sgw/journal"
)

// stateRecords is a sequence of records touching every kind and op.
func stateRecords() [][]byte {
	return [][]byte{
		appendJournalRecord(nil, 'O', 1_700_000_000_000_000_000, []byte(`{"id":"o1"}`)),
		sessionRecord(opCreated, "FIX.4.4:GW->CORE", 1_700_000_000_000_000_001, nil),
		reserveRecord("FIX.4.4:GW->CORE", 4097, false, "n1/3"),
		sessionRecord(opSent, "FIX.4.4:GW->CORE", 1, []byte("8=FIX.4.4\x0135=D\x0134=1\x0111=o1\x01")),
		appendJournalRecord(nil, 'A', 1_700_000_000_000_000_002, nil),
		sessionRecord(opMessage, "FIX.4.4:GW->CORE", 2, []byte("8=FIX.4.4\x0135=0\x0134=2\x01")),
		sessionRecord(opSender, "FIX.4.4:GW->CORE", 3, nil),
		sessionRecord(opTarget, "FIX.4.4:GW->CORE", 7, nil),
		sessionRecord(opReset, "FIX.4.2:GW->MARGIN", 5, nil),
		reserveRecord("FIX.4.2:GW->MARGIN", 9, true, ""),
		appendJournalRecord(nil, 'F', 1_700_000_000_000_000_003, []byte("fill")),
		batchOf(
			sessionRecord(opSent, "FIX.4.4:GW->BATCH", 1, []byte("8=FIX.4.4\x0135=D\x0134=1\x01")),
			sessionRecord(opTarget, "FIX.4.4:GW->BATCH", 4, nil),
			sessionRecord(opReset, "FIX.4.4:GW->BATCH", 6, nil),
			sessionRecord(opSent, "FIX.4.4:GW->BATCH", 1, []byte("8=FIX.4.4\x0135=A\x0134=1\x01")),
			reserveRecord("FIX.4.4:GW->BATCH", 4097, false, "n2/1"),
			sessionRecord(opTarget, "FIX.4.4:GW->BATCH", 2, nil),
		),
	}
}

// batchOf encodes a batch of session records.
func batchOf(recs ...[]byte) []byte {
	b := newBatch(0)
	for _, r := range recs {
		b = appendBatchRecord(b, r)
	}
	return b
}

func applyAll(t testing.TB, s *State, recs [][]byte) {
	t.Helper()
	for i, r := range recs {
		if err := s.Apply(uint64(10+2*i), r); err != nil {
			t.Fatalf("apply record %d: %v", i, err)
		}
	}
}

func TestStateApply(t *testing.T) {
	s := NewState()
	applyAll(t, s, stateRecords())
	var recs []journal.Record
	if err := s.Replay(func(r journal.Record) error { recs = append(recs, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].Seq != 1 || recs[2].Seq != 3 || recs[1].Type != 'A' || string(recs[2].Body) != "fill" {
		t.Fatalf("journal records = %+v", recs)
	}
	if err := s.ReplayAfter(4, func(journal.Record) error { return nil }); err == nil {
		t.Error("ReplayAfter beyond the journal's end: no error")
	}
	for after, want := range map[uint64][]uint64{0: {1, 2, 3}, 1: {2, 3}, 3: nil} {
		var seqs []uint64
		if err := s.ReplayAfter(after, func(r journal.Record) error { seqs = append(seqs, r.Seq); return nil }); err != nil || !slices.Equal(seqs, want) {
			t.Errorf("ReplayAfter(%d) read %v (%v), want %v", after, seqs, err, want)
		}
	}
	if seq, ok := s.journalSeq(10+2*4, 0); !ok || seq != 2 {
		t.Errorf("journalSeq of the 'A' record = %d, %v; want 2", seq, ok)
	}
	if _, ok := s.journalSeq(12, 0); ok {
		t.Error("journalSeq found a session record")
	}
	core := s.session("FIX.4.4:GW->CORE")
	if core.nextSender != 3 || core.nextTarget != 7 || core.messages.len() != 2 || core.reserved != 4097 || core.clean || core.owner != "n1/3" {
		t.Errorf("core session = %+v", core)
	}
	margin := s.session("FIX.4.2:GW->MARGIN")
	if margin.nextSender != 1 || margin.created != 5 || !margin.clean || margin.reserved != 9 {
		t.Errorf("margin session = %+v", margin)
	}
	batch := s.session("FIX.4.4:GW->BATCH")
	if batch.nextSender != 2 || batch.nextTarget != 2 || batch.created != 6 || batch.messages.len() != 1 ||
		!bytes.Contains(batch.messages.get(1), []byte("35=A")) || batch.reserved != 4097 || batch.owner != "n2/1" {
		t.Errorf("batched session = %+v", batch)
	}
	if none := s.session("nobody"); none.hasReservation || none.nextSender != 1 {
		t.Errorf("unknown session = %+v", none)
	}
}

// TestStateSnapshotIsPointInTime takes a snapshot, applies records that
// append to, change, insert into and reset what it shares, or restores
// another snapshot and applies records after it, then encodes it: the
// encoding is the one of a State that applied only the records before
// the snapshot.
func TestStateSnapshotIsPointInTime(t *testing.T) {
	const core = "FIX.4.4:GW->CORE"
	msg := func(seq int) []byte { return fmt.Appendf(nil, "8=FIX.4.4\x0135=D\x0134=%d\x01", seq) }
	var before [][]byte
	for seq := 1; seq <= 40; seq += 3 { // with gaps, so a later message can be inserted
		before = append(before, appendJournalRecord(nil, 'O', int64(seq), []byte("order")), sessionRecord(opSent, core, uint64(seq), msg(seq)))
	}
	before = append(before, reserveRecord(core, 4097, false, "n1/3"))
	tests := []struct {
		name    string
		restore [][]byte // when set, the records of a State whose snapshot is restored first
		after   [][]byte
	}{
		{name: "appended", after: [][]byte{appendJournalRecord(nil, 'A', 99, []byte("ack")), sessionRecord(opSent, core, 41, msg(41))}},
		{name: "replaced", after: [][]byte{sessionRecord(opMessage, core, 4, []byte("changed"))}},
		{name: "inserted", after: [][]byte{sessionRecord(opMessage, core, 2, msg(2)), sessionRecord(opMessage, core, 41, msg(41))}},
		{name: "inserted first", after: [][]byte{sessionRecord(opReset, core, 7, nil), sessionRecord(opMessage, core, 5, msg(5)), sessionRecord(opMessage, core, 3, msg(3))}},
		{name: "reset", after: [][]byte{sessionRecord(opReset, core, 7, nil), sessionRecord(opSent, core, 1, []byte("new day"))}},
		{name: "scalars", after: [][]byte{sessionRecord(opSender, core, 9000, nil), sessionRecord(opTarget, core, 77, nil), reserveRecord(core, 9000, true, "n2/4")}},
		{name: "new session", after: [][]byte{sessionRecord(opSent, "FIX.4.2:GW->MARGIN", 1, msg(1))}},
		{name: "restored", restore: [][]byte{appendJournalRecord(nil, 'R', 1, []byte("restored")), sessionRecord(opSent, core, 1, msg(1))},
			after: [][]byte{appendJournalRecord(nil, 'A', 99, []byte("after the restore")), sessionRecord(opSent, core, 2, msg(2))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := NewState()
			applyAll(t, want, before)
			wantB, err := encodeState(want)
			if err != nil {
				t.Fatal(err)
			}
			s := NewState()
			applyAll(t, s, before)
			p, err := s.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			if tt.restore != nil {
				other := NewState()
				applyAll(t, other, tt.restore)
				b, err := encodeState(other)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Restore(bytes.NewReader(b)); err != nil {
					t.Fatal(err)
				}
			}
			for i, r := range tt.after {
				if err := s.Apply(uint64(1000+i), r); err != nil {
					t.Fatal(err)
				}
			}
			var got bytes.Buffer
			if _, err := p.WriteTo(&got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), wantB) {
				t.Fatal("the snapshot changed with the records applied after it")
			}
			if now, _ := encodeState(s); bytes.Equal(now, wantB) {
				t.Fatal("the records applied after the snapshot changed nothing: the test proves nothing")
			}
		})
	}
}

func TestStateRejectsBadRecords(t *testing.T) {
	tests := []struct {
		name string
		rec  []byte
	}{
		{name: "empty", rec: nil},
		{name: "short journal", rec: []byte{kindJournal, 'O', 0}},
		{name: "no session id", rec: sessionRecord(opSender, "", 1, nil)},
		{name: "zero next", rec: sessionRecord(opSender, "s", 0, nil)},
		{name: "next too large", rec: sessionRecord(opTarget, "s", maxSeqNum+1, nil)},
		{name: "trailing bytes", rec: sessionRecord(opSender, "s", 1, []byte("x"))},
		{name: "zero MsgSeqNum", rec: sessionRecord(opSent, "s", 0, []byte("m"))},
		{name: "reservation without mark", rec: sessionRecord(opReserve, "s", 1, nil)},
		{name: "reservation mark 2", rec: sessionRecord(opReserve, "s", 1, []byte{2})},
		{name: "zero reservation", rec: reserveRecord("s", 0, false, "o")},
		{name: "reservation owner too long", rec: reserveRecord("s", 1, false, strings.Repeat("o", maxOwner+1))},
		{name: "empty batch", rec: batchOf()},
		{name: "short batch", rec: []byte{kindBatch, 0}},
		{name: "journal record in a batch", rec: batchOf(appendJournalRecord(nil, 'O', 1, nil))},
		{name: "batch in a batch", rec: batchOf(batchOf(sessionRecord(opSender, "s", 1, nil)))},
		{name: "bad record in a batch", rec: batchOf(sessionRecord(opSender, "s", 2, nil), sessionRecord(opSender, "s", 0, nil))},
		{name: "batch count above its records", rec: func() []byte {
			b := batchOf(sessionRecord(opSender, "s", 2, nil), sessionRecord(opTarget, "s", 2, nil))
			b[2]++
			return b
		}()},
		{name: "batch record longer than the batch", rec: func() []byte {
			b := batchOf(sessionRecord(opSender, "s", 2, nil))
			b[batchHeader+3]++
			return b
		}()},
		{name: "bytes after a batch", rec: append(batchOf(sessionRecord(opSender, "s", 2, nil)), 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewState()
			if err := s.Apply(1, tt.rec); !errors.Is(err, ErrBadRecord) {
				t.Fatalf("Apply = %v, want ErrBadRecord", err)
			}
			if s.JournalLen() != 0 || len(s.sessions) != 0 {
				t.Error("a rejected record changed the state")
			}
			if s.Err() != nil {
				t.Errorf("a malformed record stopped the replica: %v", s.Err())
			}
		})
	}
}

// TestStateStopsOnUnknownRecord: a record of a kind or op this version
// does not know (a newer leader's, which the newer members applied) stops
// the replica for good, with OnStop called once: skipping it would leave
// this replica's journal short and number the records after it lower
// than the others do. A stopped replica cannot begin a term.
func TestStateStopsOnUnknownRecord(t *testing.T) {
	tests := []struct {
		name string
		rec  []byte
	}{
		{name: "unknown kind", rec: []byte{'X', 1, 2}},
		{name: "unknown session op", rec: sessionRecord('?', "s", 1, nil)},
		{name: "unknown session op in a batch", rec: batchOf(sessionRecord(opSender, "s", 2, nil), sessionRecord('?', "s", 1, nil))},
		// A newer op's body need not start with the u64 every op of this
		// version has: it is still unknown, not malformed.
		{name: "unknown session op without a body", rec: appendSessionHeader(nil, '?', "s")},
		{name: "unknown session op with a short body", rec: append(appendSessionHeader(nil, '?', "s"), 1, 2, 3)},
		{name: "unknown session op without a body in a batch", rec: batchOf(sessionRecord(opSender, "s", 2, nil), appendSessionHeader(nil, '?', "s"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewState()
			var stops []error
			s.OnStop(func(err error) {
				if !s.mu.TryLock() {
					t.Error("OnStop called with the State's lock held")
				} else {
					s.mu.Unlock()
				}
				stops = append(stops, err)
			})
			journalRec := appendJournalRecord(nil, 'O', 1, []byte("o1"))
			if err := s.Apply(1, journalRec); err != nil {
				t.Fatal(err)
			}
			err := s.Apply(2, tt.rec)
			if !errors.Is(err, ErrUnknownRecord) || errors.Is(err, ErrBadRecord) {
				t.Fatalf("Apply = %v, want ErrUnknownRecord", err)
			}
			if !errors.Is(s.Err(), ErrUnknownRecord) {
				t.Fatalf("Err = %v, want the replica stopped", s.Err())
			}
			if err := s.Apply(3, journalRec); !errors.Is(err, ErrUnknownRecord) {
				t.Fatalf("a record after it = %v, want the replica stopped", err)
			}
			if s.JournalLen() != 1 || s.AppliedIndex() != 1 || len(s.sessions) != 0 {
				t.Errorf("stopped replica changed: %d records, applied %d, %d sessions", s.JournalLen(), s.AppliedIndex(), len(s.sessions))
			}
			if len(stops) != 1 || !errors.Is(stops[0], ErrUnknownRecord) {
				t.Errorf("OnStop calls %v, want one with ErrUnknownRecord", stops)
			}
			if err := s.BeginTerm(nil); !errors.Is(err, ErrUnknownRecord) {
				t.Errorf("BeginTerm on a stopped replica = %v, want it refused", err)
			}
			if _, err := s.Snapshot(); err == nil {
				t.Error("a stopped replica took a snapshot")
			}
		})
	}
}

func TestStateSnapshotRoundTrip(t *testing.T) {
	s := NewState()
	applyAll(t, s, stateRecords())
	b, err := encodeState(s)
	if err != nil {
		t.Fatal(err)
	}
	r := NewState()
	if err := r.Restore(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	b2, err := encodeState(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Fatal("snapshot of the restored state differs")
	}
	// Both go on identically.
	more := appendJournalRecord(nil, 'O', 9, []byte("next"))
	for _, st := range []*State{s, r} {
		if err := st.Apply(100, more); err != nil {
			t.Fatal(err)
		}
	}
	if seq, ok := r.journalSeq(100, 0); !ok || seq != 4 {
		t.Errorf("restored state gave the next record seq %d, want 4", seq)
	}
	// reseal gives a mangled encoding a valid checksum again, so that what
	// is behind the checksum is checked.
	reseal := func(b []byte) []byte {
		body := b[:len(b)-4]
		return binary.BigEndian.AppendUint32(body, crc32.Checksum(body, castagnoli))
	}
	const counts = len(snapshotMagic) + 2 + 8 // the record count, in version 1
	tests := []struct {
		name   string
		mangle func([]byte) []byte
		want   string // in the error, when set
	}{
		{name: "empty", mangle: func([]byte) []byte { return nil }},
		{name: "bad magic", mangle: func(b []byte) []byte { b[0] = 'X'; return b }},
		{name: "future version", mangle: func(b []byte) []byte { b[9] = 2; return b }},
		{name: "flipped bit", mangle: func(b []byte) []byte { b[40] ^= 1; return b }},
		{name: "truncated", mangle: func(b []byte) []byte { return b[:len(b)-5] }},
		{name: "forged record count", mangle: func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[counts:], 1<<40)
			return reseal(b)
		}, want: fmt.Sprintf("journal records: count 1099511627776 exceeds what %d bytes hold at byte %d", len(b)-4-counts-8, counts+8)},
		{name: "trailing bytes", mangle: func(b []byte) []byte {
			return reseal(append(b[:len(b)-4:len(b)-4], 1, 2, 3, 0, 0, 0, 0))
		}, want: "3 trailing bytes"},
		{name: "cut inside a record", mangle: func(b []byte) []byte {
			binary.BigEndian.PutUint64(b[counts:], 1)          // one record
			binary.BigEndian.PutUint32(b[counts+8+17:], 1<<20) // of a megabyte
			return reseal(b)
		}, want: "record body: 1048576 bytes wanted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := tt.mangle(bytes.Clone(b))
			st := NewState()
			applyAll(t, st, stateRecords()[:1])
			err := st.Restore(bytes.NewReader(bad))
			if !errors.Is(err, ErrBadSnapshot) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Restore = %v, want ErrBadSnapshot and %q", err, tt.want)
			}
			if st.JournalLen() != 1 {
				t.Error("a failed Restore changed the state")
			}
		})
	}
}

func BenchmarkStateApplyJournal(b *testing.B) {
	s := NewState()
	rec := appendJournalRecord(nil, 'O', 1, bytes.Repeat([]byte("x"), 200))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.Apply(uint64(i+1), rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStateApplyDay applies a day of journal records (40-byte
// bodies, one per Raft entry) to a new State, timing each Apply: Raft's
// FSM goroutine applies them one at a time, so the slowest Apply is a
// stall of every order's acknowledgement behind it. It reports the
// slowest, the 99.99th and 50th percentiles, then what the State holding
// them costs the garbage collector: the scannable heap (gc-scan-MB) and
// the GC CPU time of a forced collection (gc-cpu-ms), which both grow
// with what the GC must mark.
func BenchmarkStateApplyDay(b *testing.B) {
	for _, n := range []int{1_000_000, 4_000_000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			recs := make([][]byte, 256) // varied times, the same body size
			for i := range recs {
				recs[i] = appendJournalRecord(nil, 'O', int64(i), bytes.Repeat([]byte{byte(i)}, 40))
			}
			d := applyDay{took: make([]time.Duration, n)}
			for b.Loop() {
				s := NewState()
				runtime.GC()
				for i := range n {
					t0 := time.Now()
					err := s.Apply(uint64(i+1), recs[i%len(recs)])
					d.took[i] = time.Since(t0)
					if err != nil {
						b.Fatal(err)
					}
				}
				d.day()
				if s.JournalLen() != n {
					b.Fatalf("%d records, want %d", s.JournalLen(), n)
				}
			}
			d.report(b)
		})
	}
}

// BenchmarkStateApplySessionDay is BenchmarkStateApplyDay for a
// session's stored FIX messages: a day of messages sent (300 bytes, one
// opSent record per Raft entry) in one session, each Apply timed, then
// what holding them costs the garbage collector.
//
//	go test -run '^$' -bench BenchmarkStateApplySessionDay -benchtime 1x ./cluster/
func BenchmarkStateApplySessionDay(b *testing.B) {
	for _, n := range []int{1_000_000} {
		b.Run(fmt.Sprintf("messages=%d", n), func(b *testing.B) {
			const id = "FIX.4.4:GW->BROKER1"
			// One record, its MsgSeqNum set before each Apply (which
			// copies what it keeps): a record per message would add a
			// pointer per message to the heap measured.
			rec := sessionRecord(opSent, id, 0, bytes.Repeat([]byte("m"), 300))
			at := 2 + 2 + len(id)
			d := applyDay{took: make([]time.Duration, n)}
			for b.Loop() {
				s := NewState()
				runtime.GC()
				for i := range n {
					binary.BigEndian.PutUint64(rec[at:], uint64(i+1))
					t0 := time.Now()
					err := s.Apply(uint64(i+1), rec)
					d.took[i] = time.Since(t0)
					if err != nil {
						b.Fatal(err)
					}
				}
				d.day()
				if _, m := s.Size(); m != n {
					b.Fatalf("%d messages, want %d", m, n)
				}
			}
			d.report(b)
		})
	}
}

// applyDay gathers the Apply durations of a day's fills (took, one per
// Apply of the fill just done) and what the State holding them costs the
// GC, the worst of the fills.
type applyDay struct {
	took              []time.Duration
	worst, p9999, p50 time.Duration
	scan, gcCPU       float64
}

// day takes the fill just timed in took, and the GC's cost now.
func (d *applyDay) day() {
	n := len(d.took)
	slices.Sort(d.took)
	d.worst, d.p9999, d.p50 = max(d.worst, d.took[n-1]), max(d.p9999, d.took[n-n/10000-1]), max(d.p50, d.took[n/2])
	sc, cpu := gcCost()
	d.scan, d.gcCPU = max(d.scan, sc), max(d.gcCPU, cpu)
}

// report reports the slowest Apply, the 99.99th and 50th percentiles, the
// scannable heap and the GC CPU time of one collection.
func (d *applyDay) report(b *testing.B) {
	b.ReportMetric(float64(d.worst.Microseconds()), "max-us")
	b.ReportMetric(float64(d.p9999.Microseconds()), "p99.99-us")
	b.ReportMetric(float64(d.p50.Nanoseconds()), "p50-ns")
	b.ReportMetric(d.scan/(1<<20), "gc-scan-MB")
	b.ReportMetric(d.gcCPU*1000, "gc-cpu-ms")
}

// gcCost runs the GC a few times and returns the scannable heap and the
// GC CPU seconds of one collection, the least of the runs.
func gcCost() (scan, cpu float64) {
	ms := []metrics.Sample{{Name: "/gc/scan/heap:bytes"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}}
	runtime.GC()
	cpu = math.Inf(1)
	for range 5 {
		metrics.Read(ms)
		before := ms[1].Value.Float64()
		runtime.GC()
		metrics.Read(ms)
		scan, cpu = float64(ms[0].Value.Uint64()), min(cpu, ms[1].Value.Float64()-before)
	}
	return scan, cpu
}

// BenchmarkStateSnapshot measures a snapshot of a day's state: orders
// journal records of 200 bytes and as many stored FIX messages of 300
// bytes in one session. pause-ms is the time Raft's FSM goroutine spends
// in Snapshot, during which no committed record is applied (so no order
// is acknowledged); the rest of each op is the encoding Persist writes.
func BenchmarkStateSnapshot(b *testing.B) {
	for _, orders := range []int{100_000, 1_000_000} {
		for _, sealed := range []bool{false, true} {
			name := fmt.Sprintf("orders=%d/plain", orders)
			if sealed {
				name = fmt.Sprintf("orders=%d/sealed", orders)
			}
			b.Run(name, func(b *testing.B) {
				s := NewState()
				if sealed {
					s = NewSealedState(testKeys(b))
				}
				fillDay(b, s, orders)
				var pause time.Duration
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					t0 := time.Now()
					snap, err := s.Snapshot()
					pause += time.Since(t0)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := snap.WriteTo(io.Discard); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(pause.Microseconds())/1000/float64(b.N), "pause-ms")
			})
		}
	}
}

// encodeState returns the encoding a snapshot of s writes.
func encodeState(s *State) ([]byte, error) {
	p, err := s.Snapshot()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := p.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// BenchmarkStateRestore measures Restore of the snapshot of a day's state
// (BenchmarkStateSnapshot's): a node's start, or a follower installing a
// snapshot from the leader.
func BenchmarkStateRestore(b *testing.B) {
	const orders = 100_000
	s := NewState()
	fillDay(b, s, orders)
	snap, err := encodeState(s)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := NewState().Restore(bytes.NewReader(snap)); err != nil {
			b.Fatal(err)
		}
	}
}

// fillDay applies a day of orders to s: per order, a 200-byte journal
// record and a 300-byte FIX message stored in one session.
func fillDay(b *testing.B, s *State, orders int) {
	b.Helper()
	body, msg := bytes.Repeat([]byte("x"), 200), bytes.Repeat([]byte("m"), 300)
	seal := func(rec []byte) []byte { return rec }
	if s.keys != nil { // a sealed State applies only sealed records
		h, _, err := s.keys.NewHeader([]byte(sealContext))
		if err != nil {
			b.Fatal(err)
		}
		s.mine = h
		if err := s.Apply(1, append([]byte{kindKey}, h...)); err != nil {
			b.Fatal(err)
		}
		seal = func(rec []byte) []byte {
			sealed, err := s.seal(rec)
			if err != nil {
				b.Fatal(err)
			}
			return sealed
		}
	}
	for i := range orders {
		if err := s.Apply(uint64(2*i+2), seal(appendJournalRecord(nil, 'O', int64(i), body))); err != nil {
			b.Fatal(err)
		}
		if err := s.Apply(uint64(2*i+3), seal(sessionRecord(opSent, "FIX.4.2:GW->CORE", uint64(i+1), msg))); err != nil {
			b.Fatal(err)
		}
	}
}

// all returns the messages held and their seqs.
func (l *msgLog) all() (seqs []uint64, msgs [][]byte) {
	seqs, msgs = make([]uint64, l.n), make([][]byte, l.n)
	for i := range l.n {
		seqs[i], msgs[i] = l.at(i)
	}
	return seqs, msgs
}

// between returns the messages held under sequence numbers begin to end,
// in order.
func (l *msgLog) between(begin, end int) [][]byte {
	lo, hi := l.span(begin, end)
	_, msgs := l.all()
	return msgs[lo:hi]
}

// get returns message seq, or nil.
func (l *msgLog) get(seq int) []byte {
	if m := l.between(seq, seq); len(m) == 1 {
		return m[0]
	}
	return nil
}
