package sim

import (
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"sgw/feed/soupbin"
	"sgw/feed/szse"
)

// TestSZSERetransmit checks that a live session recovers what came before
// its logon by ReTransmit, byte for byte, and then continues live without
// a gap.
func TestSZSERetransmit(t *testing.T) {
	cfg := szseTestConfig()
	cfg.SZSE.MaxRetransmit = 50
	s := startSim(t, cfg)
	if err := s.Step(300); err != nil {
		t.Fatal(err)
	}
	have := s.SZSELast()
	if have <= 100 {
		t.Fatalf("only %d records", have)
	}
	c := dialSZSE(t, s.Addr(SZSEPrimary))
	c.logon()
	ch := uint16(DefaultSZSEChannel)
	tests := []struct {
		name     string
		typ      uint8
		channel  uint16
		beg, end int64
		status   uint8
		wantEnd  int64 // ApplEndSeqNum of the answer
		reject   string
	}{
		{name: "first fifty", typ: 1, channel: ch, beg: 1, end: 50, status: szse.ResendStatusDone, wantEnd: 50},
		{name: "to the latest, cut", typ: 1, channel: ch, beg: have - 60, end: 0, status: szse.ResendStatusPartial, wantEnd: have - 11},
		{name: "to the latest", typ: 1, channel: ch, beg: have - 9, end: 0, status: szse.ResendStatusDone, wantEnd: have},
		{name: "beyond the latest", typ: 1, channel: ch, beg: have, end: have + 100, status: szse.ResendStatusPartial, wantEnd: have},
		{name: "one", typ: 1, channel: ch, beg: 7, end: 7, status: szse.ResendStatusDone, wantEnd: 7},
		{name: "news", typ: 2, channel: ch, beg: 1, end: 5, status: szse.ResendStatusUnavailable, wantEnd: 5, reject: "bad ResendType"},
		{name: "other channel", typ: 1, channel: 2012, beg: 1, end: 5, status: szse.ResendStatusUnavailable, wantEnd: 5, reject: "unknown channel"},
		{name: "zero", typ: 1, channel: ch, beg: 0, end: 5, status: szse.ResendStatusUnavailable, wantEnd: 5, reject: "no such range"},
		{name: "negative", typ: 1, channel: ch, beg: -3, end: -1, status: szse.ResendStatusUnavailable, wantEnd: -1, reject: "no such range"},
		{name: "reversed", typ: 1, channel: ch, beg: 9, end: 3, status: szse.ResendStatusUnavailable, wantEnd: 3, reject: "no such range"},
		{name: "future", typ: 1, channel: ch, beg: have + 1, end: 0, status: szse.ResendStatusUnavailable, wantEnd: 0, reject: "no such range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.send(reTransmitFrame(tc.typ, tc.channel, tc.beg, tc.end))
			a := c.want(szse.TypeReTransmit).ReTransmit
			if a.ResendStatus != tc.status || a.ApplEndSeqNum != tc.wantEnd || a.ApplBegSeqNum != tc.beg ||
				a.ChannelNo != tc.channel || a.ResendType != tc.typ || string(szse.TrimString(a.RejectText[:])) != tc.reject {
				t.Fatalf("answer %+v", a)
			}
			if tc.reject != "" {
				return
			}
			got := c.records(tc.wantEnd)
			if want := s.SZSERecords(tc.beg, tc.wantEnd); !reflect.DeepEqual(got, want) {
				t.Fatalf("resent %d records, want %d", len(got), len(want))
			}
		})
	}
	// Live continues right after what the session had at logon.
	if err := s.Step(50); err != nil {
		t.Fatal(err)
	}
	live := c.records(s.SZSELast())
	if want := s.SZSERecords(have+1, s.SZSELast()); !reflect.DeepEqual(live, want) {
		t.Fatalf("live got %d records from %d, want %d", len(live), seqOf(t, live[0]), len(want))
	}
	if st := s.Stats(SZSEPrimary); st.Retransmits != uint64(len(tests)) || st.Resent == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestSZSERetransmitMatchesLive checks that ReTransmit from 1 returns the
// bytes a session streaming from the first record received live.
func TestSZSERetransmitMatchesLive(t *testing.T) {
	cfg := szseTestConfig()
	cfg.SZSE.StreamFromStart = true
	cfg.SZSE.SnapshotInterval = 5 * time.Millisecond // snapshots interleave, records stay the same
	s := startSim(t, cfg)
	if err := s.Step(200); err != nil {
		t.Fatal(err)
	}
	c := dialSZSE(t, s.Addr(SZSEBackup))
	c.logon()
	last := s.SZSELast()
	live := c.records(last)
	c.send(reTransmitFrame(szse.ResendTypeTick, DefaultSZSEChannel, 1, last))
	if a := c.want(szse.TypeReTransmit).ReTransmit; a.ResendStatus != szse.ResendStatusDone {
		t.Fatalf("answer %+v", a)
	}
	if resent := c.records(last); !reflect.DeepEqual(resent, live) {
		t.Fatalf("resent %d records differ from the %d live ones", len(resent), len(live))
	}
	for i, f := range live {
		if seqOf(t, f) != int64(i+1) {
			t.Fatalf("record %d has ApplSeqNum %d", i+1, seqOf(t, f))
		}
	}
}

// TestSZSEDropRange checks that a range dropped on one source leaves a gap
// in its live stream only, which ReTransmit fills.
func TestSZSEDropRange(t *testing.T) {
	s := startSim(t, szseTestConfig())
	p := dialSZSE(t, s.Addr(SZSEPrimary))
	p.logon()
	b := dialSZSE(t, s.Addr(SZSEBackup))
	b.logon()
	from, to := int64(10), int64(20)
	if err := s.DropRange(SZSEPrimary, uint64(from), uint64(to)); err != nil {
		t.Fatal(err)
	}
	if err := s.Step(100); err != nil {
		t.Fatal(err)
	}
	last := s.SZSELast()
	if last < to+10 {
		t.Fatalf("only %d records", last)
	}
	all := s.SZSERecords(1, last)
	if got := b.records(last); !reflect.DeepEqual(got, all) {
		t.Fatalf("backup got %d records, want all %d", len(got), len(all))
	}
	want := append(append([][]byte(nil), all[:from-1]...), all[to:]...)
	if got := p.records(last); !reflect.DeepEqual(got, want) {
		t.Fatalf("primary got %d records, want %d (all but %d-%d)", len(got), len(want), from, to)
	}
	// The primary's channel heartbeat says it has everything to last, so
	// the client knows of the gap; ReTransmit on the same source fills it.
	p.send(reTransmitFrame(szse.ResendTypeTick, DefaultSZSEChannel, from, to))
	if a := p.want(szse.TypeReTransmit).ReTransmit; a.ResendStatus != szse.ResendStatusDone || a.ApplEndSeqNum != to {
		t.Fatalf("answer %+v", a)
	}
	if got := p.records(to); !reflect.DeepEqual(got, all[from-1:to]) {
		t.Fatalf("resent %d records, want %d", len(got), to-from+1)
	}
	if st := s.Stats(SZSEPrimary); st.Dropped != uint64(to-from+1) {
		t.Fatalf("primary dropped %d, want %d", st.Dropped, to-from+1)
	}
	if st := s.Stats(SZSEBackup); st.Dropped != 0 {
		t.Fatalf("backup dropped %d", st.Dropped)
	}
	if err := s.DropRange(SZSEPrimary, 9, 3); !errors.Is(err, ErrConfig) {
		t.Fatalf("reversed range: %v", err)
	}
}

// TestSZSEStopStartSource kills the SZSE primary, checks that the backup
// carries on, and that the primary serves again (ReTransmit recovering
// what it missed) after the restart.
func TestSZSEStopStartSource(t *testing.T) {
	s := startSim(t, szseTestConfig())
	p := dialSZSE(t, s.Addr(SZSEPrimary))
	p.logon()
	b := dialSZSE(t, s.Addr(SZSEBackup))
	b.logon()
	if err := s.Step(20); err != nil {
		t.Fatal(err)
	}
	p.records(s.SZSELast())
	if err := s.StopSource(SZSEPrimary); err != nil {
		t.Fatal(err)
	}
	p.closed()
	c := dialSZSE(t, s.Addr(SZSEPrimary))
	c.send(logonFrame("GW", "", "", 5, ""))
	c.closed()
	if st := s.Stats(SZSEPrimary); st.Refused == 0 {
		t.Fatalf("stats %+v", st)
	}
	if err := s.Step(30); err != nil {
		t.Fatal(err)
	}
	last := s.SZSELast()
	if got := b.records(last); len(got) != int(last) {
		t.Fatalf("backup got %d records, want %d", len(got), last)
	}
	if err := s.StartSource(SZSEPrimary); err != nil {
		t.Fatal(err)
	}
	p2 := dialSZSE(t, s.Addr(SZSEPrimary))
	p2.logon()
	p2.send(reTransmitFrame(szse.ResendTypeTick, DefaultSZSEChannel, 1, 0))
	if a := p2.want(szse.TypeReTransmit).ReTransmit; a.ApplEndSeqNum != last {
		t.Fatalf("answer %+v", a)
	}
	if got := p2.records(last); !reflect.DeepEqual(got, s.SZSERecords(1, last)) {
		t.Fatalf("after restart got %d records", len(got))
	}
	// The ITCH sources never noticed.
	if st := s.Stats(Primary); st.Refused != 0 {
		t.Fatalf("ITCH primary stats %+v", st)
	}
}

// TestSZSEDelay checks that a delayed source still delivers everything in
// order; how late is not asserted.
func TestSZSEDelay(t *testing.T) {
	s := startSim(t, szseTestConfig())
	if err := s.Delay(SZSEBackup, 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	b := dialSZSE(t, s.Addr(SZSEBackup))
	b.logon()
	for range 3 {
		if err := s.Step(10); err != nil {
			t.Fatal(err)
		}
	}
	last := s.SZSELast()
	if got := b.records(last); !reflect.DeepEqual(got, s.SZSERecords(1, last)) {
		t.Fatalf("delayed source got %d records, want %d", len(got), last)
	}
	if err := s.Delay(SZSEBackup, 0); err != nil {
		t.Fatal(err)
	}
}

// TestSZSEGarbage: each kind of garbage reaches the client as the
// decoder's error for it, after nothing but heartbeats, and is counted
// once. Each kind has a simulator of its own: Garbage goes to every
// connection of the source, and a previous case's connection may not yet
// be gone from the simulator's side when the next case injects.
func TestSZSEGarbage(t *testing.T) {
	tests := []struct {
		name string
		kind GarbageKind
		want error
	}{
		{name: "checksum", kind: GarbageChecksum, want: szse.ErrChecksum},
		{name: "length", kind: GarbageLength, want: szse.ErrBodyLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startSim(t, szseTestConfig())
			c := dialSZSE(t, s.Addr(SZSEPrimary))
			c.logon()
			if err := s.Garbage(SZSEPrimary, tc.kind); err != nil {
				t.Fatal(err)
			}
			for {
				_, m, err := c.next()
				if err != nil {
					if !errors.Is(err, tc.want) {
						t.Fatalf("got %v, want %v", err, tc.want)
					}
					break
				}
				if m.Type != szse.TypeHeartbeat && m.Type != szse.TypeChannelHeartbeat {
					t.Fatalf("got %s before the garbage", m.Type)
				}
			}
			if st := s.Stats(SZSEPrimary); st.Garbage != 1 {
				t.Fatalf("stats %+v; want one garbage", st)
			}
		})
	}
	s := startSim(t, szseTestConfig())
	for _, bad := range []struct {
		src  Source
		kind GarbageKind
		want error
	}{
		{src: Primary, kind: GarbageChecksum, want: ErrConfig},
		{src: SZSEBackup, kind: 0, want: ErrConfig},
		{src: Source(9), kind: GarbageLength, want: ErrBadSource},
	} {
		if err := s.Garbage(bad.src, bad.kind); !errors.Is(err, bad.want) {
			t.Errorf("Garbage(%s, %s) = %v, want %v", bad.src, bad.kind, err, bad.want)
		}
	}
}

// TestITCHGarbage checks the one garbage SoupBinTCP can carry: a packet
// length that lies.
func TestITCHGarbage(t *testing.T) {
	s := startSim(t, testConfig())
	c := loggedIn(t, s, Backup, s.Next())
	if err := s.Garbage(Backup, GarbageLength); err != nil {
		t.Fatal(err)
	}
	// A Sequenced Data packet announcing 65535 bytes: everything after it
	// is swallowed into it, so the client never sees a whole packet.
	var head [3]byte
	for {
		c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
		if _, err := io.ReadFull(c.nc, head[:]); err != nil {
			t.Fatal(err)
		}
		if head == [3]byte{0, 1, soupbin.TypeServerHeartbeat} {
			continue
		}
		break
	}
	if head != [3]byte{0xff, 0xff, soupbin.TypeSequenced} {
		t.Fatalf("got % x, want the lying header", head)
	}
	if st := s.Stats(Backup); st.Garbage != 1 {
		t.Fatalf("stats %+v", st)
	}
}
