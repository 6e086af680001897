package fix

import "sync"

// sentIndexSize is how many recent requests sentIndex remembers: a Reject
// refers to a recent message.
const sentIndexSize = 1 << 16

// sentIndex maps the MsgSeqNums of the last requests a session sent to
// the requests, so that a Reject or BusinessMessageReject naming only
// RefSeqNum (45) can be matched to its ClOrdID. Safe for concurrent use.
type sentIndex struct {
	mu    sync.Mutex
	max   int
	bySeq map[int]sentMsg
	ring  []int // sequence numbers in insertion order, len <= max
	head  int   // next slot of ring to overwrite once full
}

func (x *sentIndex) init(max int) {
	x.max = max
	x.bySeq = make(map[int]sentMsg)
}

// add remembers m, forgetting the oldest entry when full.
func (x *sentIndex) add(m sentMsg) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.bySeq[m.seq]; !ok {
		if len(x.ring) < x.max {
			x.ring = append(x.ring, m.seq)
		} else {
			delete(x.bySeq, x.ring[x.head])
			x.ring[x.head] = m.seq
			x.head = (x.head + 1) % x.max
		}
	}
	x.bySeq[m.seq] = m
}

// lookup returns the request sent with MsgSeqNum seq.
func (x *sentIndex) lookup(seq int) (sentMsg, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	m, ok := x.bySeq[seq]
	return m, ok
}

// reset forgets every request.
func (x *sentIndex) reset() {
	x.mu.Lock()
	defer x.mu.Unlock()
	clear(x.bySeq)
	x.ring, x.head = x.ring[:0], 0
}
