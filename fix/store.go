package fix

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/store/file"
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
type storeFactory struct {
	settings *quickfix.Settings
	dir      string
	syncEach bool
	log      *slog.Logger

	mu     sync.Mutex
	stores []*reservedStore
}

var _ quickfix.MessageStoreFactory = (*storeFactory)(nil)

// Create opens the session's store. quickfix calls it once per session.
func (f *storeFactory) Create(sid quickfix.SessionID) (quickfix.MessageStore, error) {
	prefix := filepath.Join(f.dir, storePrefix(sid))
	rs := &reservedStore{path: prefix + ".reserve"}
	reserved, clean, found, err := readReservation(rs.path)
	if err != nil {
		return nil, err
	}
	dirty := found && !clean
	if dirty {
		if err := repairStore(prefix); err != nil {
			return nil, err
		}
	}
	inner, err := file.NewStoreFactory(f.settings).Create(sid)
	if err != nil {
		return nil, fmt.Errorf("fix: open store %s: %w", f.dir, err)
	}
	rs.MessageStore = NewLockedStore(inner) // quickfix reads sequence numbers without a lock
	if dirty && !f.syncEach && reserved > inner.NextSenderMsgSeqNum() {
		f.log.Warn("fix: store was not closed cleanly; skipping to the reserved sender sequence number",
			"store", f.dir, "next", inner.NextSenderMsgSeqNum(), "reserved", reserved)
		if err := inner.SetNextSenderMsgSeqNum(reserved); err != nil {
			return nil, fmt.Errorf("fix: store %s: %w", f.dir, err)
		}
	}
	if rs.file, err = os.OpenFile(rs.path, os.O_RDWR|os.O_CREATE, 0o660); err != nil {
		return nil, fmt.Errorf("fix: reservation: %w", err)
	}
	if err := rs.reserve(inner.NextSenderMsgSeqNum()+reserveBlock, false); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.stores = append(f.stores, rs)
	f.mu.Unlock()
	return rs, nil
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

// storePrefix is the file store's name for the session's files
// (BeginString-Sender-Target; the relay uses no sub or location ids).
func storePrefix(sid quickfix.SessionID) string {
	return sid.BeginString + "-" + sid.SenderCompID + "-" + sid.TargetCompID
}

// reservedStore is a quickfix.MessageStore whose next sender sequence
// number never passes its fsynced reservation. quickfix calls it from the
// session goroutine and from the goroutine calling SendToTarget (our
// pacer), under its own send lock.
type reservedStore struct {
	quickfix.MessageStore
	path string

	mu       sync.Mutex
	file     *os.File
	reserved int
	closed   bool
}

var _ quickfix.MessageStore = (*reservedStore)(nil)

func (s *reservedStore) ensure(next int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if next <= s.reserved {
		return nil
	}
	return s.reserveLocked(next+reserveBlock, false)
}

func (s *reservedStore) reserve(n int, clean bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reserveLocked(n, clean)
}

func (s *reservedStore) reserveLocked(n int, clean bool) error {
	mark := 0
	if clean {
		mark = 1
	}
	if _, err := s.file.WriteAt(fmt.Appendf(nil, "%019d %d\n", n, mark), 0); err != nil {
		return fmt.Errorf("fix: reservation: %w", err)
	}
	if err := s.file.Sync(); err != nil {
		return fmt.Errorf("fix: reservation: %w", err)
	}
	s.reserved = n
	return nil
}

func (s *reservedStore) SaveMessageAndIncrNextSenderMsgSeqNum(seq int, msg []byte) error {
	if err := s.ensure(seq + 1); err != nil {
		return err
	}
	return s.MessageStore.SaveMessageAndIncrNextSenderMsgSeqNum(seq, msg)
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
	if err := s.MessageStore.Reset(); err != nil {
		return err
	}
	return s.reserve(s.MessageStore.NextSenderMsgSeqNum()+reserveBlock, false)
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
	if cerr := s.file.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("fix: reservation: %w", cerr)
	}
	return err
}

// readReservation reads the reservation file, if any.
func readReservation(path string) (reserved int, clean, found bool, err error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0, false, false, nil
	}
	if err != nil {
		return 0, false, false, fmt.Errorf("fix: reservation: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		// A torn write: treat as unclean with nothing reserved.
		return 0, false, true, nil
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 0, false, true, nil
	}
	return n, f[1] == "1", true, nil
}

// repairStore cuts the file store's message index (.header, lines of
// "seq,offset,size") back to its last entry that is complete and whose
// body lies within .body, so resends after a crash do not fail on a torn
// tail.
func repairStore(prefix string) error {
	hdr, err := os.ReadFile(prefix + ".header")
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return fmt.Errorf("fix: repair store: %w", err)
	}
	var bodySize int64
	if st, err := os.Stat(prefix + ".body"); err == nil {
		bodySize = st.Size()
	}
	good := 0
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
	if good == len(hdr) {
		return nil
	}
	if err := os.Truncate(prefix+".header", int64(good)); err != nil {
		return fmt.Errorf("fix: repair store: %w", err)
	}
	return nil
}
