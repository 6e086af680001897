package fixsim

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/store/file"
)

// stores is the quickfix MessageStoreFactory of every generation. Without
// a directory it keeps one memory store per session for the Acceptor's
// lifetime, so that Restart keeps sequence numbers and sent messages. With
// one it opens file stores, which a Restart closes and opens again: the
// new sessions read what the old ones wrote, as a restarted process would.
// Safe for concurrent use.
type stores struct {
	file  quickfix.MessageStoreFactory // nil for memory stores
	yield bool                         // lockedStore.yield of the stores created
	spins atomic.Uint64                // idle event-loop turns of all stores' sessions

	mu   sync.Mutex
	mem  map[quickfix.SessionID]quickfix.MessageStore
	open []quickfix.MessageStore // file stores of the current generation
}

var _ quickfix.MessageStoreFactory = (*stores)(nil)

func newStores(settings *quickfix.Settings, dir string, yield bool) *stores {
	s := &stores{mem: map[quickfix.SessionID]quickfix.MessageStore{}, yield: yield}
	if dir != "" {
		s.file = file.NewStoreFactory(settings)
	}
	return s
}

// Create implements quickfix.MessageStoreFactory. The stores it returns
// are lockedStores.
func (s *stores) Create(sid quickfix.SessionID) (quickfix.MessageStore, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file != nil {
		st, err := s.file.Create(sid)
		if err != nil {
			return nil, err
		}
		ls := &lockedStore{st: st, yield: s.yield, spins: &s.spins}
		s.open = append(s.open, ls)
		return ls, nil
	}
	if st, ok := s.mem[sid]; ok {
		return st, nil
	}
	st, err := quickfix.NewMemoryStoreFactory().Create(sid)
	if err != nil {
		return nil, err
	}
	ls := &lockedStore{st: st, yield: s.yield, spins: &s.spins}
	s.mem[sid] = ls
	return ls, nil
}

// closeOpen closes the file stores opened since the last call. quickfix
// never closes stores; call it once a generation's sessions have stopped.
func (s *stores) closeOpen() error {
	s.mu.Lock()
	open := s.open
	s.open = nil
	s.mu.Unlock()
	var first error
	for _, st := range open {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// lockedStore serialises a quickfix MessageStore. quickfix (v0.9.11) calls
// a session's store from the session's goroutine without a lock (reading
// sequence numbers when it handles a Logon or a ResendRequest) while
// SendToTarget, called from any goroutine, saves messages and advances the
// sender sequence number under the session's send mutex only; its memory
// store is a plain struct, so that is a data race.
type lockedStore struct {
	mu    sync.Mutex
	st    quickfix.MessageStore
	yield bool           // see CreationTime
	idle  int            // CreationTime calls since any other call
	spins *atomic.Uint64 // counts calls with idle > 1
}

var _ quickfix.MessageStore = (*lockedStore)(nil)

func (l *lockedStore) NextSenderMsgSeqNum() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.NextSenderMsgSeqNum()
}

func (l *lockedStore) NextTargetMsgSeqNum() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.NextTargetMsgSeqNum()
}

func (l *lockedStore) IncrNextSenderMsgSeqNum() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.IncrNextSenderMsgSeqNum()
}

func (l *lockedStore) IncrNextTargetMsgSeqNum() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.IncrNextTargetMsgSeqNum()
}

func (l *lockedStore) SetNextSenderMsgSeqNum(next int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.SetNextSenderMsgSeqNum(next)
}

func (l *lockedStore) SetNextTargetMsgSeqNum(next int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.SetNextTargetMsgSeqNum(next)
}

// CreationTime returns the store's creation time. quickfix asks for it on
// every turn of a session's event loop (CheckSessionTime), and that loop
// busy-waits when its connection writer is not ready for the next queued
// message: SendAppMessages fails a non-blocking channel send and
// re-notifies itself, so the loop never blocks. The writer goroutine it is
// waiting for is then typically queued on the same P behind it and runs
// only when the scheduler preempts the spinning loop (10ms), or when an
// idle P steals it; with few cores every queued message can cost
// milliseconds. With yield set, a call that follows another CreationTime
// call with no other store call in between (a turn of the loop that
// neither received nor queued anything: the spin) yields the processor so
// the writer runs.
func (l *lockedStore) CreationTime() time.Time {
	l.mu.Lock()
	t := l.st.CreationTime()
	l.idle++
	spin := l.idle > 1
	l.mu.Unlock()
	if spin {
		l.spins.Add(1)
		if l.yield {
			runtime.Gosched()
		}
	}
	return t
}

func (l *lockedStore) SetCreationTime(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	l.st.SetCreationTime(t)
}

func (l *lockedStore) SaveMessage(seqNum int, msg []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.SaveMessage(seqNum, msg)
}

func (l *lockedStore) SaveMessageAndIncrNextSenderMsgSeqNum(seqNum int, msg []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.SaveMessageAndIncrNextSenderMsgSeqNum(seqNum, msg)
}

func (l *lockedStore) GetMessages(begin, end int) ([][]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.GetMessages(begin, end)
}

// IterateMessages copies the messages under the lock and calls cb
// without it: quickfix's callback sends each message to the connection.
func (l *lockedStore) IterateMessages(begin, end int, cb func([]byte) error) error {
	msgs, err := l.GetMessages(begin, end)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if err := cb(m); err != nil {
			return err
		}
	}
	return nil
}

func (l *lockedStore) Refresh() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.Refresh()
}

func (l *lockedStore) Reset() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.Reset()
}

func (l *lockedStore) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.Close()
}
