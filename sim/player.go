package sim

import (
	"context"
	"crypto/tls"
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
	// Listen is the listener the recording is served on, as a Sim's
	// primary. Zero means 127.0.0.1:0 (a free port) without TLS.
	Listen ListenerConfig
	// Session, Username and Password are as in Config: zero means session
	// "SIM" and any login accepted.
	Session  string
	Username string
	Password string
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

// Player serves a capture (package sgw/feed/capture) again as a
// SoupBinTCP/ITCH source, with the same session code as a Sim: a gateway
// pointed at it logs in and receives the recorded messages under their
// recorded sequence numbers, paced as recorded (or faster). Sequence
// numbers the capture does not hold are holes: never sent, as if a relay
// had skipped them (a gateway with the tracking profile sees the jump).
//
// NewPlayer binds the listener; Run serves it until its context ends;
// Play publishes the recording while Run runs (or before: clients that
// log in later receive the backlog). Every method is safe from any
// goroutine; Play may run once.
type Player struct {
	feedServer
	src   *source
	speed float64

	life    sync.Mutex
	closed  bool
	running bool
}

// PlayStats counts what Play published.
type PlayStats struct {
	Messages uint64 // messages published
	Holes    uint64 // sequence numbers left without a message
	Last     uint64 // the last sequence number
}

// NewPlayer validates cfg and binds the listener.
func NewPlayer(cfg PlayerConfig) (*Player, error) {
	c := Config{Primary: cfg.Listen, Session: cfg.Session, Username: cfg.Username, Password: cfg.Password,
		HeartbeatInterval: cfg.HeartbeatInterval, ClientTimeout: cfg.ClientTimeout, LoginTimeout: cfg.LoginTimeout, Logger: cfg.Logger}
	if err := c.sessionDefaults(); err != nil {
		return nil, err
	}
	p := &Player{feedServer: feedServer{cfg: c, log: c.Logger, rec: newRecord(), done: make(chan struct{})}, speed: cfg.Speed}
	var tc *tls.Config
	if c.Primary.TLS.Enabled() {
		var err error
		if tc, _, err = p.tlsConfig(c.Primary.TLS, nil); err != nil {
			return nil, err
		}
	}
	src, err := listen(Primary, c.Primary.Addr, tc, func(src *source, nc net.Conn) session { return newConn(&p.feedServer, src, nc) })
	if err != nil {
		return nil, err
	}
	p.src = src
	return p, nil
}

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

// Play publishes the messages of a capture's files (capture.Files) in
// recorded order, each when its receive time, relative to the first
// message's and divided by the speed, has come; then it ends the session
// (End of Session once a client has everything). A message whose
// sequence number was passed is skipped; numbers jumped over become
// holes. It returns when everything is published or ctx ends.
func (p *Player) Play(ctx context.Context, files []string) (PlayStats, error) {
	var (
		st    PlayStats
		first int64
		start time.Time
		timer *time.Timer
		next  uint64 = 1
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	_, err := capture.Scan(files, func(m capture.Message) error {
		if err := ctx.Err(); err != nil {
			return err
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
		next = m.Seq + 1
		st.Messages++
		st.Last = m.Seq
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("sim: replay: %w", err)
	}
	p.rec.end()
	p.log.Info("sim: replay published everything", "messages", st.Messages, "holes", st.Holes, "last_seq", st.Last)
	return st, nil
}

// Stats returns the counters of the Player's source (Dropped counts the
// holes skipped).
func (p *Player) Stats() SourceStats { return p.src.stats() }
