package feed_test

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sgw/feed/szse"
)

// szseSessions is an SZSE server that plays one script per session: the
// n-th connection's Logon is answered with sessions[n] (the last one
// repeats). It then sends a Heartbeat every 50 ms and answers each
// ReTransmit of a channel it holds records of with ResendStatus done and
// the records asked for; any other ReTransmit it refuses (unavailable).
type szseSessions struct {
	ln       net.Listener
	sessions []func() []byte
	records  map[uint16][][]byte // per channel, ApplSeqNum 1 first
	n        atomic.Int32        // sessions begun
	done     chan struct{}
	wg       sync.WaitGroup
}

func newSZSESessions(t *testing.T, records map[uint16][][]byte, sessions ...func() []byte) *szseSessions {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &szseSessions{ln: ln, sessions: sessions, records: records, done: make(chan struct{})}
	s.wg.Go(s.serve)
	t.Cleanup(func() { close(s.done); ln.Close(); s.wg.Wait() })
	return s
}

func (s *szseSessions) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Go(func() { s.session(c) })
	}
}

// readFrame reads one whole frame.
func readFrame(r *bufio.Reader) ([]byte, error) {
	hdr := make([]byte, szse.HeaderLen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	rest := make([]byte, int(binary.BigEndian.Uint32(hdr[4:]))+szse.TrailerLen)
	if _, err := io.ReadFull(r, rest); err != nil {
		return nil, err
	}
	return append(hdr, rest...), nil
}

func (s *szseSessions) session(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	var m szse.Message
	if f, err := readFrame(r); err != nil || binary.BigEndian.Uint32(f) != uint32(szse.TypeLogon) {
		return
	}
	n := min(int(s.n.Add(1)), len(s.sessions)) - 1
	var mu sync.Mutex // one writer at a time: answers and heartbeats
	write := func(b []byte) error {
		mu.Lock()
		defer mu.Unlock()
		_, err := c.Write(b)
		return err
	}
	if write(s.sessions[n]()) != nil {
		return
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for {
			f, err := readFrame(r)
			if err != nil {
				return
			}
			if _, err := szse.Decode(f, &m); err != nil || m.Type != szse.TypeReTransmit {
				continue
			}
			rt := m.ReTransmit
			recs := s.records[rt.ChannelNo]
			end := rt.ApplEndSeqNum
			if end == 0 || end > int64(len(recs)) {
				end = int64(len(recs))
			}
			rt.ResendStatus = szse.ResendStatusDone
			if rt.ApplBegSeqNum < 1 || rt.ApplBegSeqNum > end {
				rt.ResendStatus = szse.ResendStatusUnavailable
			}
			b := szse.AppendReTransmit(nil, &rt)
			for seq := rt.ApplBegSeqNum; rt.ResendStatus == szse.ResendStatusDone && seq <= end; seq++ {
				b = append(b, recs[seq-1]...)
			}
			if write(b) != nil {
				return
			}
		}
	}()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-closed:
			return
		case <-t.C:
			if write(szse.AppendHeartbeat(nil)) != nil {
				return
			}
		}
	}
}

// TestSZSEShareReleasedAtSessionEnd: the channels a source's session
// named and nothing else showed (here a relay's garbage: ChannelHeartbeats
// of 200 ChannelNos that carry nothing, then a Logout) are given back when
// the session ends. The source's next session announces, by
// ChannelHeartbeat, four records of a channel 2013 that no other source
// carries: the feed asks for them with a ReTransmit and delivers them.
// Before, the ended session's channels kept the source at its share of
// the channel table for good: the new ChannelHeartbeat was dropped as over
// the limit and channel 2013's records were never asked for.
func TestSZSEShareReleasedAtSessionEnd(t *testing.T) {
	const bogus, share = 200, 128 // a source's share is half the feed's table of 256 channels
	var recs [][]byte
	for seq := int64(1); seq <= 4; seq++ {
		o := szse.Order{ChannelNo: 2013, ApplSeqNum: seq, Price: 100000, OrderQty: szse.SharesToQty2(100),
			Side: szse.SideBuy, OrdType: szse.OrdTypeLimit}
		_ = szse.PutString(o.SecurityID[:], "399001")
		recs = append(recs, szse.AppendOrder(nil, &o))
	}
	garbage := func() []byte {
		b := logonAnswer()
		for ch := range uint16(bogus) {
			b = szse.AppendChannelHeartbeat(b, &szse.ChannelHeartbeat{ChannelNo: 3000 + ch})
		}
		l := szse.Logout{SessionStatus: 101}
		_ = szse.PutString(l.Text[:], "relay reset")
		return szse.AppendLogout(b, &l)
	}
	announce := func() []byte {
		return szse.AppendChannelHeartbeat(logonAnswer(), &szse.ChannelHeartbeat{ChannelNo: 2013, ApplLastSeqNum: 4})
	}
	fake := newSZSESessions(t, map[uint16][][]byte{2013: recs}, garbage, announce)
	r := newSZSERig(t, szseRigOpts{primaryAddr: fake.ln.Addr().String()})
	r.waitFor("the garbage session's end", func() bool { return r.source("primary").Errors["logout"] > 0 })
	const over = bogus - share // the garbage session's ChannelHeartbeats beyond its share
	r.waitFor("channel 2013's records, or its ChannelHeartbeat dropped", func() bool {
		last, _, _, _, _, _ := r.sink.state()
		return last[2013] == 4 || r.feed.Status().Overflow > over
	})
	if st := r.feed.Status(); st.Overflow > over {
		t.Fatalf("the new session's ChannelHeartbeat of channel 2013 was dropped as over the limit: "+
			"the ended session still holds the source's share (%d dropped, %d channels)", st.Overflow, len(st.Channels))
	}
	if c := r.channel(2013); c.Delivered != 4 || c.Rerequests == 0 {
		t.Fatalf("channel 2013: %+v", c)
	}
	if n := len(r.feed.Status().Channels); n > 10 {
		t.Fatalf("%d channels: the ended session's garbage is still in the table", n)
	}
	if _, _, _, _, _, problems := r.sink.state(); len(problems) > 0 {
		t.Fatalf("the sink saw: %v", problems)
	}
}
