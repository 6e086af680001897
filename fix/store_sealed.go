package fix

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/quickfixgo/quickfix"

	"sgw/atrest"
	"sgw/internal/dirsync"
	"sgw/journal"
)

// sealedSuffix names a session's sealed store file: <prefix>.sealed.
const sealedSuffix = ".sealed"

// plainSuffixes are the files of quickfix's plain file store.
var plainSuffixes = [...]string{".body", ".header", ".session", ".senderseqnums", ".targetseqnums"}

// Record types of a sealed store file. Bodies are big-endian.
const (
	recCreated = 'C' // i64 creation time, Unix nanoseconds
	recSender  = 'S' // u64 next sender MsgSeqNum
	recTarget  = 'T' // u64 next target MsgSeqNum
	recMessage = 'M' // u64 MsgSeqNum | message: SaveMessage
	recSent    = 'N' // u64 MsgSeqNum | message: SaveMessageAndIncrNextSenderMsgSeqNum
	recSession = 'I' // the session's id (SessionID.String()): whose store the file is
)

// sealedStore is a quickfix.MessageStore kept in one sealed journal file
// per session (package journal with a key ring): the creation time, every
// change of the two sequence numbers and every message saved are records
// sealed with SM4-GCM, so what the session persisted can be neither read
// nor changed unnoticed. The file names its session in a sealed record
// (recSession), so a store moved or copied to another session's name is
// refused (ErrTampered) rather than resent to that session's
// counterparty. Opening replays the file; the journal's
// recovery cuts a torn tail and refuses a tampered record (ErrTampered,
// naming the file and record) or a missing key (ErrKey). Reset starts a
// new file under the key ring's current key, which is where a session's
// store moves to a rotated key.
//
// It is not safe for concurrent use: every engine wraps it in a
// LockedStore, which serialises all calls.
type sealedStore struct {
	path string
	sid  string // the session's id, recSession's body
	keys *atrest.KeyRing
	sync bool

	j          *journal.Journal
	nextSender int
	nextTarget int
	created    time.Time
	closed     bool
}

var _ quickfix.MessageStore = (*sealedStore)(nil)

// OpenSealedStore opens, creating it if needed, the sealed store of
// session sid in dir under keys (see docs/SECURITY.md). With sync every
// record is fsynced before the call returns; without, it is written (it
// survives a crash of the process, not of the machine). A dir that holds
// quickfix's plain file store for sid is refused with ErrPlain: switching
// a session to encryption is an explicit step (let the session reset its
// sequence numbers, or move the plain files away).
func OpenSealedStore(dir string, sid quickfix.SessionID, keys *atrest.KeyRing, sync bool) (quickfix.MessageStore, error) {
	return openSealedStore(dir, sid, keys, sync, dirsync.Sync)
}

// openSealedStore is OpenSealedStore. dir, when missing, is made with
// dirsync.MkdirAll, each new directory fsynced into its parent with
// syncDir whatever sync says: the session's reservation file (see
// storeFactory) is always fsynced into dir, and is only as durable as
// dir's own entry.
func openSealedStore(dir string, sid quickfix.SessionID, keys *atrest.KeyRing, sync bool, syncDir func(dir string) error) (*sealedStore, error) {
	if keys == nil {
		return nil, fmt.Errorf("%w: a sealed store needs a key ring", ErrConfig)
	}
	prefix := filepath.Join(dir, storePrefix(sid))
	for _, suf := range plainSuffixes {
		if fi, err := os.Stat(prefix + suf); err == nil && fi.Size() > 0 {
			return nil, fmt.Errorf("fix: store %s of %s: %w: %s holds quickfix's plain store; "+
				"reset the session's sequence numbers with the venue and move the plain files away to start sealed",
				dir, sid, atrest.ErrPlain, prefix+suf)
		}
	}
	if err := dirsync.MkdirAll(dir, syncDir); err != nil {
		return nil, fmt.Errorf("fix: store %s: %w", dir, err)
	}
	s := &sealedStore{path: prefix + sealedSuffix, sid: sid.String(), keys: keys, sync: sync}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// CheckPlainStore returns an error wrapping ErrKey, naming the key id, if
// dir holds a sealed store of sid: an engine configured without
// encryption must not start a plain store beside it (and so reuse
// sequence numbers the venue has seen).
func CheckPlainStore(dir string, sid quickfix.SessionID) error {
	path := filepath.Join(dir, storePrefix(sid)+sealedSuffix)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	j, err := journal.Open(journal.Config{Path: path, NoSync: true}) // refuses a sealed file without keys
	if err == nil {
		j.Close()
		return fmt.Errorf("fix: store %s of %s: %w: %s is not a sealed store", dir, sid, atrest.ErrKey, path)
	}
	return fmt.Errorf("fix: store %s of %s: %w", dir, sid, err)
}

// open opens the file and replays it into the sequence numbers and the
// creation time; a new file gets its creation record. A file naming
// another session is refused (ErrTampered); one naming none (written
// before the store named its session) gets its session record, and is
// bound from then on.
func (s *sealedStore) open() error {
	j, err := journal.Open(journal.Config{Path: s.path, NoSync: !s.sync, Keys: s.keys, MaxRecord: journal.MaxRecordLimit})
	if err != nil {
		return fmt.Errorf("fix: store: %w", err)
	}
	s.j, s.nextSender, s.nextTarget, s.created = j, 1, 1, time.Time{}
	named := false
	err = j.Replay(func(r journal.Record) error {
		switch r.Type {
		case recSession:
			if string(r.Body) != s.sid {
				return fmt.Errorf("%w: record %d: the file is the store of session %q, not of %s (moved or copied)",
					atrest.ErrTampered, r.Seq, r.Body, s.sid)
			}
			named = true
		case recCreated, recSender, recTarget:
			if len(r.Body) != 8 {
				return fmt.Errorf("record %d of type %c has %d bytes", r.Seq, r.Type, len(r.Body))
			}
			v := binary.BigEndian.Uint64(r.Body)
			switch r.Type {
			case recCreated:
				s.created = time.Unix(0, int64(v))
			case recSender:
				s.nextSender = int(v)
			case recTarget:
				s.nextTarget = int(v)
			}
		case recMessage:
		case recSent:
			s.nextSender++
		default:
			return fmt.Errorf("record %d has unknown type %d", r.Seq, r.Type)
		}
		if (r.Type == recMessage || r.Type == recSent) && len(r.Body) < 8 {
			return fmt.Errorf("record %d of type %c has %d bytes", r.Seq, r.Type, len(r.Body))
		}
		return nil
	})
	if err == nil && s.created.IsZero() {
		now := time.Now()
		if err = s.append(recCreated, uint64(now.UnixNano()), nil); err == nil {
			s.created = now
		}
	}
	if err == nil && !named {
		_, err = j.Append(recSession, []byte(s.sid))
	}
	if err != nil {
		j.Close()
		return fmt.Errorf("fix: store %s: %w", s.path, err)
	}
	return nil
}

// append appends a record of type typ whose body is v and msg.
func (s *sealedStore) append(typ byte, v uint64, msg []byte) error {
	if s.closed {
		return fmt.Errorf("fix: store %s: %w", s.path, journal.ErrClosed)
	}
	b := make([]byte, 8, 8+len(msg))
	binary.BigEndian.PutUint64(b, v)
	if _, err := s.j.Append(typ, append(b, msg...)); err != nil {
		return fmt.Errorf("fix: store %s: %w", s.path, err)
	}
	return nil
}

func (s *sealedStore) NextSenderMsgSeqNum() int { return s.nextSender }
func (s *sealedStore) NextTargetMsgSeqNum() int { return s.nextTarget }

func (s *sealedStore) IncrNextSenderMsgSeqNum() error {
	return s.SetNextSenderMsgSeqNum(s.nextSender + 1)
}

func (s *sealedStore) IncrNextTargetMsgSeqNum() error {
	return s.SetNextTargetMsgSeqNum(s.nextTarget + 1)
}

func (s *sealedStore) SetNextSenderMsgSeqNum(next int) error {
	if err := s.append(recSender, uint64(next), nil); err != nil {
		return err
	}
	s.nextSender = next
	return nil
}

func (s *sealedStore) SetNextTargetMsgSeqNum(next int) error {
	if err := s.append(recTarget, uint64(next), nil); err != nil {
		return err
	}
	s.nextTarget = next
	return nil
}

// CreationTime returns when the store was created or last reset.
func (s *sealedStore) CreationTime() time.Time { return s.created }

// SetCreationTime does nothing, as in quickfix's file store: the creation
// time is the store's own.
func (s *sealedStore) SetCreationTime(time.Time) {}

func (s *sealedStore) SaveMessage(seq int, msg []byte) error {
	return s.append(recMessage, uint64(seq), msg)
}

// SaveMessageAndIncrNextSenderMsgSeqNum saves msg and advances the next
// sender sequence number in one record, so a crash cannot leave one
// without the other.
func (s *sealedStore) SaveMessageAndIncrNextSenderMsgSeqNum(seq int, msg []byte) error {
	if err := s.append(recSent, uint64(seq), msg); err != nil {
		return err
	}
	s.nextSender++
	return nil
}

// GetMessages returns the messages saved under sequence numbers begin to
// end, in sequence order; a number saved twice (after the sequence was
// set back) returns the later message.
func (s *sealedStore) GetMessages(begin, end int) ([][]byte, error) {
	if s.closed {
		return nil, fmt.Errorf("fix: store %s: %w", s.path, journal.ErrClosed)
	}
	byseq := map[int][]byte{}
	err := s.j.Replay(func(r journal.Record) error {
		if r.Type != recMessage && r.Type != recSent {
			return nil
		}
		if seq := int(binary.BigEndian.Uint64(r.Body)); seq >= begin && seq <= end {
			byseq[seq] = slices.Clone(r.Body[8:])
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fix: store: %w", err)
	}
	seqs := make([]int, 0, len(byseq))
	for seq := range byseq {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	msgs := make([][]byte, len(seqs))
	for i, seq := range seqs {
		msgs[i] = byseq[seq]
	}
	return msgs, nil
}

func (s *sealedStore) IterateMessages(begin, end int, cb func([]byte) error) error {
	return eachMessage(s.GetMessages, begin, end, cb)
}

// Refresh does nothing: the store's state is always the file's.
func (s *sealedStore) Refresh() error { return nil }

// Reset discards every message and sets both sequence numbers to 1: the
// file is replaced by a new one, sealed under the key ring's current key.
func (s *sealedStore) Reset() error {
	if s.closed {
		return fmt.Errorf("fix: store %s: %w", s.path, journal.ErrClosed)
	}
	if err := s.j.Close(); err != nil {
		return fmt.Errorf("fix: store %s: %w", s.path, err)
	}
	if err := os.Remove(s.path); err != nil {
		s.closed = true
		return fmt.Errorf("fix: store reset: %w", err)
	}
	if err := s.open(); err != nil {
		s.closed = true
		return err
	}
	return nil
}

// Close closes the file. A second Close does nothing.
func (s *sealedStore) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return s.j.Close()
}
