package fix

import (
	"sync"
	"time"

	"github.com/quickfixgo/quickfix"
)

// NewLockedStore wraps st so that every call is serialised.
func NewLockedStore(st quickfix.MessageStore) *LockedStore { return &LockedStore{st: st} }

// LockedStore serialises a quickfix MessageStore. Every FIX engine of the
// gateway wraps its stores in one. quickfix (v0.9.11) reads
// and advances a session's sequence numbers on the session goroutine
// without a lock, while SendToTarget, called by the pacer goroutine, saves
// messages and advances the sender sequence number under the session's
// send mutex only; the file store's in-memory cache is a plain struct.
type LockedStore struct {
	mu sync.Mutex
	st quickfix.MessageStore
}

var _ quickfix.MessageStore = (*LockedStore)(nil)

func (l *LockedStore) NextSenderMsgSeqNum() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.NextSenderMsgSeqNum()
}

func (l *LockedStore) NextTargetMsgSeqNum() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.NextTargetMsgSeqNum()
}

func (l *LockedStore) IncrNextSenderMsgSeqNum() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.IncrNextSenderMsgSeqNum()
}

func (l *LockedStore) IncrNextTargetMsgSeqNum() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.IncrNextTargetMsgSeqNum()
}

func (l *LockedStore) SetNextSenderMsgSeqNum(next int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.SetNextSenderMsgSeqNum(next)
}

func (l *LockedStore) SetNextTargetMsgSeqNum(next int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.SetNextTargetMsgSeqNum(next)
}

func (l *LockedStore) CreationTime() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.CreationTime()
}

func (l *LockedStore) SetCreationTime(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.st.SetCreationTime(t)
}

func (l *LockedStore) SaveMessage(seqNum int, msg []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.SaveMessage(seqNum, msg)
}

func (l *LockedStore) SaveMessageAndIncrNextSenderMsgSeqNum(seqNum int, msg []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.SaveMessageAndIncrNextSenderMsgSeqNum(seqNum, msg)
}

func (l *LockedStore) GetMessages(begin, end int) ([][]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.GetMessages(begin, end)
}

// IterateMessages copies the messages under the lock and calls cb without
// it: quickfix's callback writes each message to the connection.
func (l *LockedStore) IterateMessages(begin, end int, cb func([]byte) error) error {
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

func (l *LockedStore) Refresh() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.Refresh()
}

func (l *LockedStore) Reset() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.Reset()
}

func (l *LockedStore) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.Close()
}

// LockedStoreFactory returns a factory whose stores are f's, each wrapped
// in a LockedStore.
func LockedStoreFactory(f quickfix.MessageStoreFactory) quickfix.MessageStoreFactory {
	return lockedFactory{f}
}

type lockedFactory struct{ f quickfix.MessageStoreFactory }

func (l lockedFactory) Create(sid quickfix.SessionID) (quickfix.MessageStore, error) {
	st, err := l.f.Create(sid)
	if err != nil {
		return nil, err
	}
	return NewLockedStore(st), nil
}
