package fix

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/store/file"

	"sgw/atrest"
	"sgw/internal/dirsync"
	"sgw/journal"
)

// reserveBlock is how many sender sequence numbers one fsynced
// reservation covers.
const reserveBlock = 4096

// storeFactory wraps quickfix's file store. Without per-message fsync
// (StoreSync false) the page cache survives a process crash but not a
// power loss, after which the store's sequence numbers could run behind
// what the upstream already received, and the upstream would refuse the
// next logon (MsgSeqNum too low). To prevent that the wrapper keeps a
// reservation file, fsynced once per reserveBlock messages, that bounds
// every sender sequence number used, and a clean-close mark. After an
// unclean stop it repairs a torn tail of the store and moves the next
// sender sequence number up to the reservation: the upstream then asks for
// the skipped numbers and gets a gap fill, and the orders whose messages
// were lost are among those the order manager resolves with StatusRequest.
//
// Create also reads what the store already holds (see storeScan): the
// requests handed to the session before this process started, for the
// order manager's recovery, and the MsgSeqNums of recent requests, to name
// the request an upstream's Reject refers to.
type storeFactory struct {
	settings *quickfix.Settings
	dir      string
	syncEach bool
	// keys, when set, seals the store (sealedStore) and the reservation
	// file with SM4-GCM; nil keeps quickfix's plain file store.
	keys *atrest.KeyRing
	log  *slog.Logger
	// onScan, when set, receives what Create found in the store, before
	// quickfix uses it.
	onScan func(storeScan)
	// onReset, when set, is called after each Reset of a store Create
	// opened that moved a sequence number back to 1 (a new session
	// period), on the session goroutine.
	onReset func()
	// onPeriod, when set, is told the session's period (its store's
	// creation time, Unix nanoseconds) when Create opens the store and after
	// each Reset; on the session goroutine, or before it starts.
	onPeriod func(int64)
	// samePeriod, when set, tells whether two times are in the same
	// period of the session's schedule (SessionSchedule.samePeriod); nil
	// means the session has no schedule: its period never ends. A Reset
	// within the period keeps the orders handed before it in doubt (see
	// reservedStore.Reset).
	samePeriod func(t1, t2 time.Time) bool
	// boot returns the machine's boot id; nil means bootID (tests set it).
	boot func() string
	// sessions, when set, keeps the stores and reservations instead of
	// files in dir (UpstreamConfig.Sessions); dir, keys and syncEach are
	// then unused.
	sessions SessionStores
	// resumeAfter, when positive, is the MsgSeqNum of the last message
	// from the upstream that the order journal holds: Create moves the
	// next target sequence number back to the one after it, so that the
	// upstream resends what the store counted as received but the journal
	// lacks (a crash between the two). resumePeriod, when not 0, is the
	// session period that message belongs to (its Period; the journal's
	// last period with resumeAfter 0 when it holds no message of it): a
	// store of another period (reset since, by the schedule) has nothing
	// of it in the journal, and is moved back to 1.
	resumeAfter  int
	resumePeriod int64
	// onReadError, when set, is told of each failed read of a store's
	// messages (a resend not made; see OnReadError), after the factory
	// logged it, on the reader's goroutine.
	onReadError func(sid quickfix.SessionID, err error)
	// syncDir fsyncs the parent of each store directory Create makes
	// (tests count the calls); nil means dirsync.Sync.
	syncDir func(dir string) error

	mu     sync.Mutex
	stores []*reservedStore
}

// storeScan is what a store held when it was opened.
type storeScan struct {
	// handed holds the ClOrdIDs of the order messages (D, F, G; not the
	// status requests, H, which carry their order's ClOrdID)
	// stored under a sender sequence number below next: quickfix stores
	// a message before it writes it, and gives its number only then, so
	// these were handed to the session; FIX resend recovery delivers any
	// the upstream missed.
	handed map[string]bool
	// sent maps the sequence numbers of those messages and of the status
	// requests to their type and ClOrdID: the last sentIndexSize of them,
	// in sequence order.
	sent []sentMsg
	// lost is set when the store may lack messages that were sent: it
	// was not closed cleanly and its next sender sequence number was moved
	// up to the reservation, at this start or at an earlier one of the
	// store's period, or it was reset within the period after it held a
	// NewOrderSingle (the reservation keeps the mark until a Reset that
	// starts a new period; see markOwner and reservedStore.Reset).
	lost bool
	// orders is set when the store holds a NewOrderSingle (in handed).
	orders bool
	// reset is set once the store was reset after the scan
	// (Upstream.onReset): the requests in handed can no longer be resent.
	reset bool
}

// sentMsg is one application message the session sent.
type sentMsg struct {
	seq     int
	msgType byte
	clOrdID string
	// status is the request (Send's argument) of a status request this
	// run sent, which its asker still awaits an answer to; nil for every
	// other message and for those found in the store at start.
	status any
}

var _ quickfix.MessageStoreFactory = (*storeFactory)(nil)

// Create opens the session's store. quickfix calls it once per session.
// The store lives in files in dir unless sessions is set.
func (f *storeFactory) Create(sid quickfix.SessionID) (_ quickfix.MessageStore, err error) {
	if f.boot == nil {
		f.boot = bootID
	}
	var (
		inner    quickfix.MessageStore
		rs       *reservedStore
		reserved int
		clean    bool
		boot     string
		found    bool
		where    string // names the store in logs and errors
		// seqDamage reports sequence number files of quickfix's file
		// store that do not hold a sequence number.
		seqDamage error
		// resetKilled: quickfix's file store has a message index but
		// no message file, as a process killed inside its Reset (which
		// removes .body, then .header) leaves it.
		resetKilled bool
		syncEach    = f.syncEach
	)
	if f.sessions != nil {
		// The store's writes are replicated asynchronously, so only the
		// reservation bounds what a lost owner may have sent.
		syncEach = false
		where = sid.String()
		if reserved, clean, boot, found, err = f.sessions.ReadReservation(sid); err != nil {
			return nil, fmt.Errorf("fix: reservation of %s: %w", sid, err)
		}
		if inner, err = f.sessions.OpenMessages(sid); err != nil {
			return nil, fmt.Errorf("fix: open store of %s: %w", sid, err)
		}
		rs = &reservedStore{boot: f.sessions.Owner(), write: func(n int, clean bool, owner string) error {
			return f.sessions.WriteReservation(sid, n, clean, owner)
		}}
	} else {
		where = f.dir
		if f.keys == nil {
			// Read before quickfix opens the store: it writes back what
			// it read, and reads what does not parse as 1.
			seqDamage = checkSeqFiles(prefixOf(f.dir, sid))
			// Before quickfix opens the store: it creates a missing .body.
			resetKilled = indexWithoutBody(prefixOf(f.dir, sid))
		}
		if inner, rs, reserved, clean, boot, found, err = f.openFiles(sid); err != nil {
			return nil, err
		}
	}
	defer func() {
		if err != nil {
			inner.Close()
			if rs.lock != nil {
				rs.lock.Close()
			}
		}
	}()
	boot, lostBefore, clean := unmarkOwner(boot, clean)
	dirty := found && !clean
	// A process that died (kill -9, a panic) leaves what it wrote in the
	// page cache: the store is whole. Only a crash of the machine (power,
	// kernel) can lose its tail, and the machine then boots again with a
	// new boot id. A replicated store's owner is the node and its
	// leadership epoch: another leader may have lost what the store's
	// previous owner had not replicated yet.
	sameBoot := boot != "" && boot == rs.boot
	if f.sessions == nil && f.keys == nil {
		// quickfix's file store: a message saved under the next sender
		// sequence number was never sent unless a machine crash lost the
		// number's advance (then the skip to the reservation below keeps
		// the number from being used again).
		rs.unsent = prefixOf(f.dir, sid)
		if !dirty || sameBoot || syncEach {
			// The store is whole: damage is no crash's doing.
			if seqDamage != nil {
				return nil, seqDamage
			}
			next := inner.NextSenderMsgSeqNum()
			if resetKilled {
				// Reset was discarding every message: cutUnsent cuts the
				// index (its messages are gone), the state the kill a
				// step later (.header removed) leaves.
				f.log.Warn("fix: store has a message index and no message file (a process killed inside a Reset); the index is cut", "store", where)
			} else if err := checkIndex(rs.unsent, next); err != nil {
				return nil, err
			}
			if err := cutUnsent(rs.unsent, next); err != nil {
				return nil, err
			}
			// A message saved under a number at or above the next one
			// says the sequence number file went back, unless saves
			// after a Reset explain it: a request quickfix numbered
			// before the Reset and saved after it lies above the new
			// store's number (an order's marked the store lost; a
			// cancel's or a report's did not), and each save advanced
			// the number by one (staleTail).
			if last, err := lastIndexed(rs.unsent); err != nil {
				return nil, err
			} else if last >= next && !lostBefore && !staleTail(rs.unsent, next) {
				return nil, fmt.Errorf("%w: %s.senderseqnums says the next MsgSeqNum is %d, but the store holds a message numbered %d: "+
					"the sequence number went back; check the venue's expected MsgSeqNum and set the file to it",
					ErrStoreDamaged, rs.unsent, next, last)
			}
		} else if err := cutDamaged(rs.unsent); err != nil {
			// The machine crashed: the tail of the message index and of
			// the message file may not have been written back (torn,
			// zeros, stale blocks). What is cut counts as lost, as the
			// tail the crash took does.
			return nil, err
		}
	}
	// name names the session's store in the errors and logs below: its
	// files, or its session in a SessionStores.
	name := where
	if f.sessions == nil {
		name = prefixOf(f.dir, sid) + ".*"
	}
	// Locked: quickfix reads sequence numbers without a lock. Yielding on
	// idle turns: the Upstream's pacer keeps several messages in the
	// session's queue (see YieldOnSpin). A read that fails is a resend
	// quickfix does not make: it drops the session, and the peer asks
	// again at every logon, so it is logged as an error and counted
	// (onReadError) for an operator to act on.
	onReadError := f.onReadError
	rs.MessageStore = NewLockedStore(inner, YieldOnSpin(true), OnReadError(func(err error) {
		f.log.Error("fix: the store cannot give the messages a resend needs (a message failing its CheckSum, a tampered record, a read error): "+
			"nothing is resent, and the session drops at each resend the peer asks for until the store is restored or the sequence numbers are agreed with the peer",
			"store", name, "fix_session", sid.String(), "err", err)
		if onReadError != nil {
			onReadError(sid, err)
		}
	}))
	if inner.NextTargetMsgSeqNum() < 1 {
		// A torn target sequence number file after a crash of the
		// machine ("000..." read as 0): the upstream resends from 1,
		// what the order journal holds applied once (by ExecID).
		if err := inner.SetNextTargetMsgSeqNum(1); err != nil {
			return nil, fmt.Errorf("fix: store %s: %w", where, err)
		}
	}
	// Every message a file store holds is checked (verifyStored) before
	// the session starts, a broker acceptor's (FileStores) as an
	// Upstream's: a message changed on disk refuses the start, naming the
	// session's files, rather than being found (or not) when the peer
	// asks for a resend. What the scan found matters to an Upstream
	// (onScan) only; the broker acceptor's replicated stores
	// (ReplicatedStores) are not read when a term takes them over: the
	// acceptor reads their reports itself, once, and a resend checks
	// each message it reads (LockedStore).
	var scan storeScan
	if f.onScan != nil || f.sessions == nil {
		if scan, err = scanStore(inner); err != nil {
			return nil, fmt.Errorf("fix: store %s of %s: %w", name, sid, err)
		}
	}
	period := inner.CreationTime().UnixNano()
	after, known := f.resumeAfter, f.resumeAfter > 0 || f.resumePeriod != 0
	if f.resumePeriod != 0 && f.resumePeriod != period {
		// The store was reset (a new period) after the journal's last
		// message from the upstream: the journal holds none of this one.
		after = 0
	}
	if next := inner.NextTargetMsgSeqNum(); known && after+1 < next {
		// Info, not Warn: every restart, clean ones too, finds the
		// heartbeats and the Logout the journal does not keep counted
		// after its last report; the resend gap-fills those, and gives
		// again any report the journal lacks (applied once, by ExecID).
		f.log.Info("fix: asking the upstream again for the messages its store counted after the order journal's last (heartbeats and the logout, or reports the journal lacks)",
			"store", where, "from", after+1, "to", next-1, "period", time.Unix(0, period).UTC(),
			"journal_period", time.Unix(0, f.resumePeriod).UTC())
		if err := inner.SetNextTargetMsgSeqNum(after + 1); err != nil {
			return nil, fmt.Errorf("fix: store %s: %w", where, err)
		}
	}
	if dirty && sameBoot {
		f.log.Warn("fix: store was not closed cleanly; the machine did not restart, so it is whole", "store", where)
	}
	if dirty && !sameBoot && !syncEach && reserved >= inner.NextSenderMsgSeqNum() {
		// At the reservation already: a start that found the loss moved
		// the store there and stopped before it wrote its reservation,
		// marked lost (a kill, a leader that lost its term meanwhile).
		// The store still lacks what the crash lost.
		scan.lost = true
		why := "fix: store was not closed cleanly and the machine restarted; skipping to the reserved sender sequence number"
		if f.sessions != nil {
			// A replicated store's owner is a node's term: what is
			// new is the owner (a takeover, or this node's restart), and
			// the previous one may have sent what it had not replicated.
			why = "fix: replicated store taken over from an owner that did not close it (another leader's term, or this node before a restart); skipping to the reserved sender sequence number"
		}
		f.log.Warn(why, "store", where, "next", inner.NextSenderMsgSeqNum(), "reserved", reserved, "previous_owner", boot)
		if reserved > inner.NextSenderMsgSeqNum() {
			if err := inner.SetNextSenderMsgSeqNum(reserved); err != nil {
				return nil, fmt.Errorf("fix: store %s: %w", where, err)
			}
		}
	}
	if lostBefore {
		// Found by an earlier start, which stopped before the session's
		// period ended (killed, or closed: a planned handover), perhaps
		// before the order manager resolved what the store lacks.
		scan.lost = true
		f.log.Warn("fix: the store lost messages in an unclean stop earlier in its period, or was reset within the period after orders were handed; "+
			"requests it does not hold count as unknown until a reset that starts a new period", "store", where)
	}
	// The mark is written with every reservation until a Reset that
	// starts a new period.
	rs.lost = scan.lost
	rs.inDoubt = f.onScan != nil
	rs.samePeriod = f.samePeriod
	rs.orders = scan.orders
	if err := rs.reserve(inner.NextSenderMsgSeqNum()+reserveBlock, false); err != nil {
		return nil, err
	}
	rs.onReset, rs.onPeriod = f.onReset, f.onPeriod
	if f.onPeriod != nil {
		f.onPeriod(period)
	}
	if f.onScan != nil {
		f.onScan(scan)
	}
	f.mu.Lock()
	f.stores = append(f.stores, rs)
	f.mu.Unlock()
	return rs, nil
}

// openFiles opens the session's store in files in f.dir: quickfix's file
// store (or the sealed store with f.keys) and the reservation file; Create
// checks or repairs the file store's tail (cutUnsent, cutDamaged). rs is
// returned without its MessageStore.
func (f *storeFactory) openFiles(sid quickfix.SessionID) (inner quickfix.MessageStore, rs *reservedStore, reserved int, clean bool, boot string, found bool, err error) {
	prefix := prefixOf(f.dir, sid)
	path, context := prefix+".reserve", []byte(reservationContext+storePrefix(sid))
	keys := f.keys
	rs = &reservedStore{boot: f.boot(), write: func(n int, clean bool, owner string) error {
		return writeReservation(path, keys, context, n, clean, owner)
	}}
	syncDir := f.syncDir
	if syncDir == nil {
		syncDir = dirsync.Sync
	}
	var sealed *sealedStore
	if f.keys == nil {
		// The sealed store's journal file is locked by the journal.
		lock, err := lockStore(prefix, syncDir)
		if err != nil {
			return nil, nil, 0, false, "", false, err
		}
		rs.lock = lock
		defer func() {
			if err != nil {
				lock.Close()
			}
		}()
	}
	if f.keys != nil {
		// Opened first: it refuses a plain store (ErrPlain) before the
		// reservation is read. Its journal cuts its own torn tail.
		if sealed, err = openSealedStore(f.dir, sid, f.keys, f.syncEach, syncDir); err != nil {
			return nil, nil, 0, false, "", false, err
		}
		defer func() {
			if err != nil {
				sealed.Close()
			}
		}()
	} else if err := CheckPlainStore(f.dir, sid); err != nil {
		return nil, nil, 0, false, "", false, err
	}
	if reserved, clean, boot, found, err = readReservation(path, f.keys, context); err != nil {
		return nil, nil, 0, false, "", false, err
	}
	if err := removeStaleTemps(path); err != nil {
		return nil, nil, 0, false, "", false, err
	}
	if sealed != nil {
		return sealed, rs, reserved, clean, boot, found, nil
	}
	if inner, err = file.NewStoreFactory(f.settings).Create(sid); err != nil {
		return nil, nil, 0, false, "", false, fmt.Errorf("fix: open store %s: %w", f.dir, err)
	}
	// Its messages read by our own walk of the index (fileStore).
	return &fileStore{MessageStore: inner, prefix: prefix}, rs, reserved, clean, boot, found, nil
}

// prefixOf is the path of session sid's store files in dir, without
// their suffix.
func prefixOf(dir string, sid quickfix.SessionID) string {
	return filepath.Join(dir, storePrefix(sid))
}

// close closes every store created, marking them clean.
func (f *storeFactory) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var first error
	for _, s := range f.stores {
		if err := s.Close(); err != nil && first == nil {
			first = err
		}
	}
	f.stores = nil
	return first
}

// storePrefix is quickfix's file store's name for the session's files:
// BeginString-Sender-Target[-Qualifier], where Sender and Target are the
// CompID with the sub and location ids, if any, joined by "_".
func storePrefix(sid quickfix.SessionID) string {
	join := func(ids ...string) string {
		out := ids[0]
		for _, id := range ids[1:] {
			if id != "" {
				out += "_" + id
			}
		}
		return out
	}
	p := sid.BeginString + "-" + join(sid.SenderCompID, sid.SenderSubID, sid.SenderLocationID) +
		"-" + join(sid.TargetCompID, sid.TargetSubID, sid.TargetLocationID)
	if sid.Qualifier != "" {
		p += "-" + sid.Qualifier
	}
	return p
}

// reservationContext starts the context a sealed reservation file's tag
// covers, followed by the session's store prefix, so one session's
// reservation cannot stand in for another's.
const reservationContext = "sgw fix reservation v1 "

// reservedStore is a quickfix.MessageStore whose next sender sequence
// number never passes its fsynced reservation. quickfix calls it from the
// session goroutine and from the goroutine calling SendToTarget (our
// pacer), under its own send lock.
type reservedStore struct {
	quickfix.MessageStore

	boot string // the machine's boot id (or SessionStores.Owner), written with each reservation
	// write records a reservation durably (writeReservation, or
	// SessionStores.WriteReservation).
	write func(reserved int, clean bool, owner string) error
	// onReset, if set, is called after each successful Reset that moved
	// a sequence number back to 1; onPeriod, if set, after each Reset,
	// even one that failed, with the store's creation time then (Unix
	// nanoseconds).
	onReset  func()
	onPeriod func(int64)

	// inDoubt, set for an Upstream's store (whose Handed reads the
	// mark), makes a Reset within the session's period keep the store
	// marked lost when it held a NewOrderSingle or was marked already;
	// samePeriod is storeFactory.samePeriod. Both are set before the store
	// is used.
	inDoubt    bool
	samePeriod func(t1, t2 time.Time) bool

	// mu is held across a Reset and across each save of a message, so
	// that a NewOrderSingle is saved either before a Reset (which then
	// sees orders) or after it.
	mu sync.Mutex
	// orders is set once the store holds a NewOrderSingle since it was
	// opened or reset (only when inDoubt).
	orders   bool
	reserved int
	closed   bool
	// unsent, for quickfix's file store, is the prefix of its files: a
	// save that fails cuts what it left in the message index (cutUnsent).
	// "" for the other stores, whose failed saves leave nothing.
	unsent string
	// lock, for quickfix's file store, holds the store's lock file
	// (lockStore) until Close; nil for the other stores.
	lock *os.File
	// broken is set when a failed save could not be cut from the
	// message index: every later save fails with it, so that no message
	// is saved again under the number of the one that was not sent.
	broken error
	// lost marks a store that may lack messages sent in its period, or
	// whose period was reset with orders in doubt (see storeScan.lost):
	// written with each reservation (markOwner) until a Reset that starts
	// a new period.
	lost bool
}

var _ quickfix.MessageStore = (*reservedStore)(nil)

// ensure reserves a new block unless next is below the reservation. The
// reservation thus stays above the store's next sender sequence number,
// which an earlier build requires to skip to it (and so to count the
// store as lossy) when it reads a reservation marked lost (markOwner).
func (s *reservedStore) ensure(next int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ensureLocked(next)
}

// ensureLocked is ensure with s.mu held.
func (s *reservedStore) ensureLocked(next int) error {
	if next < s.reserved {
		return nil
	}
	return s.reserveLocked(next+reserveBlock, false)
}

func (s *reservedStore) reserve(n int, clean bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reserveLocked(n, clean)
}

// reserveLocked records n as the reservation, and whether the store is
// closed cleanly, and whether it lost messages, durably. s.mu held.
func (s *reservedStore) reserveLocked(n int, clean bool) error {
	owner, clean := markOwner(s.boot, s.lost, clean)
	if err := s.write(n, clean, owner); err != nil {
		return fmt.Errorf("fix: reservation: %w", err)
	}
	s.reserved = n
	return nil
}

// writeReservation writes a reservation file atomically: the new content
// goes to a temporary file that is fsynced and renamed over the old one,
// and the directory is fsynced, so the file is always whole. With keys
// the content is sealed, its tag also covering context.
func writeReservation(path string, keys *atrest.KeyRing, context []byte, n int, clean bool, boot string) error {
	mark := 0
	if clean {
		mark = 1
	}
	b := fmt.Appendf(nil, "%019d %d %s\n", n, mark, orDash(boot))
	if keys != nil {
		var err error
		if b, err = keys.SealBlob(context, b); err != nil {
			return err
		}
	}
	return writeFileAtomic(path, b)
}

// writeFileAtomic replaces path with b: written to a temporary file in the
// same directory, fsynced, renamed into place, and the directory fsynced.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return dirsync.Sync(filepath.Dir(path))
}

var _ untoldReader = (*reservedStore)(nil)

// iterateUntold is IterateMessages without the store's OnReadError: a
// read that is no resend (StoredReports.Add) returns its error without
// being logged and counted as one. Like IterateMessages it may be called
// from any goroutine.
func (s *reservedStore) iterateUntold(begin, end int, cb func([]byte) error) error {
	if l, ok := s.MessageStore.(*LockedStore); ok {
		return eachMessage(l.getMessages, begin, end, cb)
	}
	return s.MessageStore.IterateMessages(begin, end, cb)
}

// removeStaleTemps removes a temporary reservation file left by a crash
// during writeFileAtomic; the reservation itself is whole.
func removeStaleTemps(path string) error {
	if err := os.Remove(path + ".tmp"); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("fix: reservation: %w", err)
	}
	return nil
}

// SaveMessageAndIncrNextSenderMsgSeqNum saves msg, numbered seq. quickfix
// numbers a message (NextSenderMsgSeqNum) and saves it under its send
// lock, but resets the store for the venue's Logon with ResetSeqNumFlag=Y
// without that lock: a NewOrderSingle the pacer numbered before such a
// reset is saved after it, under a number past the new store's next one,
// where no later scan finds it, and goes out to the venue. The store is
// then marked lost, durably, before it is saved (see Reset).
func (s *reservedStore) SaveMessageAndIncrNextSenderMsgSeqNum(seq int, msg []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ensureLocked(seq + 1); err != nil {
		return err
	}
	if s.inDoubt {
		stale := !s.lost && seq != s.MessageStore.NextSenderMsgSeqNum()
		if !s.orders || stale {
			if _, mt, id := requestFields(msg); string(mt) == "D" && len(id) > 0 {
				s.orders = true
				if stale {
					s.lost = true
					if err := s.reserveLocked(s.reserved, false); err != nil {
						return err
					}
				}
			}
		}
	}
	if s.broken != nil {
		return s.broken
	}
	err := s.MessageStore.SaveMessageAndIncrNextSenderMsgSeqNum(seq, msg)
	if err != nil && s.unsent != "" {
		// quickfix does not send a message it could not save, but its
		// file store may have indexed it (the body's write failed, or
		// the sequence number's): the next message would be saved under
		// the same number, and a resend would send both, the one never
		// sent first. The index is cut back; if it cannot be, the store
		// refuses every later save (the session can send nothing until a
		// restart, whose open cuts it: cutUnsent), and this save's error
		// says so (errSaveNotUndone): a start after a crash of the machine
		// keeps the entry (cutDamaged cuts only what is torn) and resends
		// it, so its request is in doubt, not given back (pacer.inDoubt).
		if cerr := cutUnsent(s.unsent, s.MessageStore.NextSenderMsgSeqNum()); cerr != nil {
			s.broken = fmt.Errorf("fix: store refuses saves after a failed save it could not undo (%v): %w", err, cerr)
			return fmt.Errorf("%w (%w: %w)", err, errSaveNotUndone, cerr)
		}
	}
	return err
}

func (s *reservedStore) IncrNextSenderMsgSeqNum() error {
	if err := s.ensure(s.MessageStore.NextSenderMsgSeqNum() + 1); err != nil {
		return err
	}
	return s.MessageStore.IncrNextSenderMsgSeqNum()
}

func (s *reservedStore) SetNextSenderMsgSeqNum(next int) error {
	if err := s.ensure(next); err != nil {
		return err
	}
	return s.MessageStore.SetNextSenderMsgSeqNum(next)
}

func (s *reservedStore) Reset() error {
	// quickfix resets again a store it has just reset, on every session
	// time check in the last second of a period whose End is a second
	// before Start: only a reset that moves a sequence number is reported.
	moved := s.MessageStore.NextSenderMsgSeqNum() != 1 || s.MessageStore.NextTargetMsgSeqNum() != 1
	// The period is told whatever follows: quickfix's file store takes
	// its new creation time before the steps that can fail, and goes on
	// with it (Upstream.mayDial compares it as quickfix does).
	if s.onPeriod != nil {
		defer func() { s.onPeriod(s.MessageStore.CreationTime().UnixNano()) }()
	}
	// A reset within the session's period (the venue's Logon with
	// ResetSeqNumFlag=Y in the middle of the day, reset_on_logon) discards
	// messages that can no longer be resent: the orders handed before it,
	// and those the store lost, stay in doubt, and the store stays marked
	// lost, so that Handed answers HandedUnknown, never HandedNo, for
	// what it does not hold until a reset that starts a new period (the
	// order manager sends no order of a past day again). Without a
	// schedule the period never ends, and the mark stays. The mark is on
	// disk before the messages are discarded: a process killed in between
	// (the same boot: its next start counts the store whole) must not
	// find the store reset and unmarked.
	if err := s.resetMarked(); err != nil {
		return err
	}
	if moved && s.onReset != nil {
		s.onReset()
	}
	return nil
}

// resetMarked resets the store and reserves a block from 1, keeping or
// setting the lost mark as Reset tells. It holds s.mu throughout, so a
// concurrent save waits for it.
func (s *reservedStore) resetMarked() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	carry := s.inDoubt && (s.lost || s.orders) &&
		(s.samePeriod == nil || s.samePeriod(s.MessageStore.CreationTime(), time.Now()))
	if carry && !s.lost {
		s.lost = true
		if err := s.reserveLocked(s.reserved, false); err != nil {
			return err
		}
	}
	if err := s.MessageStore.Reset(); err != nil {
		return err
	}
	s.orders, s.lost = false, carry
	return s.reserveLocked(s.MessageStore.NextSenderMsgSeqNum()+reserveBlock, false)
}

// Close closes the store and marks it clean. quickfix never calls it; the
// Upstream does after its initiator stopped.
func (s *reservedStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.MessageStore.Close()
	if err == nil {
		err = s.reserveLocked(s.reserved, true)
	}
	if s.lock != nil {
		s.lock.Close()
	}
	return err
}

// lockStore takes the lock of the file store whose files start with
// prefix: an exclusive flock on <prefix>.lock, held by the file returned
// until it is closed (or the process ends). quickfix's file store has no
// lock of its own: a second gateway started on the same store directory
// (a copy of the configuration, a process not yet dead) would number its
// messages from the same store, and the venue would see each number twice
// (a lost message) or refuse the Logon. It is refused, wrapping
// ErrStoreLocked. The store's directory, when missing, is made with
// dirsync.MkdirAll, each new directory fsynced into its parent with
// syncDir: the reservation file is fsynced into it, and a machine crash
// that lost the directory would lose the session's sequence numbers with
// it (a session back at 1, its orders resent or their numbers reused).
func lockStore(prefix string, syncDir func(dir string) error) (*os.File, error) {
	if err := dirsync.MkdirAll(filepath.Dir(prefix), syncDir); err != nil {
		return nil, fmt.Errorf("fix: store: %w", err)
	}
	fh, err := os.OpenFile(prefix+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("fix: lock store: %w", err)
	}
	if err := journal.LockFile(fh); err != nil {
		fh.Close()
		if errors.Is(err, journal.ErrLocked) {
			return nil, fmt.Errorf("%w: %s is held by another process (or another session of this one) using the store", ErrStoreLocked, prefix+".lock")
		}
		return nil, fmt.Errorf("fix: lock store %s: %w", prefix+".lock", err)
	}
	return fh, nil
}

// The marks of a reservation's owner (boot id or SessionStores.Owner) when
// the store lost messages of its period (reservedStore.lost).
const (
	markLost      = "lost:"
	markLostClean = "lost,clean:"
)

// markOwner returns the owner and the clean flag to write in a reservation.
// A store that lost messages writes its owner as "lost:<owner>", or
// "lost,clean:<owner>" when it is closed cleanly, and the clean flag
// false: a build that predates the mark reads an unclean stop by another
// boot or owner, skips to the reservation and counts the store as lossy,
// as it must (the reservation is above the next sender sequence number:
// ensure), where reading a clean close it would have answered HandedNo for
// the requests the store lost, and sent them again as new orders.
func markOwner(owner string, lost, clean bool) (string, bool) {
	switch {
	case !lost:
		return owner, clean
	case clean:
		return markLostClean + owner, false
	}
	return markLost + owner, false
}

// unmarkOwner undoes markOwner on what a reservation holds.
func unmarkOwner(marked string, clean bool) (owner string, lost, isClean bool) {
	if o, ok := strings.CutPrefix(marked, markLostClean); ok {
		return o, true, true
	}
	if o, ok := strings.CutPrefix(marked, markLost); ok {
		return o, true, clean
	}
	return marked, false, clean
}

// readReservation reads the reservation file, if any, opening it with keys
// when they are set (a sealed file that does not authenticate is refused
// with ErrTampered, a plain one with ErrPlain). The file is always
// written whole (writeFileAtomic), so content that does not parse is
// damage: it is refused, since a reservation read as "nothing reserved"
// could let the session reuse sequence numbers the upstream has seen.
func readReservation(path string, keys *atrest.KeyRing, context []byte) (reserved int, clean bool, boot string, found bool, err error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0, false, "", false, nil
	}
	if err != nil {
		return 0, false, "", false, fmt.Errorf("fix: reservation: %w", err)
	}
	if keys != nil {
		if _, _, _, ok := parseReservation(b); ok {
			return 0, false, "", true, fmt.Errorf("fix: reservation: %s: %w", path, atrest.ErrPlain)
		}
		if b, err = keys.OpenBlob(context, b); err != nil {
			return 0, false, "", true, fmt.Errorf("fix: reservation: %s: %w", path, err)
		}
	}
	if reserved, clean, boot, ok := parseReservation(b); ok {
		return reserved, clean, boot, true, nil
	}
	return 0, false, "", true, fmt.Errorf("%w: %s holds %q, not \"<next sender seq> <clean 0|1> <boot id>\"; "+
		"the store's sequence numbers cannot be trusted: check the upstream's expected MsgSeqNum, then set it in the store or delete the file",
		ErrReservation, path, truncate(b, 64))
}

// parseReservation parses a plain reservation: "<next> <clean 0|1> <boot
// id>", the boot id marked if the store lost messages (markOwner).
func parseReservation(b []byte) (reserved int, clean bool, boot string, ok bool) {
	f := strings.Fields(string(b))
	if (len(f) == 2 || len(f) == 3) && (f[1] == "0" || f[1] == "1") {
		if n, err := strconv.Atoi(f[0]); err == nil && n > 0 {
			if len(f) == 3 && f[2] != "-" {
				boot = f[2]
			}
			return n, f[1] == "1", boot, true
		}
	}
	return 0, false, "", false
}

// bootID returns the kernel's id of the current boot (Linux), or "" when
// it cannot be read.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	id := strings.TrimSpace(string(b))
	if id == "" || strings.ContainsAny(id, " \t\n") {
		return ""
	}
	return id
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// scanStore reads the application messages the store holds under sender
// sequence numbers below its next one. Only the last sentIndexSize
// requests are kept in sent: the Reject index holds no more.
func scanStore(st quickfix.MessageStore) (storeScan, error) {
	var scan storeScan
	next := st.NextSenderMsgSeqNum()
	if next > 1 {
		err := st.IterateMessages(1, next-1, func(msg []byte) error {
			if err := verifyStored(msg); err != nil {
				return err
			}
			s, mt, id := requestFields(msg)
			seq, _ := strconv.Atoi(string(s))
			if len(mt) != 1 || seq <= 0 || seq >= next || len(id) == 0 {
				return nil
			}
			switch mt[0] {
			case 'D', 'F', 'G', 'H':
				scan.sent = append(scan.sent, sentMsg{seq: seq, msgType: mt[0], clOrdID: string(id)})
			}
			return nil
		})
		if err != nil {
			return storeScan{}, err
		}
	}
	scan.handed = make(map[string]bool, len(scan.sent))
	for _, m := range scan.sent {
		// An OrderStatusRequest carries the ClOrdID of the order it asks
		// about: it names the request a Reject refers to, but it does not
		// hand the order over (a recovery probe stored before a crash
		// must not make its order look sent).
		if m.msgType != 'H' {
			scan.handed[m.clOrdID] = true
		}
		scan.orders = scan.orders || m.msgType == 'D'
	}
	if n := len(scan.sent); n > sentIndexSize {
		scan.sent = slices.Clone(scan.sent[n-sentIndexSize:])
	}
	return scan, nil
}

// verifyStored returns an error wrapping ErrStoreDamaged, naming msg's
// MsgSeqNum, unless msg, a message read from a store, ends with a
// CheckSum (10) field that matches its bytes. Every message quickfix stores
// is built with its CheckSum; quickfix does not check it when it resends a
// stored message, and rebuilds it: bytes changed on disk would go out as
// a valid message.
func verifyStored(msg []byte) error {
	if checkSumOK(msg) {
		return nil
	}
	seq, _, _ := requestFields(msg)
	return fmt.Errorf("%w: the message stored as MsgSeqNum %q fails its CheckSum (10): %q",
		ErrStoreDamaged, seq, truncate(msg, 64))
}

// checkSumOK reports whether msg ends with "10=nnn\x01" whose value is the
// sum of the bytes before it, modulo 256.
func checkSumOK(msg []byte) bool {
	n := len(msg)
	if n < 8 || msg[n-1] != 0x01 || string(msg[n-8:n-4]) != "\x0110=" {
		return false
	}
	want := 0
	for _, c := range msg[n-4 : n-1] {
		if c < '0' || c > '9' {
			return false
		}
		want = want*10 + int(c-'0')
	}
	sum := 0
	for _, c := range msg[:n-7] {
		sum += int(c)
	}
	return sum%256 == want
}

// cutDamaged cuts the file store's message index (.header) from its first
// entry whose message fails its CheckSum (verifyStored): after a crash of
// the machine, the tail of the message file may hold what was never
// written back. Only for such a store, whose next sender sequence number
// then moves up to the reservation and whose missing messages count as
// lost.
func cutDamaged(prefix string) error {
	hdr, err := os.ReadFile(prefix + ".header")
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return fmt.Errorf("fix: repair store: %w", err)
	}
	body, err := os.Open(prefix + ".body")
	if os.IsNotExist(err) && len(hdr) > 0 {
		body, err = os.Open(os.DevNull) // every entry is cut
	}
	if err != nil {
		return fmt.Errorf("fix: repair store: %w", err)
	}
	defer body.Close()
	var msg []byte
	good := 0
	for good < len(hdr) {
		end := bytes.IndexByte(hdr[good:], '\n')
		if end < 0 {
			break
		}
		parts := strings.Split(string(hdr[good:good+end]), ",")
		if len(parts) != 3 {
			break
		}
		off, err1 := strconv.ParseInt(parts[1], 10, 64)
		size, err2 := strconv.ParseInt(parts[2], 10, 64)
		if err1 != nil || err2 != nil || off < 0 || size < 0 || size > 1<<30 {
			break
		}
		msg = slices.Grow(msg[:0], int(size))[:size]
		if _, err := body.ReadAt(msg, off); err != nil || !checkSumOK(msg) {
			break
		}
		good += end + 1
	}
	if good == len(hdr) {
		return nil
	}
	if err := os.Truncate(prefix+".header", int64(good)); err != nil {
		return fmt.Errorf("fix: repair store: %w", err)
	}
	return nil
}

// checkSeqFiles returns an error wrapping ErrStoreDamaged, naming the
// file, when a sequence number file of quickfix's file store at prefix is
// neither missing, nor empty (created, nothing written yet), nor the 19
// digits of a positive number quickfix writes. quickfix itself reads what
// does not parse as no number (1, for the sender: a number the venue has
// seen) and a torn prefix of the digits as a smaller one.
func checkSeqFiles(prefix string) error {
	for _, suf := range [...]string{".senderseqnums", ".targetseqnums"} {
		b, err := os.ReadFile(prefix + suf)
		if os.IsNotExist(err) || err == nil && len(b) == 0 {
			continue
		}
		if err != nil {
			return fmt.Errorf("fix: store: %w", err)
		}
		n, perr := strconv.Atoi(string(b))
		if len(b) != 19 || perr != nil || n < 1 || b[0] == '+' || b[0] == '-' {
			return fmt.Errorf("%w: %s holds %q, not a sequence number (19 digits); "+
				"check the venue's expected MsgSeqNum and write it there", ErrStoreDamaged, prefix+suf, truncate(b, 64))
		}
	}
	return nil
}

// lastIndexed returns the MsgSeqNum of the last entry of the file store's
// message index at prefix (0 when it has none); the index is whole
// (repairStore).
func lastIndexed(prefix string) (int, error) {
	hdr, err := os.ReadFile(prefix + ".header")
	if os.IsNotExist(err) || err == nil && len(hdr) == 0 {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("fix: store: %w", err)
	}
	start := bytes.LastIndexByte(hdr[:len(hdr)-1], '\n') + 1
	seq, _, _ := bytes.Cut(hdr[start:], []byte(","))
	n, err := strconv.Atoi(string(seq))
	if err != nil {
		return 0, fmt.Errorf("%w: %s.header ends with %q", ErrStoreDamaged, prefix, truncate(hdr[start:], 64))
	}
	return n, nil
}

// staleTail reports whether the entries at the end of the file store's
// message index at prefix numbered at or above next, k of them, follow an
// entry numbered next-1-k (or none, when next-1-k is 0): the saves
// since a Reset, each of which advanced the next number by one, some of
// them of messages numbered before the Reset. A sequence number file that
// went back (true next T, read as N < T) has its trailing entries N..T-1
// after N-1, never N-1-k.
func staleTail(prefix string, next int) bool {
	hdr, err := os.ReadFile(prefix + ".header")
	if err != nil {
		return false
	}
	lines := strings.Split(strings.TrimSuffix(string(hdr), "\n"), "\n")
	k := 0
	for i := len(lines) - 1; i >= 0; i-- {
		seq, _, _ := strings.Cut(lines[i], ",")
		n, err := strconv.Atoi(seq)
		if err != nil {
			return false
		}
		if n < next {
			return n == next-1-k
		}
		k++
	}
	return next-1-k == 0
}

// cutUnsent cuts from the file store's message index (.header) a torn
// tail (repairStore) and a last entry numbered next, the store's next
// sender sequence number: quickfix indexes a message before it advances
// that number and sends it only after both, so such an entry is a message
// never sent, left by a save that failed or a process killed between the
// two steps. Left there, the next message would be indexed under the
// same number, and a resend would send the unsent one (PossDupFlag=Y) to
// the upstream as that number, then the other. Not for a store whose
// number's advance a machine crash may have lost.
func cutUnsent(prefix string, next int) error {
	if err := repairStore(prefix); err != nil {
		return err
	}
	hdr, err := os.ReadFile(prefix + ".header")
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return fmt.Errorf("fix: repair store: %w", err)
	}
	if len(hdr) == 0 {
		return nil
	}
	start := bytes.LastIndexByte(hdr[:len(hdr)-1], '\n') + 1
	seq, _, ok := bytes.Cut(hdr[start:], []byte(","))
	if n, err := strconv.Atoi(string(seq)); !ok || err != nil || n != next {
		return nil
	}
	if err := os.Truncate(prefix+".header", int64(start)); err != nil {
		return fmt.Errorf("fix: repair store: %w", err)
	}
	return nil
}

// wholeIndex reads the file store's message index (.header) at prefix
// and returns it with the length of its longest prefix of entries that are
// complete and whose message lies within the message file (.body).
func wholeIndex(prefix string) (hdr []byte, good int, err error) {
	hdr, err = os.ReadFile(prefix + ".header")
	if os.IsNotExist(err) {
		return nil, 0, nil
	} else if err != nil {
		return nil, 0, fmt.Errorf("fix: repair store: %w", err)
	}
	var bodySize int64
	if st, err := os.Stat(prefix + ".body"); err == nil {
		bodySize = st.Size()
	}
	sc := bufio.NewScanner(bytes.NewReader(hdr))
	for sc.Scan() {
		end := good + len(sc.Bytes()) + 1
		if end > len(hdr) || hdr[end-1] != '\n' {
			break
		}
		parts := strings.Split(sc.Text(), ",")
		if len(parts) != 3 {
			break
		}
		off, err1 := strconv.ParseInt(parts[1], 10, 64)
		size, err2 := strconv.ParseInt(parts[2], 10, 64)
		if _, err3 := strconv.Atoi(parts[0]); err1 != nil || err2 != nil || err3 != nil || off+size > bodySize {
			break
		}
		good = end
	}
	return hdr, good, nil
}

// checkIndex returns an error wrapping ErrStoreDamaged, naming the file,
// if the message index of a store that no crash of the machine explains
// has an entry that is torn or whose message lies past the message file's
// end, other than one numbered next or above (a save that failed and
// could not be undone: cutUnsent cuts it). Cut, such an entry would be a
// message sent and no longer counted as handed: its order sent again.
func checkIndex(prefix string, next int) error {
	hdr, good, err := wholeIndex(prefix)
	if err != nil || good == len(hdr) {
		return err
	}
	line, _, terminated := bytes.Cut(hdr[good:], []byte("\n"))
	seq, _, _ := bytes.Cut(line, []byte(","))
	if n, err := strconv.Atoi(string(seq)); err == nil && n >= next {
		return nil
	}
	if !terminated && inFlightEntry(prefix, hdr[:good], line, next) {
		return nil
	}
	return fmt.Errorf("%w: %s.header holds the entry %q (at byte %d), torn or past the end of %s.body, below the next MsgSeqNum %d; "+
		"the store lacks a message it sent: restore it from a copy, or agree the sequence numbers with the venue and move the store aside",
		ErrStoreDamaged, prefix, truncate(line, 64), good, prefix, next)
}

// indexWithoutBody reports whether the file store at prefix has a
// message index (.header) and no message file (.body). quickfix creates
// .body before .header and its Reset removes .body first: only a process
// killed between Reset's two removals (or a hand) leaves this.
func indexWithoutBody(prefix string) bool {
	if _, err := os.Stat(prefix + ".body"); !os.IsNotExist(err) {
		return false
	}
	_, err := os.Stat(prefix + ".header")
	return err == nil
}

// inFlightEntry reports whether line, the unterminated last line of the
// file store's message index at prefix after its whole entries whole, is
// the entry of a save a killed process left half written: quickfix writes
// "seq,offset,size\n" with one write(), which a SIGKILL may cut between
// two pages, before the message and before the number's advance, so that
// entry is numbered next, at the message file's end, and nothing past the
// last whole entry's message is a message numbered below next (what lies
// there are the messages of saves cut as never sent, numbered next). A
// torn seq field ("1" of "11") is read as a prefix of next.
func inFlightEntry(prefix string, whole, line []byte, next int) bool {
	body, err := os.ReadFile(prefix + ".body")
	if err != nil {
		return false
	}
	want := fmt.Sprintf("%d,%d,", next, len(body))
	if len(line) <= len(want) {
		if !strings.HasPrefix(want, string(line)) {
			return false
		}
	} else if !strings.HasPrefix(string(line), want) || strings.Trim(string(line[len(want):]), "0123456789") != "" {
		return false
	}
	var end int64
	if len(whole) > 0 {
		last := whole[bytes.LastIndexByte(whole[:len(whole)-1], '\n')+1 : len(whole)-1]
		parts := strings.Split(string(last), ",")
		if len(parts) != 3 {
			return false
		}
		off, err1 := strconv.ParseInt(parts[1], 10, 64)
		size, err2 := strconv.ParseInt(parts[2], 10, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		end = off + size
	}
	if end > int64(len(body)) {
		return false
	}
	for rest := body[end:]; len(rest) > 0; {
		i := bytes.Index(rest, []byte("\x0110="))
		if i < 0 || i+8 > len(rest) {
			return false
		}
		msg := rest[:i+8]
		s, _, _ := requestFields(msg)
		if n, err := strconv.Atoi(string(s)); !checkSumOK(msg) || err != nil || n < next {
			return false
		}
		rest = rest[i+8:]
	}
	return true
}

// repairStore cuts the file store's message index (.header, lines of
// "seq,offset,size") back to its last entry that is complete and whose
// body lies within .body, so resends after a crash do not fail on a torn
// tail.
func repairStore(prefix string) error {
	hdr, good, err := wholeIndex(prefix)
	if err != nil {
		return err
	}
	if good == len(hdr) {
		return nil
	}
	if err := os.Truncate(prefix+".header", int64(good)); err != nil {
		return fmt.Errorf("fix: repair store: %w", err)
	}
	return nil
}
