package capture

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sgw/feed/soupbin"
)

// Protocols of a capture (Header.Protocol): the feed's protocol, which
// says how its records' bytes are framed.
const (
	// ProtocolITCH is ITCH 5.0 over SoupBinTCP 3.0.
	ProtocolITCH = "itch"
	// ProtocolSZSE is SZSE Binary market data.
	ProtocolSZSE = "szse"
)

// Message is one sequenced message found in a capture. Data is only valid
// during the callback that receives it.
type Message struct {
	// Seq is the message's sequence number: ITCH, the SoupBinTCP one;
	// SZSE, the record's ApplSeqNum in its channel, 0 for a snapshot
	// (300111), which is not sequenced.
	Seq     uint64
	Channel uint16 // SZSE: the frame's ChannelNo; ITCH: 0
	Recv    int64  // receive time, Unix ns
	Source  uint8  // the source it came from (Primary or Backup)
	// Stream counts the new streams begun before this message (of its
	// channel, SZSE): 0 in the capture's first one, and one more after
	// each boundary (a TypeStream record; in an ITCH source stream, a
	// login to another session), after which sequence numbers start
	// afresh. A replay serves each stream after the one before.
	Stream uint32
	// Data is the ITCH message, or the whole SZSE frame (header, body
	// and checksum).
	Data []byte
}

// Files returns the capture files path names, in stream order: path itself
// if it is a file, or, for a directory, the files of one feed's stream
// ("arbitrated", "primary" or "backup"), oldest first. Empty feed means the
// only feed in the directory; empty stream means "arbitrated" when
// recorded, else "primary".
func Files(path, feed, stream string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	all, err := filepath.Glob(filepath.Join(path, "*.cap"))
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	byStream := map[string][]string{}
	feeds := map[string]bool{}
	for _, n := range all {
		// <feed>-<stream>-<time>.cap; the feed name may hold dashes.
		parts := strings.Split(strings.TrimSuffix(filepath.Base(n), ".cap"), "-")
		if len(parts) < 3 {
			continue
		}
		f, s := strings.Join(parts[:len(parts)-2], "-"), parts[len(parts)-2]
		if feed != "" && f != feed {
			continue
		}
		feeds[f] = true
		byStream[s] = append(byStream[s], n)
	}
	switch {
	case len(feeds) == 0:
		return nil, fmt.Errorf("capture: %s: no capture files (of feed %q)", path, feed)
	case len(feeds) > 1:
		return nil, fmt.Errorf("capture: %s holds the files of several feeds %v: name one", path, slices.Sorted(maps.Keys(feeds)))
	}
	if stream == "" {
		stream = StreamName(Arbitrated)
		if len(byStream[stream]) == 0 {
			stream = StreamName(Primary)
		}
	}
	files := byStream[stream]
	if len(files) == 0 {
		return nil, fmt.Errorf("capture: %s: no files of stream %q", path, stream)
	}
	slices.Sort(files)
	return files, nil
}

// Scan reads files (one stream, oldest first, as Files returns them) and
// calls fn with each sequenced message in the order it was recorded,
// except those whose sequence number was already passed in the same
// stream (what a reconnect or a rebuild delivered again); for SZSE
// sequence numbers are per channel and snapshots, which have none, are
// all passed on. A new stream (Message.Stream: a TypeStream record of
// the arbitrated stream, version 2 on; a login to another SoupBinTCP
// session in an ITCH source stream) starts its channel afresh: its
// numbers are passed on again from 1, after the old stream's. Sequence
// numbers may jump: the messages between were never received, or their
// records were dropped (a gap record). In an SZSE stream a message may
// come later and fill such a hole (a ReTransmit answer's records after
// the live ones of a session that started at the live end, a rebuild's
// redelivery after a gap record): it is passed on then, below the
// sequence numbers already passed, once. From a source stream it cuts
// the messages out of the raw bytes connection by connection: ITCH, the
// Sequenced Data packets numbered from each Login Accepted; SZSE, the
// orders, trades and snapshots (session frames and ChannelHeartbeats are
// left out). Bytes after a gap record or a framing error are skipped up
// to the next connection. It returns the first file's header, and stops
// at fn's first error, returning it. A file that ends inside a record (a
// crash) ends its part of the stream: the records before it are used and
// the error is not returned.
func Scan(files []string, fn func(Message) error) (Header, error) {
	var (
		first Header
		seqs  = map[uint16]*passed{}
		cut   cutter
		fills bool // SZSE: holes may be filled
	)
	channel := func(no uint16) *passed {
		p := seqs[no]
		if p == nil {
			p = &passed{next: 1}
			seqs[no] = p
		}
		return p
	}
	emit := func(m Message) error {
		p := channel(m.Channel)
		m.Stream = p.stream
		if m.Seq == 0 {
			return fn(m) // an SZSE snapshot
		}
		if p.take(m.Seq, fills) {
			return fn(m)
		}
		return nil
	}
	fresh := func(no uint16) {
		p := channel(no)
		*p = passed{next: 1, stream: p.stream + 1}
	}
	var cutFor Header // the header cut was made for
	for i, name := range files {
		h, err := scanFile(name, func(h Header, rec Record) error {
			switch {
			case cut == nil:
				cut, fills, cutFor = newCutter(h), h.Protocol == ProtocolSZSE, h
			case h.Protocol != cutFor.Protocol || h.Kind != cutFor.Kind:
				return fmt.Errorf("capture: %s is a %s %s stream, not %s %s", name, h.Protocol, h.Stream, cutFor.Protocol, cutFor.Stream)
			}
			if rec.Type == TypeStream {
				fresh(uint16(rec.Seq))
				return nil
			}
			return cut.record(rec, emit, fresh)
		})
		if i == 0 {
			first = h
		}
		if err != nil {
			return first, err
		}
		if i > 0 && (h.Feed != first.Feed || h.Source != first.Source || h.Protocol != first.Protocol) {
			return first, fmt.Errorf("capture: %s is feed %s stream %s (%s), not %s %s (%s)", name, h.Feed, h.Stream, h.Protocol,
				first.Feed, first.Stream, first.Protocol)
		}
	}
	return first, nil
}

// maxHoles bounds the holes a channel remembers for later messages to
// fill; beyond it the oldest are forgotten (their messages are skipped).
const maxHoles = 4096

// passed is what Scan has passed of one channel in its current stream:
// the sequence numbers below next, except the holes that may still be
// filled. stream counts the streams before it.
type passed struct {
	next   uint64
	holes  []seqRange // ascending, disjoint
	stream uint32
}

// seqRange is an inclusive range of sequence numbers.
type seqRange struct{ from, to uint64 }

// take reports whether message seq is to be passed on: it is beyond what
// was passed (the numbers jumped over become holes when fills), or it
// fills a hole.
func (p *passed) take(seq uint64, fills bool) bool {
	if seq >= p.next {
		if fills && seq > p.next {
			if len(p.holes) == maxHoles {
				p.holes = p.holes[:copy(p.holes, p.holes[1:])]
			}
			p.holes = append(p.holes, seqRange{p.next, seq - 1})
		}
		p.next = seq + 1
		return true
	}
	i, found := slices.BinarySearchFunc(p.holes, seq, func(r seqRange, s uint64) int {
		switch {
		case r.to < s:
			return -1
		case r.from > s:
			return 1
		}
		return 0
	})
	if !found {
		return false
	}
	switch r := p.holes[i]; {
	case r.from == r.to:
		p.holes = slices.Delete(p.holes, i, i+1)
	case seq == r.from:
		p.holes[i].from++
	case seq == r.to:
		p.holes[i].to--
	default:
		p.holes = slices.Insert(p.holes, i+1, seqRange{seq + 1, r.to})
		p.holes[i].to = seq - 1
		if len(p.holes) > maxHoles {
			p.holes = p.holes[:copy(p.holes, p.holes[1:])]
		}
	}
	return true
}

// ReadHeader returns the header of the capture file name.
func ReadHeader(name string) (Header, error) {
	f, err := os.Open(name)
	if err != nil {
		return Header{}, fmt.Errorf("capture: %w", err)
	}
	defer f.Close()
	r, err := NewReader(f)
	if err != nil {
		return Header{}, fmt.Errorf("%w (%s)", err, name)
	}
	return r.Header(), nil
}

// cutter turns one stream's records into messages: one implementation
// per protocol and kind of stream (newCutter).
type cutter interface {
	// record handles one record, calling emit with each message it
	// completes and fresh when it finds that a channel's numbering
	// starts again (a new stream); it returns emit's first error.
	record(rec Record, emit func(Message) error, fresh func(channel uint16)) error
}

// newCutter returns the cutter of the stream whose header is h (its
// protocol was checked by scanFile).
func newCutter(h Header) cutter {
	switch {
	case h.Protocol == ProtocolSZSE && h.Kind == KindArbitrated:
		return &szseArbitrated{}
	case h.Protocol == ProtocolSZSE:
		return &szseRaw{}
	case h.Kind == KindArbitrated:
		return itchArbitrated{}
	}
	return &rawState{}
}

// itchArbitrated passes on the messages of an ITCH arbitrated stream.
type itchArbitrated struct{}

func (itchArbitrated) record(rec Record, emit func(Message) error, _ func(uint16)) error {
	if rec.Type != TypeData {
		return nil
	}
	return emit(Message{Seq: rec.Seq, Recv: rec.Recv, Source: rec.Source, Data: rec.Data})
}

// scanFile calls fn with each record of one file.
func scanFile(name string, fn func(Header, Record) error) (Header, error) {
	f, err := os.Open(name)
	if err != nil {
		return Header{}, fmt.Errorf("capture: %w", err)
	}
	defer f.Close()
	r, err := NewReader(f)
	if err != nil {
		return Header{}, fmt.Errorf("%w (%s)", err, name)
	}
	h := r.Header()
	if h.Protocol != ProtocolITCH && h.Protocol != ProtocolSZSE {
		return h, fmt.Errorf("%w: %s: protocol %q: want %q or %q", ErrFormat, name, h.Protocol, ProtocolITCH, ProtocolSZSE)
	}
	for {
		rec, err := r.Next()
		switch {
		case err == io.EOF || errors.Is(err, ErrTruncated):
			return h, nil
		case err != nil:
			return h, fmt.Errorf("%w (%s)", err, name)
		}
		if err := fn(h, rec); err != nil {
			return h, err
		}
	}
}

// rawState cuts one ITCH source's raw bytes into SoupBinTCP packets.
type rawState struct {
	buf  []byte
	live bool   // Login Accepted seen on this connection
	bad  bool   // framing lost until the next connection
	pos  uint64 // sequence number of the next Sequenced Data packet
	// session is the session the last Login Accepted named: one naming
	// another begins a new stream, numbered afresh.
	session string
}

// maxPacket bounds the packets cut out of raw bytes, as the feed does.
const maxPacket = 4096

func (s *rawState) record(rec Record, emit func(Message) error, fresh func(uint16)) error {
	switch rec.Type {
	case TypeOpen:
		*s = rawState{buf: s.buf[:0], session: s.session}
		return nil
	case TypeGap:
		s.bad = true
		return nil
	}
	if s.bad {
		return nil
	}
	s.buf = append(s.buf, rec.Data...)
	used := 0
	defer func() { s.buf = s.buf[:copy(s.buf, s.buf[used:])] }()
	for {
		p, n, err := soupbin.Parse(s.buf[used:], maxPacket)
		if err != nil {
			s.bad = true
			return nil
		}
		if n == 0 {
			return nil
		}
		used += n
		switch p.Type {
		case soupbin.TypeLoginAccepted:
			if session, seq, err := soupbin.ParseLoginAccepted(p.Payload); err == nil {
				s.live, s.pos = seq > 0, seq // at 0 the source refused it (feed.source)
				switch {
				case !s.live || session == s.session:
				case s.session == "":
					s.session = session
				case seq != 1:
					s.live = false // the feed refuses a new session but at 1 (feed.source)
				default:
					s.session = session
					fresh(0)
				}
			}
		case soupbin.TypeSequenced:
			if !s.live {
				continue
			}
			seq := s.pos
			s.pos++
			if err := emit(Message{Seq: seq, Recv: rec.Recv, Source: rec.Source, Data: p.Payload}); err != nil {
				return err
			}
		}
	}
}
