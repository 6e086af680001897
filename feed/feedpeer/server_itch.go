package feedpeer

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// ITCHServerConfig configures an ITCHServer. Every zero value means the
// documented default.
type ITCHServerConfig struct {
	ServerConfig
	// Username and Password are the credentials a Login Request must carry
	// (the username compared without case, as SoupBinTCP specifies). Empty
	// accepts any.
	Username, Password string
	// Session is the SoupBinTCP session name; a login requesting another
	// (not blank) session is rejected with 'S'. Empty means "SGWPEER".
	Session string
}

// ITCHServer serves an ITCHFeed over SoupBinTCP 3.0 on one TCP listener: a
// Login Request (within LoginTimeout) gets Login Rejected ('A' for wrong
// credentials, 'S' for another session) or, after the login delay, Login
// Accepted naming the next sequence number, followed by Sequenced Data from
// the requested sequence number (0, or one past the end, starts with the
// next message published). The server sends a Server Heartbeat after
// HeartbeatInterval without sending, reads Client Heartbeats, closes a
// client silent for ClientTimeout or sending a Logout Request, and sends End
// of Session once the feed has ended and the client has every message, or
// at EndSession.
//
// Two servers of one feed are a primary and a backup source. Faults:
// Kill/Restart, DropRange, LoseRange, EndSession, SetLoginDelay, SetLag,
// SetDelay, SetJoinLive, SetHang, NewStream.
//
// Every method is safe for concurrent use. Each connection runs on two
// goroutines of its own (a reader and the writer), ended by Kill or by the
// end of Run.
type ITCHServer struct {
	*server
	cfg ITCHServerConfig
	// feed and session are what a login is served; guarded by server.mu
	// (NewStream changes them), read once per connection.
	feed    *ITCHFeed
	session string
	// joinLive: a login from mid-stream is served from the next message
	// published (SetJoinLive); guarded by server.mu.
	joinLive bool
	// hang: a login is accepted and then sent at most hang messages and
	// nothing more (SetHang; negative: off); guarded by server.mu.
	hang int
}

// NewITCHServer returns a server of feed, listening at once.
func NewITCHServer(cfg ITCHServerConfig, feed *ITCHFeed) (*ITCHServer, error) {
	if feed == nil {
		return nil, fmt.Errorf("%w: no feed", ErrConfig)
	}
	if cfg.Session == "" {
		cfg.Session = "SGWPEER"
	}
	if len(cfg.Session) > 10 || len(cfg.Username) > 6 || len(cfg.Password) > 10 {
		return nil, fmt.Errorf("%w: session, username or password too long for SoupBinTCP", ErrConfig)
	}
	base, err := newServer(cfg.ServerConfig)
	if err != nil {
		return nil, err
	}
	cfg.ServerConfig = base.cfg
	s := &ITCHServer{server: base, cfg: cfg, feed: feed, session: cfg.Session, hang: -1}
	base.handle = s.serve
	return s, nil
}

// Feed returns the feed the server serves.
func (s *ITCHServer) Feed() *ITCHFeed {
	f, _ := s.stream()
	return f
}

// stream returns the feed and the session name the server serves now.
func (s *ITCHServer) stream() (*ITCHFeed, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.feed, s.session
}

// NewStream makes the server a venue that restarted without its messages:
// every connection is closed at once, without End of Session (as Kill
// does, but the server goes on listening), the ranges of DropRange and
// LoseRange are forgotten (they name the old stream's numbers), and every
// later login is served feed, numbered from 1 as its messages are, under
// session. A new session name is a new SoupBinTCP session (a new day, a
// restarted server done by the book); an empty one keeps the server's:
// the stream is numbered again under the old name, which SoupBinTCP does
// not provide for (a server restarted without its store). A login asking
// for a sequence number beyond feed's next message is served from that
// message, as any is.
func (s *ITCHServer) NewStream(feed *ITCHFeed, session string) error {
	if feed == nil {
		return fmt.Errorf("%w: no feed", ErrConfig)
	}
	if len(session) > 10 {
		return fmt.Errorf("%w: session %q too long for SoupBinTCP", ErrConfig, session)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.feed = feed
	if session != "" {
		s.session = session
	}
	s.newStreamLocked()
	return nil
}

// SetJoinLive makes the server one that cannot replay mid-stream (on)
// or serves every login from the sequence number it asks for (off, the
// default): a login asking for a sequence number other than 1 is then
// accepted at the next message published, above the request when it
// asked for one already published, while a login from 1 is still served
// the day from its start. It applies to later logins.
func (s *ITCHServer) SetJoinLive(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.joinLive = on
}

// SetHang makes the server a hung one whose login handler still answers
// (n >= 0): a login is accepted and then sent at most the first n
// messages asked for and nothing more, not even Server Heartbeats, until
// the client leaves. Negative (the default) serves logins as usual. It
// applies to later logins.
func (s *ITCHServer) SetHang(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = n
}

// DropRange makes the server leave sequence numbers from through to out of
// the stream of every session that logged in before from: the client
// receives the message after to in their place, numbered (implicitly, as
// SoupBinTCP numbers) as if it were from. A session that logs in at from or
// later is sent them.
func (s *ITCHServer) DropRange(from, to uint64) {
	s.addDrop(dropRange{from: from, to: to})
}

// LoseRange makes the server leave sequence numbers from through to out of
// every session that did not start at sequence 1, renumbered as DropRange
// does: a relay that lost them and can rejoin a client mid-stream only
// without them, but still replays the whole day from its start. Two
// servers losing one range have lost it for every client that does not
// rebuild from the beginning.
func (s *ITCHServer) LoseRange(from, to uint64) {
	s.addDrop(dropRange{from: from, to: to, lost: true})
}

// RepeatRange makes the server send sequence numbers from through to a
// second time, right after to, in the stream of every session that logged
// in before from, and number the rest on (implicitly, as SoupBinTCP
// numbers): a relay that repeated them. A session that logs in at from or
// later is sent them once. ClearDrops forgets it too.
func (s *ITCHServer) RepeatRange(from, to uint64) {
	s.addDrop(dropRange{from: from, to: to, repeat: true})
}

// EndSession ends, mid-stream, the sessions of every client logged in now,
// as a server that goes away properly (a distributor restarting): each is
// sent the messages it may see so far, then End of Session, and is closed
// once it leaves (or after ClientTimeout). A later login is served as
// before: the same session, from the sequence number it asks for.
func (s *ITCHServer) EndSession() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ends++
	s.notifyLocked()
}

// readSoup reads one SoupBinTCP packet.
func readSoup(r *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint16(h[:]))
	if n == 0 {
		return 0, nil, fmt.Errorf("%w: packet of length 0", ErrProtocol)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	return p[0], p[1:], nil
}

func (s *ITCHServer) serve(ctx context.Context, c net.Conn, closed <-chan struct{}) {
	feed, session := s.stream()
	r := bufio.NewReader(c)
	w := bufio.NewWriterSize(c, 64<<10)
	flush := func() error {
		c.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		return w.Flush()
	}
	fail := func() { s.count(func(st *ServerStats) { st.Errors++ }) }

	c.SetReadDeadline(time.Now().Add(s.cfg.LoginTimeout))
	typ, p, err := readSoup(r)
	if err != nil || typ != soupLoginRequest {
		if err == nil {
			w.Write(appendSoup(nil, soupDebug, []byte(fmt.Sprintf("expected a login request, got packet type %q", typ))))
			flush()
		}
		fail()
		return
	}
	req, err := parseLoginRequest(p)
	if err != nil {
		w.Write(appendSoup(nil, soupDebug, []byte(err.Error())))
		flush()
		fail()
		return
	}
	reject := byte(0)
	switch {
	case s.cfg.Username != "" && !strings.EqualFold(req.username, s.cfg.Username),
		s.cfg.Password != "" && req.password != s.cfg.Password:
		reject = RejectNotAuthorized
	case req.session != "" && req.session != session:
		reject = RejectSessionUnavailable
	}
	if reject != 0 {
		w.Write(appendSoup(nil, soupLoginRejected, []byte{reject}))
		flush()
		s.count(func(st *ServerStats) { st.Rejects++ })
		return
	}
	if !sleep(closed, s.settings().loginDelay) {
		return
	}

	set := s.settings()
	ends := set.ends // a later EndSession ends this session
	n, _, _ := feed.view()
	limit, _ := set.visible(feed.tape, 0, n)
	s.mu.Lock()
	joinLive, hang := s.joinLive, s.hang
	s.mu.Unlock()
	next := req.sequence
	if next == 0 || next > uint64(limit)+1 || joinLive && next != 1 {
		next = uint64(limit) + 1
	}
	start := next
	w.Write(appendLoginAccepted(nil, session, next))
	if flush() != nil {
		return
	}
	s.count(func(st *ServerStats) { st.Logins++; st.Active++; st.LastLogin = start })
	defer s.count(func(st *ServerStats) { st.Active-- })

	// The reader: client heartbeats, logout, and the silence timeout.
	rdone := make(chan struct{})
	var rerr error
	go func() {
		defer close(rdone)
		for {
			c.SetReadDeadline(time.Now().Add(s.cfg.ClientTimeout))
			typ, _, err := readSoup(r)
			if err != nil {
				rerr = err
				return
			}
			switch typ {
			case soupClientHB:
				s.count(func(st *ServerStats) { st.ClientHeartbeats++ })
			case soupLogout:
				s.count(func(st *ServerStats) { st.Logouts++ })
				rerr = io.EOF
				return
			case soupUnsequenced, soupDebug:
			default:
				rerr = fmt.Errorf("%w: packet type %q from a logged-in client", ErrProtocol, typ)
				return
			}
		}
	}()
	defer func() {
		c.Close()
		<-rdone
		var ne net.Error
		if rerr != nil && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, net.ErrClosed) && (errors.As(rerr, &ne) && ne.Timeout() || errors.Is(rerr, ErrProtocol)) {
			fail()
		}
	}()

	if hang >= 0 {
		if uint64(limit) >= next {
			for _, e := range feed.slice(int(next-1), min(limit, int(next-1)+hang)) {
				w.Write(e.packet)
			}
			flush()
		}
		select {
		case <-closed:
		case <-rdone:
		}
		return
	}
	lastSend := time.Now()
	for {
		// The stream before the faults: a record published after a
		// fault was set is seen with it (read in the other order, a
		// DropRange then a publish between the two reads was missed).
		n, ended, changed := feed.view()
		set := s.settings()
		limit, until := set.visible(feed.tape, int(next-1), n)
		if uint64(limit) >= next {
			var sent, skipped int64
			for _, e := range feed.slice(int(next-1), limit) {
				if dropped(set.drops, 0, e.rec.Seq, start) {
					skipped++
					continue
				}
				w.Write(e.packet)
				sent++
				for _, d := range set.drops {
					if d.repeat && d.to == e.rec.Seq && start < d.from {
						for _, r := range feed.slice(int(d.from-1), int(d.to)) {
							w.Write(r.packet)
							sent++
						}
					}
				}
			}
			next = uint64(limit) + 1
			if flush() != nil {
				return
			}
			lastSend = time.Now()
			s.count(func(st *ServerStats) { st.Sent += sent; st.Skipped += skipped })
		}
		if ended && limit == n && next > uint64(n) || set.ends != ends {
			w.Write(appendSoup(nil, soupEndOfSession, nil))
			if flush() == nil {
				s.count(func(st *ServerStats) { st.EndOfSessions++ })
			}
			select { // let the client read it and leave
			case <-rdone:
			case <-closed:
			case <-time.After(s.cfg.ClientTimeout):
			}
			return
		}
		hb := lastSend.Add(s.cfg.HeartbeatInterval)
		if !until.IsZero() && until.Before(hb) {
			hb = until
		}
		if !wait(closed, hb, changed, set.changed, rdone) {
			return
		}
		select {
		case <-rdone:
			return
		default:
		}
		if time.Since(lastSend) >= s.cfg.HeartbeatInterval {
			w.Write(appendSoup(nil, soupServerHB, nil))
			if flush() != nil {
				return
			}
			lastSend = time.Now()
		}
	}
}

// dropped reports whether a session whose stream started at start leaves
// seq of channel out.
func dropped(drops []dropRange, channel uint16, seq, start uint64) bool {
	for _, d := range drops {
		if d.repeat || d.channel != channel || seq < d.from || seq > d.to {
			continue
		}
		if d.lost && start > 1 || !d.lost && start < d.from {
			return true
		}
	}
	return false
}
