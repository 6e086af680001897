package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sgw/feed/capture"
	"sgw/feed/szse"
)

// writeCapture writes an arbitrated capture file holding msgs under the
// given sequence numbers.
func writeCapture(t *testing.T, seqs []uint64, msgs [][]byte) string {
	t.Helper()
	b, err := capture.AppendHeader(nil, capture.Header{Kind: capture.KindArbitrated, Source: capture.Arbitrated,
		Feed: "t", Stream: "arbitrated", Protocol: "itch"})
	if err != nil {
		t.Fatal(err)
	}
	for i, seq := range seqs {
		b = capture.AppendRecord(b, capture.TypeData, capture.Primary, int64(i), seq, msgs[i])
	}
	name := filepath.Join(t.TempDir(), "t-arbitrated-1.cap")
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// runPlayer starts a Player of cfg serving until the test ends and plays
// the capture file name through it.
func runPlayer(t *testing.T, cfg PlayerConfig, name string) (PlayStats, *Player, error) {
	t.Helper()
	p, err := NewPlayer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	st, err := p.Play(ctx, []string{name})
	return st, p, err
}

// TestPlayerHolesAndRepeats plays a capture whose sequence numbers jump
// (3 and 4 missing) and repeat (a rebuild's redelivery of 1 and 2): a
// client logged in from 1 receives each recorded number once, in order,
// nothing for the holes, then End of Session; a client logging in from 4
// starts at 5.
func TestPlayerHolesAndRepeats(t *testing.T) {
	m := func(s string) []byte { return []byte(s) }
	name := writeCapture(t, []uint64{1, 2, 1, 2, 5, 6}, [][]byte{m("one"), m("two"), m("one"), m("two"), m("five"), m("six")})
	st, p, err := runPlayer(t, PlayerConfig{}, name)
	if err != nil {
		t.Fatal(err)
	}
	if (st != PlayStats{Messages: 4, Holes: 2, Last: 6, Streams: 1}) {
		t.Fatalf("played %+v", st)
	}
	for _, tc := range []struct {
		name  string
		from  uint64
		start uint64
		want  []string
	}{
		{"from 1", 1, 1, []string{"one", "two", "five", "six"}},
		{"from 4", 4, 4, []string{"five", "six"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, p.Addr())
			c.login("", "", "", tc.from)
			if seq := c.accepted(DefaultSession); seq != tc.start {
				t.Fatalf("login accepted at %d, want %d", seq, tc.start)
			}
			var got []string
			for _, m := range c.toEnd() {
				got = append(got, string(m))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("received %q, want %q", got, tc.want)
			}
		})
	}
}

// TestPlayerSZSESourceStream plays an SZSE source stream as a session
// that starts at the live end records it: live records 5 and 6 (channel
// 2011) and a snapshot, then the ReTransmit answer's records 1 to 4, then
// 8 (7 is missing). A client logged on gets ChannelHeartbeats of channel
// 2011 at once, the live stream (5, 6, the snapshot, 8), and by ReTransmit
// 1 to 4 (filled late), not 7 (a hole: the range is cut before it, and
// refused from it); then EndOfChannel.
func TestPlayerSZSESourceStream(t *testing.T) {
	order := func(seq int64) []byte {
		return szse.AppendOrder(nil, &szse.Order{ChannelNo: 2011, ApplSeqNum: seq, Price: 100000, OrderQty: 10000,
			Side: szse.SideBuy, OrdType: szse.OrdTypeLimit})
	}
	snap, err := szse.AppendSnapshot(nil, &szse.Snapshot{ChannelNo: 1011})
	if err != nil {
		t.Fatal(err)
	}
	var raw []byte
	for _, seq := range []int64{5, 6} {
		raw = append(raw, order(seq)...)
	}
	raw = append(raw, snap...)
	answer := szse.ReTransmit{ResendType: szse.ResendTypeTick, ChannelNo: 2011, ApplBegSeqNum: 1, ApplEndSeqNum: 4, ResendStatus: szse.ResendStatusDone}
	raw = szse.AppendReTransmit(raw, &answer)
	for _, seq := range []int64{1, 2, 3, 4, 8} {
		raw = append(raw, order(seq)...)
	}
	b, err := capture.AppendHeader(nil, capture.Header{Kind: capture.KindSource, Source: capture.Primary,
		Feed: "t", Stream: "primary", Protocol: capture.ProtocolSZSE})
	if err != nil {
		t.Fatal(err)
	}
	b = capture.AppendRecord(b, capture.TypeOpen, capture.Primary, 1, 0, nil)
	b = capture.AppendRecord(b, capture.TypeData, capture.Primary, 2, 0, raw[:100]) // a frame cut across reads
	b = capture.AppendRecord(b, capture.TypeData, capture.Primary, 3, 0, raw[100:])
	name := filepath.Join(t.TempDir(), "t-primary-1.cap")
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}

	st, p, err := runPlayer(t, PlayerConfig{Protocol: capture.ProtocolSZSE}, name)
	if err != nil {
		t.Fatal(err)
	}
	if (st != PlayStats{Messages: 8, Snapshots: 1, Holes: 1, Last: 8, Streams: 1}) {
		t.Fatalf("played %+v", st)
	}
	c := dialSZSE(t, p.Addr())
	c.logon()
	ended := false // EndOfChannel seen
	must := func() *szse.Message {
		_, m := c.must()
		ended = ended || m.Type == szse.TypeChannelHeartbeat && m.ChannelHeartbeat.EndOfChannel == 1
		return m
	}
	if m := must(); m.Type != szse.TypeChannelHeartbeat || m.ChannelHeartbeat.ChannelNo != 2011 {
		t.Fatalf("first frame after the logon: %s, want a ChannelHeartbeat of 2011", m.Type)
	}
	var live []int64
	snapshots := 0
	for len(live) < 3 {
		if m := must(); m.Type == szse.TypeOrder {
			live = append(live, m.Order.ApplSeqNum)
		} else if m.Type == szse.TypeSnapshot {
			snapshots++
		}
	}
	if !slices.Equal(live, []int64{5, 6, 8}) || snapshots != 1 {
		t.Fatalf("live records %v and %d snapshots, want 5, 6, 8 and one", live, snapshots)
	}
	for _, tc := range []struct {
		beg, end int64
		status   uint8
		want     []int64
	}{
		{1, 8, szse.ResendStatusPartial, []int64{1, 2, 3, 4, 5, 6}},
		{7, 8, szse.ResendStatusUnavailable, nil},
	} {
		c.send(reTransmitFrame(szse.ResendTypeTick, 2011, tc.beg, tc.end))
		var m *szse.Message
		for {
			if m = must(); m.Type == szse.TypeReTransmit {
				break
			}
		}
		if m.ReTransmit.ResendStatus != tc.status {
			t.Fatalf("ReTransmit %d-%d answered %s, want %s", tc.beg, tc.end, szse.ResendStatusName(m.ReTransmit.ResendStatus), szse.ResendStatusName(tc.status))
		}
		var got []int64
		for range tc.want {
			got = append(got, must().Order.ApplSeqNum)
		}
		if !slices.Equal(got, tc.want) {
			t.Fatalf("resent %v, want %v", got, tc.want)
		}
	}
	for !ended {
		must()
	}
}

// TestPlayerPlaysOneStream plays a capture that spans a venue's new
// numbering (messages 1 to 3, a stream record, the new stream's 1 and 2):
// the player serves one session, so it plays the stream asked for, from
// its own sequence number 1, and skips the other one; before, it served
// the second stream as 4 and 5 of the first, on top of the first's books.
// A stream the capture does not hold is an error.
func TestPlayerPlaysOneStream(t *testing.T) {
	b, err := capture.AppendHeader(nil, capture.Header{Kind: capture.KindArbitrated, Source: capture.Arbitrated,
		Feed: "t", Stream: "arbitrated", Protocol: "itch"})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range []string{"old one", "old two", "old three"} {
		b = capture.AppendRecord(b, capture.TypeData, capture.Primary, int64(i), uint64(i+1), []byte(s))
	}
	b = capture.AppendRecord(b, capture.TypeStream, capture.Backup, 3, 0, []byte("S2"))
	for i, s := range []string{"new one", "new two"} {
		b = capture.AppendRecord(b, capture.TypeData, capture.Backup, int64(4+i), uint64(i+1), []byte(s))
	}
	name := filepath.Join(t.TempDir(), "t-arbitrated-1.cap")
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stream uint32
		want   []string
		stats  PlayStats
	}{
		{0, []string{"old one", "old two", "old three"}, PlayStats{Messages: 3, Last: 3, Streams: 2, Skipped: 2}},
		{1, []string{"new one", "new two"}, PlayStats{Messages: 2, Last: 2, Streams: 2, Skipped: 3}},
	} {
		t.Run(fmt.Sprintf("stream %d", tc.stream), func(t *testing.T) {
			st, p, err := runPlayer(t, PlayerConfig{Stream: tc.stream}, name)
			if err != nil {
				t.Fatal(err)
			}
			if st != tc.stats {
				t.Fatalf("played %+v, want %+v", st, tc.stats)
			}
			c := dial(t, p.Addr())
			c.login("", "", "", 1)
			if seq := c.accepted(DefaultSession); seq != 1 {
				t.Fatalf("login accepted at %d, want 1", seq)
			}
			var got []string
			for _, m := range c.toEnd() {
				got = append(got, string(m))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("received %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("stream 2", func(t *testing.T) {
		p, err := NewPlayer(PlayerConfig{Stream: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if _, err := p.Play(context.Background(), []string{name}); err == nil || !strings.Contains(err.Error(), "holds 2") {
			t.Fatalf("Play of stream 2 of 2: %v, want an error naming the streams held", err)
		}
	})
}
