package feedpeer

import (
	"bytes"
	"encoding/binary"
	"net"
	"reflect"
	"slices"
	"testing"
	"time"
)

func newSZSE(t *testing.T, fcfg SZSEConfig, scfg SZSEServerConfig) (*SZSEFeed, *SZSEServer) {
	t.Helper()
	return newSZSEFlow(t, FlowConfig{}, fcfg, scfg)
}

// newSZSEFlow is newSZSE with a flow of flowCfg (its Dialect set here).
func newSZSEFlow(t *testing.T, flowCfg FlowConfig, fcfg SZSEConfig, scfg SZSEServerConfig) (*SZSEFeed, *SZSEServer) {
	t.Helper()
	flowCfg.Dialect = DialectSZSE
	flow, err := NewFlow(4, testSymbols, flowCfg)
	if err != nil {
		t.Fatal(err)
	}
	feed, err := NewSZSEFeed(fcfg, flow)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewSZSEServer(scfg, feed)
	if err != nil {
		t.Fatal(err)
	}
	runServer(t, srv)
	return feed, srv
}

func (s *szseClient) loggedOn() {
	s.t.Helper()
	m := s.mustRead()
	if m.typ != 1 || len(m.body) != 92 {
		s.t.Fatalf("want a Logon answer, got type %d %x", m.typ, m.body)
	}
}

// TestSZSESession logs on, reads the day (two channels, orders, trades,
// cancels and snapshots), rebuilds the book from the wire alone, and checks
// it and every snapshot against the feed's reference; with own-best orders
// too, each sent with OrdType 'U' and no price, and those the venue cancels
// followed at once by their cancel.
func TestSZSESession(t *testing.T) {
	for _, tc := range []struct {
		name string
		flow FlowConfig
	}{
		{name: "limit orders"},
		{name: "own-best orders", flow: FlowConfig{MaxOrders: 12, Mix: Mix{Add: 30, Delete: 30, Cross: 20, OwnBest: 25}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testSZSESession(t, tc.flow, tc.flow.Mix.OwnBest != 0)
		})
	}
}

func testSZSESession(t *testing.T, flowCfg FlowConfig, ownBest bool) {
	feed, srv := newSZSEFlow(t, flowCfg, SZSEConfig{Channels: []uint16{2011, 2012}, SnapshotEvery: 250}, SZSEServerConfig{SenderCompID: "CLIENT1", Password: "pw"})
	if err := feed.Publish(3000); err != nil {
		t.Fatal(err)
	}
	records := feed.Records()
	c := dialSZSE(t, srv.Addr())
	c.logon("CLIENT1", "MDGW", "pw")
	c.loggedOn()
	msgs := c.data(len(records))
	book := NewBook()
	next := map[uint16]uint64{}
	var snapshots, cancels, trades, ownBests, ownBestCancels int
	var prev szseDecoded
	for i, m := range msgs {
		rec := records[i]
		if m.typ == 300111 {
			snapshots++
			s := decodeSnapshot(t, m)
			if s.symbol != rec.Event.Symbol {
				t.Fatalf("snapshot %d of %q, record %q", i, s.symbol, rec.Event.Symbol)
			}
			if want := book.Levels(s.symbol, Buy, 10); !slices.Equal(s.bids, want) {
				t.Fatalf("snapshot %d bids %v, the wire's book %v", i, s.bids, want)
			}
			if want := book.Levels(s.symbol, Sell, 10); !slices.Equal(s.asks, want) {
				t.Fatalf("snapshot %d asks %v, the wire's book %v", i, s.asks, want)
			}
			if len(s.bids) > 0 && !reflect.DeepEqual(s.bidQueue, book.Queue(s.symbol, Buy, s.bids[0].Price)) {
				t.Fatalf("snapshot %d best bid queue %v", i, s.bidQueue)
			}
			if st := book.Stats(s.symbol); s.trades != st.Trades || s.volume != st.Volume {
				t.Fatalf("snapshot %d trades %d volume %d, want %d %d", i, s.trades, s.volume, st.Trades, st.Volume)
			}
			continue
		}
		d := decodeSZSE(t, m)
		if d.channel != feed.Channel(d.symbol) || d.seq != next[d.channel]+1 || d.seq != rec.Seq {
			t.Fatalf("message %d: channel %d seq %d, want channel %d seq %d", i, d.channel, d.seq, feed.Channel(d.symbol), next[d.channel]+1)
		}
		next[d.channel] = d.seq
		if d.time/1_000_000_000 != 20250102 {
			t.Fatalf("TransactTime %d", d.time)
		}
		switch d.execType {
		case '4':
			cancels++
			if prev.ordTp == 'U' && d.channel == prev.channel && (d.bid == prev.seq || d.offer == prev.seq) && len(book.Levels(d.symbol, prev.side, 1)) == 0 {
				ownBestCancels++
			}
		case 'F':
			trades++
		}
		switch d.ordTp {
		case 'U':
			ownBests++
			if d.price != 0 {
				t.Fatalf("message %d: own-best order %+v names a price", i, d)
			}
		case '2', 0:
		default:
			t.Fatalf("message %d: OrdType %q", i, d.ordTp)
		}
		szseApply(t, book, d)
		prev = d
	}
	if snapshots != 3*12 || cancels == 0 || trades == 0 {
		t.Errorf("snapshots %d, cancels %d, trades %d", snapshots, cancels, trades)
	}
	if ownBest != (ownBests > 0) || ownBest && ownBestCancels == 0 {
		t.Errorf("own-best orders %d, cancelled for an empty side %d", ownBests, ownBestCancels)
	}
	ref := feed.ReferenceAll()
	for _, s := range testSymbols {
		for _, side := range []Side{Buy, Sell} {
			if got, want := book.Levels(s, side, 0), ref.Levels(s, side, 0); !reflect.DeepEqual(got, want) {
				t.Errorf("%s %v: wire %v, reference %v", s, side, got, want)
			}
		}
		ch := feed.Channel(s)
		if got, want := feed.Reference(ch, feed.Last(ch)).Levels(s, Buy, 0), ref.Levels(s, Buy, 0); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: channel reference %v, all %v", s, got, want)
		}
	}
}

func TestSZSERetransmit(t *testing.T) {
	feed, srv := newSZSE(t, SZSEConfig{SnapshotEvery: -1}, SZSEServerConfig{LiveStart: true, MaxRetransmit: 50})
	feed.Publish(100)
	c := dialSZSE(t, srv.Addr())
	c.logon("C", "", "")
	c.loggedOn()
	if err := srv.Wait(testCtx(t), func(s ServerStats) bool { return s.Logins == 1 }); err != nil {
		t.Fatal(err)
	}
	feed.Publish(1)
	live := decodeSZSE(t, c.data(1)[0])
	if live.seq != 101 {
		t.Fatalf("a live session started at %d, want 101", live.seq)
	}
	answer := func(m szseMsg) reTransmit {
		t.Helper()
		if m.typ != 390094 {
			t.Fatalf("got %d, want a ReTransmit answer", m.typ)
		}
		r, err := parseReTransmit(m.body)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name     string
		channel  uint16
		beg, end uint64
		status   uint8
		sentEnd  uint64
	}{
		{name: "a range", channel: 2011, beg: 3, end: 9, status: resendDone, sentEnd: 9},
		{name: "beyond the end is cut", channel: 2011, beg: 95, end: 200, status: resendPartial, sentEnd: 101},
		{name: "end 0 is up to the last", channel: 2011, beg: 99, end: 0, status: resendDone, sentEnd: 101},
		{name: "over MaxRetransmit is cut", channel: 2011, beg: 1, end: 60, status: resendPartial, sentEnd: 50},
		{name: "nothing there", channel: 2011, beg: 500, end: 600, status: resendUnavailable},
		{name: "unknown channel", channel: 9999, beg: 1, end: 2, status: resendUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.retransmit(tc.channel, tc.beg, tc.end)
			r := answer(c.data(1)[0])
			if r.resendStatus != tc.status || r.channel != tc.channel || r.beg != tc.beg {
				t.Fatalf("answer %+v, want status %d", r, tc.status)
			}
			if tc.status == resendUnavailable {
				if r.rejectText == "" {
					t.Error("no RejectText")
				}
				return
			}
			if r.end != tc.sentEnd {
				t.Errorf("answer end %d, want %d", r.end, tc.sentEnd)
			}
			for i, m := range c.data(int(tc.sentEnd - tc.beg + 1)) {
				want, _ := feed.Packet(tc.channel, tc.beg+uint64(i))
				if d := decodeSZSE(t, m); d.seq != tc.beg+uint64(i) || !bytes.Equal(m.body, want[8:len(want)-4]) {
					t.Fatalf("resent %d is seq %d", i, d.seq)
				}
			}
		})
	}
}

// TestSZSERefuseRetransmit: a refused range makes every ReTransmit that
// touches it unavailable, until ClearRefusals.
func TestSZSERefuseRetransmit(t *testing.T) {
	feed, srv := newSZSE(t, SZSEConfig{SnapshotEvery: -1}, SZSEServerConfig{})
	feed.Publish(30)
	c := dialSZSE(t, srv.Addr())
	c.logon("C", "", "")
	c.loggedOn()
	c.data(30)
	srv.RefuseRetransmit(2011, 10, 12)
	ask := func(beg, end uint64, status uint8) {
		t.Helper()
		c.retransmit(2011, beg, end)
		r, err := parseReTransmit(c.data(1)[0].body)
		if err != nil || r.resendStatus != status {
			t.Fatalf("ReTransmit %d-%d answered %+v (%v), want status %d", beg, end, r, err, status)
		}
		if status == resendDone {
			for i, m := range c.data(int(end - beg + 1)) {
				if d := decodeSZSE(t, m); d.seq != beg+uint64(i) {
					t.Fatalf("resent seq %d, want %d", d.seq, beg+uint64(i))
				}
			}
		} else if r.rejectText == "" {
			t.Error("no RejectText")
		}
	}
	ask(5, 9, resendDone)
	ask(8, 15, resendUnavailable)
	ask(12, 0, resendUnavailable)
	ask(13, 14, resendDone)
	srv.ClearRefusals()
	ask(8, 15, resendDone)
}

// TestSZSEDropRange: a source leaves a range out; its channel heartbeat
// shows the last ApplSeqNum, and a ReTransmit recovers the gap.
func TestSZSEDropRange(t *testing.T) {
	feed, srv := newSZSE(t, SZSEConfig{SnapshotEvery: -1}, SZSEServerConfig{ServerConfig: ServerConfig{HeartbeatInterval: 20 * time.Millisecond}, ChannelHeartbeatInterval: 50 * time.Millisecond})
	srv.DropRange(2011, 5, 7)
	feed.Publish(20)
	c := dialSZSE(t, srv.Addr())
	c.logon("C", "", "")
	c.loggedOn()
	var seqs []uint64
	for _, m := range c.data(17) {
		seqs = append(seqs, decodeSZSE(t, m).seq)
	}
	want := []uint64{1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
	if !reflect.DeepEqual(seqs, want) {
		t.Fatalf("received %v", seqs)
	}
	for {
		m := c.mustRead()
		if m.typ != 390095 {
			continue
		}
		if ch, last := binary.BigEndian.Uint16(m.body), binary.BigEndian.Uint64(m.body[2:]); ch != 2011 || last != 20 {
			t.Fatalf("channel heartbeat %d %d, want 2011 20", ch, last)
		}
		break
	}
	c.retransmit(2011, 5, 7)
	got := c.data(4)
	for i, m := range got[1:] {
		if d := decodeSZSE(t, m); d.seq != 5+uint64(i) {
			t.Fatalf("recovered seq %d", d.seq)
		}
	}
	if err := srv.Wait(testCtx(t), func(s ServerStats) bool { return s.Skipped == 3 && s.Retransmits == 1 }); err != nil {
		t.Error(err)
	}
}

func TestSZSELogonRefused(t *testing.T) {
	tests := []struct {
		name string
		send func(c *szseClient)
		want int32
	}{
		{name: "wrong password", send: func(c *szseClient) { c.logon("CLIENT1", "MDGW", "nope") }, want: szseStatusBadLogon},
		{name: "wrong sender", send: func(c *szseClient) { c.logon("OTHER", "MDGW", "pw") }, want: szseStatusBadLogon},
		{name: "heartbeat first", send: func(c *szseClient) { c.send(3, nil) }, want: szseStatusBadMessage},
		{name: "bad checksum", send: func(c *szseClient) {
			c.c.Write([]byte{0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 9})
		}, want: szseStatusBadMessage},
	}
	_, srv := newSZSE(t, SZSEConfig{}, SZSEServerConfig{SenderCompID: "CLIENT1", TargetCompID: "MDGW", Password: "pw"})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialSZSE(t, srv.Addr())
			tc.send(c)
			m := c.mustRead()
			if m.typ != 2 || len(m.body) != 204 {
				t.Fatalf("got %d, want Logout", m.typ)
			}
			if st := int32(binary.BigEndian.Uint32(m.body)); st != tc.want {
				t.Errorf("SessionStatus %d, want %d (%q)", st, tc.want, trimSZSE(m.body[4:]))
			}
			if _, err := c.read(); err == nil {
				t.Error("still open")
			}
		})
	}
}

func TestSZSEHeartbeatsLogoutAndEnd(t *testing.T) {
	feed, srv := newSZSE(t, SZSEConfig{SnapshotEvery: -1}, SZSEServerConfig{ServerConfig: ServerConfig{HeartbeatInterval: 20 * time.Millisecond}, ChannelHeartbeatInterval: 50 * time.Millisecond})
	feed.Publish(5)
	feed.End()
	c := dialSZSE(t, srv.Addr())
	c.logon("C", "", "")
	c.loggedOn()
	c.data(5)
	var sawHeartbeat, sawEnd bool
	for !sawHeartbeat || !sawEnd {
		m := c.mustRead()
		switch m.typ {
		case 3:
			sawHeartbeat = true
		case 390095:
			sawEnd = binary.BigEndian.Uint16(m.body[10:]) == 1 && binary.BigEndian.Uint64(m.body[2:]) == 5
		}
	}
	c.send(3, nil)
	if err := srv.Wait(testCtx(t), func(s ServerStats) bool { return s.ClientHeartbeats >= 1 }); err != nil {
		t.Fatal(err)
	}
	c.send(2, logoutBody(0, "", ' '))
	for {
		m, err := c.read()
		if err != nil {
			t.Fatal("closed without a Logout answer")
		}
		if m.typ == 2 {
			if st := binary.BigEndian.Uint32(m.body); st != szseStatusLogoutDone {
				t.Errorf("SessionStatus %d", st)
			}
			break
		}
	}
	if err := srv.Wait(testCtx(t), func(s ServerStats) bool { return s.Logouts == 1 && s.Active == 0 }); err != nil {
		t.Fatal(err)
	}
}

func TestSZSEPrimaryBackupKillDelay(t *testing.T) {
	feed, primary := newSZSE(t, SZSEConfig{}, SZSEServerConfig{})
	backup, err := NewSZSEServer(SZSEServerConfig{}, feed)
	if err != nil {
		t.Fatal(err)
	}
	runServer(t, backup)
	feed.Publish(300)
	n := len(feed.Records())
	a, b := dialSZSE(t, primary.Addr()), dialSZSE(t, backup.Addr())
	a.logon("A", "", "")
	b.logon("B", "", "")
	a.loggedOn()
	b.loggedOn()
	day := a.data(n)
	if !reflect.DeepEqual(day, b.data(n)) {
		t.Fatal("primary and backup differ")
	}

	primary.Kill()
	if _, err := a.read(); err == nil {
		t.Fatal("open after Kill")
	}
	if conn, err := net.Dial("tcp", primary.Addr()); err == nil {
		conn.Close()
		t.Fatal("a killed server accepted")
	}
	if err := primary.Restart(); err != nil {
		t.Fatal(err)
	}
	const d = 300 * time.Millisecond
	primary.SetLoginDelay(d)
	a = dialSZSE(t, primary.Addr())
	start := time.Now()
	a.logon("A", "", "")
	a.loggedOn()
	if el := time.Since(start); el < d {
		t.Errorf("Logon answered after %v, before the %v delay", el, d)
	}
	if !reflect.DeepEqual(a.data(n), day) {
		t.Fatal("the restarted source sends another day")
	}
}

func TestSZSEPadNUL(t *testing.T) {
	flow, _ := NewFlow(4, testSymbols, FlowConfig{Dialect: DialectSZSE})
	feed, err := NewSZSEFeed(SZSEConfig{PadNUL: true}, flow)
	if err != nil {
		t.Fatal(err)
	}
	feed.Publish(1)
	p, _ := feed.Packet(2011, 1)
	if sec := p[8+13 : 8+21]; sec[6] != 0 || sec[7] != 0 {
		t.Errorf("SecurityID %q not NUL padded", sec)
	}
}

func TestFeedConfigErrors(t *testing.T) {
	itchFlow, _ := NewFlow(1, testSymbols, FlowConfig{})
	szseFlow, _ := NewFlow(1, testSymbols, FlowConfig{Dialect: DialectSZSE})
	if _, err := NewITCHFeed(ITCHConfig{}, szseFlow); err == nil {
		t.Error("an ITCH feed took an SZSE flow")
	}
	if _, err := NewSZSEFeed(SZSEConfig{}, itchFlow); err == nil {
		t.Error("an SZSE feed took an ITCH flow")
	}
	if _, err := NewSZSEFeed(SZSEConfig{Date: 2025}, szseFlow); err == nil {
		t.Error("a bad date passed")
	}
	feed, _ := NewITCHFeed(ITCHConfig{}, itchFlow)
	if _, err := NewITCHServer(ITCHServerConfig{Session: "ELEVENCHARS"}, feed); err == nil {
		t.Error("a long session name passed")
	}
}
