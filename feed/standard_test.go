package feed_test

import (
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"

	"sgw/feed"
	"sgw/feed/soupbin"
)

// trackingScrambler proxies a SoupBinTCP session and gives every ITCH
// message a random Tracking Number, as a standard feed that follows no
// profile may: the field means nothing to SoupBinTCP sequencing.
type trackingScrambler struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
}

func newTrackingScrambler(t *testing.T, target string) *trackingScrambler {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &trackingScrambler{ln: ln, target: target}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *trackingScrambler) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", s.target)
		if err != nil {
			c.Close()
			continue
		}
		s.wg.Add(2)
		go func() { defer s.wg.Done(); io.Copy(up, c); up.Close() }()
		go func() { defer s.wg.Done(); scramble(c, up); c.Close() }()
	}
}

// scramble copies packets from src to dst, rewriting the tracking number
// of each sequenced message.
func scramble(dst io.Writer, src io.Reader) {
	rng := rand.New(rand.NewPCG(1, 2))
	var hdr [2]byte
	for {
		if _, err := io.ReadFull(src, hdr[:]); err != nil {
			return
		}
		pkt := make([]byte, 2+binary.BigEndian.Uint16(hdr[:]))
		copy(pkt, hdr[:])
		if _, err := io.ReadFull(src, pkt[2:]); err != nil {
			return
		}
		if len(pkt) >= 3+5 && pkt[2] == soupbin.TypeSequenced {
			binary.BigEndian.PutUint16(pkt[3+3:], uint16(rng.Uint32()))
		}
		if _, err := dst.Write(pkt); err != nil {
			return
		}
	}
}

// TestStandardITCHTrackingNumbers: a standard ITCH feed whose Tracking
// Numbers follow no profile delivers every message once, in order, into
// books equal to the record. (With the simulator's profile switched on,
// the same stream would be refused message after message: it delivered
// nothing, the defect this replaced.)
func TestStandardITCHTrackingNumbers(t *testing.T) {
	var scramblers []*trackingScrambler
	h := newHarness(t, harnessOpts{
		primaryAddr: func(p, _ string) string {
			sc := newTrackingScrambler(t, p)
			scramblers = append(scramblers, sc)
			return sc.ln.Addr().String()
		},
		backupAddr: func(_, b string) string {
			sc := newTrackingScrambler(t, b)
			scramblers = append(scramblers, sc)
			return sc.ln.Addr().String()
		},
		tune: func(c *feed.Config) { c.TrackingProfile = false },
	})
	h.step(2000)
	h.caughtUp()
	for _, src := range []string{"primary", "backup"} {
		if st := sourceStatus(h.feed, src); len(st.Errors) != 0 {
			t.Errorf("%s: errors %v", src, st.Errors)
		}
	}
}

// TestSourceAddressValidated: an address whose port is missing or not a
// port is a configuration error naming the source.
func TestSourceAddressValidated(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:", "127.0.0.1:x", "127.0.0.1:70000", "127.0.0.1"} {
		_, err := feed.New(feed.Config{Name: "cn", Primary: feed.SourceConfig{Addr: addr}}, nil, nil)
		if err == nil || !errors.Is(err, feed.ErrConfig) {
			t.Errorf("primary addr %q: %v, want ErrConfig", addr, err)
		}
	}
}
