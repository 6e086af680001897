package feedpeer

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// SZSEServerConfig configures an SZSEServer. Every zero value means the
// documented default.
type SZSEServerConfig struct {
	ServerConfig
	// SenderCompID is the SenderCompID a client's Logon must carry; empty
	// accepts any.
	SenderCompID string
	// TargetCompID is the TargetCompID a client's Logon must carry (the
	// gateway's own id, which it answers with); empty accepts any and
	// answers with "MDGW" when the client left it blank.
	TargetCompID string
	// Password is the password a Logon must carry; empty accepts any.
	Password string
	// LiveStart starts each session at the end of the stream, as a real
	// market-data gateway does: the client recovers what came before with
	// ReTransmit. False (the zero value) sends each session the whole day
	// from the first message.
	LiveStart bool
	// ChannelHeartbeatInterval is the period of ChannelHeartbeat messages.
	// Zero means 3 s.
	ChannelHeartbeatInterval time.Duration
	// MaxRetransmit is the most messages one ReTransmit resends; a longer
	// range is cut and answered as partial (ResendStatus 2). Zero means no
	// limit.
	MaxRetransmit int
}

// SZSEServer serves an SZSEFeed over the SZSE Binary market-data session on
// one TCP listener. A client sends Logon (within LoginTimeout) and gets,
// after the login delay, a Logon back, or a Logout (SessionStatus 5) for
// wrong credentials. The server then streams orders, trades and snapshots
// of every channel, a Heartbeat after HeartbeatInterval without sending data
// or a heartbeat, and every ChannelHeartbeatInterval one ChannelHeartbeat
// per channel with the channel's last ApplSeqNum (EndOfChannel once the feed has ended and the
// client has it all). It answers each ReTransmit with a ReTransmit carrying
// ResendStatus, followed by the requested messages; answers a Logout with a
// Logout (SessionStatus 4) and closes; closes a client silent for
// ClientTimeout; answers an unknown or malformed message with a Logout
// (SessionStatus 102) and closes.
//
// Two servers of one feed are a primary and a backup source. Faults:
// Kill/Restart, DropRange, RefuseRetransmit, SetLoginDelay, SetLag,
// SetDelay, SetHang, NewStream.
//
// Every method is safe for concurrent use. Each connection runs on two
// goroutines of its own (a reader and the writer), ended by Kill or by the
// end of Run.
type SZSEServer struct {
	*server
	cfg SZSEServerConfig
	// Guarded by server.mu: feed (what a login is served, read once per
	// connection; NewStream changes it) and refusals.
	feed     *SZSEFeed
	refusals []dropRange
	// hang: a Logon is answered and then sent nothing (SetHang).
	hang bool
}

// NewSZSEServer returns a server of feed, listening at once.
func NewSZSEServer(cfg SZSEServerConfig, feed *SZSEFeed) (*SZSEServer, error) {
	if feed == nil {
		return nil, fmt.Errorf("%w: no feed", ErrConfig)
	}
	if cfg.MaxRetransmit < 0 || cfg.ChannelHeartbeatInterval < 0 {
		return nil, fmt.Errorf("%w: negative MaxRetransmit or ChannelHeartbeatInterval", ErrConfig)
	}
	if cfg.ChannelHeartbeatInterval == 0 {
		cfg.ChannelHeartbeatInterval = 3 * time.Second
	}
	base, err := newServer(cfg.ServerConfig)
	if err != nil {
		return nil, err
	}
	cfg.ServerConfig = base.cfg
	s := &SZSEServer{server: base, cfg: cfg, feed: feed}
	base.handle = s.serve
	return s, nil
}

// SetHang makes the server a hung one whose Logon handler still answers
// (on): a Logon is answered and then sent nothing, neither records nor
// heartbeats, until the client leaves. Off (the default) serves Logons
// as usual. It applies to later Logons.
func (s *SZSEServer) SetHang(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = on
}

// Feed returns the feed the server serves.
func (s *SZSEServer) Feed() *SZSEFeed {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.feed
}

// NewStream makes the server an MDGW that restarted without its records:
// every connection is closed at once (as Kill does, but the server goes on
// listening), DropRange and RefuseRetransmit are forgotten (they name the
// old stream's numbers), and every later Logon is served feed, each
// channel numbered from ApplSeqNum 1 as its records are. A feed of a later
// Date is the next trading day; one of the same Date is the day's channels
// numbered again, which the venue does not provide for.
func (s *SZSEServer) NewStream(feed *SZSEFeed) error {
	if feed == nil {
		return fmt.Errorf("%w: no feed", ErrConfig)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.feed = feed
	s.refusals = nil
	s.newStreamLocked()
	return nil
}

// DropRange makes the server leave ApplSeqNum from through to of channel
// out of every session's live stream; a ReTransmit still resends them.
func (s *SZSEServer) DropRange(channel uint16, from, to uint64) {
	s.addDrop(dropRange{channel: channel, from: from, to: to})
}

// RefuseRetransmit makes the server answer every ReTransmit that would
// resend any of ApplSeqNum from through to of channel with ResendStatus 4
// (data unavailable) and no messages, as a gateway that no longer has
// them would. ClearRefusals ends it.
func (s *SZSEServer) RefuseRetransmit(channel uint16, from, to uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusals = append(s.refusals, dropRange{channel: channel, from: from, to: to})
	s.notifyLocked()
}

// ClearRefusals forgets every RefuseRetransmit.
func (s *SZSEServer) ClearRefusals() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusals = nil
	s.notifyLocked()
}

// refused reports whether a refusal covers any of from through to of
// channel.
func (s *SZSEServer) refused(channel uint16, from, to uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.refusals {
		if r.channel == channel && from <= r.to && to >= r.from {
			return true
		}
	}
	return false
}

// maxClientBody bounds the body of a message a client may send.
const maxClientBody = 4096

// readSZSE reads one SZSE Binary message and checks its checksum.
func readSZSE(r *bufio.Reader) (uint32, []byte, error) {
	var h [szseHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	typ, n := binary.BigEndian.Uint32(h[0:4]), binary.BigEndian.Uint32(h[4:8])
	if n > maxClientBody {
		return typ, nil, fmt.Errorf("%w: message %d has a body of %d bytes", ErrProtocol, typ, n)
	}
	b := make([]byte, n+szseTrailerLen)
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, nil, err
	}
	body := b[:n]
	want := szseChecksum(h[:]) + szseChecksum(body)
	if got := binary.BigEndian.Uint32(b[n:]); got != want%256 {
		return typ, nil, fmt.Errorf("%w: message %d: checksum %d, want %d", ErrProtocol, typ, got, want%256)
	}
	return typ, body, nil
}

func (s *SZSEServer) serve(ctx context.Context, c net.Conn, closed <-chan struct{}) {
	feed := s.Feed()
	r := bufio.NewReader(c)
	w := bufio.NewWriterSize(c, 64<<10)
	pad := feed.wire.pad
	flush := func() error {
		c.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		return w.Flush()
	}
	fail := func() { s.count(func(st *ServerStats) { st.Errors++ }) }
	logout := func(status int32, text string) {
		w.Write(appendSZSE(nil, szseLogout, logoutBody(status, text, pad)))
		flush()
	}

	c.SetReadDeadline(time.Now().Add(s.cfg.LoginTimeout))
	typ, body, err := readSZSE(r)
	if err != nil || typ != szseLogon {
		if err == nil || errors.Is(err, ErrProtocol) {
			logout(szseStatusBadMessage, "expected Logon")
		}
		fail()
		return
	}
	logon, err := parseLogon(body)
	if err != nil {
		logout(szseStatusBadMessage, err.Error())
		fail()
		return
	}
	if (s.cfg.SenderCompID != "" && logon.sender != s.cfg.SenderCompID) ||
		(s.cfg.TargetCompID != "" && logon.target != s.cfg.TargetCompID) ||
		(s.cfg.Password != "" && logon.password != s.cfg.Password) {
		logout(szseStatusBadLogon, "invalid SenderCompID, TargetCompID or Password")
		s.count(func(st *ServerStats) { st.Rejects++ })
		return
	}
	if !sleep(closed, s.settings().loginDelay) {
		return
	}
	hbInt := logon.heartBtInt
	if hbInt <= 0 {
		hbInt = int32(max(s.cfg.HeartbeatInterval/time.Second, 1))
	}
	me := logon.target
	if me == "" {
		me = "MDGW"
	}
	version := logon.version
	if version == "" {
		version = "1.00"
	}
	w.Write(appendSZSE(nil, szseLogon, logonBody(me, logon.sender, hbInt, "", version, pad)))
	if flush() != nil {
		return
	}
	next := 0 // tape index of the next live message
	if s.cfg.LiveStart {
		n, _, _ := feed.view()
		next, _ = s.settings().visible(feed.tape, 0, n)
	}
	s.count(func(st *ServerStats) { st.Logins++; st.Active++ })
	defer s.count(func(st *ServerStats) { st.Active-- })

	// The reader: heartbeats, logout, retransmit requests, silence.
	rdone := make(chan struct{})
	requests := make(chan reTransmit, 16)
	var rerr error
	go func() {
		defer close(rdone)
		for {
			c.SetReadDeadline(time.Now().Add(s.cfg.ClientTimeout))
			typ, body, err := readSZSE(r)
			if err != nil {
				rerr = err
				return
			}
			switch typ {
			case szseHeartbeat:
				s.count(func(st *ServerStats) { st.ClientHeartbeats++ })
			case szseLogout:
				s.count(func(st *ServerStats) { st.Logouts++ })
				rerr = io.EOF
				return
			case szseReTransmit:
				req, err := parseReTransmit(body)
				if err != nil {
					rerr = err
					return
				}
				select {
				case requests <- req:
				case <-closed:
					return
				}
			default:
				rerr = fmt.Errorf("%w: message type %d from a client", ErrProtocol, typ)
				return
			}
		}
	}()
	defer func() {
		select {
		case <-rdone: // the reader ended the session: answer what it read
			if errors.Is(rerr, io.EOF) {
				logout(szseStatusLogoutDone, "")
			} else if errors.Is(rerr, ErrProtocol) {
				logout(szseStatusBadMessage, rerr.Error())
			}
		default:
		}
		c.Close()
		<-rdone
		var ne net.Error
		if errors.As(rerr, &ne) && ne.Timeout() || errors.Is(rerr, ErrProtocol) {
			fail()
		}
	}()

	s.mu.Lock()
	hang := s.hang
	s.mu.Unlock()
	if hang {
		select {
		case <-closed:
		case <-rdone:
		}
		return
	}
	channels := feed.Channels()
	lastSeen := make(map[uint16]uint64) // channel -> last ApplSeqNum within the visible stream
	if next > 0 {
		for _, e := range feed.slice(0, next) {
			if e.rec.Seq != 0 {
				lastSeen[e.rec.Channel] = e.rec.Seq
			}
		}
	}
	lastSend, lastChannelHB := time.Now(), time.Now()
	for {
		// The stream before the faults: a record published after a
		// fault was set is seen with it (read in the other order, a
		// DropRange then a publish between the two reads was missed).
		n, ended, changed := feed.view()
		set := s.settings()
		limit, until := set.visible(feed.tape, next, n)
		if limit > next {
			var sent, skipped int64
			for _, e := range feed.slice(next, limit) {
				if e.rec.Seq != 0 {
					lastSeen[e.rec.Channel] = e.rec.Seq
					if dropped(set.drops, e.rec.Channel, e.rec.Seq, 0) {
						skipped++
						continue
					}
				}
				w.Write(e.packet)
				sent++
			}
			next = limit
			if flush() != nil {
				return
			}
			lastSend = time.Now()
			s.count(func(st *ServerStats) { st.Sent += sent; st.Skipped += skipped })
		}
		select {
		case req := <-requests:
			if s.retransmit(w, feed, req, limit) != nil || flush() != nil {
				return
			}
			lastSend = time.Now()
			continue
		default:
		}
		if time.Since(lastChannelHB) >= s.cfg.ChannelHeartbeatInterval {
			all := ended && limit == n
			for _, ch := range channels {
				w.Write(appendSZSE(nil, szseChannelHB, channelHeartbeatBody(ch, lastSeen[ch], all)))
			}
			if flush() != nil {
				return
			}
			lastChannelHB = time.Now()
		}
		if time.Since(lastSend) >= s.cfg.HeartbeatInterval {
			w.Write(appendSZSE(nil, szseHeartbeat, nil))
			if flush() != nil {
				return
			}
			lastSend = time.Now()
		}
		wake := lastChannelHB.Add(s.cfg.ChannelHeartbeatInterval)
		if hb := lastSend.Add(s.cfg.HeartbeatInterval); hb.Before(wake) {
			wake = hb
		}
		if !until.IsZero() && until.Before(wake) {
			wake = until
		}
		req, ok := waitSZSE(closed, wake, changed, set.changed, rdone, requests)
		if !ok {
			return
		}
		if req != nil {
			if s.retransmit(w, feed, *req, limit) != nil || flush() != nil {
				return
			}
			lastSend = time.Now()
		}
		select {
		case <-rdone:
			return
		default:
		}
	}
}

// waitSZSE is wait with a retransmit request as one more wake-up, which it
// returns.
func waitSZSE(closed <-chan struct{}, deadline time.Time, a, b, c <-chan struct{}, requests <-chan reTransmit) (*reTransmit, bool) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-closed:
		return nil, false
	case <-a:
	case <-b:
	case <-c:
	case <-t.C:
	case req := <-requests:
		return &req, true
	}
	return nil, true
}

// retransmit answers one ReTransmit: a ReTransmit echo with ResendStatus,
// then the messages of the channel in the range, limited to the first limit
// entries of feed's tape (what the server has).
func (s *SZSEServer) retransmit(w *bufio.Writer, feed *SZSEFeed, req reTransmit, limit int) error {
	pad := feed.wire.pad
	resp := req
	resp.resendStatus = resendDone
	resp.rejectText = ""
	known := false
	for _, ch := range feed.Channels() {
		known = known || ch == req.channel
	}
	// The last ApplSeqNum of the channel the server has.
	var have uint64
	for seq := feed.Last(req.channel); seq > 0; seq-- {
		if i, ok := feed.seqIndex(req.channel, seq); ok && i < limit {
			have = seq
			break
		}
	}
	end := req.end
	if end == 0 {
		end = have
	}
	switch {
	case req.resendType != 1:
		resp.resendStatus, resp.rejectText = resendUnavailable, "bad ResendType"
	case !known:
		resp.resendStatus, resp.rejectText = resendUnavailable, "unknown channel"
	case req.beg == 0 || req.beg > end || req.beg > have:
		resp.resendStatus, resp.rejectText = resendUnavailable, "no such range"
	default:
		if end > have {
			end, resp.resendStatus = have, resendPartial
		}
		if s.cfg.MaxRetransmit > 0 && end-req.beg+1 > uint64(s.cfg.MaxRetransmit) {
			end, resp.resendStatus = req.beg+uint64(s.cfg.MaxRetransmit)-1, resendPartial
		}
		resp.end = end
		if s.refused(req.channel, req.beg, end) {
			resp.end, resp.resendStatus, resp.rejectText = req.end, resendUnavailable, "unavailable"
		}
	}
	w.Write(appendSZSE(nil, szseReTransmit, resp.body(pad)))
	var sent int64
	if resp.resendStatus == resendDone || resp.resendStatus == resendPartial {
		for seq := req.beg; seq <= end; seq++ {
			p, _ := feed.Packet(req.channel, seq)
			w.Write(p)
			sent++
		}
	}
	s.count(func(st *ServerStats) { st.Retransmits++; st.Sent += sent })
	return nil
}
