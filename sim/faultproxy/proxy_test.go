package faultproxy

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// echoServer echoes lines back.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn, r *bufio.Reader, wait time.Duration) (string, error) {
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	c.SetReadDeadline(time.Now().Add(wait))
	return r.ReadString('\n')
}

func TestProxy(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if got, err := roundTrip(c, r, 5*time.Second); err != nil || got != "ping\n" {
		t.Fatalf("forwarding: %q, %v", got, err)
	}
	waitBytesUp(t, p, 5)

	p.Stall()
	if got, err := roundTrip(c, r, 200*time.Millisecond); err == nil {
		t.Fatalf("stalled proxy forwarded %q", got)
	}
	p.Unstall()
	// The held ping arrives.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "ping\n" {
		t.Fatalf("after unstall: %q, %v", got, err)
	}

	waitBytesUp(t, p, 10) // two pings
	p.Cut()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("cut connection still open")
	}
	c.Write([]byte("lost\n")) // to a closed connection: never relayed
	c2, err := net.Dial("tcp", p.Addr())
	if err == nil {
		c2.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c2.Read(make([]byte, 1)); err == nil {
			t.Fatal("cut proxy accepted a working connection")
		}
		c2.Close()
	}
	if n := p.BytesUp(); n != 10 {
		t.Fatalf("BytesUp after the cut = %d, want 10", n)
	}
	p.Restore()
	c3, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if got, err := roundTrip(c3, bufio.NewReader(c3), 5*time.Second); err != nil || got != "ping\n" {
		t.Fatalf("after restore: %q, %v", got, err)
	}
	waitBytesUp(t, p, 15)
}

// waitBytesUp waits until p's BytesUp is want, failing if it exceeds it.
// The echo's answer may overtake the proxy's count of the bytes it
// echoes, and nothing notifies a count: this polls it, bounded.
func waitBytesUp(t *testing.T, p *Proxy, want uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := p.BytesUp()
		if n == want {
			return
		}
		if n > want || time.Now().After(deadline) {
			t.Fatalf("BytesUp = %d, want %d", n, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// splitLines is a Split whose frames are lines.
func splitLines(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i + 1
		}
	}
	return 0
}

// TestDropOnce loses one chosen line each way through a framed proxy in
// front of an echo server, even when it comes in pieces, and forwards
// every other line whole; a watched line is forwarded and told.
func TestDropOnce(t *testing.T) {
	p, err := NewFramed(echoServer(t), splitLines)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	upLost := p.DropOnce(Up, func(f []byte) bool { return string(f) == "b\n" })
	downLost := p.DropOnce(Down, func(f []byte) bool { return string(f) == "c\n" })
	// Watched going up, then lost coming back.
	upSeen := p.WatchOnce(Up, func(f []byte) bool { return string(f) == "c\n" })
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for _, piece := range []string{"a\nb", "\nc\n", "b\n", "c\nd\n"} {
		if _, err := c.Write([]byte(piece)); err != nil {
			t.Fatal(err)
		}
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, want := range []string{"a\n", "b\n", "c\n", "d\n"} { // the first b went, and the first c came back
		if got, err := r.ReadString('\n'); err != nil || got != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	for name, ch := range map[string]<-chan []byte{"up": upLost, "down": downLost, "watched": upSeen} {
		select {
		case f := <-ch:
			if want := map[string]string{"up": "b\n", "down": "c\n", "watched": "c\n"}[name]; string(f) != want {
				t.Errorf("%s dropped %q, want %q", name, f, want)
			}
		default:
			t.Errorf("%s: no frame reported dropped", name)
		}
	}
}

// TestForgetRules: rules forgotten lose nothing.
func TestForgetRules(t *testing.T) {
	p, err := NewFramed(echoServer(t), splitLines)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	lost := p.DropOnce(Up, func(f []byte) bool { return string(f) == "a\n" })
	p.ForgetRules()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("a\nb\n")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, want := range []string{"a\n", "b\n"} {
		if got, err := r.ReadString('\n'); err != nil || got != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	select {
	case f := <-lost:
		t.Fatalf("a forgotten rule dropped %q", f)
	default:
	}
}
