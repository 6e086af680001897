package fixsim

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/store/file"

	"sgw/fix"
)

// stores is the quickfix MessageStoreFactory of every generation. Without
// a directory it keeps one memory store per session for the Acceptor's
// lifetime, so that Restart keeps sequence numbers and sent messages. With
// one it opens file stores, which a Restart closes and opens again: the
// new sessions read what the old ones wrote, as a restarted process would.
// Safe for concurrent use.
type stores struct {
	file  quickfix.MessageStoreFactory // nil for memory stores
	yield bool                         // fix.YieldOnSpin of the stores created
	spins atomic.Uint64                // idle event-loop turns of all stores' sessions (fix.CountSpins)

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
// are fix.LockedStores that count the idle turns of their sessions'
// loops and, with yield, yield the processor on them (fix.YieldOnSpin):
// quickfix's session loop busy-waits while its connection writer is
// busy, and the simulator's sessions are not paced.
func (s *stores) Create(sid quickfix.SessionID) (quickfix.MessageStore, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file != nil {
		st, err := s.file.Create(sid)
		if err != nil {
			return nil, fmt.Errorf("fixsim: open store of %s: %w", sid, err)
		}
		ls := s.lock(st)
		s.open = append(s.open, ls)
		return ls, nil
	}
	if st, ok := s.mem[sid]; ok {
		return st, nil
	}
	st, err := quickfix.NewMemoryStoreFactory().Create(sid)
	if err != nil {
		return nil, fmt.Errorf("fixsim: memory store of %s: %w", sid, err)
	}
	ls := s.lock(st)
	s.mem[sid] = ls
	return ls, nil
}

func (s *stores) lock(st quickfix.MessageStore) *fix.LockedStore {
	return fix.NewLockedStore(st, fix.CountSpins(&s.spins), fix.YieldOnSpin(s.yield))
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
