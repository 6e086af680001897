package broker

import (
	"log/slog"

	"github.com/quickfixgo/quickfix"

	"sgw/fix"
)

// newStores returns the acceptor's stores in files in cfg.StoreDir
// (fix.FileStores): quickfix's file stores, or with a key ring the sealed
// stores of package fix, locked while open, their sender MsgSeqNums
// bounded by a reservation as the upstream sessions' are. A sealed store
// where the acceptor has no key ring is refused (ErrKey), and a plain one
// where it has (ErrPlain). log may be nil.
func newStores(settings *quickfix.Settings, cfg Config, log *slog.Logger) storeFactory {
	return fix.NewFileStores(settings, cfg.StoreDir, cfg.Keys, cfg.StoreSync, log)
}

// storeFactory is the sessions' stores as Run uses them: quickfix creates
// them, Run closes them after the sessions stopped (quickfix never closes
// its stores).
type storeFactory interface {
	quickfix.MessageStoreFactory
	Close() error
	// OnReadError counts the failed reads of a store's messages (resends
	// not made); see fix.FileStores.OnReadError.
	OnReadError(fn func(sid quickfix.SessionID, err error))
}

var (
	_ storeFactory = (*fix.FileStores)(nil)
	_ storeFactory = (*fix.ReplicatedStores)(nil)
)
