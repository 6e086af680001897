package cluster

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"
)

// testMsg returns a message for seq of a size that crosses the arenas'
// limits now and then: empty, exactly ownArena, just over it, or small.
// Its first bytes are seq and version v, when it has room for them.
func testMsg(rng *rand.Rand, seq uint64, v int) []byte {
	var n int
	switch k := rng.IntN(100); {
	case k == 0:
		n = 0
	case k == 1:
		n = ownArena
	case k == 2:
		n = ownArena + 1 + rng.IntN(100)
	default:
		n = 16 + rng.IntN(300)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(int(seq) + v + i)
	}
	if n >= 16 {
		binary.BigEndian.PutUint64(b, seq)
		binary.BigEndian.PutUint64(b[8:], uint64(v))
	}
	return b
}

// TestMsgLogViewsArePointInTime sets messages in a msgLog across chunk
// and arena boundaries (appended, with gaps, replaced, inserted into
// gaps, reset), taking views now and then that are changed in turn and
// viewed again: every msgLog holds exactly what was set in it, whatever
// was set in the others since, and reads its ranges in order.
func TestMsgLogViewsArePointInTime(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 11))
			type log struct {
				l    *msgLog
				want map[uint64][]byte
				last uint64
			}
			logs := []*log{{l: &msgLog{}, want: map[uint64][]byte{}}}
			check := func(when string) {
				t.Helper()
				for i, lg := range logs {
					if d := msgLogDiff(lg.l, lg.want); d != "" {
						t.Fatalf("%s: log %d: %s", when, i, d)
					}
					for range 5 {
						begin, end := rng.IntN(int(lg.last)+3)-1, rng.IntN(int(lg.last)+3)-1
						var want [][]byte
						for seq := max(begin, 1); seq <= end; seq++ {
							if m, ok := lg.want[uint64(seq)]; ok {
								want = append(want, m)
							}
						}
						if got := lg.l.between(begin, end); !slicesEqualBytes(got, want) {
							t.Fatalf("%s: log %d: %d messages %d to %d; want %d", when, i, len(got), begin, end, len(want))
						}
					}
				}
			}
			counts, longest := map[string]int{}, 0
			for step := range 7000 {
				lg := logs[0] // the State's, mostly
				if rng.IntN(10) == 0 && step != 6000 {
					lg = logs[rng.IntN(len(logs))]
				}
				var seq uint64
				switch k := rng.IntN(1000); {
				case k >= 960 && k < 975:
					logs = append(logs, &log{l: new(lg.l.view()), want: maps.Clone(lg.want), last: lg.last})
					counts["view"]++
					continue
				case (k == 999 && lg != logs[0]) || step == 6000: // a reset, rarely
					*lg.l, lg.want, lg.last = msgLog{}, map[uint64][]byte{}, 0
					counts["reset"]++
					continue
				case k < 850 || k >= 960 || lg.last == 0:
					seq = lg.last + 1
					if rng.IntN(20) == 0 {
						seq += 1 + uint64(rng.IntN(3)) // a gap
					}
				case k < 920:
					seq = 1 + uint64(rng.IntN(int(lg.last)))
				default:
					for range 20 { // a seq in a gap
						seq = 1 + uint64(rng.IntN(int(lg.last)))
						if _, ok := lg.want[seq]; !ok {
							break
						}
					}
				}
				switch _, held := lg.want[seq]; {
				case seq > lg.last:
					counts["append"]++
				case held:
					counts["replace"]++
				default:
					counts["insert"]++
				}
				m := testMsg(rng, seq, step)
				lg.l.set(seq, m)
				lg.want[seq], lg.last = m, max(lg.last, seq)
				longest = max(longest, lg.l.len())
				if step%2500 == 2499 {
					check(fmt.Sprint("step ", step))
				}
			}
			check("the end")
			t.Logf("%d messages in the longest log, %v", longest, counts)
			if longest < 2*msgChunkLen || counts["insert"] < 50 || counts["replace"] < 50 || counts["view"] < 20 || counts["reset"] == 0 {
				t.Fatalf("the test proves little: %d messages in the longest log, %v", longest, counts)
			}
		})
	}
}

func slicesEqualBytes(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// sessionDay is a session's messages across chunk and arena boundaries
// as Raft entries: mostly sent in order, some saved again (replaced) or
// into a gap (inserted), a reset near the end.
type sessionDay struct {
	entries [][]byte
	// want[k] is what the session holds after entries[:k].
	want []map[uint64][]byte
}

const daySession = "FIX.4.4:GW->BROKER1"

func newSessionDay(n int, seed uint64) *sessionDay {
	rng := rand.New(rand.NewPCG(seed, 13))
	d := &sessionDay{want: []map[uint64][]byte{{}}}
	held := map[uint64][]byte{}
	var next uint64 = 1
	for k := range n {
		var rec []byte
		switch r := rng.IntN(100); {
		case k == n-n/10:
			rec = sessionRecord(opReset, daySession, uint64(k), nil)
			held, next = map[uint64][]byte{}, 1
		case r < 88 || next < 3:
			m := testMsg(rng, next, k)
			rec = sessionRecord(opSent, daySession, next, m)
			held[next] = m
			next++
			if rng.IntN(30) == 0 {
				next++ // a gap: a message not saved
			}
		default:
			seq := 1 + uint64(rng.IntN(int(next-1)))
			m := testMsg(rng, seq, k)
			rec = sessionRecord(opMessage, daySession, seq, m)
			held[seq] = m
		}
		d.entries = append(d.entries, rec)
		d.want = append(d.want, maps.Clone(held))
	}
	return d
}

// TestStateMessagesAcrossChunks applies a session's day crossing chunk
// and arena boundaries, taking a snapshot and a store's view at several
// points: every snapshot encodes the State as it was, every view holds
// what the session held then; a mid-day snapshot restores, and what is
// applied after it (appended, replaced, inserted) leaves the restored
// messages and a snapshot of them as they were.
func TestStateMessagesAcrossChunks(t *testing.T) {
	d := newSessionDay(3*msgChunkLen+200, 1)
	type point struct {
		k     int
		write func() []byte
		view  sessionView
	}
	var points []*point
	s := NewState()
	take := func(s *State, k int) *point {
		snap, err := s.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		return &point{k: k, view: s.session(daySession), write: func() []byte {
			var b bytes.Buffer
			if _, err := snap.WriteTo(&b); err != nil {
				t.Fatal(err)
			}
			return b.Bytes()
		}}
	}
	for k := 0; k <= len(d.entries); k++ {
		if k%300 == 0 || k%msgChunkLen <= 1 || k == len(d.entries) {
			points = append(points, take(s, k))
		}
		if k < len(d.entries) {
			if err := s.Apply(uint64(k+1), d.entries[k]); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(p *point, want map[uint64][]byte) {
		t.Helper()
		if diff := msgLogDiff(&p.view.messages, want); diff != "" {
			t.Fatalf("the view after %d entries: %s", p.k, diff)
		}
		w := NewState()
		for i, e := range d.entries[:p.k] {
			if err := w.Apply(uint64(i+1), e); err != nil {
				t.Fatal(err)
			}
		}
		wantB, err := encodeState(w)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.write(), wantB) {
			t.Fatalf("the snapshot taken after %d entries changed with what was applied after it", p.k)
		}
	}
	for _, p := range points {
		check(p, d.want[p.k])
	}

	// Restore a mid-day snapshot, then apply another day's entries.
	mid := points[len(points)/2]
	if err := s.Restore(bytes.NewReader(mid.write())); err != nil {
		t.Fatal(err)
	}
	restored := take(s, mid.k)
	if diff := msgLogDiff(&restored.view.messages, d.want[mid.k]); diff != "" {
		t.Fatalf("restored: %s", diff)
	}
	other := newSessionDay(2*msgChunkLen, 2)
	want := maps.Clone(d.want[mid.k])
	for i, e := range other.entries[:len(other.entries)-len(other.entries)/10] { // before its reset
		r, err := decodeRecord(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Apply(uint64(10_000+i), e); err != nil {
			t.Fatal(err)
		}
		want[r.n] = r.msg
	}
	if diff := msgLogDiff(&s.sessions[daySession].messages, want); diff != "" {
		t.Fatalf("after the Restore: %s", diff)
	}
	check(mid, d.want[mid.k])
	if diff := msgLogDiff(&restored.view.messages, d.want[mid.k]); diff != "" {
		t.Fatalf("the view of the restored State: %s", diff)
	}
}

// TestStateMessagesReadWhileApplied reads a session's messages on other
// goroutines while its day is applied across chunk and arena boundaries
// (run with -race): stores opened on the State's view, each saving
// messages of its own, and snapshots written. Each reads the session as
// it was at its open, and its own saves, read with no lock.
func TestStateMessagesReadWhileApplied(t *testing.T) {
	d := newSessionDay(2*msgChunkLen+300, 3)
	d.entries = d.entries[:len(d.entries)-len(d.entries)/10] // no reset: the stores' checks use the last seq
	s := NewState()
	ss := &SessionStores{cfg: SessionStoresConfig{State: s, Clock: time.Now}, open: map[string]*messageStore{}}
	done := make(chan struct{})
	errs := make(chan string, 2)
	read := func(snapshots bool) {
		for i := 0; ; i++ {
			select {
			case <-done:
				errs <- ""
				return
			default:
			}
			v := s.session(daySession)
			st := ss.newStore(daySession, v)
			held, _ := v.messages.all()
			for j, seq := range held {
				if j > 0 && seq <= held[j-1] {
					errs <- fmt.Sprintf("seq %d after %d", seq, held[j-1])
					return
				}
			}
			// The store saves over, into a gap and after what it holds,
			// as a leader's store does, in the State's chunks and arenas
			// that the FSM goroutine is appending to.
			var last uint64
			if len(held) > 0 {
				last = held[len(held)-1]
			}
			mine := map[uint64][]byte{}
			for _, seq := range []uint64{last + 1, last + 2, last/2 + 1, last + 3} {
				m := fmt.Appendf(nil, "mine %d %d", i, seq)
				st.messages.set(seq, m)
				mine[seq] = m
			}
			for seq, m := range mine {
				if got := st.messages.get(int(seq)); !bytes.Equal(got, m) {
					errs <- fmt.Sprintf("the store's message %d = %q; want %q", seq, got, m)
					return
				}
			}
			if now, _ := v.messages.all(); len(now) != len(held) {
				errs <- fmt.Sprintf("the view changed from %d to %d messages", len(held), len(now))
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
	for k, e := range d.entries {
		if err := s.Apply(uint64(k+1), e); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	for range 2 {
		if e := <-errs; e != "" {
			t.Fatal(e)
		}
	}
	if diff := msgLogDiff(&s.sessions[daySession].messages, d.want[len(d.entries)]); diff != "" {
		t.Fatal(diff)
	}
}

// TestMsgLogSharedWindows restores messages from one buffer in windows no
// larger than a limit (4 GiB in use, beyond what a test can allocate),
// then sets others: each message reads back, and none set after is
// copied into the buffer.
func TestMsgLogSharedWindows(t *testing.T) {
	buf := make([]byte, 1000)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	orig := bytes.Clone(buf)
	type msg struct{ off, n int }
	msgs := []msg{{0, 10}, {10, 0}, {10, 90}, {100, 1}, {101, 99}, {200, 100}, {300, 100}, {400, 0}, {400, 600}}
	var l msgLog
	for i, m := range msgs {
		l.addShared(uint64(2*i+2), buf, m.off, m.n, 200)
	}
	l.set(uint64(2*len(msgs)+2), []byte("appended"))
	l.set(2, []byte("replaced"))
	l.set(3, []byte("inserted"))
	for i, m := range msgs[1:] {
		seq, got := l.at(i + 2)
		if want := buf[m.off : m.off+m.n]; seq != uint64(2*i+4) || !bytes.Equal(got, want) {
			t.Fatalf("message %d = %d %x; want %d %x", i+2, seq, got, 2*i+4, want)
		}
		if e := int(l.meta(i+2).off) + m.n; e > 200 && m.n <= 200 {
			t.Fatalf("message %d ends at %d in its window, beyond the limit", i+2, e)
		}
	}
	for seq, want := range map[int]string{2: "replaced", 3: "inserted", 2*len(msgs) + 2: "appended"} {
		if got := l.get(seq); string(got) != want {
			t.Fatalf("message %d = %q; want %q", seq, got, want)
		}
	}
	if !bytes.Equal(buf, orig) {
		t.Fatal("a message set after was copied into the shared buffer")
	}
	if l.len() != len(msgs)+2 {
		t.Fatalf("%d messages; want %d", l.len(), len(msgs)+2)
	}
}
