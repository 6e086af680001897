package feedpeer

import (
	"bytes"
	"context"
	"errors"
	"net"
	"reflect"
	"testing"
	"time"
)

func newITCH(t *testing.T, fcfg ITCHConfig, scfg ITCHServerConfig) (*ITCHFeed, *ITCHServer) {
	t.Helper()
	flow, err := NewFlow(3, testSymbols, FlowConfig{})
	if err != nil {
		t.Fatal(err)
	}
	feed, err := NewITCHFeed(fcfg, flow)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewITCHServer(scfg, feed)
	if err != nil {
		t.Fatal(err)
	}
	runServer(t, srv)
	return feed, srv
}

// TestITCHSessionReplay logs in, reads the whole day, checks every message
// against the record and the reference book, then logs in again from a
// sequence number and gets the same messages.
func TestITCHSessionReplay(t *testing.T) {
	feed, srv := newITCH(t, ITCHConfig{Tracking: TrackingSequence}, ITCHServerConfig{Username: "user", Password: "pw"})
	_, last, err := feed.Publish(3000)
	if err != nil {
		t.Fatal(err)
	}
	c := dialSoup(t, srv.Addr())
	c.login("USER", "pw", "", 1)
	if got := c.accepted(); got != 1 {
		t.Fatalf("Login Accepted at %d, want 1", got)
	}
	msgs := c.data(int(last))
	symbols := make(map[uint16]string)
	book := NewBook()
	for i, m := range msgs {
		seq := uint64(i + 1)
		rec, _ := feed.Record(seq)
		ev, tracking := decodeITCH(t, m, symbols)
		if !sameEvent(ev, rec.Event) {
			t.Fatalf("seq %d: wire says %v, record %v", seq, ev, rec.Event)
		}
		if tracking != uint16(seq) {
			t.Fatalf("seq %d: tracking %d", seq, tracking)
		}
		if err := book.Apply(rec.Event); err != nil {
			t.Fatal(err)
		}
		if seq == 1500 || seq == last {
			ref := feed.Reference(seq)
			for _, s := range testSymbols {
				for _, side := range []Side{Buy, Sell} {
					if got, want := book.Levels(s, side, 10), ref.Levels(s, side, 10); !reflect.DeepEqual(got, want) {
						t.Fatalf("seq %d %s %v: %v, reference %v", seq, s, side, got, want)
					}
				}
			}
		}
	}

	again := dialSoup(t, srv.Addr())
	again.login("user", "pw", "SGWPEER", 1000)
	if got := again.accepted(); got != 1000 {
		t.Fatalf("re-login accepted at %d, want 1000", got)
	}
	for i, m := range again.data(int(last) - 999) {
		if !bytes.Equal(m, msgs[999+i]) {
			t.Fatalf("replayed seq %d differs", 1000+i)
		}
	}
	if err := srv.Wait(testCtx(t), func(s ServerStats) bool { return s.Logins == 2 && s.LastLogin == 1000 }); err != nil {
		t.Fatal(err)
	}
}

func TestITCHLiveLogin(t *testing.T) {
	tests := []struct {
		name string
		seq  uint64
	}{
		{name: "zero starts at the next message", seq: 0},
		{name: "beyond the end starts at the next message", seq: 1 << 40},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			feed, srv := newITCH(t, ITCHConfig{}, ITCHServerConfig{})
			_, last, _ := feed.Publish(50)
			c := dialSoup(t, srv.Addr())
			c.login("", "", "", tc.seq)
			if got := c.accepted(); got != last+1 {
				t.Fatalf("accepted at %d, want %d", got, last+1)
			}
			feed.Publish(5)
			for i, m := range c.data(5) {
				want, _ := feed.Packet(last + 1 + uint64(i))
				if !bytes.Equal(m, want[3:]) {
					t.Fatalf("message %d differs", i)
				}
			}
		})
	}
}

func TestITCHLoginRejected(t *testing.T) {
	tests := []struct {
		name, user, pass, session string
		want                      byte
	}{
		{name: "wrong password", user: "user", pass: "nope", want: RejectNotAuthorized},
		{name: "wrong user", user: "other", pass: "pw", want: RejectNotAuthorized},
		{name: "another session", user: "user", pass: "pw", session: "OTHER", want: RejectSessionUnavailable},
	}
	_, srv := newITCH(t, ITCHConfig{}, ITCHServerConfig{Username: "user", Password: "pw"})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialSoup(t, srv.Addr())
			c.login(tc.user, tc.pass, tc.session, 1)
			typ, p := c.mustRead()
			if typ != 'J' || !bytes.Equal(p, []byte{tc.want}) {
				t.Fatalf("got %q %q, want Login Rejected %q", typ, p, tc.want)
			}
			if _, _, err := c.read(); err == nil {
				t.Fatal("the connection stayed open after Login Rejected")
			}
		})
	}
	if st := srv.Stats(); st.Rejects != len(tests) || st.Logins != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestITCHNotLoginFirst(t *testing.T) {
	_, srv := newITCH(t, ITCHConfig{}, ITCHServerConfig{})
	c := dialSoup(t, srv.Addr())
	c.send('R', "")
	if typ, _ := c.mustRead(); typ != '+' {
		t.Fatalf("got %q, want a Debug packet", typ)
	}
	if _, _, err := c.read(); err == nil {
		t.Fatal("still open")
	}
	if err := srv.Wait(testCtx(t), func(s ServerStats) bool { return s.Errors == 1 }); err != nil {
		t.Fatal(err)
	}
}

func TestITCHHeartbeatsAndLogout(t *testing.T) {
	feed, srv := newITCH(t, ITCHConfig{}, ITCHServerConfig{ServerConfig: ServerConfig{HeartbeatInterval: 20 * time.Millisecond}})
	c := dialSoup(t, srv.Addr())
	c.login("", "", "", 0)
	c.accepted()
	if typ, _ := c.mustRead(); typ != 'H' {
		t.Fatalf("idle server sent %q, want a Server Heartbeat", typ)
	}
	c.send('R', "")
	if err := srv.Wait(testCtx(t), func(s ServerStats) bool { return s.ClientHeartbeats == 1 }); err != nil {
		t.Fatal(err)
	}
	c.send('O', "")
	for {
		if _, _, err := c.read(); err != nil {
			break
		}
	}
	if err := srv.Wait(testCtx(t), func(s ServerStats) bool { return s.Logouts == 1 && s.Active == 0 }); err != nil {
		t.Fatal(err)
	}
	_ = feed
}

func TestITCHClientTimeout(t *testing.T) {
	_, srv := newITCH(t, ITCHConfig{}, ITCHServerConfig{ServerConfig: ServerConfig{ClientTimeout: 100 * time.Millisecond, HeartbeatInterval: 10 * time.Millisecond}})
	c := dialSoup(t, srv.Addr())
	c.login("", "", "", 0)
	c.accepted()
	for {
		if _, _, err := c.read(); err != nil {
			break
		}
	}
	if err := srv.Wait(testCtx(t), func(s ServerStats) bool { return s.Errors == 1 && s.Active == 0 }); err != nil {
		t.Fatal(err)
	}
}

func TestITCHEndOfSession(t *testing.T) {
	feed, srv := newITCH(t, ITCHConfig{}, ITCHServerConfig{})
	_, last, _ := feed.Publish(10)
	if err := feed.End(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := feed.Publish(1); !errors.Is(err, ErrEnded) {
		t.Errorf("Publish after End: %v", err)
	}
	c := dialSoup(t, srv.Addr())
	c.login("", "", "", 1)
	c.accepted()
	msgs := c.data(int(last) + 3)
	for i, code := range []byte{'M', 'E', 'C'} {
		if m := msgs[int(last)+i]; m[0] != 'S' || m[11] != code {
			t.Errorf("closing message %d is %q %q, want system event %q", i, m[0], m[11], code)
		}
	}
	if typ, _ := c.mustRead(); typ != 'Z' {
		t.Fatalf("got %q, want End of Session", typ)
	}
}

// TestITCHEndSessionMidStream: EndSession sends a logged-in client what it
// may see, then End of Session, in the middle of the day; the same session
// goes on for a later login from the next sequence number, and that
// client's session does not end.
func TestITCHEndSessionMidStream(t *testing.T) {
	feed, srv := newITCH(t, ITCHConfig{}, ITCHServerConfig{})
	_, last, _ := feed.Publish(20)
	c := dialSoup(t, srv.Addr())
	c.login("", "", "", 1)
	c.accepted()
	c.data(int(last))
	srv.EndSession()
	if typ, _ := c.mustRead(); typ != 'Z' {
		t.Fatalf("got %q, want End of Session", typ)
	}
	if err := srv.Wait(testCtx(t), func(st ServerStats) bool { return st.EndOfSessions == 1 }); err != nil {
		t.Fatal(err)
	}
	_, last2, _ := feed.Publish(10)
	c = dialSoup(t, srv.Addr())
	c.login("", "", "SGWPEER", last+1)
	if got := c.accepted(); got != last+1 {
		t.Fatalf("accepted at %d, want %d", got, last+1)
	}
	msgs := c.data(int(last2 - last))
	if p, _ := feed.Packet(last2); !bytes.Equal(msgs[len(msgs)-1], p[3:]) {
		t.Fatalf("message %d is %x, its packet %x", last2, msgs[len(msgs)-1], p)
	}
	_, last3, _ := feed.Publish(5)
	if got := c.data(int(last3 - last2)); len(got) != int(last3-last2) {
		t.Fatalf("%d messages after the new login's catch-up", len(got))
	}
}

func TestITCHTracking(t *testing.T) {
	tracking := func(cfg ITCHConfig) []uint16 {
		flow, _ := NewFlow(3, testSymbols, FlowConfig{})
		feed, err := NewITCHFeed(cfg, flow)
		if err != nil {
			t.Fatal(err)
		}
		feed.Publish(200)
		var out []uint16
		for seq := uint64(1); seq <= feed.Last(); seq++ {
			p, _ := feed.Packet(seq)
			out = append(out, uint16(p[6])<<8|uint16(p[7]))
		}
		return out
	}
	seq := tracking(ITCHConfig{Tracking: TrackingSequence})
	for i, v := range seq {
		if v != uint16(i+1) {
			t.Fatalf("sequence tracking at %d is %d", i+1, v)
		}
	}
	for _, v := range tracking(ITCHConfig{Tracking: TrackingConstant, TrackingValue: 7}) {
		if v != 7 {
			t.Fatalf("constant tracking %d", v)
		}
	}
	r1, r2, r3 := tracking(ITCHConfig{Seed: 9}), tracking(ITCHConfig{Seed: 9}), tracking(ITCHConfig{Seed: 10})
	if !reflect.DeepEqual(r1, r2) || reflect.DeepEqual(r1, r3) || reflect.DeepEqual(r1, seq) {
		t.Errorf("random tracking is not seeded as promised")
	}
}

// TestITCHPrimaryAndBackup serves one feed from two servers: both send the
// same bytes.
func TestITCHPrimaryAndBackup(t *testing.T) {
	feed, primary := newITCH(t, ITCHConfig{}, ITCHServerConfig{})
	backup, err := NewITCHServer(ITCHServerConfig{}, feed)
	if err != nil {
		t.Fatal(err)
	}
	runServer(t, backup)
	_, last, _ := feed.Publish(500)
	a, b := dialSoup(t, primary.Addr()), dialSoup(t, backup.Addr())
	a.login("", "", "", 1)
	b.login("", "", "", 1)
	a.accepted()
	b.accepted()
	if !reflect.DeepEqual(a.data(int(last)), b.data(int(last))) {
		t.Fatal("primary and backup differ")
	}
}

func TestITCHDropRange(t *testing.T) {
	feed, srv := newITCH(t, ITCHConfig{Tracking: TrackingSequence}, ITCHServerConfig{})
	first, last, _ := feed.Publish(100)
	from, to := first+10, first+12
	srv.DropRange(from, to)
	c := dialSoup(t, srv.Addr())
	c.login("", "", "", 1)
	c.accepted()
	got := c.data(int(last) - 3)
	for i, m := range got {
		seq := uint64(i + 1)
		if seq >= from {
			seq += 3
		}
		want, _ := feed.Packet(seq)
		if !bytes.Equal(m, want[3:]) {
			t.Fatalf("message %d is not seq %d", i+1, seq)
		}
	}
	// The message received in from's place says, by its tracking number,
	// that three were skipped.
	if m := got[from-1]; uint16(m[3])<<8|uint16(m[4]) != uint16(to+1) {
		t.Errorf("tracking after the gap %d, want %d", uint16(m[3])<<8|uint16(m[4]), to+1)
	}
	// A new login from the gap gets what was skipped.
	again := dialSoup(t, srv.Addr())
	again.login("", "", "", from)
	again.accepted()
	for i, m := range again.data(3) {
		want, _ := feed.Packet(from + uint64(i))
		if !bytes.Equal(m, want[3:]) {
			t.Fatalf("re-login message %d differs", i)
		}
	}
	if err := srv.Wait(testCtx(t), func(s ServerStats) bool { return s.Skipped == 3 }); err != nil {
		t.Error(err)
	}
}

// TestITCHRepeatRange: a session that logged in before the range is sent
// it twice, the second time right after it, and the rest numbered on; a
// login from within the range is sent it once.
func TestITCHRepeatRange(t *testing.T) {
	feed, srv := newITCH(t, ITCHConfig{Tracking: TrackingSequence}, ITCHServerConfig{})
	first, last, _ := feed.Publish(100)
	from, to := first+10, first+12
	srv.RepeatRange(from, to)
	c := dialSoup(t, srv.Addr())
	c.login("", "", "", 1)
	c.accepted()
	for i, m := range c.data(int(last) + 3) {
		seq := uint64(i + 1)
		switch {
		case seq > to+3:
			seq -= 3
		case seq > to:
			seq -= to - from + 1 // the repeat
		}
		want, _ := feed.Packet(seq)
		if !bytes.Equal(m, want[3:]) {
			t.Fatalf("message %d is not seq %d", i+1, seq)
		}
	}
	again := dialSoup(t, srv.Addr())
	again.login("", "", "", from)
	again.accepted()
	for i, m := range again.data(int(last - from + 1)) {
		want, _ := feed.Packet(from + uint64(i))
		if !bytes.Equal(m, want[3:]) {
			t.Fatalf("re-login message %d differs", i)
		}
	}
}

func TestITCHLoginDelay(t *testing.T) {
	_, srv := newITCH(t, ITCHConfig{}, ITCHServerConfig{})
	const d = 300 * time.Millisecond
	srv.SetLoginDelay(d)
	c := dialSoup(t, srv.Addr())
	start := time.Now()
	c.login("", "", "", 0)
	c.accepted()
	if el := time.Since(start); el < d {
		t.Errorf("Login Accepted after %v, before the %v delay", el, d)
	}
}

func TestITCHKillRestart(t *testing.T) {
	feed, srv := newITCH(t, ITCHConfig{}, ITCHServerConfig{})
	_, last, _ := feed.Publish(20)
	c := dialSoup(t, srv.Addr())
	c.login("", "", "", 1)
	c.accepted()
	c.data(int(last))
	srv.Kill()
	if _, _, err := c.read(); err == nil {
		t.Fatal("the connection survived Kill")
	}
	if conn, err := net.Dial("tcp", srv.Addr()); err == nil {
		conn.Close()
		t.Fatal("a killed server accepted a connection")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	c = dialSoup(t, srv.Addr())
	c.login("", "", "", last-4)
	if got := c.accepted(); got != last-4 {
		t.Fatalf("accepted at %d", got)
	}
	c.data(5)
}

// TestITCHLag holds back the last messages on a lagging source: the client
// gets a heartbeat where they would be, and the rest once the lag ends.
func TestITCHLag(t *testing.T) {
	feed, srv := newITCH(t, ITCHConfig{}, ITCHServerConfig{ServerConfig: ServerConfig{HeartbeatInterval: 20 * time.Millisecond}})
	srv.SetLag(5)
	_, last, _ := feed.Publish(50)
	c := dialSoup(t, srv.Addr())
	c.login("", "", "", 1)
	if got := c.accepted(); got != 1 {
		t.Fatalf("accepted at %d", got)
	}
	c.data(int(last) - 5)
	if typ, p := c.mustRead(); typ != 'H' {
		t.Fatalf("a lagging source sent %q %x beyond its lag", typ, p)
	}
	srv.SetLag(0)
	for i, m := range c.data(5) {
		want, _ := feed.Packet(last - 4 + uint64(i))
		if !bytes.Equal(m, want[3:]) {
			t.Fatalf("late message %d differs", i)
		}
	}
}

func TestITCHDelay(t *testing.T) {
	feed, srv := newITCH(t, ITCHConfig{}, ITCHServerConfig{})
	c := dialSoup(t, srv.Addr())
	c.login("", "", "", 0)
	c.accepted()
	const d = 200 * time.Millisecond
	srv.SetDelay(d)
	start := time.Now()
	feed.Publish(3)
	c.data(3)
	if el := time.Since(start); el < d {
		t.Errorf("messages arrived after %v, before the %v delay", el, d)
	}
}

func TestITCHStream(t *testing.T) {
	feed, srv := newITCH(t, ITCHConfig{}, ITCHServerConfig{})
	start := feed.Last()
	c := dialSoup(t, srv.Addr())
	c.login("", "", "", start+1)
	c.accepted()
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() { done <- feed.Stream(ctx, 2000) }()
	c.data(50)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Stream = %v", err)
	}
}
