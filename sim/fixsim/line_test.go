package fixsim

import (
	"io"
	"net"
	"testing"
	"time"
)

// echoServer echoes every connection until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
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
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func TestLineFaults(t *testing.T) {
	t.Parallel()
	dialed := make(chan string, 8)
	l, err := listenLine("127.0.0.1:0", echoServer(t), func(s string) { dialed <- s }, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	l.start()
	defer l.close()

	c, err := net.Dial("tcp", l.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip := func(msg string, within time.Duration) error {
		t.Helper()
		if _, err := c.Write([]byte(msg)); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(within))
		buf := make([]byte, len(msg))
		_, err := io.ReadFull(c, buf)
		if err == nil && string(buf) != msg {
			t.Fatalf("echo %q, want %q", buf, msg)
		}
		return err
	}
	if err := roundTrip("hello", waitTimeout); err != nil {
		t.Fatal(err)
	}
	<-dialed

	// Stalled: nothing comes back, the connection stays open; unstalled,
	// what was held arrives.
	l.setStalled(true)
	if err := roundTrip("held", 100*time.Millisecond); err == nil {
		t.Fatal("echo through a stalled line")
	}
	if st := l.stats(); !st.Stalled || st.Open != 1 {
		t.Errorf("stats while stalled %+v", st)
	}
	l.setStalled(false)
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "held" {
		t.Fatalf("after unstall: %q, %v", buf, err)
	}

	// Cut: the connection is closed and new ones are refused until
	// restored.
	l.setCut(true)
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, err := c.Read(buf); err == nil {
		t.Fatal("read from a cut line succeeded")
	}
	c2, err := net.Dial("tcp", l.addr())
	if err == nil {
		c2.SetReadDeadline(time.Now().Add(waitTimeout))
		if _, err := c2.Read(buf); err == nil {
			t.Fatal("cut line carried a new connection")
		}
		c2.Close()
	}
	l.setCut(false)
	c, err = net.Dial("tcp", l.addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := roundTrip("again", waitTimeout); err != nil {
		t.Fatal(err)
	}
	if st := l.stats(); st.Accepted != 3 || st.Open != 1 || st.Cut {
		t.Errorf("stats %+v", st)
	}
}
