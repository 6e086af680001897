package fix

import (
	"log/slog"

	"github.com/quickfixgo/quickfix"

	"sgw/atrest"
)

// SessionStores keeps the upstream sessions' stores somewhere other than
// files in UpstreamConfig.StoreDir: in the cluster's replicated state
// (cluster.SessionStores), so that the node that takes over as leader
// resumes the sessions where the old leader left them. The Upstream wraps
// what it opens exactly as it wraps its file store: the reservation bounds
// every sender MsgSeqNum used, a store not marked clean by another owner
// is treated like a store after a machine restart (the next sender
// MsgSeqNum moves up to the reservation, and Handed answers HandedUnknown
// for requests the store does not hold, then and at every later start
// until the store's reset), and ResumeInboundAfter applies.
//
// Its types are quickfix's and Go's only, so an implementation need not
// import this package. The Upstream calls it from its Run goroutine (open
// and reservation at start and close) and, for reservations, from the
// goroutines that call the store (quickfix's session goroutine and the
// pacer), one call at a time per session.
type SessionStores interface {
	// OpenMessages opens sid's message store (sequence numbers, creation
	// time, messages saved) as last written. Writes to it need not be
	// durable when they return: the reservation covers them.
	OpenMessages(sid quickfix.SessionID) (quickfix.MessageStore, error)
	// ReadReservation returns sid's last reservation: every sender
	// MsgSeqNum used is below reserved; clean marks a clean close; owner is
	// as WriteReservation was given it: the Owner that wrote it, which the
	// Upstream may have prefixed with a mark ("lost:" when the store lost
	// messages). found is false when none was written.
	ReadReservation(sid quickfix.SessionID) (reserved int, clean bool, owner string, found bool, err error)
	// WriteReservation records sid's reservation durably before it
	// returns, after every write to sid's message store made before it.
	WriteReservation(sid quickfix.SessionID, reserved int, clean bool, owner string) error
	// Owner names the incarnation of the writer, as a machine's boot id
	// does for the file store: a store left unclean by another owner may
	// have lost its tail. It must not be empty.
	Owner() string
}

// ReplicatedStores is a quickfix.MessageStoreFactory keeping every
// session's store in a SessionStores, under the rules the Upstream applies
// to its own (see SessionStores): the reservation bounds every sender
// MsgSeqNum used, and a store another owner left unclean resumes at its
// reservation (the peer asks for the skipped numbers and gets a gap fill).
// The broker acceptor of a clustered gateway uses it, so that the leader
// that takes over resumes the brokers' sessions.
//
// quickfix calls Create once per session; Close is called once, after the
// sessions stopped. Both may be called from any goroutine.
type ReplicatedStores struct {
	f storeFactory
}

var _ quickfix.MessageStoreFactory = (*ReplicatedStores)(nil)

// NewReplicatedStores returns the factory of stores kept in sessions. log
// may be nil.
func NewReplicatedStores(sessions SessionStores, log *slog.Logger) *ReplicatedStores {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ReplicatedStores{f: storeFactory{sessions: sessions, log: log}}
}

// Create implements quickfix.MessageStoreFactory.
func (r *ReplicatedStores) Create(sid quickfix.SessionID) (quickfix.MessageStore, error) {
	return r.f.Create(sid)
}

// Close closes every store created, marking each clean.
func (r *ReplicatedStores) Close() error { return r.f.close() }

// OnReadError is FileStores.OnReadError.
func (r *ReplicatedStores) OnReadError(fn func(sid quickfix.SessionID, err error)) {
	r.f.onReadError = fn
}

// FileStores is a quickfix.MessageStoreFactory keeping every session's
// store in files in a directory, under the rules the Upstream applies to
// its own: quickfix's file store (or, with a key ring, the sealed store)
// locked while open (ErrStoreLocked), with a reservation file that bounds
// every sender MsgSeqNum used, so that after a crash of the machine the
// session resumes at its reservation (the peer asks for the skipped
// numbers and gets a gap fill) rather than below what the peer received;
// a failed save leaves no message indexed under the next number; damage
// no crash explains stops Create (ErrStoreDamaged). The broker acceptor of
// a single gateway uses it.
//
// quickfix calls Create once per session; Close is called once, after the
// sessions stopped. Both may be called from any goroutine.
type FileStores struct {
	f storeFactory
}

var _ quickfix.MessageStoreFactory = (*FileStores)(nil)

// NewFileStores returns the factory of stores in files in dir, whose
// quickfix settings (FileStorePath dir) are settings. keys, when set,
// seals them; sync fsyncs every message (without it, the reservation
// bounds what a crash of the machine may lose). log may be nil.
func NewFileStores(settings *quickfix.Settings, dir string, keys *atrest.KeyRing, sync bool, log *slog.Logger) *FileStores {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &FileStores{f: storeFactory{settings: settings, dir: dir, keys: keys, syncEach: sync, log: log}}
}

// Create implements quickfix.MessageStoreFactory.
func (s *FileStores) Create(sid quickfix.SessionID) (quickfix.MessageStore, error) {
	return s.f.Create(sid)
}

// Close closes every store created, marking each clean.
func (s *FileStores) Close() error { return s.f.close() }

// OnReadError makes the factory call fn after it logged each failed read
// of a store's messages (a resend not made; see the StoreOption
// OnReadError), with the store's session, on the reader's goroutine. Call
// it before the first Create.
func (s *FileStores) OnReadError(fn func(sid quickfix.SessionID, err error)) { s.f.onReadError = fn }
