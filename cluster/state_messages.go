package cluster

import (
	"slices"
	"sort"
	"sync/atomic"
)

// A session's stored FIX messages are kept as the journal records are
// (state_records.go), and for the same reasons: a day's million messages
// sent must neither be copied on Raft's FSM goroutine when what holds them
// grows (a stall of every acknowledgement behind it) nor each be an object
// the garbage collector marks. Their seqs and places sit in fixed-size
// chunks without pointers, their bytes in the byte arenas.
//
// Unlike the journal, a message can be replaced (quickfix saves a message
// again under a seq it holds, after its next sender seq was lowered) or
// inserted before the last (a seq skipped, then saved): the rare cases.
// A message's bytes are never written over: a replacement's go to the
// arenas too. A slot written over or moved is copied first, with its whole
// chunk, when the chunk may be held by a view (copy-on-write); the chunk
// list is copied when a view may hold it and a chunk in it is replaced.

const (
	// msgChunkLen is how many messages a chunk holds (24 KiB).
	msgChunkLen = 1024
	// firstMsgArena is the size of a msgLog's first arena.
	firstMsgArena = 4 << 10
)

// msgMeta is a stored message without its bytes, which are
// arenas[arena][off:off+len]. It holds no pointer, so the GC does not
// scan a chunk of them.
type msgMeta struct {
	seq   uint64 // MsgSeqNum
	off   uint32
	len   uint32
	arena uint32
}

// msgChunk is msgChunkLen messages' metadata, written only by the msgLog
// that made it (owner). The owner appends to a chunk in place, past what
// any view holds, and writes a slot over in place only when no view was
// taken since it made the chunk (gen).
type msgChunk struct {
	owner uint64 // the id of the msgLog that made it
	gen   uint64 // the owner's gen when it made it
	m     [msgChunkLen]msgMeta
}

// msgLogIDs hands out msgLog ids (msgLog.id): a chunk's owner is unique
// among the msgLogs alive.
var msgLogIDs atomic.Uint64

// msgLog is a session's stored messages in MsgSeqNum order (ascending,
// each seq once). Its zero value is empty.
//
// A snapshot, or a leader's store being opened (State.session), takes a
// view (view) while later sets go on; the view is itself a msgLog that
// may be changed (a store's copy is one) without the two seeing each
// other's changes. A msgLog is owned by one goroutine at a time: the
// State's by the State (s.mu held), a store's by that store (its quickfix
// methods). A view is read on any goroutine while its source is changed,
// with no lock: the source writes only slots, arena bytes and list
// elements the view does not hold, or copies. A msgLog is copied only
// by view, or as a view nothing wrote to yet (its id is still 0).
type msgLog struct {
	chunks []*msgChunk // chunks[i] holds messages i*msgChunkLen on
	arenas [][]byte    // each element set once, its bytes written once
	n      int

	cur  int // 1 + the arena small messages are copied into; 0: none
	fill int // how much of arenas[cur-1] is written
	// win is where the last arena starts in the buffer addShared took it
	// from, if windowed.
	win      int
	windowed bool

	id         uint64 // its chunks' owner; 0 until it first writes one
	gen        uint64 // counts the views taken
	listShared bool   // a view may hold chunks' backing array
}

// meta returns message i's metadata (the i-th held, from 0).
func (l *msgLog) meta(i int) *msgMeta { return &l.chunks[i/msgChunkLen].m[i%msgChunkLen] }

// at returns message i (the i-th held, from 0) and its seq. The message
// is a slice of an arena, capped, that never changes: the caller may keep
// it but must not change it.
func (l *msgLog) at(i int) (seq uint64, m []byte) {
	mm := l.meta(i)
	if mm.len == 0 {
		return mm.seq, nil
	}
	end := int(mm.off) + int(mm.len)
	return mm.seq, l.arenas[mm.arena][mm.off:end:end]
}

// len returns how many messages are held.
func (l *msgLog) len() int { return l.n }

// search returns the position of the first message of seq or later (n
// if none).
func (l *msgLog) search(seq uint64) int {
	return sort.Search(l.n, func(i int) bool { return l.meta(i).seq >= seq })
}

// span returns the positions [lo, hi) of the messages held under
// sequence numbers begin to end.
func (l *msgLog) span(begin, end int) (lo, hi int) {
	if end < begin || end <= 0 {
		return 0, 0
	}
	return l.search(uint64(max(begin, 0))), l.search(uint64(end) + 1)
}

// set stores a copy of m as message seq, replacing any held.
func (l *msgLog) set(seq uint64, m []byte) {
	mm := l.store(m)
	mm.seq = seq
	if l.n == 0 || seq > l.meta(l.n-1).seq {
		*l.appendSlot() = mm
		l.n++
		return
	}
	i := l.search(seq)
	if l.meta(i).seq == seq {
		*l.writable(i) = mm
		return
	}
	for j := l.n; j > i; j-- {
		*l.writable(j) = *l.meta(j - 1)
	}
	*l.writable(i) = mm
	l.n++
}

// store copies m into the arenas and returns where it is (seq unset).
func (l *msgLog) store(m []byte) msgMeta {
	mm := msgMeta{len: uint32(len(m))}
	switch {
	case len(m) == 0:
	case len(m) > ownArena:
		l.arenas = append(l.arenas, slices.Clone(m))
		mm.arena, l.windowed = uint32(len(l.arenas)-1), false
	default:
		if l.cur == 0 || l.fill+len(m) > len(l.arenas[l.cur-1]) {
			// A session's first arenas are smaller, doubling up to
			// arenaSize: most sessions hold few messages.
			size := firstMsgArena
			if l.cur > 0 {
				size = min(arenaSize, 2*len(l.arenas[l.cur-1]))
			}
			l.arenas = append(l.arenas, make([]byte, max(size, len(m))))
			l.cur, l.fill, l.windowed = len(l.arenas), 0, false
		}
		copy(l.arenas[l.cur-1][l.fill:], m)
		mm.arena, mm.off = uint32(l.cur-1), uint32(l.fill)
		l.fill += len(m)
	}
	return mm
}

// addShared appends message seq, above every seq held, whose bytes are
// buf[off:off+n], not copied: buf never changes after (a snapshot read
// that Restore hands over). Messages of one buf, added one after the
// other, share a window of it, as journal records do
// (journalRecs.addShared, limit likewise).
func (l *msgLog) addShared(seq uint64, buf []byte, off, n, limit int) {
	mm := msgMeta{seq: seq, len: uint32(n)}
	if n > 0 {
		if !l.windowed || off+n-l.win > limit {
			l.arenas = append(l.arenas, buf[off:])
			l.win, l.windowed = off, true
		}
		mm.arena, mm.off = uint32(len(l.arenas)-1), uint32(off-l.win)
	}
	*l.appendSlot() = mm
	l.n++
}

// mine returns l's id, taking one at its first write.
func (l *msgLog) mine() uint64 {
	if l.id == 0 {
		l.id = msgLogIDs.Add(1)
	}
	return l.id
}

// appendSlot returns the slot of message n, past what any view holds,
// adding a chunk when the last is full, or copying the last when another
// msgLog made it. The caller sets it whole and then counts it (n++).
func (l *msgLog) appendSlot() *msgMeta {
	c := l.n / msgChunkLen
	switch {
	case c == len(l.chunks):
		l.chunks = append(l.chunks, &msgChunk{owner: l.mine(), gen: l.gen})
	case l.chunks[c].owner != l.mine():
		l.own(c)
	}
	return &l.chunks[c].m[l.n%msgChunkLen]
}

// writable returns slot i (at most n) to be written over, copying its
// chunk first when a view may hold it.
func (l *msgLog) writable(i int) *msgMeta {
	c := i / msgChunkLen
	switch {
	case c == len(l.chunks):
		l.chunks = append(l.chunks, &msgChunk{owner: l.mine(), gen: l.gen})
	case l.chunks[c].owner != l.mine() || l.chunks[c].gen != l.gen:
		l.own(c)
	}
	return &l.chunks[c].m[i%msgChunkLen]
}

// own replaces chunk c with a copy of its slots held (below n) that l
// made, and so may write. It reads no slot past n: the chunk's owner may
// be appending there.
func (l *msgLog) own(c int) {
	nc := &msgChunk{owner: l.mine(), gen: l.gen}
	copy(nc.m[:], l.chunks[c].m[:min(msgChunkLen, l.n-c*msgChunkLen)])
	if l.listShared {
		l.chunks, l.listShared = slices.Clone(l.chunks), false
	}
	l.chunks[c] = nc
}

// view returns the messages held now, as a msgLog later changes to
// either do not reach the other.
func (l *msgLog) view() msgLog {
	l.gen++
	l.listShared = true
	return msgLog{
		chunks: l.chunks[:len(l.chunks):len(l.chunks)],
		arenas: l.arenas[:len(l.arenas):len(l.arenas)],
		n:      l.n, listShared: true,
	}
}
