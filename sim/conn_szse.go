package sim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"sgw/feed/szse"
)

// maxSZSEClientFrame bounds the frames a client may send, header and
// checksum included: a Logon is 104 bytes and a ReTransmit 56; anything
// announcing more is refused before its body is read.
const maxSZSEClientFrame = 4096

// maxPendingRetransmits bounds the ReTransmit requests read but not yet
// answered; beyond it the reader waits for the writer.
const maxPendingRetransmits = 4

// SZSE Logout SessionStatus values the simulator sends.
const (
	szseStatusLogoutDone = 4   // 会话退登完成: answer to the client's Logout
	szseStatusBadLogon   = 5   // 不合法的用户名或口令: bad CompIDs or password
	szseStatusBadMessage = 102 // 无效消息: malformed, unknown or unexpected message
)

// szseVersion is the DefaultApplVerID answered to a client that sent none.
const szseVersion = "1.00"

// szseServer is what the SZSE Binary sessions (szseConn) need: the
// session settings and goroutine lifecycle of a feedServer, the SZSE
// settings and the record they stream. A Sim in SZSE mode and a Player of
// an SZSE capture each have one, so both serve with the same code.
type szseServer struct {
	fs  *feedServer
	zc  *SZSEConfig
	rec *channelRecord
	// announce makes each session send a ChannelHeartbeat of every
	// channel it knows as soon as it is logged on (a Player's do, so that
	// a feed places the snapshots at the start of a recording as it did
	// when it recorded them).
	announce bool
}

// szseConn is one SZSE Binary session. Its serve goroutine does the logon
// and then owns all writes; a reader goroutine handles the client's
// frames and hands ReTransmit requests and the Logout to send (when the
// client logs out or breaks the protocol) to the writer through channels.
type szseConn struct {
	sessionConn
	s      *szseServer
	bye    chan szse.Logout     // Logout for the writer to send before closing; buffered 1
	reqs   chan szse.ReTransmit // ReTransmit requests; buffered maxPendingRetransmits
	resend [][]byte             // writer's scratch for ReTransmit answers
}

var _ session = (*szseConn)(nil)

func newSZSEConn(s *szseServer, src *source, nc net.Conn) *szseConn {
	c := &szseConn{s: s, bye: make(chan szse.Logout, 1), reqs: make(chan szse.ReTransmit, maxPendingRetransmits)}
	c.init(src, nc)
	return c
}

// logoutOf returns a Logout with status and text (cut to its 200 bytes).
func logoutOf(status int32, text string) szse.Logout {
	l := szse.Logout{SessionStatus: status}
	if len(text) > len(l.Text) {
		text = text[:len(l.Text)]
	}
	szse.PutString(l.Text[:], text)
	return l
}

// appendLogout appends a Logout frame with status and text.
func appendLogout(b []byte, status int32, text string) []byte {
	l := logoutOf(status, text)
	return szse.AppendLogout(b, &l)
}

// frameReader cuts SZSE frames out of a connection into one reused
// Message.
type frameReader struct {
	nc   net.Conn
	buf  []byte // maxSZSEClientFrame bytes
	r, w int
	m    szse.Message
}

// next returns the next frame, decoded; the Message is valid until the
// next call. A frame the session cannot accept (too long, bad length or
// checksum, a type the codec does not know) is a *protoError; other errors
// come from the connection.
func (fr *frameReader) next() (*szse.Message, error) {
	for {
		if fr.w-fr.r >= szse.HeaderLen {
			if n := binary.BigEndian.Uint32(fr.buf[fr.r+4:]); n > maxSZSEClientFrame-szse.HeaderLen-szse.TrailerLen {
				t := szse.MsgType(binary.BigEndian.Uint32(fr.buf[fr.r:]))
				return nil, &protoError{reason: fmt.Sprintf("%s with a body of %d bytes, over the limit of %d", t, n, maxSZSEClientFrame-szse.HeaderLen-szse.TrailerLen)}
			}
		}
		n, err := szse.Decode(fr.buf[fr.r:fr.w], &fr.m)
		switch {
		case err == nil:
			fr.r += n
			return &fr.m, nil
		case !errors.Is(err, szse.ErrTruncated):
			return nil, &protoError{reason: err.Error()}
		}
		if fr.r > 0 {
			fr.w = copy(fr.buf, fr.buf[fr.r:fr.w])
			fr.r = 0
		}
		k, err := fr.nc.Read(fr.buf[fr.w:])
		fr.w += k
		if err != nil && k == 0 {
			return nil, err
		}
	}
}

// serve runs the session until it ends: the logon, then streaming while a
// reader goroutine handles the client's frames.
func (c *szseConn) serve() {
	defer c.src.remove(c)
	defer c.close()
	log := c.s.fs.log.With("source", c.src.id, "remote", c.remote)
	fr := &frameReader{nc: c.nc, buf: make([]byte, maxSZSEClientFrame)}
	pos, lasts, err := c.logon(fr)
	if err != nil {
		c.src.rejected.Add(1)
		log.Info("sim: szse logon failed", "err", err)
		return
	}
	c.src.logins.Add(1)
	if log.Enabled(context.Background(), slog.LevelInfo) {
		at := make(map[string]int64, len(lasts))
		for _, l := range lasts {
			at[strconv.Itoa(int(l.no))] = l.last
		}
		log.Info("sim: szse logged on", "last_seq", at)
	}
	c.s.fs.wg.Add(1)
	go func() {
		defer c.s.fs.wg.Done()
		c.read(fr)
	}()
	err = c.stream(pos, lasts)
	log.Info("sim: szse connection closed", "err", err)
}

// logon reads and answers the Logon. It returns where the live stream
// starts: the record's position and each channel's ApplSeqNum of the last
// record before it.
func (c *szseConn) logon(fr *frameReader) (pos int, lasts []chanPos, err error) {
	cfg, zc := &c.s.fs.cfg, c.s.zc
	c.nc.SetDeadline(time.Now().Add(cfg.LoginTimeout))
	m, err := fr.next()
	if err != nil {
		if pe, ok := errors.AsType[*protoError](err); ok {
			c.writeNow(appendLogout(nil, szseStatusBadMessage, pe.reason))
		}
		return 0, nil, err
	}
	if m.Type != szse.TypeLogon {
		reason := fmt.Sprintf("expected a logon, got %s", m.Type)
		c.writeNow(appendLogout(nil, szseStatusBadMessage, reason))
		return 0, nil, errors.New(reason)
	}
	in := m.Logon
	sender := string(szse.TrimString(in.SenderCompID[:]))
	target := string(szse.TrimString(in.TargetCompID[:]))
	password := string(szse.TrimString(in.Password[:]))
	if (zc.SenderCompID != "" && sender != zc.SenderCompID) ||
		(zc.TargetCompID != "" && target != zc.TargetCompID) ||
		(zc.Password != "" && password != zc.Password) {
		c.writeNow(appendLogout(nil, szseStatusBadLogon, "invalid SenderCompID, TargetCompID or Password"))
		return 0, nil, fmt.Errorf("not authorized: SenderCompID %q, TargetCompID %q", sender, target)
	}
	out := szse.Logon{HeartBtInt: in.HeartBtInt}
	if out.HeartBtInt <= 0 {
		out.HeartBtInt = int32(max(cfg.HeartbeatInterval/time.Second, 1))
	}
	if target == "" {
		target = DefaultSZSECompID
	}
	szse.PutString(out.SenderCompID[:], target)
	out.TargetCompID = in.SenderCompID
	szse.PutString(out.Password[:], "")
	if len(szse.TrimString(in.DefaultApplVerID[:])) == 0 {
		szse.PutString(out.DefaultApplVerID[:], szseVersion)
	} else {
		out.DefaultApplVerID = in.DefaultApplVerID
	}
	if zc.StreamFromStart {
		lasts = c.s.rec.channels(nil)
		for i := range lasts {
			lasts[i].last = 0
		}
	} else {
		pos, lasts = c.s.rec.mark(nil)
	}
	if err := c.writeNow(szse.AppendLogon(nil, &out)); err != nil {
		return 0, nil, err
	}
	c.nc.SetDeadline(time.Time{})
	return pos, lasts, nil
}

// writeNow writes b with a deadline; only before streaming starts.
func (c *szseConn) writeNow(b []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(c.s.fs.cfg.ClientTimeout))
	_, err := c.nc.Write(b)
	return err
}

// read handles the client's frames after the logon until the connection
// closes: Heartbeats are noted, a ReTransmit is handed to the writer, a
// Logout is answered with a Logout (SessionStatus 4), and anything else
// with a Logout (SessionStatus 102); either Logout ends the session. A
// client silent for ClientTimeout is closed.
func (c *szseConn) read(fr *frameReader) {
	timeout := c.s.fs.cfg.ClientTimeout
	for {
		c.nc.SetReadDeadline(time.Now().Add(timeout))
		m, err := fr.next()
		if err != nil {
			if pe, ok := errors.AsType[*protoError](err); ok {
				c.logout(szseStatusBadMessage, pe.reason)
				return
			}
			c.close()
			return
		}
		switch m.Type {
		case szse.TypeHeartbeat:
		case szse.TypeLogout:
			c.logout(szseStatusLogoutDone, "")
			return
		case szse.TypeReTransmit:
			select {
			case c.reqs <- m.ReTransmit:
			case <-c.done:
				return
			}
		default:
			c.logout(szseStatusBadMessage, fmt.Sprintf("unexpected %s from a client", m.Type))
			return
		}
	}
}

// logout hands the writer the Logout that ends the session.
func (c *szseConn) logout(status int32, text string) {
	select {
	case c.bye <- logoutOf(status, text):
	default:
	}
}

// szseWriter is the state of a session's writer: where it is in the
// stream and its buffers. Only the serve goroutine uses it.
type szseWriter struct {
	c   *szseConn
	hb  *time.Timer // Heartbeat after HeartbeatInterval without a write
	pos int         // position of the next frame of the stream
	// lasts holds, by channel number, the ApplSeqNum of the last record of
	// each channel passed (sent or dropped); cur indexes the last one set.
	lasts   []chanPos
	cur     int
	endSent bool // the stream ended and the session passed all of it
	items   []szseItem
	out     []byte
	known   []chanPos // scratch for channelHeartbeat
}

// setLast notes that the session passed ApplSeqNum seq of channel no.
func (w *szseWriter) setLast(no uint16, seq int64) {
	if w.cur < len(w.lasts) && w.lasts[w.cur].no == no {
		w.lasts[w.cur].last = seq
		return
	}
	for i := range w.lasts {
		if w.lasts[i].no == no {
			w.cur = i
			w.lasts[i].last = seq
			return
		}
	}
	w.lasts = append(w.lasts, chanPos{no: no, last: seq})
	w.cur = len(w.lasts) - 1
}

// lastOf returns the ApplSeqNum of the last record of channel no the
// session passed (0 before any).
func (w *szseWriter) lastOf(no uint16) int64 {
	for _, l := range w.lasts {
		if l.no == no {
			return l.last
		}
	}
	return 0
}

// write writes b and restarts the heartbeat timer.
func (w *szseWriter) write(b []byte) error {
	err := w.put(b)
	w.hb.Reset(w.c.s.fs.cfg.HeartbeatInterval)
	return err
}

// put writes b without touching the heartbeat timer: a ChannelHeartbeat
// does not stand in for a Heartbeat.
func (w *szseWriter) put(b []byte) error {
	w.c.nc.SetWriteDeadline(time.Now().Add(w.c.s.fs.cfg.ClientTimeout))
	_, err := w.c.nc.Write(b)
	return err
}

// heartbeat sends a Heartbeat.
func (w *szseWriter) heartbeat() error {
	w.c.src.heartbeats.Add(1)
	return w.write(szse.AppendHeartbeat(w.out[:0]))
}

// channelHeartbeat sends, for each channel of records, its last
// ApplSeqNum as far as this session has passed it, with EndOfChannel once
// it has passed the end of the stream.
func (w *szseWriter) channelHeartbeat() error {
	w.known = w.c.s.rec.channels(w.known[:0])
	w.out = w.out[:0]
	for _, k := range w.known {
		h := szse.ChannelHeartbeat{ChannelNo: k.no, ApplLastSeqNum: w.lastOf(k.no)}
		if w.endSent {
			h.EndOfChannel = 1
		}
		w.out = szse.AppendChannelHeartbeat(w.out, &h)
	}
	if len(w.out) == 0 {
		return nil
	}
	w.c.src.channelHBs.Add(uint64(len(w.known)))
	return w.put(w.out)
}

// logout sends the Logout that ends the session; the error says why,
// nil for the answer to the client's Logout.
func (w *szseWriter) logout(l szse.Logout) error {
	w.write(szse.AppendLogout(w.out[:0], &l))
	if l.SessionStatus == szseStatusLogoutDone {
		return nil
	}
	return fmt.Errorf("logout %d: %s", l.SessionStatus, szse.TrimString(l.Text[:]))
}

// resend answers a ReTransmit.
func (w *szseWriter) resend(req szse.ReTransmit) error {
	w.out = w.c.retransmit(w.out[:0], req, w.lastOf(req.ChannelNo))
	err := w.write(w.out)
	if cap(w.out) > 1<<20 {
		w.out = nil // a long answer's buffer is not kept
	}
	return err
}

// garbage writes garbage of kind k.
func (w *szseWriter) garbage(k GarbageKind) error {
	w.c.src.garbage.Add(1)
	ch := w.c.s.zc.Channel
	return w.write(appendGarbage(w.out[:0], k, ch, w.lastOf(ch)))
}

// batch sends w.items, the next frames of the stream, after the source's
// delay and without the records of its drop ranges.
func (w *szseWriter) batch() error {
	src := w.c.src
	if d := time.Duration(src.delay.Load()); d > 0 {
		if err := w.c.sleep(d); err != nil {
			return err
		}
	}
	var ranges []dropRange
	if p := src.drops.Load(); p != nil {
		ranges = *p
	}
	w.out = w.out[:0]
	var sent, dropped, snaps uint64
	for _, it := range w.items {
		switch {
		case it.seq == 0:
			snaps++
		case dropping(ranges, uint64(it.seq)):
			w.setLast(it.channel, it.seq)
			dropped++
			continue
		default:
			w.setLast(it.channel, it.seq)
			sent++
		}
		w.out = append(w.out, it.frame...)
	}
	w.pos += len(w.items)
	src.dropped.Add(dropped)
	if len(w.out) == 0 {
		return nil
	}
	src.sequenced.Add(sent)
	src.snapshots.Add(snaps)
	return w.write(w.out)
}

// stream sends the stream from position pos on (lasts are the ApplSeqNums
// of each channel's record before it): records and snapshots in batches as
// they are recorded, a Heartbeat after HeartbeatInterval without a frame,
// a ChannelHeartbeat every ChannelHeartbeatInterval, the answers to
// ReTransmit requests between batches, and, once the channel has ended and
// everything was sent, a ChannelHeartbeat with EndOfChannel 1 at once
// (with szseServer.announce, ChannelHeartbeats also open the stream). It
// returns when the connection ends.
func (c *szseConn) stream(pos int, lasts []chanPos) error {
	w := &szseWriter{c: c, hb: time.NewTimer(c.s.fs.cfg.HeartbeatInterval), pos: pos, lasts: lasts}
	defer w.hb.Stop()
	chb := time.NewTicker(c.s.zc.ChannelHeartbeatInterval)
	defer chb.Stop()
	rec := c.s.rec
	if c.s.announce {
		if err := w.channelHeartbeat(); err != nil {
			return err
		}
	}
	for {
		// Requests first, so that a busy stream does not starve them.
		var err error
		select {
		case l := <-c.bye:
			return w.logout(l)
		case <-c.done:
			return nil
		case k := <-c.bad:
			err = w.garbage(k)
		case req := <-c.reqs:
			err = w.resend(req)
		case <-chb.C:
			err = w.channelHeartbeat()
		default:
		}
		if err != nil {
			return err
		}
		var (
			wake  <-chan struct{}
			ended bool
		)
		w.items, wake, ended = rec.read(w.items[:0], w.pos, maxBatch)
		switch {
		case len(w.items) > 0:
			err = w.batch()
		case ended && !w.endSent:
			w.endSent = true
			c.src.ended.Add(1)
			err = w.channelHeartbeat()
		default:
			select {
			case <-wake:
			case <-w.hb.C:
				err = w.heartbeat()
			case <-chb.C:
				err = w.channelHeartbeat()
			case l := <-c.bye:
				return w.logout(l)
			case <-c.done:
				return nil
			case k := <-c.bad:
				err = w.garbage(k)
			case req := <-c.reqs:
				err = w.resend(req)
			}
		}
		if err != nil {
			return err
		}
	}
}

// sleep waits d unless the connection closes first.
func (c *szseConn) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.done:
		return net.ErrClosed
	}
}

// retransmit appends the answer to req to out: the request echoed with
// ResendStatus (and, when records follow, the ApplEndSeqNum actually
// sent), then the records. have is the last ApplSeqNum of the channel
// this session's stream has reached, which bounds what it resends: the
// answer never runs ahead of the live stream. A range that starts at a
// hole (a Player's) is unavailable; one that runs into a hole is cut
// there. The writer calls it.
func (c *szseConn) retransmit(out []byte, req szse.ReTransmit, have int64) []byte {
	zc := c.s.zc
	resp := req
	resp.ResendStatus = szse.ResendStatusDone
	reject := ""
	beg, end := req.ApplBegSeqNum, req.ApplEndSeqNum
	if end == 0 {
		end = have
	}
	c.resend = c.resend[:0]
	switch {
	case req.ResendType != szse.ResendTypeTick:
		reject = "bad ResendType"
	case !c.s.rec.has(req.ChannelNo):
		reject = "unknown channel"
	case beg < 1 || beg > end || beg > have:
		reject = "no such range"
	default:
		if end > have {
			end, resp.ResendStatus = have, szse.ResendStatusPartial
		}
		if end-beg+1 > int64(zc.MaxRetransmit) {
			end, resp.ResendStatus = beg+int64(zc.MaxRetransmit)-1, szse.ResendStatusPartial
		}
		c.resend = c.s.rec.records(c.resend, req.ChannelNo, beg, end)
		switch got := int64(len(c.resend)); {
		case got == 0:
			reject = "no such range"
		case got < end-beg+1: // cut at a hole
			end, resp.ResendStatus = beg+got-1, szse.ResendStatusPartial
		}
		if reject == "" {
			resp.ApplEndSeqNum = end
		}
	}
	if reject != "" {
		resp.ResendStatus = szse.ResendStatusUnavailable
	}
	szse.PutString(resp.RejectText[:], reject)
	out = szse.AppendReTransmit(out, &resp)
	c.src.retransmits.Add(1)
	if reject != "" {
		clear(c.resend)
		return out
	}
	for _, f := range c.resend {
		out = append(out, f...)
	}
	c.src.resent.Add(uint64(len(c.resend)))
	clear(c.resend)
	return out
}

// appendGarbage appends garbage of kind k (see GarbageKind).
func appendGarbage(out []byte, k GarbageKind, channel uint16, last int64) []byte {
	switch k {
	case GarbageChecksum:
		out = szse.AppendChannelHeartbeat(out, &szse.ChannelHeartbeat{ChannelNo: channel, ApplLastSeqNum: last})
		out[len(out)-1] ^= 0x55 // the checksum is one byte in a u32: now wrong
		return out
	default:
		start := len(out)
		out = binary.BigEndian.AppendUint32(out, uint32(szse.TypeOrder))
		out = binary.BigEndian.AppendUint32(out, 40)
		out = append(out, make([]byte, 40)...)
		return binary.BigEndian.AppendUint32(out, szse.Checksum(out[start:]))
	}
}
