package cluster

import (
	"math"
	"slices"
	"sort"

	"sgw/journal"
)

// A State holds every journal record of the day: millions. They are kept
// so that Raft's FSM goroutine never copies what is held (a growing slice
// of records copies all of them at each doubling, a stall of every
// acknowledgement behind it) and the garbage collector has few pointers to
// mark (a body allocated per record is one more object at every cycle):
// the records' metadata sit in fixed-size chunks without pointers, their
// bodies in large byte arenas. Both are append-only: a slot or a byte,
// once written, never changes, and neither is ever reused, so a view
// (a chunk list, an arena list and a count) stays what it was while
// records are appended after it.
const (
	// recChunkLen is how many records a chunk holds (32 KiB, the
	// largest size the allocator takes from its per-P caches).
	recChunkLen = 1024
	// arenaSize is the size of an arena that bodies are copied into.
	arenaSize = 64 << 10
	// ownArena is the largest body copied into a shared arena; a larger
	// one gets an arena of its own, so that at most this much of an
	// arena is left unused.
	ownArena = arenaSize / 4
	// maxArenaOffset bounds a body's end in its arena (recMeta's uint32s).
	maxArenaOffset = math.MaxUint32
)

// recMeta is a journal record without its body, which is
// arenas[arena][off:off+len]; its seq is its position from 1. It holds no
// pointer, so the GC does not scan a chunk of them.
type recMeta struct {
	index uint64 // the Raft index it was applied at
	time  int64
	off   uint32
	len   uint32
	arena uint32
	typ   byte
}

// recChunk is recChunkLen records' metadata.
type recChunk [recChunkLen]recMeta

// journalRecs is a State's journal records, dense from seq 1. Owned by
// the State (its mu held to append or to take a view).
type journalRecs struct {
	recView
	cur  int // the arena that small bodies are copied into, or -1: none
	fill int // how much of arenas[cur] is written
	// window is where the last arena starts in the buffer addShared took
	// it from, or -1: the last arena is not a window of one.
	window int
}

// recView is the records up to n: the chunk list and the arena list as
// they were then. The State appends only past n (in the last chunk, in
// arena cur past fill, or to the lists past their length) and writes no
// list element once set, so a view is read with no lock held, on any
// goroutine, while records are appended.
type recView struct {
	chunks []*recChunk // chunks[i] holds records i*recChunkLen+1 on
	arenas [][]byte    // each element set once, its bytes written once
	n      int
}

func newJournalRecs() journalRecs { return journalRecs{cur: -1, window: -1} }

// add appends a record applied at Raft index index, with a copy of body.
func (j *journalRecs) add(index uint64, typ byte, time int64, body []byte) {
	var arena, off int
	switch {
	case len(body) == 0:
	case len(body) > ownArena:
		j.arenas = append(j.arenas, slices.Clone(body))
		arena, j.window = len(j.arenas)-1, -1
	default:
		if j.cur < 0 || j.fill+len(body) > len(j.arenas[j.cur]) {
			j.arenas = append(j.arenas, make([]byte, arenaSize))
			j.cur, j.fill, j.window = len(j.arenas)-1, 0, -1
		}
		copy(j.arenas[j.cur][j.fill:], body)
		arena, off = j.cur, j.fill
		j.fill += len(body)
	}
	*j.next() = recMeta{index: index, time: time, typ: typ, arena: uint32(arena), off: uint32(off), len: uint32(len(body))}
	j.n++
}

// addShared appends a record whose body is buf[off:off+n], not copied:
// buf never changes after (a snapshot read that Restore hands over).
// Records of one buf, added one after the other, share its arena: the
// last one, a window of buf from offset window on. A body ending more
// than limit (maxArenaOffset; less in tests) past the window's start
// begins a new window. Bodies added later (add) are never copied into buf.
func (j *journalRecs) addShared(index uint64, typ byte, time int64, buf []byte, off, n, limit int) {
	m := recMeta{index: index, time: time, typ: typ, len: uint32(n)}
	if n > 0 {
		if j.window < 0 || off+n-j.window > limit {
			j.arenas = append(j.arenas, buf[off:])
			j.window = off
		}
		m.arena, m.off = uint32(len(j.arenas)-1), uint32(off-j.window)
	}
	*j.next() = m
	j.n++
}

// next returns the slot of record n+1, adding a chunk when the last is
// full. The caller sets it whole and then counts it (n++).
func (j *journalRecs) next() *recMeta {
	c, i := j.n/recChunkLen, j.n%recChunkLen
	if c == len(j.chunks) {
		j.chunks = append(j.chunks, new(recChunk))
	}
	return &j.chunks[c][i]
}

// view returns the records held now, unchanged by later appends.
func (j *journalRecs) view() recView {
	return recView{chunks: j.chunks[:len(j.chunks):len(j.chunks)], arenas: j.arenas[:len(j.arenas):len(j.arenas)], n: j.n}
}

// meta returns record i+1's metadata.
func (v *recView) meta(i int) *recMeta { return &v.chunks[i/recChunkLen][i%recChunkLen] }

// record returns record i+1. Its Body is a slice of an arena, capped, so
// that appending to it copies: the bytes never change, and the caller
// may keep it.
func (v *recView) record(i int) journal.Record {
	m := v.meta(i)
	r := journal.Record{Seq: uint64(i) + 1, Type: m.typ, Time: m.time}
	if m.len > 0 {
		end := int(m.off) + int(m.len)
		r.Body = v.arenas[m.arena][m.off:end:end]
	}
	return r
}

// search returns the position of the first record applied at index or
// later (n if none).
func (v *recView) search(index uint64) int {
	return sort.Search(v.n, func(i int) bool { return v.meta(i).index >= index })
}
