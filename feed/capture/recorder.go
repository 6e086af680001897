package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stream indexes of a Recorder: the two sources' raw bytes and the
// arbitrated messages.
const (
	streamPrimary    = 0
	streamBackup     = 1
	streamArbitrated = 2
	numStreams       = 3
)

// batchMax is the size of the buffers records are queued in; batchMin the
// smallest, which still holds the largest record, a gap record and the
// stream records dropped before it.
const (
	batchMax = 64 << 10
	batchMin = 2*(1+recordMin) + MaxPayload + maxLostStreams*(1+recordMin+maxSession)
)

// maxLostStreams bounds the stream records (TypeStream) a Recorder keeps
// to write after a full queue dropped them, one per channel; maxSession
// bounds the session name one carries (SoupBinTCP's is 10 bytes).
const (
	maxLostStreams = 64
	maxSession     = 16
)

// Recorder writes one feed's capture files. Open, Raw and Message are
// called on the feed's ingest goroutines, possibly with the caller's locks
// held: they take only the Recorder's own mutex (a leaf lock), copy into
// the bounded queue and return; they never wait for the writer or the
// disk. Every method is safe on a nil *Recorder, which records nothing.
//
// Start runs the writer goroutine; Close stops it after writing what is
// queued. Stats is safe from any goroutine.
type Recorder struct {
	cfg      Config
	feed     string
	protocol string
	log      *slog.Logger
	on       [numStreams]bool
	batch    int // buffer size

	mu      sync.Mutex
	cur     []byte             // the batch being filled; nil when none is free
	pending [numStreams]uint64 // records dropped and not yet marked by a gap record
	// lost are the stream records (TypeStream) of the arbitrated stream
	// that a full queue dropped: they are written after the gap record
	// that marks the drop, so a reader still numbers what follows
	// afresh. At most one per channel, maxLostStreams in all.
	lost    []lostStream
	stopped bool

	free    chan []byte // empty batches
	full    chan []byte // batches for the writer
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once // closes stop
	started sync.Once // starts run
	// hold is Config.Hold.
	hold <-chan struct{}

	files   [numStreams]*file
	created [numStreams]int64 // time of the last file opened, to keep names unique

	records, bytes, opened, writeErrs atomic.Uint64
	dropped                           [numStreams]atomic.Uint64
}

// lostStream is a stream record a full queue dropped.
type lostStream struct {
	src     uint8
	recv    int64
	channel uint16
	session []byte
}

// file is a stream's current file. Only the writer goroutine uses it.
type file struct {
	f      *os.File
	w      *bufio.Writer
	size   int64
	opened time.Time
}

// New returns a recorder of feed's streams for protocol, or nil (which
// records nothing) when cfg is not enabled. It fills cfg's defaults and
// creates the directory; it opens no file until the first record.
func New(cfg Config, feed, protocol string, log *slog.Logger) (*Recorder, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{cfg: cfg, feed: feed, protocol: protocol, log: log, hold: cfg.Hold,
		stop: make(chan struct{}), done: make(chan struct{})}
	for _, w := range cfg.Record {
		switch w {
		case RecordSources:
			r.on[streamPrimary], r.on[streamBackup] = true, true
		case RecordArbitrated:
			r.on[streamArbitrated] = true
		}
	}
	r.batch = min(batchMax, max(batchMin, cfg.QueueBytes))
	n := max(1, cfg.QueueBytes/r.batch)
	r.free, r.full = make(chan []byte, n), make(chan []byte, n)
	for range n {
		r.free <- make([]byte, 0, r.batch)
	}
	return r, nil
}

// Open records that source src (Primary or Backup) connected and asked to
// log in at sequence number seq.
func (r *Recorder) Open(src uint8, recv int64, seq uint64) {
	if r == nil || src > Backup || !r.on[src] {
		return
	}
	r.mu.Lock()
	r.put(int(src), TypeOpen, src, recv, seq, nil)
	r.mu.Unlock()
}

// Raw records bytes b that source src received at recv (Unix ns), split in
// records of at most MaxPayload bytes. b is copied.
func (r *Recorder) Raw(src uint8, recv int64, b []byte) {
	if r == nil || src > Backup || !r.on[src] || len(b) == 0 {
		return
	}
	r.mu.Lock()
	for len(b) > 0 {
		n := min(len(b), MaxPayload)
		r.put(int(src), TypeData, src, recv, 0, b[:n])
		b = b[n:]
	}
	r.mu.Unlock()
}

// Message records that the arbiter delivered msg as sequence number seq,
// received from source src at recv (Unix ns). msg is copied. A message
// longer than MaxPayload, which one record cannot hold, is dropped and
// counted as a full queue's would be (an ITCH message is at most 64 KiB
// only in theory, an SZSE snapshot's frame 64 KiB by the feed's limit;
// real ones are far smaller).
func (r *Recorder) Message(src uint8, seq uint64, recv int64, msg []byte) {
	if r == nil || !r.on[streamArbitrated] {
		return
	}
	r.mu.Lock()
	if len(msg) > MaxPayload {
		r.pending[streamArbitrated]++
		r.dropped[streamArbitrated].Add(1)
	} else {
		r.put(streamArbitrated, TypeData, src, recv, seq, msg)
	}
	r.mu.Unlock()
}

// NewStream records, in the arbitrated stream, that the arbiter begins a
// new stream of channel (SZSE: the ChannelNo; ITCH: 0) at recv (Unix ns),
// brought by source src: the messages it delivers after are numbered
// afresh (a new SoupBinTCP session named session, which is copied; a
// renumbered stream it rebuilds from; SZSE: a channel's new trading day
// or renumbering, session nil). It is called rarely (a boundary, not a
// message). If the queue is full the record is kept and written after
// the gap record that marks the drop.
func (r *Recorder) NewStream(src uint8, recv int64, channel uint16, session []byte) {
	if r == nil || !r.on[streamArbitrated] {
		return
	}
	session = session[:min(len(session), maxSession)]
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.put(streamArbitrated, TypeStream, src, recv, uint64(channel), session) {
		return
	}
	// Dropped: what follows is a new stream all the same. Two records of
	// one channel with nothing kept between them are one boundary.
	for i := range r.lost {
		if r.lost[i].channel == channel {
			r.lost = append(r.lost[:i], r.lost[i+1:]...)
			break
		}
	}
	if len(r.lost) < maxLostStreams {
		r.lost = append(r.lost, lostStream{src: src, recv: recv, channel: channel, session: append([]byte(nil), session...)})
	}
}

// put queues one record of stream s, preceded by a gap record if records
// of s were dropped since its last record (and by the stream records
// among them, r.lost), or drops it when the queue is full, reporting
// whether it was queued. r.mu held.
func (r *Recorder) put(s int, t RecordType, src uint8, recv int64, seq uint64, data []byte) bool {
	need := 1 + recordSize(len(data))
	if r.pending[s] > 0 {
		need += 1 + recordSize(0)
		if s == streamArbitrated {
			for _, l := range r.lost {
				need += 1 + recordSize(len(l.session))
			}
		}
	}
	if r.stopped || len(r.cur)+need > cap(r.cur) && !r.nextBatch() {
		r.pending[s]++
		r.dropped[s].Add(1)
		return false
	}
	if n := r.pending[s]; n > 0 {
		r.cur = append(r.cur, byte(s))
		r.cur = appendUnsealed(r.cur, TypeGap, src, recv, n, nil)
		r.pending[s] = 0
		if s == streamArbitrated {
			for _, l := range r.lost {
				r.cur = append(r.cur, byte(s))
				r.cur = appendUnsealed(r.cur, TypeStream, l.src, l.recv, uint64(l.channel), l.session)
			}
			r.lost = r.lost[:0]
		}
	}
	r.cur = append(r.cur, byte(s))
	r.cur = appendUnsealed(r.cur, t, src, recv, seq, data)
	return true
}

// nextBatch hands the current batch to the writer and takes an empty one,
// reporting false when none is free. r.mu held.
func (r *Recorder) nextBatch() bool {
	if len(r.cur) > 0 {
		r.full <- r.cur // never blocks: full has room for every batch
		r.cur = nil
	}
	select {
	case b := <-r.free:
		r.cur = b[:0]
		return true
	default:
		return false
	}
}

// Start runs the writer goroutine until Close. It is idempotent.
func (r *Recorder) Start() {
	if r == nil {
		return
	}
	r.started.Do(func() { go r.run() })
}

// Close stops recording: what is queued is written, a trailing gap record
// marks what was dropped since a stream's last record, and the files are
// flushed, fsynced and closed. Records offered after Close are dropped and
// counted. It waits for the writer (starting it if Start was not called)
// and is idempotent. It returns ErrWrite if the writer failed to write
// something: Stats and the log tell what.
func (r *Recorder) Close() error {
	if r == nil {
		return nil
	}
	r.once.Do(func() { close(r.stop) })
	r.Start()
	<-r.done
	if n := r.writeErrs.Load(); n > 0 {
		return fmt.Errorf("%w: %d write errors", ErrWrite, n)
	}
	return nil
}

// run is the writer goroutine.
func (r *Recorder) run() {
	defer close(r.done)
	t := time.NewTicker(r.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case b := <-r.full:
			r.writeBatch(b)
		case now := <-t.C:
			r.queueCurrent()
			r.drain()
			r.flush(now)
		case <-r.stop:
			r.mu.Lock()
			r.stopped = true
			r.mu.Unlock()
			r.queueCurrent()
			r.drain()
			r.finish()
			return
		}
	}
}

// drain writes the batches handed to the writer. Writer goroutine.
func (r *Recorder) drain() {
	for {
		select {
		case b := <-r.full:
			r.writeBatch(b)
		default:
			return
		}
	}
}

// queueCurrent hands the batch being filled, if it holds anything, to the
// writer. Batches reach the writer only through r.full, queued under r.mu,
// so it writes them in the order they were filled.
func (r *Recorder) queueCurrent() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.cur) > 0 {
		r.full <- r.cur // never blocks: full has room for every batch
		r.cur = nil
	}
}

// writeBatch writes the records of batch b to their streams' files and
// returns b to the free list. Consecutive records of one stream are
// written in one piece, up to where the file must rotate. Writer
// goroutine.
func (r *Recorder) writeBatch(b []byte) {
	if r.hold != nil {
		<-r.hold
	}
	now := time.Now()
	// Records are moved down over their stream bytes, so that a run of
	// one stream's records, b[start:w], is contiguous, and sealed (their
	// CRC computed here, off the feed's goroutines). Reading stays ahead
	// of writing by at least one byte per record.
	s, n, room := -1, 0, int64(0)
	start, w := 0, 0
	for i := 0; i < len(b); {
		rs := int(b[i])
		size := 4 + int(binary.BigEndian.Uint32(b[i+1:]))
		if rs != s || int64(w-start+size) > room && w > start {
			if w > start {
				r.write(s, b[start:w], n, now)
			}
			s, n, start = rs, 0, w
			room = r.room(s, now)
		}
		copy(b[w:], b[i+1:i+1+size])
		seal(b[w : w+size])
		w += size
		n++
		i += 1 + size
	}
	if w > start {
		r.write(s, b[start:w], n, now)
	}
	r.free <- b[:0]
}

// room returns how many bytes stream s's file takes before it must rotate
// (at least one record is always written to a file). Writer goroutine.
func (r *Recorder) room(s int, now time.Time) int64 {
	f := r.files[s]
	if f == nil || now.Sub(f.opened) >= r.cfg.MaxFileAge {
		return r.cfg.MaxFileBytes - int64(23+len(r.feed)+len(StreamName(r.source(s)))+len(r.protocol)) // less the header
	}
	return r.cfg.MaxFileBytes - f.size
}

// write appends n encoded records of stream s to its file, rotating first
// if they do not fit or the file is old. Writer goroutine.
func (r *Recorder) write(s int, recs []byte, n int, now time.Time) {
	f := r.files[s]
	if f != nil && (f.size+int64(len(recs)) > r.cfg.MaxFileBytes && f.size > 0 || now.Sub(f.opened) >= r.cfg.MaxFileAge) {
		r.closeFile(s)
		f = nil
	}
	if f == nil {
		var err error
		if f, err = r.openFile(s, now); err != nil {
			r.writeErrs.Add(1)
			r.log.Error("capture: cannot open a file; records dropped", "stream", StreamName(r.source(s)), "err", err)
			r.dropped[s].Add(uint64(n))
			return
		}
		r.files[s] = f
	}
	if _, err := f.w.Write(recs); err != nil {
		r.writeErrs.Add(1)
		r.log.Error("capture: write failed; starting a new file", "stream", StreamName(r.source(s)), "err", err)
		r.closeFile(s)
		r.dropped[s].Add(uint64(n))
		return
	}
	f.size += int64(len(recs))
	r.records.Add(uint64(n))
	r.bytes.Add(uint64(len(recs)))
}

// source returns the header source id of stream s.
func (r *Recorder) source(s int) uint8 {
	if s == streamArbitrated {
		return Arbitrated
	}
	return uint8(s)
}

// fileName returns the name of stream s's file created at t: it sorts by
// creation time within the stream.
func (r *Recorder) fileName(s int, t time.Time) string {
	return fmt.Sprintf("%s-%s-%s.cap", r.feed, StreamName(r.source(s)), t.UTC().Format("20060102T150405.000000000Z"))
}

// openFile creates stream s's next file, writes its header and removes the
// oldest files beyond MaxFiles.
func (r *Recorder) openFile(s int, now time.Time) (*file, error) {
	created := max(now.UnixNano(), r.created[s]+1)
	r.created[s] = created
	t := time.Unix(0, created)
	name := filepath.Join(r.cfg.Dir, r.fileName(s, t))
	osf, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	kind := KindSource
	if s == streamArbitrated {
		kind = KindArbitrated
	}
	hdr, err := AppendHeader(nil, Header{Created: created, Kind: kind, Source: r.source(s),
		Feed: r.feed, Stream: StreamName(r.source(s)), Protocol: r.protocol})
	if err != nil {
		osf.Close()
		return nil, err
	}
	f := &file{f: osf, w: bufio.NewWriterSize(osf, 256<<10), opened: now}
	if _, err := f.w.Write(hdr); err != nil {
		osf.Close()
		return nil, fmt.Errorf("capture: %w", err)
	}
	f.size = int64(len(hdr))
	r.opened.Add(1)
	r.prune(s)
	return f, nil
}

// prune removes stream s's oldest files beyond MaxFiles.
func (r *Recorder) prune(s int) {
	prefix := fmt.Sprintf("%s-%s-", r.feed, StreamName(r.source(s)))
	names, err := filepath.Glob(filepath.Join(r.cfg.Dir, prefix+"*.cap"))
	if err != nil || len(names) <= r.cfg.MaxFiles {
		return
	}
	slices.Sort(names)
	for _, n := range names[:len(names)-r.cfg.MaxFiles] {
		if !strings.HasPrefix(filepath.Base(n), prefix) {
			continue
		}
		if err := os.Remove(n); err != nil {
			r.log.Warn("capture: cannot remove an old file", "file", n, "err", err)
		}
	}
}

// flush writes buffered bytes to the OS (and fsyncs with FsyncFlush), and
// rotates files past MaxFileAge. Writer goroutine.
func (r *Recorder) flush(now time.Time) {
	for s, f := range r.files {
		if f == nil {
			continue
		}
		if now.Sub(f.opened) >= r.cfg.MaxFileAge {
			r.closeFile(s)
			continue
		}
		err := f.w.Flush()
		if err == nil && r.cfg.Fsync == FsyncFlush {
			err = f.f.Sync()
		}
		if err != nil {
			r.writeErrs.Add(1)
			r.log.Error("capture: flush failed; starting a new file", "stream", StreamName(r.source(s)), "err", err)
			r.closeFile(s)
		}
	}
}

// closeFile flushes, fsyncs and closes stream s's file.
func (r *Recorder) closeFile(s int) {
	f := r.files[s]
	if f == nil {
		return
	}
	r.files[s] = nil
	if err := errors.Join(f.w.Flush(), f.f.Sync(), f.f.Close()); err != nil {
		r.writeErrs.Add(1)
		r.log.Error("capture: closing a file failed", "stream", StreamName(r.source(s)), "err", err)
	}
}

// finish marks what was dropped since each stream's last record and closes
// the files. Writer goroutine, after the last batch.
func (r *Recorder) finish() {
	r.mu.Lock()
	pending := r.pending
	r.pending = [numStreams]uint64{}
	r.mu.Unlock()
	now := time.Now()
	for s, n := range pending {
		if n > 0 {
			r.write(s, AppendRecord(nil, TypeGap, r.source(s), now.UnixNano(), n, nil), 1, now)
		}
	}
	for s := range r.files {
		r.closeFile(s)
	}
}

// Stats counts what a Recorder did.
type Stats struct {
	Records     uint64            `json:"records"`     // records written to files
	Bytes       uint64            `json:"bytes"`       // bytes of records written
	Files       uint64            `json:"files"`       // files opened
	WriteErrors uint64            `json:"writeErrors"` // failed opens, writes, flushes, closes
	Dropped     map[string]uint64 `json:"dropped"`     // records dropped (queue full, write failed), by stream
}

// Stats returns the recorder's counters; the zero Stats for nil.
func (r *Recorder) Stats() Stats {
	if r == nil {
		return Stats{}
	}
	st := Stats{Records: r.records.Load(), Bytes: r.bytes.Load(), Files: r.opened.Load(),
		WriteErrors: r.writeErrs.Load(), Dropped: map[string]uint64{}}
	for s := range numStreams {
		if r.on[s] {
			st.Dropped[StreamName(r.source(s))] = r.dropped[s].Load()
		}
	}
	return st
}
