package broker

import (
	"fmt"
	"sync"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/store/file"

	"sgw/atrest"
	"sgw/fix"
)

// stores is the acceptor's quickfix MessageStoreFactory: quickfix's file
// stores, or with a key ring the sealed stores of package fix, each
// wrapped in a lock. Safe for concurrent use.
type stores struct {
	file quickfix.MessageStoreFactory
	dir  string
	keys *atrest.KeyRing // nil: plain
	sync bool

	mu   sync.Mutex
	open []*fix.LockedStore
}

var _ quickfix.MessageStoreFactory = (*stores)(nil)

func newStores(settings *quickfix.Settings, cfg Config) *stores {
	return &stores{file: file.NewStoreFactory(settings), dir: cfg.StoreDir, keys: cfg.Keys, sync: cfg.StoreSync}
}

// Create implements quickfix.MessageStoreFactory; quickfix calls it once
// per session when the acceptor is created. A sealed store where the
// acceptor has no key ring is refused (ErrKey), and a plain one where it
// has (ErrPlain).
func (s *stores) Create(sid quickfix.SessionID) (quickfix.MessageStore, error) {
	var st quickfix.MessageStore
	var err error
	if s.keys != nil {
		st, err = fix.OpenSealedStore(s.dir, sid, s.keys, s.sync)
	} else if err = fix.CheckPlainStore(s.dir, sid); err == nil {
		st, err = s.file.Create(sid)
	}
	if err != nil {
		return nil, fmt.Errorf("broker: open store of %s: %w", sid, err)
	}
	ls := fix.NewLockedStore(st)
	s.mu.Lock()
	s.open = append(s.open, ls)
	s.mu.Unlock()
	return ls, nil
}

// storeFactory is the sessions' stores as Run uses them: quickfix creates
// them, Run closes them after the sessions stopped (quickfix never closes
// its stores).
type storeFactory interface {
	quickfix.MessageStoreFactory
	Close() error
}

var (
	_ storeFactory = (*stores)(nil)
	_ storeFactory = (*fix.ReplicatedStores)(nil)
)

// Close closes every store created.
func (s *stores) Close() error {
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
