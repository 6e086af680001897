package tlcp_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"sgw/tlcp"
	"sgw/tlcp/tlcptest"
)

// fixture is a CA, a server pair and a client pair.
type fixture struct {
	ca             *tlcptest.CA
	server, client tlcptest.Pair
	created        time.Time
}

func newFixture(t testing.TB) *fixture {
	ca := tlcptest.NewCA(t, "tlcp test CA")
	return &fixture{ca: ca, server: ca.Issue(t, "127.0.0.1"), client: ca.Issue(t, "client.test"), created: time.Now()}
}

func (f *fixture) serverConfig(clientAuth bool) *tlcp.Config {
	c := &tlcp.Config{SignCertificate: f.server.Sign, EncCertificate: f.server.Enc}
	if clientAuth {
		c.ClientAuth = tlcp.RequireAndVerifyClientCert
		c.ClientCAs = f.ca.Pool()
	}
	return c
}

func (f *fixture) clientConfig(suite uint16, withCerts bool) *tlcp.Config {
	c := &tlcp.Config{RootCAs: f.ca.Pool(), ServerName: "127.0.0.1"}
	if suite != 0 {
		c.CipherSuites = []uint16{suite}
	}
	if withCerts {
		c.SignCertificate, c.EncCertificate = f.client.Sign, f.client.Enc
	}
	return c
}

// serveEcho accepts TLCP connections on 127.0.0.1:0 and echoes what
// they send. Each handshake's result goes to the returned channel.
func serveEcho(t testing.TB, cfg *tlcp.Config) (string, <-chan error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	results := make(chan error, 16)
	go func() {
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c := tlcp.Server(raw, cfg)
				defer c.Close()
				err := c.Handshake()
				select {
				case results <- err:
				default:
				}
				if err != nil {
					return
				}
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String(), results
}

func dial(t testing.TB, addr string, cfg *tlcp.Config) (*tlcp.Conn, error) {
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := tlcp.Client(raw, cfg)
	if err := c.Handshake(); err != nil {
		c.Close()
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c, nil
}

func echo(t testing.TB, c io.ReadWriter, size int) {
	t.Helper()
	msg := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
	errc := make(chan error, 1)
	go func() { _, err := c.Write(msg); errc <- err }()
	got := make([]byte, size)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("echo differs")
	}
}

func TestHandshakeEverySuite(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name       string
		suite      uint16
		clientAuth bool
	}{
		{name: "ECC_SM4_GCM_SM3", suite: tlcp.ECC_SM4_GCM_SM3},
		{name: "ECC_SM4_CBC_SM3", suite: tlcp.ECC_SM4_CBC_SM3},
		{name: "ECC_SM4_GCM_SM3 client auth", suite: tlcp.ECC_SM4_GCM_SM3, clientAuth: true},
		{name: "ECC_SM4_CBC_SM3 client auth", suite: tlcp.ECC_SM4_CBC_SM3, clientAuth: true},
		{name: "ECDHE_SM4_GCM_SM3", suite: tlcp.ECDHE_SM4_GCM_SM3, clientAuth: true},
		{name: "ECDHE_SM4_CBC_SM3", suite: tlcp.ECDHE_SM4_CBC_SM3, clientAuth: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, results := serveEcho(t, f.serverConfig(tc.clientAuth))
			c, err := dial(t, addr, f.clientConfig(tc.suite, tc.clientAuth))
			if err != nil {
				t.Fatal(err)
			}
			if err := <-results; err != nil {
				t.Fatalf("server: %v", err)
			}
			st := c.ConnectionState()
			if st.CipherSuite != tc.suite || st.Version != tlcp.VersionTLCP || len(st.PeerCertificates) != 2 {
				t.Fatalf("state %+v", st)
			}
			for _, size := range []int{1, 15, 16, 17, 1000, 16384, 16385, 100_000} {
				echo(t, c, size)
			}
		})
	}
}

func TestResumption(t *testing.T) {
	f := newFixture(t)
	for _, suite := range []uint16{tlcp.ECC_SM4_GCM_SM3, tlcp.ECC_SM4_CBC_SM3} {
		t.Run(tlcp.CipherSuiteName(suite), func(t *testing.T) {
			scfg := f.serverConfig(false)
			scfg.SessionCache = tlcp.NewSessionCache(0, 0)
			addr, results := serveEcho(t, scfg)
			ccfg := f.clientConfig(suite, false)
			ccfg.SessionCache = tlcp.NewSessionCache(0, 0)
			for i, wantResume := range []bool{false, true, true} {
				c, err := dial(t, addr, ccfg)
				if err != nil {
					t.Fatal(err)
				}
				if err := <-results; err != nil {
					t.Fatal(err)
				}
				if st := c.ConnectionState(); st.DidResume != wantResume || st.CipherSuite != suite {
					t.Fatalf("connection %d: resumed %t, want %t", i, st.DidResume, wantResume)
				}
				echo(t, c, 5000)
			}
		})
	}
}

// alertOf returns the alert in err, or -1.
func alertOf(err error) int {
	var ae *tlcp.AlertError
	if errors.As(err, &ae) {
		return int(ae.Alert)
	}
	return -1
}

func TestHandshakeRefused(t *testing.T) {
	f := newFixture(t)
	other := tlcptest.NewCA(t, "other CA")
	clientOnly := f.ca.IssueClient(t, "127.0.0.1")
	for _, tc := range []struct {
		name        string
		server      *tlcp.Config
		client      *tlcp.Config
		clientAlert tlcp.Alert // the alert the client sees (sent or received)
	}{
		{
			name:        "unknown CA",
			server:      f.serverConfig(false),
			client:      &tlcp.Config{RootCAs: other.Pool(), ServerName: "127.0.0.1"},
			clientAlert: tlcp.AlertBadCertificate,
		},
		{
			name:        "wrong name",
			server:      f.serverConfig(false),
			client:      &tlcp.Config{RootCAs: f.ca.Pool(), ServerName: "elsewhere.test"},
			clientAlert: tlcp.AlertBadCertificate,
		},
		{
			// A client certificate of the server's own CA, naming the
			// server: not one for server authentication.
			name:        "server signature certificate for client authentication only",
			server:      &tlcp.Config{SignCertificate: clientOnly.Sign, EncCertificate: clientOnly.Enc},
			client:      &tlcp.Config{RootCAs: f.ca.Pool(), ServerName: "127.0.0.1"},
			clientAlert: tlcp.AlertBadCertificate,
		},
		{
			name:        "client certificate missing",
			server:      f.serverConfig(true),
			client:      f.clientConfig(tlcp.ECC_SM4_GCM_SM3, false),
			clientAlert: tlcp.AlertHandshakeFailure,
		},
		{
			name:        "ECDHE without client authentication",
			server:      f.serverConfig(false),
			client:      f.clientConfig(tlcp.ECDHE_SM4_GCM_SM3, true),
			clientAlert: tlcp.AlertHandshakeFailure,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, results := serveEcho(t, tc.server)
			_, err := dial(t, addr, tc.client)
			if alertOf(err) != int(tc.clientAlert) {
				t.Fatalf("client: %v, want alert %s", err, tc.clientAlert)
			}
			if serr := <-results; serr == nil {
				t.Fatal("server handshake succeeded")
			}
		})
	}
}

// TestTLSClientRefused: a TLS client on the TLCP stack fails at once with
// protocol_version on both sides, not at a timeout.
func TestTLSClientRefused(t *testing.T) {
	f := newFixture(t)
	addr, results := serveEcho(t, f.serverConfig(false))
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // refused before any certificate
	if err == nil {
		c.Close()
		t.Fatal("TLS handshake succeeded")
	}
	serr := <-results
	if alertOf(serr) != int(tlcp.AlertProtocolVersion) || errors.Is(serr, tlcp.ErrHandshakeTimeout) {
		t.Fatalf("server: %v", serr)
	}
}

// TestTLCPClientToTLSServer: the reverse fails cleanly too.
func TestTLCPClientToTLSServer(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	_, err := dial(t, srv.Listener.Addr().String(), f.clientConfig(0, false))
	if err == nil || errors.Is(err, tlcp.ErrHandshakeTimeout) {
		t.Fatalf("client: %v", err)
	}
}

// TestHTTP serves HTTP over TLCP and fetches through a TLCP dialer.
func TestHTTP(t *testing.T) {
	f := newFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello over "+r.URL.Path)
	})}
	go srv.Serve(tlcp.NewListener(ln, f.serverConfig(false)))
	t.Cleanup(func() { srv.Close() })

	d := &tlcp.Dialer{Config: f.clientConfig(0, false)}
	client := &http.Client{Transport: &http.Transport{DialTLSContext: d.DialContext}}
	t.Cleanup(client.CloseIdleConnections)
	for range 3 {
		resp, err := client.Get("https://" + ln.Addr().String() + "/tlcp")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "hello over /tlcp" {
			t.Fatalf("body %q", body)
		}
	}
}

// TestHandshakeContext: a silent peer does not hold a handshake past
// its context.
func TestHandshakeContext(t *testing.T) {
	f := newFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	silent := <-accepted // reads nothing, writes nothing
	defer silent.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c := tlcp.Client(raw, f.clientConfig(0, false))
	errc := make(chan error, 1)
	go func() { errc <- c.HandshakeContext(ctx) }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("handshake: %v", err)
	}
}

// lateDeadlineConn ends its context as the first flight goes out, and
// holds back a deadline in the past (the one HandshakeContext sets when
// its context ends) until release is closed: a loaded scheduler may run
// that setter after the handshake has cleared its deadlines.
type lateDeadlineConn struct {
	net.Conn
	cancel  context.CancelFunc
	once    sync.Once
	release chan struct{}
}

func (c *lateDeadlineConn) Write(b []byte) (int, error) {
	c.once.Do(c.cancel)
	return c.Conn.Write(b)
}

func (c *lateDeadlineConn) SetDeadline(t time.Time) error {
	if !t.IsZero() && t.Before(time.Now()) {
		<-c.release
	}
	return c.Conn.SetDeadline(t)
}

// TestHandshakeContextEndedDuringHandshake: a context that ends while
// the handshake runs fails it, even when the handshake reaches its end
// before the past deadline set at the context's end takes hold. Before,
// HandshakeContext returned nil, and the connection handed over as
// ready failed its first Read or Write with a timeout once that
// deadline landed (the handshake's own end had cleared its deadlines
// first), against the documented contract that a handshake clears its
// deadlines at its end.
func TestHandshakeContextEndedDuringHandshake(t *testing.T) {
	f := newFixture(t)
	addr, _ := serveEcho(t, f.serverConfig(false))
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lc := &lateDeadlineConn{Conn: raw, cancel: cancel, release: make(chan struct{})}
	c := tlcp.Client(lc, f.clientConfig(0, false))
	err = c.HandshakeContext(ctx)
	close(lc.release)
	if err == nil {
		t.Fatal("handshake reported complete though its context ended while it ran")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("handshake: %v, want context.Canceled", err)
	}
}

// TestNoResumptionPastClientCertificate: a server that requires client
// certificates does not resume a session whose client certificate has
// expired since: the full handshake checks it again and refuses it.
// Before, the session resumed for as long as the cache kept it.
func TestNoResumptionPastClientCertificate(t *testing.T) {
	f := newFixture(t)
	leaf, err := smx509.ParseCertificate(f.client.Sign.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	scfg := f.serverConfig(true)
	scfg.SessionCache = tlcp.NewSessionCache(0, 30*24*time.Hour) // outlives the certificate (a day)
	scfg.Time = func() time.Time { return time.Unix(0, clock.Load()) }
	addr, results := serveEcho(t, scfg)
	ccfg := f.clientConfig(tlcp.ECC_SM4_GCM_SM3, true)
	ccfg.SessionCache = tlcp.NewSessionCache(0, 0)
	for i, wantResume := range []bool{false, true} {
		c, err := dial(t, addr, ccfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-results; err != nil {
			t.Fatal(err)
		}
		if st := c.ConnectionState(); st.DidResume != wantResume {
			t.Fatalf("connection %d: resumed %t, want %t", i, st.DidResume, wantResume)
		}
	}
	clock.Store(leaf.NotAfter.Add(time.Hour).UnixNano())
	c, err := dial(t, addr, ccfg)
	if serr := <-results; serr == nil && err == nil && c.ConnectionState().DidResume {
		t.Fatal("a session resumed past its client certificate's expiry")
	}
}
