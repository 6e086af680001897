package feedpeer

import (
	"bytes"
	"errors"
	"net"
	"testing"
)

// TestITCHNewStream: a server that begins another stream closes its
// clients at once, forgets its drops, and serves later logins the new
// feed from its sequence 1 (or its next message, for a login asking
// beyond it), under the new session name or, without one, the old name.
func TestITCHNewStream(t *testing.T) {
	for _, tc := range []struct {
		name, session, want string
	}{
		{name: "new session", session: "DAY2", want: "DAY2"},
		{name: "same session renumbered", session: "", want: "SGWPEER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, srv := newITCH(t, ITCHConfig{}, ITCHServerConfig{})
			if _, _, err := old.Publish(200); err != nil {
				t.Fatal(err)
			}
			srv.DropRange(5, 8)
			c := dialSoup(t, srv.Addr())
			c.login("", "", "", 1)
			c.accepted()
			c.data(3)

			flow, err := NewFlow(9, testSymbols, FlowConfig{StartTime: 10 * 3600e9})
			if err != nil {
				t.Fatal(err)
			}
			renumbered, err := NewITCHFeed(ITCHConfig{}, flow)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := renumbered.Publish(20); err != nil {
				t.Fatal(err)
			}
			if err := srv.NewStream(renumbered, tc.session); err != nil {
				t.Fatal(err)
			}
			if srv.Feed() != renumbered {
				t.Fatal("Feed is not the new stream's")
			}
			for {
				if _, _, err := c.read(); err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						t.Fatalf("the old client was not closed: %v", err)
					}
					break
				}
			}

			beyond := dialSoup(t, srv.Addr())
			beyond.login("", "", "", old.Last()+1)
			typ, p := beyond.mustRead()
			if typ != 'A' || len(p) != 30 || string(bytes.TrimSpace(p[:10])) != tc.want {
				t.Fatalf("Login Accepted %q %q, want session %q", typ, p, tc.want)
			}
			var from uint64
			for _, b := range bytes.TrimSpace(p[10:]) {
				from = from*10 + uint64(b-'0')
			}
			if from != renumbered.Last()+1 {
				t.Fatalf("a login beyond the new stream accepted at %d, want %d", from, renumbered.Last()+1)
			}

			again := dialSoup(t, srv.Addr())
			again.login("", "", tc.session, 1)
			if got := again.accepted(); got != 1 {
				t.Fatalf("accepted at %d, want 1", got)
			}
			for i, m := range again.data(int(renumbered.Last())) {
				want, _ := renumbered.Packet(uint64(i + 1))
				if !bytes.Equal(m, want[3:]) {
					t.Fatalf("seq %d is not the new stream's (the old drops applied?)", i+1)
				}
			}
		})
	}
}

// TestSZSENewStream: an SZSE server that begins another stream (the
// day's channels numbered again) closes its clients, forgets its drops
// and refusals, and serves a later Logon and ReTransmit from the new
// feed.
func TestSZSENewStream(t *testing.T) {
	old, srv := newSZSE(t, SZSEConfig{Channels: []uint16{2011}, SnapshotEvery: -1}, SZSEServerConfig{})
	if err := old.Publish(300); err != nil {
		t.Fatal(err)
	}
	srv.DropRange(2011, 2, 3)
	srv.RefuseRetransmit(2011, 1, 10)
	c := dialSZSE(t, srv.Addr())
	c.logon("C", "MDGW", "")
	c.loggedOn()
	c.data(3)

	flow, err := NewFlow(9, testSymbols, FlowConfig{Dialect: DialectSZSE, StartTime: 10 * 3600e9})
	if err != nil {
		t.Fatal(err)
	}
	renumbered, err := NewSZSEFeed(SZSEConfig{Channels: []uint16{2011}, SnapshotEvery: -1}, flow)
	if err != nil {
		t.Fatal(err)
	}
	if err := renumbered.Publish(20); err != nil {
		t.Fatal(err)
	}
	if err := srv.NewStream(renumbered); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := c.read(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the old client was not closed: %v", err)
			}
			break
		}
	}
	again := dialSZSE(t, srv.Addr())
	again.logon("C", "MDGW", "")
	again.loggedOn()
	live := again.data(20)
	again.retransmit(2011, 1, 10)
	resent := again.data(11)
	if resent[0].typ != 390094 {
		t.Fatalf("want the ReTransmit answer, got %d", resent[0].typ)
	}
	for i, m := range append(live, resent[1:]...) {
		seq := uint64(i%20 + 1)
		want, _ := renumbered.Packet(2011, seq)
		got := append(append([]byte{}, want[:8]...), m.body...)
		if !bytes.Equal(got, want[:len(want)-4]) {
			t.Fatalf("message %d is not the new stream's ApplSeqNum %d", i, seq)
		}
	}
}

// TestITCHJoinLive: a server that cannot replay mid-stream accepts a
// login from mid-stream at its next message, above the sequence number
// asked, and sends from there; a login from 1 is still served the day.
func TestITCHJoinLive(t *testing.T) {
	feed, srv := newITCH(t, ITCHConfig{}, ITCHServerConfig{})
	if _, _, err := feed.Publish(50); err != nil {
		t.Fatal(err)
	}
	srv.SetJoinLive(true)
	mid := dialSoup(t, srv.Addr())
	mid.login("", "", "", 20)
	if got := mid.accepted(); got != feed.Last()+1 {
		t.Fatalf("a login from 20 accepted at %d, want %d (the next message)", got, feed.Last()+1)
	}
	_, last, err := feed.Publish(1)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := feed.Packet(last)
	if m := mid.data(1)[0]; !bytes.Equal(m, want[3:]) {
		t.Fatalf("sent %x, want message %d %x", m, last, want[3:])
	}
	day := dialSoup(t, srv.Addr())
	day.login("", "", "", 1)
	if got := day.accepted(); got != 1 {
		t.Fatalf("a login from 1 accepted at %d", got)
	}
	srv.SetJoinLive(false)
	asked := dialSoup(t, srv.Addr())
	asked.login("", "", "", 20)
	if got := asked.accepted(); got != 20 {
		t.Fatalf("join-live off: a login from 20 accepted at %d", got)
	}
}
