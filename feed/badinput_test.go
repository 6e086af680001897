package feed_test

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"

	"sgw/feed/soupbin"
)

// fakeSource is a SoupBinTCP server that misbehaves as a script says. Each
// connection gets the login request read, then the script's bytes.
type fakeSource struct {
	ln     net.Listener
	script func(req soupbin.LoginRequest) []byte
	wg     sync.WaitGroup
}

func newFakeSource(t *testing.T, script func(req soupbin.LoginRequest) []byte) *fakeSource {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSource{ln: ln, script: script}
	f.wg.Add(1)
	go f.serve()
	t.Cleanup(func() { ln.Close(); f.wg.Wait() })
	return f
}

func (f *fakeSource) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer c.Close()
			r, req, ok := readLogin(c)
			if !ok {
				return
			}
			if _, err := c.Write(f.script(req)); err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, r) // hold the connection until the gateway closes it
		}()
	}
}

// readLogin reads a SoupBinTCP Login Request from a gateway's source
// connection c, and returns the reader of what follows and the request;
// false if c sent anything else first.
func readLogin(c net.Conn) (*bufio.Reader, soupbin.LoginRequest, bool) {
	r := bufio.NewReader(c)
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, soupbin.LoginRequest{}, false
	}
	body := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(r, body); err != nil || len(body) == 0 || body[0] != soupbin.TypeLoginRequest {
		return nil, soupbin.LoginRequest{}, false
	}
	req, err := soupbin.ParseLoginRequest(body[1:])
	return r, req, err == nil
}

func TestBadInputFromOneSource(t *testing.T) {
	accepted := func(req soupbin.LoginRequest) []byte {
		return soupbin.AppendLoginAccepted(nil, "SIM", req.Sequence)
	}
	tests := []struct {
		name   string
		reason string // the primary's error reason the gateway must count
		script func(h *harness, req soupbin.LoginRequest) []byte
	}{
		{name: "login rejected", reason: "login_rejected", script: func(_ *harness, _ soupbin.LoginRequest) []byte {
			return soupbin.AppendLoginRejected(nil, soupbin.RejectNotAuthorized)
		}},
		{name: "zero-length packet", reason: "framing", script: func(_ *harness, req soupbin.LoginRequest) []byte {
			return append(accepted(req), 0, 0)
		}},
		{name: "oversized packet", reason: "framing", script: func(_ *harness, req soupbin.LoginRequest) []byte {
			return append(accepted(req), 0xff, 0xff, 'S', 0)
		}},
		{name: "unknown packet type", reason: "framing", script: func(_ *harness, req soupbin.LoginRequest) []byte {
			return soupbin.AppendPacket(accepted(req), 'x', []byte("??"))
		}},
		{name: "data before login", reason: "protocol", script: func(h *harness, _ soupbin.LoginRequest) []byte {
			return soupbin.AppendSequenced(nil, h.sim.Messages(1, 1)[0])
		}},
		{name: "truncated ITCH message", reason: "malformed", script: func(h *harness, req soupbin.LoginRequest) []byte {
			m := h.sim.Messages(1, 1)[0] // a system event: 12 bytes
			m[3], m[4] = byte(req.Sequence>>8), byte(req.Sequence)
			return soupbin.AppendSequenced(accepted(req), m[:len(m)-1])
		}},
		{name: "short sequenced message", reason: "malformed", script: func(_ *harness, req soupbin.LoginRequest) []byte {
			return soupbin.AppendSequenced(accepted(req), []byte{'A', 0, 1})
		}},
		{name: "sequence backwards", reason: "backwards", script: func(h *harness, req soupbin.LoginRequest) []byte {
			if req.Sequence < 3 {
				return accepted(req)
			}
			msgs := h.sim.Messages(req.Sequence-2, req.Sequence-1)
			return soupbin.AppendSequenced(soupbin.AppendSequenced(accepted(req), msgs[1]), msgs[0])
		}},
		{name: "login accepted twice", reason: "protocol", script: func(_ *harness, req soupbin.LoginRequest) []byte {
			return append(accepted(req), accepted(req)...)
		}},
		// SoupBinTCP numbers from 1: a Login Accepted at 0 would number every
		// message one below its true number, each taken for the one before.
		{name: "login accepted at sequence 0", reason: "protocol", script: func(_ *harness, _ soupbin.LoginRequest) []byte {
			return soupbin.AppendLoginAccepted(nil, "SIM", 0)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h *harness
			var ready sync.WaitGroup
			ready.Add(1)
			fake := newFakeSource(t, func(req soupbin.LoginRequest) []byte {
				ready.Wait()
				return tc.script(h, req)
			})
			h = newHarness(t, harnessOpts{primaryAddr: func(_, _ string) string { return fake.ln.Addr().String() }})
			ready.Done()
			h.step(50)
			h.caughtUp()
			h.waitFor("the bad source's error counted", func() bool {
				return sourceStatus(h.feed, "primary").Errors[tc.reason] > 0
			})
			h.step(300)
			h.caughtUp()
			if sourceStatus(h.feed, "primary").Up {
				t.Fatal("a misbehaving primary counts as up")
			}
			if !sourceStatus(h.feed, "backup").Up {
				t.Fatalf("the backup went down with the primary: %+v", h.feed.Status())
			}
		})
	}
}
