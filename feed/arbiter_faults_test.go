package feed_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sgw/feed"
	"sgw/feed/soupbin"
)

// scriptSink records the tag of every system event message applied.
type scriptSink struct {
	mu       sync.Mutex
	tags     []uint64
	restarts int
	rebuilt  int
}

func (s *scriptSink) Apply(msg []byte, _ int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b [8]byte
	copy(b[2:], msg[5:11])
	s.tags = append(s.tags, binary.BigEndian.Uint64(b[:]))
	return nil
}
func (s *scriptSink) Restart() error {
	s.mu.Lock()
	s.restarts++
	s.tags = nil
	s.mu.Unlock()
	return nil
}
func (s *scriptSink) Rebuilt() error { s.mu.Lock(); s.rebuilt++; s.mu.Unlock(); return nil }
func (s *scriptSink) snapshot() ([]uint64, int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint64(nil), s.tags...), s.restarts, s.rebuilt
}

// sysEvent is a 12-byte ITCH System Event whose timestamp carries tag.
func sysEvent(tag uint64) []byte {
	m := make([]byte, 12)
	m[0] = 'S'
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], tag)
	copy(m[5:11], b[2:])
	m[11] = 'O'
	return m
}

// scriptServer is a SoupBinTCP server: each connection's login is read,
// then script(conn number from 0, request, conn) writes what it likes; the
// connection is held open until the script returns and the gateway closes it.
type scriptServer struct {
	ln     net.Listener
	n      atomic.Int32
	script func(i int, req soupbin.LoginRequest, c net.Conn)
	wg     sync.WaitGroup
	done   chan struct{}
}

func newScriptServer(t *testing.T, script func(i int, req soupbin.LoginRequest, c net.Conn)) *scriptServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptServer{ln: ln, script: script, done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			i := int(s.n.Add(1) - 1)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				go func() { <-s.done; c.Close() }()
				r, req, ok := readLogin(c)
				if !ok {
					return
				}
				go func() { _, _ = io.Copy(io.Discard, r) }()
				s.script(i, req, c)
			}()
		}
	}()
	t.Cleanup(func() { close(s.done); ln.Close(); s.wg.Wait() })
	return s
}

func (s *scriptServer) addr() string { return s.ln.Addr().String() }

func runScriptFeed(t *testing.T, primary, backup string, sink *scriptSink) *feed.Feed {
	t.Helper()
	cfg := feed.Config{
		Name:              "hunt",
		Primary:           feed.SourceConfig{Addr: primary},
		Backup:            feed.SourceConfig{Addr: backup},
		HeartbeatTimeout:  time.Second,
		HeartbeatInterval: 200 * time.Millisecond,
		ReconnectMin:      20 * time.Millisecond,
		ReconnectMax:      100 * time.Millisecond,
		CheckInterval:     10 * time.Millisecond,
		RecoveryTimeout:   300 * time.Millisecond,
	}
	f, err := feed.New(cfg, sink, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

// heartbeats sends Server Heartbeats every 100 ms (a source's pace) until
// the connection fails.
func heartbeats(c net.Conn) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if _, err := c.Write(soupbin.AppendServerHeartbeat(nil)); err != nil {
			return
		}
		<-t.C
	}
}

// TestHeartbeatOnlySourceIsStalled: the backup logs in and then sends
// only heartbeats; the primary delivers 1..5, drops, and on its next login
// can serve only from 9. Before, the backup, live and at 6, was taken to
// be lagging for ever: no re-request, no loss, the books frozen and not
// stale. Now a source that brings nothing while a gap is open is stalled
// after the recovery time (and the re-request patience): the gap is
// re-requested, declared lost and the books rebuilt. Found by a helper's
// hunt.
func TestHeartbeatOnlySourceIsStalled(t *testing.T) {
	primary := newScriptServer(t, func(i int, req soupbin.LoginRequest, c net.Conn) {
		var b []byte
		first := uint64(1)
		last := uint64(5)
		if i > 0 { // cannot replay 6..8
			first, last = 9, 12
		}
		if req.Sequence > first && i == 0 {
			first = req.Sequence
		}
		b = soupbin.AppendLoginAccepted(b, "S1", first)
		for seq := first; seq <= last; seq++ {
			b = soupbin.AppendSequenced(b, sysEvent(seq))
		}
		if _, err := c.Write(b); err != nil {
			return
		}
		if i == 0 {
			return // the connection drops after 5
		}
		heartbeats(c)
	})
	backup := newScriptServer(t, func(_ int, req soupbin.LoginRequest, c net.Conn) {
		if _, err := c.Write(soupbin.AppendLoginAccepted(nil, "S1", req.Sequence)); err != nil {
			return
		}
		heartbeats(c) // alive, but its stream never moves
	})
	sink := &scriptSink{}
	f := runScriptFeed(t, primary.addr(), backup.addr(), sink)
	waitUntil(t, "the gap 6..8 declared lost and the books rebuilt", func() bool {
		st := f.Status()
		return st.Lost > 0 && st.Rebuilds > 0
	})
}

// TestSingleSourceDivergenceRebuilds: a feed with no backup; its primary
// delivers 1..5, drops, and logs in again, in the same session, replaying
// 3.. with other messages (a server that lost its journal). The divergence makes the books stale;
// before, the rebuild waited for ever for a backup that does not exist.
// Now it rebuilds from the primary, logging in again from 1, and the
// books are valid once it has caught up. Found by a helper's hunt.
func TestSingleSourceDivergenceRebuilds(t *testing.T) {
	primary := newScriptServer(t, func(i int, req soupbin.LoginRequest, c net.Conn) {
		base, first, last := uint64(1000), req.Sequence, uint64(5)
		if i > 0 { // other messages: 1..20, whatever was asked
			base, last = 2000, 20
			if req.Sequence > 1 {
				first = 3 // a server that replays below the request
			}
		}
		b := soupbin.AppendLoginAccepted(nil, "S1", first)
		for seq := first; seq <= last; seq++ {
			b = soupbin.AppendSequenced(b, sysEvent(base+seq))
		}
		if _, err := c.Write(b); err != nil {
			return
		}
		if i == 0 {
			return // the connection drops
		}
		heartbeats(c)
	})
	sink := &scriptSink{}
	f := runScriptFeed(t, primary.addr(), "", sink)
	waitUntil(t, "the divergence rebuilt from the primary alone", func() bool {
		st := f.Status()
		_, _, rebuilt := sink.snapshot()
		return st.Diverged > 0 && !st.Stale && st.Next == 21 && rebuilt > 0
	})
}

// sessionServer serves session sess of messages first..last tagged
// base+seq at each login (from the sequence asked, or from 1), then
// heartbeats; the first connection of a server with drop set drops after
// its messages.
func sessionServer(t *testing.T, drop bool, serve func(i int) (sess string, base, last uint64)) *scriptServer {
	return newScriptServer(t, func(i int, req soupbin.LoginRequest, c net.Conn) {
		sess, base, last := serve(i)
		first := max(req.Sequence, 1)
		b := soupbin.AppendLoginAccepted(nil, sess, first)
		for seq := first; seq <= last; seq++ {
			b = soupbin.AppendSequenced(b, sysEvent(base+seq))
		}
		if _, err := c.Write(b); err != nil {
			return
		}
		if drop && i == 0 {
			return
		}
		heartbeats(c)
	})
}

// TestSessionChangeRebuilds: the only source serves session S1 1..5 and
// drops; when it logs in again from 6, its server has begun session S2.
// Before, S2's 6.. were applied on top of S1's book, never stale. Now the
// stream switches to S2: the books are rebuilt from S2's sequence 1 (the
// source logs in again from 1). Found by a helper's hunt.
func TestSessionChangeRebuilds(t *testing.T) {
	primary := sessionServer(t, true, func(i int) (string, uint64, uint64) {
		if i == 0 {
			return "S1", 1000, 5
		}
		return "S2", 2000, 10
	})
	sink := &scriptSink{}
	f := runScriptFeed(t, primary.addr(), "", sink)
	waitUntil(t, "S2's 1..10 delivered", func() bool {
		tags, _, _ := sink.snapshot()
		return f.Next() == 11 && len(tags) > 0 && tags[len(tags)-1] == 2010
	})
	tags, restarts, _ := sink.snapshot()
	want := []uint64{2001, 2002, 2003, 2004, 2005, 2006, 2007, 2008, 2009, 2010}
	if restarts != 1 || !slices.Equal(tags, want) || f.Status().Stale {
		t.Fatalf("restarts %d, applied since %v, stale %v; want one restart, then S2's 1..10", restarts, tags, f.Status().Stale)
	}
}

// TestSessionMismatchRefused: the backup logs into another session than
// the one the primary streams (a relay left on yesterday's). It is
// refused, counted, and the books go on from the primary, untouched.
func TestSessionMismatchRefused(t *testing.T) {
	primary := sessionServer(t, false, func(int) (string, uint64, uint64) { return "S1", 1000, 5 })
	primaryUp := make(chan struct{})
	backup := sessionServer(t, false, func(int) (string, uint64, uint64) {
		<-primaryUp // the primary's session is the stream's
		return "S0", 9000, 8
	})
	sink := &scriptSink{}
	f := runScriptFeed(t, primary.addr(), backup.addr(), sink)
	waitUntil(t, "S1's 1..5", func() bool { return f.Next() == 6 })
	close(primaryUp)
	waitUntil(t, "the backup refused twice", func() bool {
		for _, src := range f.Status().Sources {
			if src.Name == "backup" && src.Errors["session_mismatch"] >= 2 {
				return true
			}
		}
		return false
	})
	tags, restarts, _ := sink.snapshot()
	if st := f.Status(); st.Stale || st.Rebuilds != 0 || st.Next != 6 || restarts != 0 || len(tags) != 5 {
		t.Fatalf("status %+v, applied %v: the books changed for a source of another session", st, tags)
	}
}
