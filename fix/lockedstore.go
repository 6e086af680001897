package fix

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quickfixgo/quickfix"
)

// StoreOption configures a LockedStore.
type StoreOption func(*LockedStore)

// CountSpins makes the store add to n every idle turn of its session's
// event loop (see YieldOnSpin): a measure of quickfix's busy-waiting that
// benchmarks report. n may be shared by several stores.
func CountSpins(n *atomic.Uint64) StoreOption {
	return func(l *LockedStore) { l.spins = n }
}

// YieldOnSpin makes the store yield the processor (runtime.Gosched) on
// every idle turn of its session's event loop. quickfix asks for the
// store's CreationTime on every turn of a session's loop
// (CheckSessionTime), and that loop busy-waits while its connection
// writer is not ready for the next queued message: SendAppMessages fails
// a non-blocking channel send and re-notifies itself. The writer it waits
// for is typically queued on the same P behind it and runs only when the
// scheduler preempts the loop (10 ms), or an idle P steals it; with few
// cores every queued message can cost milliseconds. A CreationTime call
// that follows another one with no other store call in between is such a
// turn: it neither received nor queued anything. Yielding there lets the
// writer run. The simulator's stores use it, and so do the stores this
// package opens for a session (the Upstream's, whose pacer keeps several
// messages in quickfix's queue, see UpstreamConfig.SendWindow, and
// ReplicatedStores'); the broker acceptor's sessions are paced one message
// at a time and seldom spin.
func YieldOnSpin(yield bool) StoreOption {
	return func(l *LockedStore) { l.yield = yield }
}

// OnReadError makes the store call fn with the error of each read of its
// messages that failed (GetMessages, IterateMessages): a message failing
// its CheckSum (ErrStoreDamaged), a sealed record tampered with, an I/O
// error. Such a read is a resend the counterparty asked for: quickfix
// does not make it and drops the session, and the counterparty asks
// again at the next logon, so the session stays down until an operator
// acts. fn is called on the reader's goroutine without the store's lock.
func OnReadError(fn func(error)) StoreOption {
	return func(l *LockedStore) { l.onReadError = fn }
}

// NewLockedStore wraps st so that every call is serialised.
func NewLockedStore(st quickfix.MessageStore, opts ...StoreOption) *LockedStore {
	l := &LockedStore{st: st}
	for _, o := range opts {
		o(l)
	}
	return l
}

// LockedStore serialises a quickfix MessageStore. Every FIX engine of the
// gateway wraps its stores in one. quickfix (v0.9.11) reads and advances a
// session's sequence numbers on the session goroutine without a lock,
// while SendToTarget, called from other goroutines (a pacer, the
// simulator's venue, a test), saves messages and advances the sender
// sequence number under the session's send mutex only; quickfix's file
// and memory stores are plain structs. All methods are safe for
// concurrent use; IterateMessages calls its callback without the lock.
type LockedStore struct {
	mu    sync.Mutex
	st    quickfix.MessageStore
	idle  int            // CreationTime calls since any other call; guarded by mu
	spins *atomic.Uint64 // CountSpins; nil: not counted
	yield bool           // YieldOnSpin
	// onReadError is OnReadError's fn; nil: not told.
	onReadError func(error)
}

var _ quickfix.MessageStore = (*LockedStore)(nil)

func (l *LockedStore) NextSenderMsgSeqNum() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.NextSenderMsgSeqNum()
}

func (l *LockedStore) NextTargetMsgSeqNum() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.NextTargetMsgSeqNum()
}

func (l *LockedStore) IncrNextSenderMsgSeqNum() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.IncrNextSenderMsgSeqNum()
}

func (l *LockedStore) IncrNextTargetMsgSeqNum() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.IncrNextTargetMsgSeqNum()
}

func (l *LockedStore) SetNextSenderMsgSeqNum(next int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.SetNextSenderMsgSeqNum(next)
}

func (l *LockedStore) SetNextTargetMsgSeqNum(next int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.SetNextTargetMsgSeqNum(next)
}

// CreationTime implements quickfix.MessageStore; it also notices the idle
// turns of the session's event loop (see YieldOnSpin).
func (l *LockedStore) CreationTime() time.Time {
	l.mu.Lock()
	t := l.st.CreationTime()
	l.idle++
	spin := l.idle > 1
	l.mu.Unlock()
	if spin {
		if l.spins != nil {
			l.spins.Add(1)
		}
		if l.yield {
			runtime.Gosched()
		}
	}
	return t
}

func (l *LockedStore) SetCreationTime(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	l.st.SetCreationTime(t)
}

func (l *LockedStore) SaveMessage(seqNum int, msg []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.SaveMessage(seqNum, msg)
}

func (l *LockedStore) SaveMessageAndIncrNextSenderMsgSeqNum(seqNum int, msg []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.SaveMessageAndIncrNextSenderMsgSeqNum(seqNum, msg)
}

// GetMessages returns the messages stored under begin..end; a message
// whose bytes fail their CheckSum (changed on disk) fails the call with
// ErrStoreDamaged rather than being resent: quickfix rebuilds the CheckSum
// of what it resends.
func (l *LockedStore) GetMessages(begin, end int) ([][]byte, error) {
	msgs, err := l.getMessages(begin, end)
	if err != nil && l.onReadError != nil {
		l.onReadError(err)
	}
	return msgs, err
}

// getMessages is GetMessages without OnReadError.
func (l *LockedStore) getMessages(begin, end int) ([][]byte, error) {
	l.mu.Lock()
	msgs, err := l.st.GetMessages(begin, end)
	l.idle = 0
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if err := verifyStored(m); err != nil {
			return nil, err
		}
	}
	return msgs, nil
}

// IterateMessages copies the messages under the lock and calls cb without
// it: quickfix's callback writes each message to the connection.
func (l *LockedStore) IterateMessages(begin, end int, cb func([]byte) error) error {
	return eachMessage(l.GetMessages, begin, end, cb)
}

// eachMessage implements a store's IterateMessages on its GetMessages:
// the messages are read first, then cb is called for each, with no lock
// of the store held.
func eachMessage(get func(begin, end int) ([][]byte, error), begin, end int, cb func([]byte) error) error {
	msgs, err := get(begin, end)
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
	l.idle = 0
	return l.st.Refresh()
}

func (l *LockedStore) Reset() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.Reset()
}

func (l *LockedStore) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle = 0
	return l.st.Close()
}

// LockedStoreFactory returns a factory whose stores are f's, each wrapped
// in a LockedStore with opts.
func LockedStoreFactory(f quickfix.MessageStoreFactory, opts ...StoreOption) quickfix.MessageStoreFactory {
	return lockedFactory{f: f, opts: opts}
}

type lockedFactory struct {
	f    quickfix.MessageStoreFactory
	opts []StoreOption
}

func (l lockedFactory) Create(sid quickfix.SessionID) (quickfix.MessageStore, error) {
	st, err := l.f.Create(sid)
	if err != nil {
		return nil, fmt.Errorf("fix: open store of %s: %w", sid, err)
	}
	return NewLockedStore(st, l.opts...), nil
}
