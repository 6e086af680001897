package journal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"sgw/atrest"
	"sgw/internal/dirsync"
)

// Journal is an open journal file. Its methods are safe for concurrent use
// except where noted; one writer goroutine, started by Open and stopped by
// Close, commits appends in batches.
type Journal struct {
	cfg       Config
	f         *os.File
	w         syncWriter // f, or a test's wrapper of it
	recovered Recovered
	lay       layout // the file's layout; lay.sealer is nil for a plain file
	epoch     uint32 // nonce epoch of this open's records (sealed files)

	mu     sync.Mutex // guards the fields below
	cur    *batch     // the batch appends join; never nil
	seq    uint64     // sequence number of the last record appended
	closed bool       // Close was called
	err    error      // sticky commit error, wraps ErrFailed (and ErrRollback if the cut failed)
	// later is the error of the batches behind the failed one and of
	// later appends, set with err: err without ErrRollback, as none of
	// them was written.
	later error

	kick chan struct{} // cap 1: the current batch got its first record
	// sealKick (cap 1; sealed journals) wakes the presealer: a record
	// was appended.
	sealKick chan struct{}
	full     chan struct{} // cap 1: the current batch passed flushBytes
	closing  chan struct{} // closed by Close
	stopped  chan struct{} // closed when the writer goroutine returns

	durable atomic.Int64 // end offset of the records made durable

	fileMu     sync.RWMutex // Replay holds it shared, Close exclusively
	fileClosed bool         // guarded by fileMu

	// Owned by the writer goroutine.
	end      int64        // end offset of the records written
	spareBuf []byte       // buffer for the next batch
	spareCbs []callback   // callback slice for the next batch
	nonce    atrest.Nonce // sealing scratch (sealed files)

	// The presealer (seal.go; sealed journals): unbuffered channels from
	// and to the writer, and its own buffers.
	preStart chan struct{}
	preStop  chan struct{}
	preDone  chan struct{}
	preBuf   []byte
	preNonce atrest.Nonce
}

// syncWriter is the part of the file the writer goroutine uses; tests wrap
// the file to inject write and fsync failures. Truncate rolls a failed
// commit back.
type syncWriter interface {
	Write(p []byte) (int, error)
	Sync() error
	Truncate(size int64) error
}

// Recovered reports what Open found in an existing file.
type Recovered struct {
	// Records is the number of good records in the file, which is also the
	// sequence number of the last one.
	Records int64
	// TruncatedBytes is how many bytes of torn tail (the last batch
	// partly written: from its first damaged record on, doc.go) Open cut
	// off. Zero for a clean file.
	TruncatedBytes int64
}

// Open opens the journal file cfg.Path, creating it when it does not
// exist, and starts the journal's writer goroutine.
//
// Open scans the whole file: it checks the header and every record's
// length, checksum, sequence number and batch index. A file that ends in
// a torn batch (a crash during a write: doc.go, Torn batches) is truncated
// to the last good record before the damage and reported by Recovered.
// Damage followed by a valid record of a later batch is never repaired:
// Open returns a *CorruptError (ErrCorrupt) naming the offset, and the
// operator decides. A new file is written in format 3 (sealed: 4); an
// existing file of format 1 or 2 keeps its format. A file that is not a journal gets ErrBadHeader
// or ErrVersion, and one another Journal holds open gets ErrLocked.
//
// With Config.Keys a new file is sealed under the current key. An existing
// sealed file is opened with the key its header names; a key the ring
// lacks (or holds a different key for) returns ErrKey naming the id, a
// header or record that fails authentication a *TamperedError
// (ErrTampered), and a plain file ErrPlain. Without Config.Keys a sealed
// file returns ErrKey.
//
// A new file is written to a temporary name with its header, fsynced and
// then linked into place, and its directory fsynced, so a crash never
// leaves a half-made header. Directories missing on the way to it are
// created (mode 0700), each fsynced into its parent. Files are created
// with mode 0600: they hold client orders.
func Open(cfg Config) (*Journal, error) {
	return open(cfg, nil)
}

// open is Open with an optional wrapper around the file the writer uses.
func open(cfg Config, wrap func(*os.File) syncWriter) (*Journal, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	f, err := openFile(cfg)
	if err != nil {
		return nil, err
	}
	rec, end, lay, err := recoverFile(f, cfg)
	if err != nil {
		f.Close()
		return nil, err
	}
	var epoch uint32
	if lay.sealer != nil {
		if epoch, err = atrest.NewEpoch(); err != nil {
			f.Close()
			return nil, err
		}
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	j := &Journal{
		cfg:       cfg,
		f:         f,
		w:         f,
		recovered: rec,
		lay:       lay,
		epoch:     epoch,
		seq:       uint64(rec.Records),
		kick:      make(chan struct{}, 1),
		sealKick:  make(chan struct{}, 1),
		full:      make(chan struct{}, 1),
		closing:   make(chan struct{}),
		stopped:   make(chan struct{}),
		end:       end,
	}
	if wrap != nil {
		j.w = wrap(f)
	}
	j.cur = j.newBatch()
	j.durable.Store(end)
	if lay.sealer != nil {
		j.preStart, j.preStop, j.preDone = make(chan struct{}), make(chan struct{}), make(chan struct{})
		go j.presealer()
	}
	go j.run()
	return j, nil
}

// openFile opens and locks cfg.Path, creating it when it does not exist.
func openFile(cfg Config) (*os.File, error) {
	f, err := os.OpenFile(cfg.Path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		sync := cfg.syncDir
		if cfg.NoSync {
			sync = nil
		}
		if err := dirsync.MkdirAll(filepath.Dir(cfg.Path), sync); err != nil {
			return nil, fmt.Errorf("journal: directory of %s: %w", cfg.Path, err)
		}
		if err := create(cfg.Path, sync, cfg.Keys); err != nil {
			return nil, err
		}
		f, err = os.OpenFile(cfg.Path, os.O_RDWR, 0)
	}
	if err != nil {
		return nil, err
	}
	if err := LockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s", err, cfg.Path)
	}
	return f, nil
}

// create makes a journal file holding only its header at path, unless one
// appears there first. The header is sealed when keys is set. Unless
// syncDir is nil, the file is fsynced and so is its directory (with
// syncDir) once it is linked in.
func create(path string, syncDir func(string) error, keys *atrest.KeyRing) (err error) {
	hdr, err := newHeader(time.Now(), keys)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(hdr)
	if err == nil && syncDir != nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// Link, unlike rename, fails rather than replace a file another
	// process created meanwhile.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if syncDir != nil {
		return syncDir(dir)
	}
	return nil
}

// recoverFile checks the open file f, truncates a torn tail and returns
// what it found, the end offset of the good records and the file's layout.
func recoverFile(f *os.File, cfg Config) (Recovered, int64, layout, error) {
	fi, err := f.Stat()
	if err != nil {
		return Recovered{}, 0, layout{}, err
	}
	size := fi.Size()
	if size == 0 {
		// An empty file (made by hand, say) gets its header.
		hdr, err := newHeader(time.Now(), cfg.Keys)
		if err != nil {
			return Recovered{}, 0, layout{}, err
		}
		if _, err := f.WriteAt(hdr, 0); err != nil {
			return Recovered{}, 0, layout{}, err
		}
		if !cfg.NoSync {
			if err := f.Sync(); err != nil {
				return Recovered{}, 0, layout{}, err
			}
		}
		size = int64(len(hdr))
	}
	lay, err := readHeader(f, size, cfg.Keys, cfg.Path)
	if err != nil {
		return Recovered{}, 0, layout{}, err
	}
	if cfg.Keys != nil && lay.sealer == nil {
		return Recovered{}, 0, layout{}, fmt.Errorf("journal: %s: %w: it was written without encryption; "+
			"keep it plain (no storage.encryption) or archive it and start a new, sealed journal", cfg.Path, ErrPlain)
	}
	res, err := scanFile(f, size, lay, cfg.Path, nil)
	if err != nil {
		return Recovered{}, 0, layout{}, err
	}
	rec := Recovered{Records: int64(res.records), TruncatedBytes: size - res.good}
	if res.torn != nil {
		if err := f.Truncate(res.good); err != nil {
			return Recovered{}, 0, layout{}, fmt.Errorf("journal: truncating torn tail of %s: %w", cfg.Path, err)
		}
		if !cfg.NoSync {
			if err := f.Sync(); err != nil {
				return Recovered{}, 0, layout{}, err
			}
		}
	}
	return rec, res.good, lay, nil
}

// Recovered reports what Open found in the file: the records it holds and
// the torn tail it truncated. It may be called from any goroutine.
func (j *Journal) Recovered() Recovered { return j.recovered }

// LastSeq returns the sequence number of the last record appended, durable
// or not; after Open, that of the last record in the file (0 for none).
func (j *Journal) LastSeq() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.seq
}

// Replay calls fn for each record made durable before Replay was called,
// from the first, in sequence order. Record.Body is valid only until fn
// returns: copy it (or decode it) to keep it. An error from fn stops the
// replay and is returned as is. Damage found in the file (it was checked
// by Open, so this means the disk changed under the journal) is a
// *CorruptError, or a *TamperedError for a sealed record that no longer
// authenticates.
//
// Restart order is Open, then Replay to rebuild state, then Append. Replay
// may also run later, concurrently with appends (it reads with positioned
// reads and never sees a partial batch), but not concurrently with Close.
func (j *Journal) Replay(fn func(r Record) error) error {
	j.fileMu.RLock()
	defer j.fileMu.RUnlock()
	if j.fileClosed {
		return ErrClosed
	}
	s := newScanner(j.f, j.durable.Load(), j.lay)
	for {
		rec, err := s.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var bad *badFrame
			if errors.As(err, &bad) {
				return &CorruptError{Path: j.cfg.Path, Offset: bad.off, Reason: bad.reason}
			}
			return withPath(err, j.cfg.Path)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// Close stops accepting appends, commits (writes and fsyncs) every append
// already accepted, waits for their callers to be released, and closes the
// file. Later appends get ErrClosed; a second Close returns ErrClosed. If a
// commit failed, Close returns that sticky error (ErrFailed). Close must not
// be called from an AppendAsync callback or OnSync, which run on the
// goroutine Close waits for.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return ErrClosed
	}
	j.closed = true
	close(j.closing)
	j.mu.Unlock()

	<-j.stopped

	j.fileMu.Lock()
	j.fileClosed = true
	cerr := j.f.Close()
	j.fileMu.Unlock()

	j.mu.Lock()
	err := j.err
	j.mu.Unlock()
	if err != nil {
		return err
	}
	return cerr
}
