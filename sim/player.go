package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"sgw/feed/capture"
)

// maxHole bounds the sequence numbers a Player leaves empty at once: a
// capture whose numbers jump further is refused rather than filling
// memory.
const maxHole = 1 << 24

// PlayerConfig configures a Player. Every field's zero value is usable.
type PlayerConfig struct {
	// Protocol is the protocol of the captures played, which is what the
	// listener speaks: "itch" (SoupBinTCP 3.0 carrying ITCH 5.0) or "szse"
	// (SZSE Binary, as an MDGW). Empty means "itch".
	Protocol string
	// Listen is the listener the recording is served on, as a Sim's
	// primary. Zero means 127.0.0.1:0 (a free port) without TLS.
	Listen ListenerConfig
	// Session, Username and Password are as in Config (ITCH): zero means
	// session "SIM" and any login accepted. With protocol "szse",
	// Password is the password a Logon must carry (at most 16 characters;
	// empty accepts any) and Session and Username are not used.
	Session  string
	Username string
	Password string
	// SenderCompID and TargetCompID are as in SZSEConfig (protocol "szse"
	// only): empty accepts any.
	SenderCompID string
	TargetCompID string
	// ChannelHeartbeatInterval and MaxRetransmit are as in SZSEConfig
	// (protocol "szse" only): zero means 1s and 10000.
	ChannelHeartbeatInterval time.Duration
	MaxRetransmit            int
	// Stream is which of the capture's streams is played
	// (capture.Message.Stream; SZSE: of each channel): zero, the first. A
	// capture that spans a venue's new numbering (a restarted stream,
	// which the recorded gateway rebuilt its books from) holds more than
	// one, and a Player serves one SoupBinTCP session and one numbering
	// per SZSE channel: it plays the one named and skips the others
	// (PlayStats.Skipped), rather than serve a second stream numbered on
	// after the first, on top of the first's books.
	Stream uint32
	// Speed is how fast the recording is played: 1 keeps the recorded
	// receive times, N plays N times faster. Zero (or negative) means as
	// fast as possible.
	Speed float64
	// HeartbeatInterval, ClientTimeout and LoginTimeout are as in Config;
	// zero means 1s, 15s and 5s.
	HeartbeatInterval time.Duration
	ClientTimeout     time.Duration
	LoginTimeout      time.Duration
	// Logger receives connection logs. Nil discards.
	Logger *slog.Logger
}

// Player serves a capture (package sgw/feed/capture) again as a feed
// source, with the same session code as a Sim: a gateway pointed at it
// logs in and receives the recorded messages under their recorded
// sequence numbers, paced as recorded (or faster). An ITCH capture is
// served over SoupBinTCP; an SZSE capture as an MDGW serves SZSE Binary,
// each session streaming the recording from its start (a gateway that
// reconnects receives it again and drops what it has), answering
// ReTransmit from what was played, and sending ChannelHeartbeats of the
// recorded channels, the first ones as soon as it is logged on. Sequence
// numbers the capture does not hold are holes: never sent, as if a relay
// had skipped them (an ITCH gateway with the tracking profile sees the
// jump; an SZSE one asks for them with ReTransmit and is refused). An
// SZSE record that comes later in the capture and fills a hole (records
// a ReTransmit answer brought after later live ones) is not streamed but
// answers ReTransmit.
//
// NewPlayer binds the listener; Run serves it until its context ends;
// Play publishes the recording while Run runs (or before: clients that
// log in later receive the backlog). Every method is safe from any
// goroutine; Play may run once.
type Player struct {
	feedServer
	protocol string
	sz       *szseServer // protocol "szse"; nil for "itch"
	src      *source
	speed    float64
	stream   uint32

	life    sync.Mutex
	closed  bool
	running bool
}

// PlayStats counts what Play published.
type PlayStats struct {
	Messages  uint64 // messages published (SZSE: records and snapshots)
	Snapshots uint64 // SZSE: snapshots published, which have no sequence number
	Holes     uint64 // sequence numbers left without a message
	Last      uint64 // the last sequence number (SZSE: of the last record published, in its channel)
	Streams   uint32 // the streams the capture holds (SZSE: the most of any channel)
	Skipped   uint64 // messages of the streams not played (PlayerConfig.Stream)
}

// NewPlayer validates cfg and binds the listener.
func NewPlayer(cfg PlayerConfig) (*Player, error) {
	c := Config{Primary: cfg.Listen, Session: cfg.Session, Username: cfg.Username, Password: cfg.Password,
		HeartbeatInterval: cfg.HeartbeatInterval, ClientTimeout: cfg.ClientTimeout, LoginTimeout: cfg.LoginTimeout, Logger: cfg.Logger}
	var zc SZSEConfig
	switch cfg.Protocol {
	case "", capture.ProtocolITCH:
		cfg.Protocol = capture.ProtocolITCH
	case capture.ProtocolSZSE:
		c.Username, c.Password = "", ""
		var err error
		zc, err = SZSEConfig{Enabled: true, Primary: cfg.Listen, SenderCompID: cfg.SenderCompID, TargetCompID: cfg.TargetCompID,
			Password: cfg.Password, ChannelHeartbeatInterval: cfg.ChannelHeartbeatInterval, MaxRetransmit: cfg.MaxRetransmit,
			StreamFromStart: true}.withDefaults()
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: protocol %q: want %q or %q", ErrConfig, cfg.Protocol, capture.ProtocolITCH, capture.ProtocolSZSE)
	}
	if err := c.sessionDefaults(); err != nil {
		return nil, err
	}
	p := &Player{feedServer: feedServer{cfg: c, log: c.Logger, rec: newRecord(), done: make(chan struct{})},
		protocol: cfg.Protocol, speed: cfg.Speed, stream: cfg.Stream}
	open := func(src *source, nc net.Conn) session { return newConn(&p.feedServer, src, nc) }
	if cfg.Protocol == capture.ProtocolSZSE {
		p.sz = &szseServer{fs: &p.feedServer, zc: &zc, rec: newChannelRecord(), announce: true}
		open = func(src *source, nc net.Conn) session { return newSZSEConn(p.sz, src, nc) }
	}
	secure, err := p.secure(c.Primary, &selfSigned{})
	if err != nil {
		return nil, err
	}
	src, err := listen(Primary, c.Primary.Addr, secure, open)
	if err != nil {
		return nil, err
	}
	p.src = src
	return p, nil
}

// TLCPCACertPEM returns the PEM certificate of the SM2 CA of a
// self-signed TLCP listener, or nil.
func (p *Player) TLCPCACertPEM() []byte { return append([]byte(nil), p.tlcpCA...) }

// Addr returns the address the Player listens on.
func (p *Player) Addr() net.Addr { return p.src.ln.Addr() }

// CACertPEM returns the PEM certificate of the CA of a self-signed
// listener, or nil.
func (p *Player) CACertPEM() []byte { return append([]byte(nil), p.ca...) }

// Run serves the listener until ctx ends or Close is called, then closes
// it and every connection. It may be called once.
func (p *Player) Run(ctx context.Context) error {
	p.life.Lock()
	switch {
	case p.closed:
		p.life.Unlock()
		return ErrClosed
	case p.running:
		p.life.Unlock()
		return ErrRunning
	}
	p.running = true
	errc := make(chan error, 1)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := p.serve(p.src); err != nil {
			errc <- err
		}
	}()
	p.life.Unlock()
	var err error
	select {
	case <-ctx.Done():
	case <-p.done:
	case err = <-errc:
	}
	p.Close()
	return err
}

// Close closes the listener and every connection and waits for their
// goroutines. It is idempotent.
func (p *Player) Close() error {
	p.life.Lock()
	if p.closed {
		p.life.Unlock()
		p.wg.Wait()
		return nil
	}
	p.closed = true
	close(p.done)
	p.life.Unlock()
	p.src.ln.Close()
	p.src.closeAll()
	p.wg.Wait()
	return nil
}

// Play publishes the messages of a capture's files (capture.Files) of
// the stream PlayerConfig.Stream names in recorded order, each when its receive time, relative to the first
// message's and divided by the speed, has come; then it ends the session
// (ITCH: End of Session once a client has everything; SZSE: EndOfChannel
// in the ChannelHeartbeats). A message whose sequence number was passed
// is skipped; numbers jumped over become holes (an SZSE record that later
// fills one is kept for ReTransmit; capture.Scan says which). The
// capture's protocol must be the Player's. It returns when everything is
// published or ctx ends.
func (p *Player) Play(ctx context.Context, files []string) (PlayStats, error) {
	var (
		st    PlayStats
		first int64
		start time.Time
		timer *time.Timer
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	if len(files) == 0 {
		return st, errors.New("sim: replay: no capture files")
	}
	h, err := capture.ReadHeader(files[0])
	if err != nil {
		return st, fmt.Errorf("sim: replay: %w", err)
	}
	if h.Protocol != p.protocol {
		return st, fmt.Errorf("sim: replay: %s is a capture of protocol %q; this player serves %q", files[0], h.Protocol, p.protocol)
	}
	publish := p.publishITCH
	if p.sz != nil {
		publish = p.publishSZSE
	}
	_, err = capture.Scan(files, func(m capture.Message) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		st.Streams = max(st.Streams, m.Stream+1)
		if m.Stream != p.stream {
			st.Skipped++
			return nil
		}
		if st.Messages == 0 {
			first, start = m.Recv, time.Now()
		}
		if p.speed > 0 {
			due := start.Add(time.Duration(float64(m.Recv-first) / p.speed))
			if d := time.Until(due); d > 0 {
				if timer == nil {
					timer = time.NewTimer(d)
				} else {
					timer.Reset(d)
				}
				select {
				case <-timer.C:
				case <-ctx.Done():
					return ctx.Err()
				case <-p.done:
					return ErrClosed
				}
			}
		}
		return publish(m, &st)
	})
	if err != nil {
		return st, fmt.Errorf("sim: replay: %w", err)
	}
	if p.stream >= st.Streams && st.Streams > 0 {
		return st, fmt.Errorf("sim: replay: stream %d asked, the capture holds %d (0 to %d)", p.stream, st.Streams, st.Streams-1)
	}
	if p.sz != nil {
		p.sz.rec.end()
	} else {
		p.rec.end()
	}
	p.log.Info("sim: replay published everything", "messages", st.Messages, "holes", st.Holes, "last_seq", st.Last)
	if st.Skipped > 0 {
		p.log.Warn("sim: replay: the capture holds more than one stream; one was played", "streams", st.Streams,
			"played", p.stream, "skipped", st.Skipped)
	}
	return st, nil
}

// publishITCH appends ITCH message m to the record, after the holes
// before it. Play's goroutine.
func (p *Player) publishITCH(m capture.Message, st *PlayStats) error {
	next := p.rec.next()
	if m.Seq > next {
		if m.Seq-next > maxHole {
			return fmt.Errorf("sim: replay: sequence number jumps from %d to %d", next-1, m.Seq)
		}
		p.rec.addHoles(m.Seq - next)
		st.Holes += m.Seq - next
	}
	if _, err := p.rec.add(func(b []byte, _ uint64) ([]byte, error) { return append(b, m.Data...), nil }); err != nil {
		return err
	}
	st.Messages++
	st.Last = m.Seq
	return nil
}

// publishSZSE appends SZSE frame m to the record: a snapshot as it is, a
// record after the holes before it in its channel, or, when it fills one
// of those holes, where ReTransmit finds it. Play's goroutine.
func (p *Player) publishSZSE(m capture.Message, st *PlayStats) error {
	rec := p.sz.rec
	frame := func(b []byte, _ int64) ([]byte, error) { return append(b, m.Data...), nil }
	if m.Seq == 0 {
		if _, err := rec.add(m.Channel, false, frame); err != nil {
			return err
		}
		st.Messages++
		st.Snapshots++
		return nil
	}
	next := uint64(rec.last(m.Channel)) + 1
	if m.Seq < next { // fills a hole: Scan passes each once
		if rec.fill(m.Channel, int64(m.Seq), m.Data) {
			st.Messages++
			st.Holes--
		}
		return nil
	}
	if m.Seq > next {
		if m.Seq-next > maxHole {
			return fmt.Errorf("sim: replay: channel %d: ApplSeqNum jumps from %d to %d", m.Channel, next-1, m.Seq)
		}
		rec.addHoles(m.Channel, int64(m.Seq-next))
		st.Holes += m.Seq - next
	}
	if _, err := rec.add(m.Channel, true, frame); err != nil {
		return err
	}
	st.Messages++
	st.Last = m.Seq
	return nil
}

// Stats returns the counters of the Player's source (Dropped counts the
// holes skipped).
func (p *Player) Stats() SourceStats { return p.src.stats() }
