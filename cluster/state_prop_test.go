package cluster

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"sgw/atrest"
	"sgw/journal"
)

// TestStateProperty is a property test of the State as Raft's FSM: random
// sequences of log entries (journal records, session store records of
// every op, batches mixing sessions and ops, records every replica
// refuses, Raft's own entries), plain or sealed (record keys of this
// process's terms and of another leader's, ordered and of an earlier
// build, counter gaps, an earlier build's out-of-order and repeated
// counters), are applied through fsm.Apply with snapshots taken at random
// points and persisted after more entries, and session views taken (and
// changed, as a leader's store changes its copy) along the way. Checked:
//
//   - the live State equals a model of the records (journal records,
//     seqs, Raft indexes; every session's counters, reservation and
//     messages), Replay and ReplayAfter(n) yield exactly the records after
//     n, and journalSeq maps each journal record's index to its seq;
//   - a State rebuilt from the whole log answers each entry as the live
//     one did and equals it, sealing and replay-check state included;
//   - each snapshot encodes what a snapshot of a State built from the
//     entries before it encodes (point in time), restores to a State equal
//     to that one, and after the rest of the log equals the live State
//     (snapshots of the restored State taken on the way are checked the
//     same way); a version 2 snapshot derived from a sealed one restores
//     the same journal and sessions;
//   - a view keeps what the State held when it was taken, and changes to
//     it do not reach the State;
//   - sealed, each restored State applies the next genuine record and
//     refuses a copy of an earlier one (or an earlier record key) with
//     ErrReplayed, as the live State does.
//
// Seeds are fixed (record keys have random salts, which changes nothing
// the test decides); a failure names its seed and prints the entries.
// -state-seeds runs more of them per mode.
func TestStateProperty(t *testing.T) {
	keys := testKeys(t)
	for _, mode := range []struct {
		name string
		keys *atrest.KeyRing
	}{{"plain", nil}, {"sealed", keys}} {
		t.Run(mode.name, func(t *testing.T) {
			for seed := range uint64(*stateSeeds) {
				t.Run(fmt.Sprint(seed), func(t *testing.T) {
					newStateSim(t, seed, mode.keys).run(300)
				})
			}
		})
	}
}

var stateSeeds = flag.Int("state-seeds", 25, "how many random sequences TestStateProperty runs per mode")

// propSessions are the sessions records name; one id is as long as a
// record allows.
var propSessions = []string{"FIX.4.4:GW->CORE", "FIX.4.2:GW->MARGIN", "FIX.4.4:GW->B", strings.Repeat("L", maxSessionID)}

// modelSession is what a session's store must hold.
type modelSession struct {
	nextSender, nextTarget uint64
	created                int64
	msgs                   map[uint64][]byte
	hasReservation         bool
	reserved               uint64
	clean                  bool
	owner                  string
}

// effect applies a record's change to the model; idx is its Raft index.
type effect func(idx uint64)

// stateSim is one random run. Test goroutine only.
type stateSim struct {
	t       *testing.T
	seed    uint64
	r       *rand.Rand
	keys    *atrest.KeyRing
	live    *State
	f       *fsm
	log     []*raft.Log
	outcome []error // live's answer to each entry of log
	index   uint64
	term    uint64
	trace   []string

	// The model.
	journal  []journal.Record
	jindex   []uint64
	sessions map[string]*modelSession

	// Sealing: sealer seals the records of the current term, live for
	// this process's terms, other for another leader's.
	other    *State
	sealer   *State
	ordered  bool
	underKey []sealedEntry // the 'E' records applied under the current key
	keyRecs  [][]byte      // the 'K' records applied

	snaps []pendingSnap
	views []pendingView
}

type sealedEntry struct {
	rec []byte
	eff effect
}

// pendingSnap is a snapshot taken after the first at entries of a log,
// not yet persisted.
type pendingSnap struct {
	at   int
	snap raft.FSMSnapshot
}

// pendingView is a session view and what it must hold.
type pendingView struct {
	id   string
	v    sessionView
	want map[uint64][]byte
}

func newStateSim(t *testing.T, seed uint64, keys *atrest.KeyRing) *stateSim {
	s := &stateSim{
		t: t, seed: seed, r: rand.New(rand.NewPCG(seed, 0x5eed5eed)), keys: keys,
		live: NewSealedState(keys), sessions: map[string]*modelSession{},
	}
	s.f = &fsm{sm: s.live}
	if keys != nil {
		s.other = NewSealedState(keys)
	}
	return s
}

func (s *stateSim) fatalf(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("seed %d: %s\nentries:\n%s", s.seed, fmt.Sprintf(format, args...), strings.Join(s.trace, "\n"))
}

func (s *stateSim) note(format string, args ...any) {
	s.trace = append(s.trace, fmt.Sprintf("%4d %s", s.index, fmt.Sprintf(format, args...)))
}

// entry hands data to the live FSM as the next command entry; it must
// be applied (eff runs on the model) or, with eff nil, refused as a bad
// record that changes nothing.
func (s *stateSim) entry(what string, data []byte, eff effect) {
	s.t.Helper()
	s.index++
	if s.r.IntN(10) == 0 {
		s.index += uint64(s.r.IntN(3)) // entries of a leader that lost them
	}
	s.note("%s", what)
	l := &raft.Log{Index: s.index, Term: s.term, Type: raft.LogCommand, Data: data}
	res := applyScribbled(s.f, l)
	err, _ := res.(error)
	if res != nil && err == nil {
		s.fatalf("Apply returned %T %v", res, res)
	}
	s.log = append(s.log, l)
	s.outcome = append(s.outcome, err)
	switch {
	case eff != nil && err != nil:
		s.fatalf("%s refused: %v", what, err)
	case eff == nil && !errors.Is(err, ErrBadRecord):
		s.fatalf("%s = %v; want ErrBadRecord", what, err)
	case s.live.Err() != nil:
		s.fatalf("%s stopped the replica: %v", what, s.live.Err())
	}
	if eff != nil {
		eff(s.index)
	}
}

// raftEntry hands the FSM an entry of Raft's own, which it ignores.
func (s *stateSim) raftEntry() {
	s.index++
	typ := []raft.LogType{raft.LogNoop, raft.LogBarrier, raft.LogConfiguration}[s.r.IntN(3)]
	s.note("raft %v", typ)
	l := &raft.Log{Index: s.index, Term: s.term, Type: typ, Data: []byte("J?not a record")}
	if res := s.f.Apply(l); res != nil {
		s.fatalf("Apply of a %v entry = %v", typ, res)
	}
	s.log = append(s.log, l)
	s.outcome = append(s.outcome, nil)
}

func (s *stateSim) session(id string) *modelSession {
	m := s.sessions[id]
	if m == nil {
		m = &modelSession{nextSender: 1, nextTarget: 1, msgs: map[uint64][]byte{}}
		s.sessions[id] = m
	}
	return m
}

func (s *stateSim) bytes(max int) []byte {
	b := make([]byte, s.r.IntN(max+1))
	for i := range b {
		b[i] = byte(s.r.UintN(256))
	}
	return b
}

func (s *stateSim) seqNum() uint64 {
	if s.r.IntN(20) == 0 {
		return maxSeqNum
	}
	return 1 + s.r.Uint64N(30)
}

// journalRecord returns a journal record and its effect.
func (s *stateSim) journalRecord() (string, []byte, effect) {
	typ, tm, body := byte('A'+s.r.IntN(26)), int64(s.r.Uint64()), s.bytes(24)
	return fmt.Sprintf("J %c %d %q", typ, tm, body), appendJournalRecord(nil, typ, tm, body), func(idx uint64) {
		s.journal = append(s.journal, journal.Record{Seq: uint64(len(s.journal)) + 1, Type: typ, Time: tm, Body: body})
		s.jindex = append(s.jindex, idx)
	}
}

// sessionRecordOf returns a random session record and its effect.
func (s *stateSim) sessionRecordOf() (string, []byte, effect) {
	id := propSessions[s.r.IntN(len(propSessions))]
	if s.r.IntN(8) != 0 {
		id = propSessions[s.r.IntN(2)] // most records go to two sessions
	}
	short := id
	if len(short) > 20 {
		short = short[:8] + "…"
	}
	switch k := s.r.IntN(20); {
	case k < 2:
		v := s.seqNum()
		return fmt.Sprintf("S %s next sender %d", short, v), sessionRecord(opSender, id, v, nil), func(uint64) { s.session(id).nextSender = v }
	case k < 4:
		v := s.seqNum()
		return fmt.Sprintf("S %s next target %d", short, v), sessionRecord(opTarget, id, v, nil), func(uint64) { s.session(id).nextTarget = v }
	case k < 5:
		c := int64(s.r.Uint64())
		return fmt.Sprintf("S %s created %d", short, c), sessionRecord(opCreated, id, uint64(c), nil), func(uint64) { s.session(id).created = c }
	case k < 9:
		seq, msg := s.seqNum(), s.bytes(16)
		return fmt.Sprintf("S %s message %d %q", short, seq, msg), sessionRecord(opMessage, id, seq, msg), func(uint64) { s.session(id).msgs[seq] = msg }
	case k < 16:
		// Mostly the next sender number, as a session sends; sometimes
		// one it sent before, or a gap.
		seq := uint64(1)
		if m := s.sessions[id]; m != nil {
			seq = m.nextSender
		}
		if seq > maxSeqNum || s.r.IntN(4) == 0 {
			seq = s.seqNum()
		}
		msg := s.bytes(16)
		return fmt.Sprintf("S %s sent %d %q", short, seq, msg), sessionRecord(opSent, id, seq, msg), func(uint64) {
			m := s.session(id)
			m.msgs[seq] = msg
			m.nextSender++
		}
	case k < 18:
		c := int64(s.r.Uint64())
		return fmt.Sprintf("S %s reset %d", short, c), sessionRecord(opReset, id, uint64(c), nil), func(uint64) {
			m := s.session(id)
			m.nextSender, m.nextTarget, m.created, m.msgs = 1, 1, c, map[uint64][]byte{}
		}
	default:
		v, clean := s.seqNum(), s.r.IntN(2) == 0
		owner := string(s.bytes(12))
		if s.r.IntN(10) == 0 {
			owner = strings.Repeat("o", maxOwner)
		}
		return fmt.Sprintf("S %s reserve %d %v %q", short, v, clean, owner), reserveRecord(id, v, clean, owner), func(uint64) {
			m := s.session(id)
			m.hasReservation, m.reserved, m.clean, m.owner = true, v, clean, owner
		}
	}
}

// batchRecord returns a batch of session records and its effect.
func (s *stateSim) batchRecord() (string, []byte, effect) {
	n := 1 + s.r.IntN(8)
	var (
		whats []string
		recs  [][]byte
		effs  []effect
	)
	for range n {
		w, rec, eff := s.sessionRecordOf()
		whats, recs, effs = append(whats, w), append(recs, rec), append(effs, eff)
	}
	return "B[" + strings.Join(whats, ", ") + "]", batchOf(recs...), func(idx uint64) {
		for _, eff := range effs {
			eff(idx)
		}
	}
}

// badRecord returns a record every replica refuses (ErrBadRecord).
func (s *stateSim) badRecord() (string, []byte) {
	good := sessionRecord(opSent, propSessions[0], 1, []byte("x"))
	switch s.r.IntN(9) {
	case 0:
		return "bad: empty", nil
	case 1:
		return "bad: short batch", []byte{kindBatch, 0}
	case 2:
		return "bad: short journal record", []byte("JO1234567")
	case 3:
		return "bad: next target 0", sessionRecord(opTarget, propSessions[0], 0, nil)
	case 4:
		return "bad: a reservation of sequence number 0", reserveRecord(propSessions[1], 0, false, "")
	case 5:
		return "bad: trailing bytes", append(sessionRecord(opSender, propSessions[0], 3, nil), 1)
	case 6:
		return "bad: a batch holding a journal record", batchOf(good, appendJournalRecord(nil, 'O', 1, nil))
	case 7:
		return "bad: a batch with a bad record last", batchOf(good, good, sessionRecord(opMessage, propSessions[1], 0, nil))
	default:
		return "bad: empty batch", newBatch(0)
	}
}

// seal seals rec for the current term.
func (s *stateSim) seal(rec []byte) []byte {
	s.t.Helper()
	if s.keys == nil {
		return rec
	}
	sealed, err := s.sealer.seal(rec)
	if err != nil {
		s.fatalf("seal: %v", err)
	}
	return sealed
}

// good applies a valid record, sealed when the State has keys.
func (s *stateSim) good(what string, rec []byte, eff effect) {
	s.t.Helper()
	if s.keys == nil {
		s.entry(what, rec, eff)
		return
	}
	e := s.seal(rec)
	s.entry(fmt.Sprintf("E%d %s", binary.BigEndian.Uint64(e[1:]), what), e, eff)
	s.underKey = append(s.underKey, sealedEntry{e, eff})
}

// newTerm applies a record key: this process's (live seals under it) or
// another leader's, ordered or of an earlier build.
func (s *stateSim) newTerm() {
	s.t.Helper()
	s.term++
	s.sealer = s.live
	if s.r.IntN(3) == 0 {
		s.sealer = s.other
	}
	h, _, err := s.keys.NewHeader([]byte(sealContext))
	if err != nil {
		s.t.Fatal(err)
	}
	s.sealer.mine = h // what BeginTerm does as it submits the 'K'
	s.ordered = s.r.IntN(5) != 0
	k := append([]byte{kindKey}, h...)
	if s.ordered {
		k = append(k, keyOrdered)
	}
	if s.sealer == s.other {
		if err := s.other.Apply(s.index+1, k); err != nil {
			s.fatalf("the other leader's key: %v", err)
		}
	}
	s.entry(fmt.Sprintf("K term %d ordered %v, other leader %v", s.term, s.ordered, s.sealer == s.other), k, func(uint64) {})
	s.underKey = nil
	s.keyRecs = append(s.keyRecs, k)
}

// step takes one random step.
func (s *stateSim) step() {
	s.t.Helper()
	sealed := s.keys != nil
	if sealed && s.sealer == nil {
		s.newTerm()
		return
	}
	switch k := s.r.IntN(100); {
	case k < 25:
		s.good(s.journalRecord())
	case k < 55:
		s.good(s.sessionRecordOf())
	case k < 67:
		s.good(s.batchRecord())
	case k < 71:
		what, rec := s.badRecord()
		if sealed {
			// A genuine leader's record that decodes to nothing.
			if s.r.IntN(4) == 0 {
				what, rec = "bad: sealed record key", append([]byte{kindKey}, make([]byte, atrest.HeaderSize)...)
			}
			what, rec = "sealed "+what, s.seal(rec)
		}
		s.entry(what, rec, nil)
	case k < 73:
		s.entry("bad: record key of 3 bytes", []byte{kindKey, 1, 2}, nil)
	case k < 76:
		s.raftEntry()
	case k < 80:
		snap, err := s.f.Snapshot()
		if err != nil {
			s.fatalf("Snapshot: %v", err)
		}
		s.note("snapshot %d", len(s.snaps))
		s.snaps = append(s.snaps, pendingSnap{at: len(s.log), snap: snap})
	case k < 84:
		s.takeView()
	case !sealed:
		s.good(s.journalRecord())
	case k < 87:
		s.newTerm()
	case k < 91:
		// A record sealed and never submitted: a gap in the counters.
		s.seal(appendJournalRecord(nil, 'G', 0, nil))
		s.note("gap")
	case s.ordered:
		s.good(s.sessionRecordOf())
	case k < 96 || len(s.underKey) == 0:
		// An earlier build sealed before submitting: its records reach
		// the log in another order than their counters.
		type rec struct {
			what string
			e    []byte
			eff  effect
		}
		var recs []rec
		for range 2 + s.r.IntN(4) {
			what, r, eff := s.journalRecord()
			if s.r.IntN(2) == 0 {
				what, r, eff = s.sessionRecordOf()
			}
			recs = append(recs, rec{what, s.seal(r), eff})
		}
		s.r.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
		for _, r := range recs {
			s.entry(fmt.Sprintf("E%d (shuffled) %s", binary.BigEndian.Uint64(r.e[1:]), r.what), r.e, r.eff)
			s.underKey = append(s.underKey, sealedEntry{r.e, r.eff})
		}
	default:
		// Under an earlier build's key a repeated record is applied again.
		e := s.underKey[s.r.IntN(len(s.underKey))]
		s.entry(fmt.Sprintf("E%d again (earlier build's key)", binary.BigEndian.Uint64(e.rec[1:])), e.rec, e.eff)
	}
}

// takeView takes a session's view and sometimes changes it as a leader's
// store changes its copy.
func (s *stateSim) takeView() {
	id := propSessions[s.r.IntN(2)]
	v := s.live.session(id)
	want := map[uint64][]byte{}
	if m := s.sessions[id]; m != nil {
		want = maps.Clone(m.msgs)
	}
	n := 0
	if s.r.IntN(4) != 0 {
		n = 1 + s.r.IntN(4)
	}
	for range n {
		seq, msg := s.seqNum(), s.bytes(8)
		if k := v.messages.len(); k > 0 && s.r.IntN(2) == 0 {
			last, _ := v.messages.at(k - 1)
			seq = last + 1 // the next one sent, the usual case
		}
		v.messages.set(seq, msg)
		want[seq] = msg
	}
	if s.r.IntN(8) == 0 {
		v.messages = msgLog{} // the store's Reset
		want = map[uint64][]byte{}
	}
	s.note("view %s (%d changes)", id[:8], n)
	s.views = append(s.views, pendingView{id: id, v: v, want: want})
}

func (s *stateSim) run(steps int) {
	s.t.Helper()
	for len(s.log) < steps {
		s.step()
	}
	s.checkModel(s.live, "live")
	s.checkReplay(s.live)
	for i, v := range s.views {
		if d := msgLogDiff(&v.v.messages, v.want); d != "" {
			s.fatalf("view %d of %s: %s", i, v.id, d)
		}
	}
	rebuilt := s.build(len(s.log))
	if d := s.stateDiff(s.live, rebuilt); d != "" {
		s.fatalf("the State rebuilt from the log differs from the live one: %s", d)
	}
	for i, p := range s.snaps {
		s.checkSnapshot(i, p)
	}
	if s.keys != nil {
		s.probe(s.live, "live")
	}
}

// build returns a State that applied the first n entries of the log, each
// answered as the live State answered it.
func (s *stateSim) build(n int) *State {
	s.t.Helper()
	st := NewSealedState(s.keys)
	s.applyLog(st, 0, n, "built")
	return st
}

// applyLog applies entries from to to of the log to st.
func (s *stateSim) applyLog(st *State, from, to int, who string) {
	s.t.Helper()
	f := &fsm{sm: st}
	for i := from; i < to; i++ {
		res := applyScribbled(f, s.log[i])
		err, _ := res.(error)
		if want := s.outcome[i]; (err == nil) != (want == nil) || (err != nil && err.Error() != want.Error()) {
			s.fatalf("%s: entry %d (index %d) = %v; the live State answered %v", who, i, s.log[i].Index, err, want)
		}
	}
}

// applyScribbled applies a copy of l and then overwrites the copy's
// data: the State keeps nothing of an entry's buffer, which the log
// store may reuse.
func applyScribbled(f *fsm, l *raft.Log) any {
	c := *l
	c.Data = slices.Clone(l.Data)
	res := f.Apply(&c)
	for i := range c.Data {
		c.Data[i] = 0xA5
	}
	return res
}

// checkSnapshot persists snapshot i and checks it against the log.
func (s *stateSim) checkSnapshot(i int, p pendingSnap) {
	s.t.Helper()
	sink := &bufSink{}
	if err := p.snap.Persist(sink); err != nil || !sink.closed || sink.canceled {
		s.fatalf("snapshot %d: Persist = %v (closed %v, canceled %v)", i, err, sink.closed, sink.canceled)
	}
	p.snap.Release()
	persisted := sink.Bytes()
	then := s.build(p.at)
	if got, want := s.plain(persisted), s.encoding(then); !bytes.Equal(got, want) {
		s.fatalf("snapshot %d (after entry %d) encodes %d bytes unlike a State built from the entries before it (%d bytes)", i, p.at, len(got), len(want))
	}
	// Restored into a fresh State, or one that applied other entries
	// (a follower installing the leader's snapshot), stopped or not; the
	// State keeps nothing of the buffer it read.
	r := NewSealedState(s.keys)
	if s.r.IntN(2) == 0 {
		r = s.build(s.r.IntN(len(s.log) + 1))
		if s.r.IntN(2) == 0 {
			bad := append([]byte{kindSealed}, make([]byte, sealedHeader+atrest.Overhead)...)
			if err := r.Apply(s.index+1, bad); err == nil || r.Err() == nil {
				s.fatalf("a record no key opens = %v (Err %v)", err, r.Err())
			}
		}
	}
	in := slices.Clone(persisted)
	if err := (&fsm{sm: r}).Restore(io.NopCloser(bytes.NewReader(in))); err != nil {
		s.fatalf("snapshot %d: Restore: %v", i, err)
	}
	for j := range in {
		in[j] = 0xA5
	}
	if d := s.stateDiff(then, r); d != "" {
		s.fatalf("snapshot %d restored differs from the State it was taken of: %s", i, d)
	}
	// The restored State goes on as the live one; snapshots of it taken
	// on the way are point-in-time too.
	var again []pendingSnap
	for at := p.at; at < len(s.log); {
		next := min(len(s.log), at+1+s.r.IntN(len(s.log)-at))
		s.applyLog(r, at, next, fmt.Sprintf("restored from snapshot %d", i))
		at = next
		if at < len(s.log) && s.r.IntN(3) == 0 {
			snap, err := (&fsm{sm: r}).Snapshot()
			if err != nil {
				s.fatalf("snapshot of the restored State: %v", err)
			}
			again = append(again, pendingSnap{at: at, snap: snap})
		}
	}
	if d := s.stateDiff(s.live, r); d != "" {
		s.fatalf("snapshot %d (after entry %d) restored and given the rest of the log differs from the live State: %s", i, p.at, d)
	}
	s.checkModel(r, fmt.Sprintf("restored from snapshot %d", i))
	for j, q := range again {
		sink := &bufSink{}
		if err := q.snap.Persist(sink); err != nil {
			s.fatalf("snapshot %d of the restored State: %v", j, err)
		}
		if got, want := s.plain(sink.Bytes()), s.encoding(s.build(q.at)); !bytes.Equal(got, want) {
			s.fatalf("snapshot %d of the State restored from snapshot %d (after entry %d) is not point-in-time", j, i, q.at)
		}
	}
	if s.keys != nil {
		s.checkV2(i, persisted, then, p.at)
		s.probe(r, fmt.Sprintf("restored from snapshot %d", i))
	}
}

// checkV2 restores a version 2 snapshot made of a version 3 one (what a
// build before the replay check wrote): the same journal and sessions,
// which the rest of the log extends as on the live State.
func (s *stateSim) checkV2(i int, persisted []byte, then *State, at int) {
	s.t.Helper()
	plain := s.plain(persisted)
	if binary.BigEndian.Uint16(plain[len(snapshotMagic):]) != snapshotKeyed {
		return // no record key yet
	}
	then.mu.Lock()
	nspent := len(then.spent)
	then.mu.Unlock()
	head := len(snapshotMagic) + 2 + 8 + 2 + atrest.HeaderSize
	extra := 1 + 8 + 4 + nspent*atrest.HeaderSize
	v2 := slices.Concat(plain[:head], plain[head+extra:len(plain)-4])
	binary.BigEndian.PutUint16(v2[len(snapshotMagic):], snapshotKeyedV2)
	v2 = binary.BigEndian.AppendUint32(v2, crc32.Checksum(v2, castagnoli))
	sealed, err := s.keys.SealBlob([]byte(sealedSnapshotMagic), v2)
	if err != nil {
		s.t.Fatal(err)
	}
	r := NewSealedState(s.keys)
	if err := r.Restore(bytes.NewReader(append([]byte(sealedSnapshotMagic), sealed...))); err != nil {
		s.fatalf("version 2 of snapshot %d: Restore: %v", i, err)
	}
	f := &fsm{sm: r}
	for j := at; j < len(s.log); j++ {
		res := f.Apply(s.log[j])
		if err, _ := res.(error); (err == nil) != (s.outcome[j] == nil) {
			s.fatalf("version 2 of snapshot %d: entry %d = %v; live answered %v", i, j, err, s.outcome[j])
		}
	}
	s.checkModel(r, fmt.Sprintf("restored from version 2 of snapshot %d", i))
}

// probe checks that st, sealed and equal to the live State, refuses a
// copy of a record or record key applied before, and applies the next
// genuine record (when the current term is this process's or the other
// leader's, which seal the same way).
func (s *stateSim) probe(st *State, who string) {
	s.t.Helper()
	next := s.index + 1
	if s.r.IntN(2) == 0 {
		rec, err := s.sealer.seal(appendJournalRecord(nil, 'P', 0, []byte("probe")))
		if err != nil {
			s.fatalf("seal the probe: %v", err)
		}
		n := st.JournalLen()
		if err := st.Apply(next, rec); err != nil || st.JournalLen() != n+1 {
			s.fatalf("%s: the next genuine record = %v (journal %d → %d)", who, err, n, st.JournalLen())
		}
		next++
	}
	var (
		copyRec []byte
		what    string
	)
	switch {
	case s.ordered && len(s.underKey) > 0 && s.r.IntN(2) == 0:
		copyRec, what = s.underKey[s.r.IntN(len(s.underKey))].rec, "a copy of a record under the current key"
	default:
		copyRec, what = s.keyRecs[s.r.IntN(len(s.keyRecs))], "a copy of a record key"
	}
	n := st.JournalLen()
	if err := st.Apply(next, copyRec); !errors.Is(err, ErrReplayed) || !errors.Is(st.Err(), ErrReplayed) {
		s.fatalf("%s: %s = %v (Err %v); want ErrReplayed, sticky", who, what, err, st.Err())
	}
	if st.JournalLen() != n {
		s.fatalf("%s: %s changed the journal", who, what)
	}
	if _, err := st.Snapshot(); err == nil {
		s.fatalf("%s: a stopped replica took a snapshot", who)
	}
}

// plain returns a snapshot's encoding, opened when sealed.
func (s *stateSim) plain(b []byte) []byte {
	s.t.Helper()
	if s.keys == nil {
		return b
	}
	if !bytes.HasPrefix(b, []byte(sealedSnapshotMagic)) {
		s.fatalf("a sealed State's snapshot is not sealed")
	}
	p, err := s.keys.OpenBlob([]byte(sealedSnapshotMagic), b[len(sealedSnapshotMagic):])
	if err != nil {
		s.fatalf("open snapshot: %v", err)
	}
	return p
}

// encoding returns the plain encoding of a snapshot of st.
func (s *stateSim) encoding(st *State) []byte {
	s.t.Helper()
	b, err := encodeState(st)
	if err != nil {
		s.fatalf("snapshot: %v", err)
	}
	return s.plain(b)
}

// checkModel compares st with the model.
func (s *stateSim) checkModel(st *State, who string) {
	s.t.Helper()
	var got []journal.Record
	if err := st.Replay(func(r journal.Record) error { got = append(got, r); return nil }); err != nil {
		s.fatalf("%s: Replay: %v", who, err)
	}
	if d := recordsDiff(got, s.journal); d != "" {
		s.fatalf("%s: journal: %s", who, d)
	}
	if st.JournalLen() != len(s.journal) {
		s.fatalf("%s: JournalLen %d; want %d", who, st.JournalLen(), len(s.journal))
	}
	for i, idx := range s.jindex {
		if seq, ok := st.journalSeq(idx, 0); !ok || seq != uint64(i)+1 {
			s.fatalf("%s: journalSeq(%d) = %d, %v; want %d", who, idx, seq, ok, i+1)
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, idx := st.records.all(); !slices.Equal(idx, s.jindex) {
		s.fatalf("%s: journal indexes %v; want %v", who, idx, s.jindex)
	}
	if ids, want := slices.Sorted(maps.Keys(st.sessions)), slices.Sorted(maps.Keys(s.sessions)); !slices.Equal(ids, want) {
		s.fatalf("%s: sessions %d; want %d", who, len(ids), len(want))
	}
	for id, m := range s.sessions {
		ss := st.sessions[id]
		if ss.nextSender != m.nextSender || ss.nextTarget != m.nextTarget || ss.created != m.created ||
			ss.hasReservation != m.hasReservation || ss.reserved != m.reserved || ss.clean != m.clean || ss.owner != m.owner {
			s.fatalf("%s: session %.20s: next %d/%d created %d reservation %v %d %v %q; want %d/%d %d %v %d %v %q", who, id,
				ss.nextSender, ss.nextTarget, ss.created, ss.hasReservation, ss.reserved, ss.clean, ss.owner,
				m.nextSender, m.nextTarget, m.created, m.hasReservation, m.reserved, m.clean, m.owner)
		}
		if d := msgLogDiff(&ss.messages, m.msgs); d != "" {
			s.fatalf("%s: session %.20s: %s", who, id, d)
		}
	}
}

// all returns the records of v and their Raft indexes.
func (v *recView) all() ([]journal.Record, []uint64) {
	recs, idx := make([]journal.Record, v.n), make([]uint64, v.n)
	for i := range v.n {
		recs[i], idx[i] = v.record(i), v.meta(i).index
	}
	return recs, idx
}

// checkReplay checks ReplayAfter(n) for every n against the model.
func (s *stateSim) checkReplay(st *State) {
	s.t.Helper()
	for n := 0; n <= len(s.journal); n++ {
		var got []journal.Record
		if err := st.ReplayAfter(uint64(n), func(r journal.Record) error { got = append(got, r); return nil }); err != nil {
			s.fatalf("ReplayAfter(%d): %v", n, err)
		}
		if d := recordsDiff(got, s.journal[n:]); d != "" {
			s.fatalf("ReplayAfter(%d): %s", n, d)
		}
	}
	if err := st.ReplayAfter(uint64(len(s.journal))+1, func(journal.Record) error { return nil }); err == nil {
		s.fatalf("ReplayAfter(%d) of %d records succeeded", len(s.journal)+1, len(s.journal))
	}
	stop := errors.New("stop")
	if len(s.journal) > 1 {
		calls := 0
		if err := st.ReplayAfter(0, func(journal.Record) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
			s.fatalf("ReplayAfter with fn failing = %v after %d calls", err, calls)
		}
	}
}

func recordsDiff(got, want []journal.Record) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d records; want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Seq != w.Seq || g.Type != w.Type || g.Time != w.Time || !bytes.Equal(g.Body, w.Body) {
			return fmt.Sprintf("record %d = %d %c %d %q; want %d %c %d %q", i, g.Seq, g.Type, g.Time, g.Body, w.Seq, w.Type, w.Time, w.Body)
		}
	}
	return ""
}

// msgLogDiff compares a msgLog with the messages it must hold.
func msgLogDiff(l *msgLog, want map[uint64][]byte) string {
	seqs, msgs := l.all()
	if !slices.IsSorted(seqs) || len(slices.Compact(slices.Clone(seqs))) != len(seqs) {
		return fmt.Sprintf("seqs not strictly ascending: %v", seqs)
	}
	if ws := slices.Sorted(maps.Keys(want)); !slices.Equal(seqs, ws) {
		return fmt.Sprintf("messages %v; want %v", seqs, ws)
	}
	for i, seq := range seqs {
		if !bytes.Equal(msgs[i], want[seq]) {
			return fmt.Sprintf("message %d = %q; want %q", seq, msgs[i], want[seq])
		}
	}
	return ""
}

// stateDiff compares everything two States replicate: not what only a
// leader's process holds (the record key it appended, its counter).
func (s *stateSim) stateDiff(a, b *State) string {
	ea, eb := s.encoding(a), s.encoding(b)
	a.mu.Lock()
	defer a.mu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	var d []string
	if a.applied != b.applied {
		d = append(d, fmt.Sprintf("applied %d/%d", a.applied, b.applied))
	}
	ra, ia := a.records.all()
	rb, ib := b.records.all()
	if r := recordsDiff(ra, rb); r != "" {
		d = append(d, "journal: "+r)
	}
	if !slices.Equal(ia, ib) {
		d = append(d, "journal indexes")
	}
	if ka, kb := slices.Sorted(maps.Keys(a.sessions)), slices.Sorted(maps.Keys(b.sessions)); !slices.Equal(ka, kb) {
		d = append(d, fmt.Sprintf("%d/%d sessions", len(ka), len(kb)))
	} else {
		for _, id := range ka {
			x, y := a.sessions[id], b.sessions[id]
			if x.nextSender != y.nextSender || x.nextTarget != y.nextTarget || x.created != y.created ||
				x.hasReservation != y.hasReservation || x.reserved != y.reserved || x.clean != y.clean || x.owner != y.owner {
				d = append(d, fmt.Sprintf("session %.20s: %+v / %+v", id, *x, *y))
			}
			xs, xm := x.messages.all()
			ys, ym := y.messages.all()
			if !slices.Equal(xs, ys) || !slices.EqualFunc(xm, ym, bytes.Equal) {
				d = append(d, fmt.Sprintf("session %.20s: messages %v / %v", id, xs, ys))
			}
		}
	}
	if !bytes.Equal(a.inHeader, b.inHeader) || (a.in == nil) != (b.in == nil) {
		d = append(d, "record key")
	}
	if a.opened != b.opened || a.ordered != b.ordered {
		d = append(d, fmt.Sprintf("opened %d/%d, ordered %v/%v", a.opened, b.opened, a.ordered, b.ordered))
	}
	if !slices.EqualFunc(a.spent, b.spent, bytes.Equal) {
		d = append(d, fmt.Sprintf("%d/%d earlier record keys", len(a.spent), len(b.spent)))
	}
	if (a.err == nil) != (b.err == nil) {
		d = append(d, fmt.Sprintf("err %v/%v", a.err, b.err))
	}
	if !bytes.Equal(ea, eb) {
		d = append(d, "snapshot encodings")
	}
	return strings.Join(d, "; ")
}

// bufSink is a raft.SnapshotSink into memory.
type bufSink struct {
	bytes.Buffer
	closed, canceled bool
}

func (b *bufSink) ID() string    { return "prop" }
func (b *bufSink) Cancel() error { b.canceled = true; return nil }
func (b *bufSink) Close() error  { b.closed = true; return nil }

var _ raft.SnapshotSink = (*bufSink)(nil)
