package tlcp_test

import (
	"bytes"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"sgw/tlcp"
)

// replayable makes cfg's randomness and clock fixed, so that a client
// fed a captured server flight makes the same ClientHello and
// pre-master secret, and the handshake replays to its end.
func (f *fixture) replayable(cfg *tlcp.Config) *tlcp.Config {
	cfg.Rand = mrand.NewChaCha8([32]byte{'t', 'l', 'c', 'p'})
	cfg.Time = func() time.Time { return f.created }
	return cfg
}

// scriptConn is a net.Conn whose peer is a script: Read returns the
// script's bytes then io.EOF, Write records. It never blocks, so a
// fuzzed handshake ends when the script does.
type scriptConn struct {
	r       *bytes.Reader
	mu      sync.Mutex
	written bytes.Buffer
}

func newScriptConn(script []byte) *scriptConn { return &scriptConn{r: bytes.NewReader(script)} }

func (c *scriptConn) Read(b []byte) (int, error) { return c.r.Read(b) }
func (c *scriptConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.written.Write(b)
}
func (c *scriptConn) Close() error                     { return nil }
func (c *scriptConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (c *scriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2} }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// recordingConn records what a real connection reads.
type recordingConn struct {
	net.Conn
	mu   sync.Mutex
	read bytes.Buffer
}

func (c *recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	c.read.Write(b[:n])
	c.mu.Unlock()
	return n, err
}

func (c *recordingConn) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.read.Bytes()...)
}

// capture runs a real handshake and a short exchange between our client
// and server, and returns what each side read: the client's frames (as
// the server read them) and the server's.
func capture(tb testing.TB, f *fixture, suite uint16, clientAuth bool) (fromClient, fromServer []byte) {
	a, b := net.Pipe()
	sc := &recordingConn{Conn: a}
	cc := &recordingConn{Conn: b}
	server := tlcp.Server(sc, f.serverConfig(clientAuth))
	client := tlcp.Client(cc, f.replayable(f.clientConfig(suite, clientAuth)))
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 5)
		_, err := io.ReadFull(server, buf)
		if err == nil {
			_, err = server.Write(buf)
		}
		server.Close()
		done <- err
	}()
	if _, err := client.Write([]byte("hello")); err != nil {
		tb.Fatal(err)
	}
	if _, err := io.ReadFull(client, make([]byte, 5)); err != nil {
		tb.Fatal(err)
	}
	// Read the server's close_notify: a pipe has no buffer, so the
	// server's Close waits for it.
	if _, err := io.Copy(io.Discard, client); err != nil {
		tb.Fatal(err)
	}
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
	client.Close()
	return sc.bytes(), cc.bytes()
}

// peerFrames returns the frames gmtls sent in the interop tests
// (testdata/peer-*.bin, written by tlcp/interop with TLCP_CAPTURE=1).
func peerFrames(tb testing.TB, pattern string) [][]byte {
	files, _ := filepath.Glob(filepath.Join("testdata", pattern))
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzServerHandshake feeds a server what a client might send: the
// handshake must end (in an error, almost always) without a panic.
func FuzzServerHandshake(f *testing.F) {
	fx := newFixture(f)
	for _, suite := range []uint16{tlcp.ECC_SM4_GCM_SM3, tlcp.ECC_SM4_CBC_SM3, tlcp.ECDHE_SM4_GCM_SM3, tlcp.ECDHE_SM4_CBC_SM3} {
		fromClient, _ := capture(f, fx, suite, true)
		f.Add(fromClient)
	}
	fromClient, _ := capture(f, fx, tlcp.ECC_SM4_CBC_SM3, false)
	f.Add(fromClient)
	for _, b := range peerFrames(f, "peer-client-*.bin") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		// Fixed randomness: an input runs the same way every time.
		for _, cfg := range []*tlcp.Config{fx.replayable(fx.serverConfig(false)), fx.replayable(fx.serverConfig(true))} {
			c := tlcp.Server(newScriptConn(script), cfg)
			if c.Handshake() == nil {
				io.Copy(io.Discard, c)
			}
		}
	})
}

// FuzzClientHandshake feeds a client what a server might send.
func FuzzClientHandshake(f *testing.F) {
	fx := newFixture(f)
	for _, suite := range []uint16{tlcp.ECC_SM4_GCM_SM3, tlcp.ECC_SM4_CBC_SM3, tlcp.ECDHE_SM4_GCM_SM3} {
		_, fromServer := capture(f, fx, suite, true)
		f.Add(fromServer)
	}
	for _, b := range peerFrames(f, "peer-server-*.bin") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		c := tlcp.Client(newScriptConn(script), fx.replayable(fx.clientConfig(0, true)))
		if c.Handshake() == nil {
			io.Copy(io.Discard, c)
		}
	})
}

// TestCapturedFlightReplays checks the premise of FuzzClientHandshake's
// seeds: a client with the captured randomness completes the handshake
// against the recorded server flight, so fuzzing starts deep.
func TestCapturedFlightReplays(t *testing.T) {
	fx := newFixture(t)
	for _, suite := range []uint16{tlcp.ECC_SM4_GCM_SM3, tlcp.ECC_SM4_CBC_SM3} {
		_, fromServer := capture(t, fx, suite, false)
		c := tlcp.Client(newScriptConn(fromServer), fx.replayable(fx.clientConfig(suite, false)))
		if err := c.Handshake(); err != nil {
			t.Fatalf("%s: %v", tlcp.CipherSuiteName(suite), err)
		}
	}
}
