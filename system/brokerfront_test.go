package system

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"

	"sgw/netsec"
)

// TestBrokerFrontRoutes checks the clustered broker listener: on a node
// that follows, a connection is relayed to the leader's broker listener
// behind a PROXY v2 header naming the broker, bytes flow both ways and
// the leader's close reaches the broker; once a term opens on the node,
// connections go to its acceptor's listener, and after the acceptor closed
// it, to the leader again.
func TestBrokerFrontRoutes(t *testing.T) {
	leaderLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer leaderLn.Close()
	var leader atomic.Value
	leader.Store("n2")
	f, err := newBrokerFront("127.0.0.1:0", nil, map[string]string{"n2": leaderLn.Addr().String()}, "n1",
		func() string { return leader.Load().(string) }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()

	// Relayed: header, then the broker's bytes; the leader's answer back.
	broker, err := net.Dial("tcp", f.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	if _, err := broker.Write([]byte("8=FIX.4.4|logon\n")); err != nil {
		t.Fatal(err)
	}
	up, err := leaderLn.Accept()
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(up)
	hdr := make([]byte, netsec.ProxyHeaderLen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		t.Fatal(err)
	}
	rest := make([]byte, int(hdr[14])<<8|int(hdr[15]))
	if _, err := io.ReadFull(r, rest); err != nil {
		t.Fatal(err)
	}
	h, n, err := netsec.ParseProxyHeader(append(hdr, rest...))
	if err != nil || n == 0 {
		t.Fatalf("header: n %d, err %v", n, err)
	}
	if h.Source.String() != broker.LocalAddr().String() || h.Destination.String() != f.Addr() {
		t.Errorf("header names %v -> %v; want the broker %v -> the front %v", h.Source, h.Destination, broker.LocalAddr(), f.Addr())
	}
	if line, err := r.ReadString('\n'); err != nil || line != "8=FIX.4.4|logon\n" {
		t.Fatalf("the leader read %q, %v", line, err)
	}
	if _, err := up.Write([]byte("answer\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(broker)
	if line, err := br.ReadString('\n'); err != nil || line != "answer\n" {
		t.Fatalf("the broker read %q, %v", line, err)
	}
	up.Close()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after the leader closed, the broker's read = %v, want EOF", err)
	}

	// A term here: its acceptor gets the connection.
	leader.Store("n1")
	term := f.open()
	c2, err := net.Dial("tcp", f.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	got, err := term.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if got.RemoteAddr().String() != c2.LocalAddr().String() {
		t.Errorf("the term's acceptor got %v, want %v", got.RemoteAddr(), c2.LocalAddr())
	}
	got.Close()
	// The term ended (its acceptor closed the listener), another leads.
	term.Close()
	if _, err := term.Accept(); err == nil {
		t.Fatal("Accept after Close")
	}
	leader.Store("n2")
	c3, err := net.Dial("tcp", f.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	up3, err := leaderLn.Accept()
	if err != nil {
		t.Fatal(err)
	}
	up3.Close()
}
