package feed

import (
	"testing"
	"time"

	"sgw/feed/itch"
	"sgw/feed/soupbin"
)

type nopLink struct{ closed bool }

func (*nopLink) send([]byte) {}
func (l *nopLink) close()    { l.closed = true }

// FuzzSourceData feeds arbitrary bytes to a source that has just sent its
// login, as a misbehaving server would: the source must never panic, must
// consume only whole packets, and must reset itself on anything invalid.
func FuzzSourceData(f *testing.F) {
	add := itch.Message{Type: itch.TypeAddOrder, StockLocate: 1, TrackingNumber: 1, Timestamp: 34200000000000,
		OrderRef: 7, Side: 'B', Shares: 100, Price: 17000000}
	add.Stock, _ = itch.StockOf("600519")
	msg, err := itch.Append(nil, &add)
	if err != nil {
		f.Fatal(err)
	}
	login := soupbin.AppendLoginAccepted(nil, "SIM", 1)
	f.Add(login)
	f.Add(soupbin.AppendSequenced(append([]byte(nil), login...), msg))
	f.Add(soupbin.AppendServerHeartbeat(soupbin.AppendSequenced(append([]byte(nil), login...), msg)))
	f.Add(soupbin.AppendLoginRejected(nil, soupbin.RejectNotAuthorized))
	f.Add(soupbin.AppendEndOfSession(append([]byte(nil), login...)))
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		fd, err := New(Config{Name: "fuzz", Primary: SourceConfig{Addr: "127.0.0.1:1"}}, discardSink{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := fd.srcs[0]
		l := &nopLink{}
		s.state = stateDialing
		if s.onOpen(s.gen, l) == nil {
			t.Fatal("onOpen refused a fresh connection")
		}
		gen := s.gen
		used, closeIt := s.onData(gen, b, time.Now())
		if used < 0 || used > len(b) {
			t.Fatalf("consumed %d of %d bytes", used, len(b))
		}
		if closeIt && s.state != stateDown && s.state != stateEnded {
			t.Fatalf("closed the connection but left the source %s", s.state)
		}
		if !closeIt && used < len(b) {
			// What is left must be an unfinished packet.
			if _, n, err := soupbin.Parse(b[used:], maxPacket); n != 0 || err != nil {
				t.Fatalf("left a whole packet unconsumed: n=%d err=%v", n, err)
			}
		}
	})
}
