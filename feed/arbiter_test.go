package feed

import (
	"encoding/binary"
	"testing"
	"time"
)

// recordSink records the sequence numbers encoded in the messages it gets.
type recordSink struct{ got []uint64 }

func (r *recordSink) Apply(msg []byte, _ int64) error {
	r.got = append(r.got, binary.BigEndian.Uint64(msg))
	return nil
}

func msgOf(seq uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	return b[:]
}

// step is one event of an arbiter script.
type step struct {
	src   int
	seqs  []uint64 // offered in order
	live  bool     // SourceLive(src, pos) instead of offers
	pos   uint64
	down  bool
	check int // expected Check() result when checkIt
	do    bool
}

func offer(src int, seqs ...uint64) step { return step{src: src, seqs: seqs} }
func live(src int, pos uint64) step      { return step{src: src, live: true, pos: pos} }
func check(want int) step                { return step{do: true, check: want} }
func down(src int) step                  { return step{src: src, down: true} }

func seqRange(from, to uint64) []uint64 {
	var s []uint64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func TestArbiter(t *testing.T) {
	tests := []struct {
		name      string
		window    int
		steps     []step
		delivered uint64 // messages 1..delivered in order
		dups      uint64
		gaps      uint64
		lost      uint64
		overflow  uint64
	}{
		{
			name:      "primary alone",
			steps:     []step{live(0, 1), offer(0, seqRange(1, 10)...)},
			delivered: 10,
		},
		{
			name:      "both live interleaved",
			steps:     []step{live(0, 1), live(1, 1), offer(0, 1, 2), offer(1, 1, 2, 3), offer(0, 3, 4), offer(1, 4)},
			delivered: 4, dups: 4,
		},
		{
			name:      "backup ahead fills while primary lags",
			steps:     []step{live(0, 1), live(1, 1), offer(1, seqRange(1, 5)...), check(-1), offer(0, seqRange(1, 5)...)},
			delivered: 5, dups: 5,
		},
		{
			name: "range dropped on primary is taken from backup",
			steps: []step{live(0, 1), live(1, 1), offer(0, 1, 2, 6, 7), check(-1), offer(1, seqRange(1, 7)...),
				offer(0, 8)},
			delivered: 8, dups: 4,
		},
		{
			name: "range dropped on both is re-requested",
			steps: []step{live(0, 1), live(1, 1), offer(0, 1, 2, 5, 6), offer(1, 1, 2, 5, 6), check(0), check(-1),
				live(0, 3), offer(0, seqRange(3, 7)...)},
			delivered: 7, dups: 6, gaps: 1,
		},
		{
			name: "primary killed, backup carries on",
			steps: []step{live(0, 1), live(1, 1), offer(0, 1, 2, 3), offer(1, 1, 2), down(0), offer(1, seqRange(3, 9)...),
				check(-1), live(0, 10), offer(0, 10)},
			delivered: 10, dups: 3,
		},
		{
			name: "unrecoverable gap is declared lost",
			steps: []step{live(0, 1), live(1, 1), offer(0, 1, 4), offer(1, 1, 4),
				check(0), live(0, 4), check(1), live(1, 4), check(0), live(0, 4), check(-1), offer(0, 5)},
			delivered: 5, dups: 2, lost: 2,
		},
		{
			name:      "beyond the window is dropped then refilled",
			window:    4,
			steps:     []step{live(0, 1), live(1, 1), offer(1, 2, 3, 4, 9), offer(0, seqRange(1, 9)...)},
			delivered: 9, dups: 3, overflow: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := &recordSink{}
			w := tc.window
			if w == 0 {
				w = 64
			}
			a := newArbiter(sink, w, 3, time.Second, 0)
			for i, st := range tc.steps {
				switch {
				case st.do:
					if got := a.Check(time.Unix(1, 0)); got != st.check {
						t.Fatalf("step %d: Check() = %d, want %d", i, got, st.check)
					}
				case st.live:
					a.SourceLive(st.src, st.pos)
				case st.down:
					a.SourceDown(st.src)
				default:
					for _, s := range st.seqs {
						a.Offer(st.src, s, msgOf(s), 0)
					}
				}
			}
			stats := a.Stats()
			// Every delivered sequence is the one after the previous,
			// apart from declared losses.
			want := uint64(1)
			for _, s := range sink.got {
				if s != want {
					if tc.lost == 0 || s < want {
						t.Fatalf("delivered %v: %d out of order (want %d)", sink.got, s, want)
					}
				}
				want = s + 1
			}
			if uint64(len(sink.got))+stats.Lost != tc.delivered || a.Next() != tc.delivered+1 {
				t.Fatalf("delivered %v (lost %d, next %d), want 1..%d", sink.got, stats.Lost, a.Next(), tc.delivered)
			}
			if stats.Duplicates != tc.dups || stats.Gaps != tc.gaps || stats.Lost != tc.lost || stats.Overflow != tc.overflow {
				t.Fatalf("stats %+v, want dups %d gaps %d lost %d overflow %d", stats, tc.dups, tc.gaps, tc.lost, tc.overflow)
			}
		})
	}
}

func BenchmarkArbiterOffer(b *testing.B) {
	a := newArbiter(discardSink{}, 1024, 3, time.Second, 0)
	a.SourceLive(0, 1)
	a.SourceLive(1, 1)
	msg := make([]byte, 36)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		seq := uint64(i/2) + 1
		a.Offer(i&1, seq, msg, 0)
	}
}

type discardSink struct{}

func (discardSink) Apply([]byte, int64) error { return nil }

// TestArbiterWaitsForTheRecoveryTime: a gap that the live source cannot
// fill is not declared lost while the recovery time runs, however quickly
// the re-requests are spent: the other source, logging in slowly, brings
// it. Past the recovery time it is lost, and the range is reported.
func TestArbiterWaitsForTheRecoveryTime(t *testing.T) {
	for _, slowComes := range []bool{true, false} {
		sink := &recordSink{}
		a := newArbiter(sink, 64, 3, 10*time.Millisecond, 5*time.Second)
		t0 := time.Unix(100, 0)
		a.SourceLive(0, 1)
		for _, s := range []uint64{1, 2, 6, 7} { // 3..5 missing on the primary
			a.Offer(0, s, msgOf(s), 0)
		}
		now := t0
		for i := 0; i < 20; i++ { // re-requests spent in a fraction of a second
			now = now.Add(20 * time.Millisecond)
			if src := a.Check(now); src == 0 {
				a.SourceLive(0, 3)
				for _, s := range []uint64{6, 7} {
					a.Offer(0, s, msgOf(s), 0)
				}
			}
		}
		if st := a.Stats(); st.Lost != 0 || a.Next() != 3 {
			t.Fatalf("lost %d before the recovery time (next %d)", st.Lost, a.Next())
		}
		if slowComes {
			a.SourceLive(1, 3) // the backup logged in at last
			for _, s := range []uint64{3, 4, 5, 6, 7} {
				a.Offer(1, s, msgOf(s), 0)
			}
			if st := a.Stats(); st.Lost != 0 || a.Next() != 8 {
				t.Fatalf("with the backup's copies: lost %d, next %d", st.Lost, a.Next())
			}
			continue
		}
		a.Check(t0.Add(6 * time.Second))
		from, to, ok := a.TakeLost()
		if st := a.Stats(); st.Lost != 3 || !ok || from != 3 || to != 5 || a.Next() != 8 {
			t.Fatalf("past the recovery time: lost %d (%d-%d %v), next %d", st.Lost, from, to, ok, a.Next())
		}
	}
}

// TestLateCopyOfLostMessageNoDivergence: with a plain sink (no
// Rebuilder) message 13 is declared lost and skipped; the backup then
// brings its copy, the same message. It must be dropped as a duplicate,
// not compared with the fingerprint left in 13's slot by message 5 (one
// window earlier) and counted as a divergence of the sources. Found by
// TestArbiterAgainstModel.
func TestLateCopyOfLostMessageNoDivergence(t *testing.T) {
	sink := &recordSink{}
	a := newArbiter(sink, 8, 1, time.Second, 0)
	t0 := time.Unix(100, 0)
	a.SourceLive(Primary, 1)
	for _, s := range append(seqRange(1, 12), 14) { // 13 missing
		a.Offer(Primary, s, msgOf(s), 0)
	}
	if got := a.Check(t0); got != Primary {
		t.Fatalf("re-request from %d, want the primary", got)
	}
	a.SourceLive(Primary, 15) // it cannot replay 13
	a.Check(t0.Add(2 * time.Second))
	if from, to, ok := a.TakeLost(); !ok || from != 13 || to != 13 || a.Next() != 15 {
		t.Fatalf("lost %d..%d (%v), next %d; want 13 lost and 14 delivered", from, to, ok, a.Next())
	}
	a.SourceLive(Backup, 13)
	a.Offer(Backup, 13, msgOf(13), 0)
	if st := a.Stats(); st.Divergences != 0 || st.Duplicates != 1 {
		t.Fatalf("the late copy of lost 13: divergences %d, duplicates %d; want a duplicate", st.Divergences, st.Duplicates)
	}
}
