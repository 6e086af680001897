package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/auth"
	"sgw/gateway/mdclient"
	"sgw/netsec"
	"sgw/netsec/netsectest"
)

// liveServer is a Server served by Serve on 127.0.0.1:0, through the
// listener's gates.
type liveServer struct {
	srv   *Server
	addr  string
	reg   *prometheus.Registry
	admin string // an administrator's token
}

// serveLive serves cfg; the test route /test/remote answers the client
// address the server sees.
func serveLive(t *testing.T, cfg Config) *liveServer {
	t.Helper()
	books := newTestBooks(t, "600519.SH")
	// Anonymous viewers may see everything: the tests here are about the
	// transport, not entitlements.
	v, err := auth.New(auth.Config{Secret: strings.Repeat("k", 32), Anonymous: auth.FullEntitlements()})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Admins = []string{"ops"}
	cfg.WS.AnonymousMarketData = true
	reg := prometheus.NewRegistry()
	srv, err := New(cfg, Deps{Market: books, PublishedDepth: 20, Registry: reg, Tokens: v, Admin: &fakeAdmin{}})
	if err != nil {
		t.Fatal(err)
	}
	srv.mux.HandleFunc("GET /test/remote", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.RemoteAddr) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	<-srv.ws.started
	tok := operatorToken(t, v, "ops")
	return &liveServer{srv: srv, addr: ln.Addr().String(), reg: reg, admin: tok}
}

// dial opens a raw connection from the loopback address from.
func (s *liveServer) dial(t *testing.T, from string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(testBound))
	return c
}

// roundTrip writes a raw request on c and reads the answer, leaving the
// connection open.
func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, req string) (int, string) {
	t.Helper()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("write: %v", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// serverCloses waits for the server to close c: a read returns EOF (or a
// reset, if it closed with bytes of ours unread).
func serverCloses(t *testing.T, r io.Reader) {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("connection not closed by the server: %v", err)
	}
	if len(b) > 0 {
		t.Fatalf("unexpected bytes before the close: %q", b)
	}
}

const getHealth = "GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n"

// TestIdleKeepAliveReaped leaves a keep-alive connection idle after a
// request: the server must close it after IdleTimeout. (Before, nothing
// reaped idle connections.)
func TestIdleKeepAliveReaped(t *testing.T) {
	s := serveLive(t, Config{IdleTimeout: 200 * time.Millisecond})
	c := s.dial(t, "127.0.0.1")
	br := bufio.NewReader(c)
	if code, _ := roundTrip(t, c, br, getHealth); code != http.StatusOK {
		t.Fatalf("GET /healthz: %d", code)
	}
	serverCloses(t, br)
}

// TestSlowBodyReaped sends an admin request whose body never completes:
// the server must answer and close the connection after ReadTimeout.
// (Before, the handler waited for the body for ever.)
func TestSlowBodyReaped(t *testing.T) {
	s := serveLive(t, Config{ReadHeaderTimeout: 100 * time.Millisecond, ReadTimeout: 300 * time.Millisecond})
	c := s.dial(t, "127.0.0.1")
	br := bufio.NewReader(c)
	req := "POST /api/v1/admin/kill HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer " + s.admin +
		"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"account\":"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("slow body answered %d; want 400", resp.StatusCode)
	}
	serverCloses(t, br)
}

// TestRequestLimits checks the header and body caps.
func TestRequestLimits(t *testing.T) {
	s := serveLive(t, Config{MaxHeaderBytes: 1024, MaxBodyBytes: 8192})
	adminBody := `{"account":"` + strings.Repeat("a", 5000) + `","on":true}`
	tests := []struct {
		name string
		req  string
		code int
		want string
	}{
		{name: "headers too large", req: "GET /healthz HTTP/1.1\r\nHost: gw\r\nX-Big: " + strings.Repeat("a", 8<<10) + "\r\n\r\n", code: http.StatusRequestHeaderFieldsTooLarge},
		{name: "body declared too large", req: "POST /api/v1/admin/kill HTTP/1.1\r\nHost: gw\r\nContent-Length: 9000\r\n\r\n", code: http.StatusRequestEntityTooLarge, want: codeBodyTooLarge},
		{name: "admin body over its own cap", req: "POST /api/v1/admin/kill HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer " + s.admin +
			fmt.Sprintf("\r\nContent-Length: %d\r\n\r\n%s", len(adminBody), adminBody), code: http.StatusRequestEntityTooLarge, want: codeBodyTooLarge},
		{name: "chunked body over the cap", req: "POST /api/v1/admin/kill HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer " + s.admin +
			"\r\nTransfer-Encoding: chunked\r\n\r\n2710\r\n" + strings.Repeat(" ", 10000) + "\r\n0\r\n\r\n", code: http.StatusRequestEntityTooLarge, want: codeBodyTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := s.dial(t, "127.0.0.1")
			code, body := roundTrip(t, c, bufio.NewReader(c), tc.req)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("answer %d %s; want %d with %q", code, body, tc.code, tc.want)
			}
		})
	}
}

// TestConnectionCapPerIP opens keep-alive connections to a REST path from
// one address: the one over the cap is closed at once, other addresses
// are not affected, and a closed connection frees its place. (Before,
// only /ws had caps.)
func TestConnectionCapPerIP(t *testing.T) {
	s := serveLive(t, Config{MaxConnectionsPerIP: 2})
	const get = "GET /api/v1/instruments HTTP/1.1\r\nHost: gw\r\n\r\n"
	var open []net.Conn
	for range 2 {
		c := s.dial(t, "127.0.0.1")
		if code, _ := roundTrip(t, c, bufio.NewReader(c), get); code != http.StatusOK {
			t.Fatalf("GET: %d", code)
		}
		open = append(open, c)
	}
	over := s.dial(t, "127.0.0.1")
	_, _ = io.WriteString(over, get)
	serverCloses(t, over)
	if n := metricValue(t, s.reg, "gateway_http_connections_refused_total", `reason="max_connections_per_ip"`); n != 1 {
		t.Fatalf("refused max_connections_per_ip = %v; want 1", n)
	}
	other := s.dial(t, "127.0.0.2")
	if code, _ := roundTrip(t, other, bufio.NewReader(other), get); code != http.StatusOK {
		t.Fatalf("GET from another address: %d", code)
	}
	open[0].Close()
	waitUntil(t, func() bool { return s.srv.limited.Load().Open() == 2 })
	again := s.dial(t, "127.0.0.1")
	if code, _ := roundTrip(t, again, bufio.NewReader(again), get); code != http.StatusOK {
		t.Fatalf("GET after a close: %d", code)
	}
}

// TestProxyProtocolListener serves behind a "load balancer" at 127.0.0.1:
// its header names the client; a header from elsewhere is refused.
func TestProxyProtocolListener(t *testing.T) {
	s := serveLive(t, Config{ProxyProtocol: &netsec.ProxyConfig{Trusted: []string{"127.0.0.1/32"}}, MaxConnectionsPerIP: 1})
	client := netip.MustParseAddrPort("203.0.113.7:50123")
	front := netip.MustParseAddrPort("198.51.100.1:443")
	const get = "GET /test/remote HTTP/1.1\r\nHost: gw\r\n\r\n"
	viaLB := func(src netip.AddrPort) net.Conn {
		c := s.dial(t, "127.0.0.1")
		if _, err := c.Write(netsectest.ProxyV2(t, src, front)); err != nil {
			t.Fatal(err)
		}
		return c
	}

	c := viaLB(client)
	if code, remote := roundTrip(t, c, bufio.NewReader(c), get); code != http.StatusOK || remote != client.String() {
		t.Fatalf("through the load balancer: %d %q; want the client %s", code, remote, client)
	}
	// The cap counts the client, not the balancer: a second client
	// passes, a second connection of the first does not.
	c2 := viaLB(netip.MustParseAddrPort("203.0.113.8:1"))
	if code, _ := roundTrip(t, c2, bufio.NewReader(c2), get); code != http.StatusOK {
		t.Fatalf("second client: %d", code)
	}
	c3 := viaLB(netip.MustParseAddrPort("203.0.113.7:2"))
	serverCloses(t, c3)

	untrusted := s.dial(t, "127.0.0.2")
	_, _ = untrusted.Write(append(netsectest.ProxyV2(t, netip.MustParseAddrPort("203.0.113.9:1"), front), get...))
	serverCloses(t, untrusted)
	if n := metricValue(t, s.reg, "gateway_http_connections_refused_total", `reason="proxy_untrusted"`); n != 1 {
		t.Fatalf("refused proxy_untrusted = %v; want 1", n)
	}
	// net/http closes the refused connection, which frees its place.
	waitUntil(t, func() bool { return s.srv.limited.Load().Open() == 2 })
	direct := s.dial(t, "127.0.0.2")
	if code, remote := roundTrip(t, direct, bufio.NewReader(direct), get); code != http.StatusOK || remote != direct.LocalAddr().String() {
		t.Fatalf("direct client: %d %q; want its own address %s", code, remote, direct.LocalAddr())
	}
	lbNoHeader := s.dial(t, "127.0.0.1")
	_, _ = io.WriteString(lbNoHeader, get)
	serverCloses(t, lbNoHeader)
}

// TestWebSocketSurvivesReadTimeout keeps a WebSocket open past
// ReadTimeout: the upgrade must clear net/http's request deadline.
func TestWebSocketSurvivesReadTimeout(t *testing.T) {
	s := serveLive(t, Config{ReadHeaderTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond, IdleTimeout: 100 * time.Millisecond})
	ctx := context.Background()
	ws, _, err := mdclient.Dial(ctx, "ws://"+s.addr+"/ws", mdclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Conn().CloseNow()
	// A keep-alive connection opened after the WebSocket is reaped after
	// IdleTimeout: by then the WebSocket's request deadline has passed.
	c := s.dial(t, "127.0.0.1")
	br := bufio.NewReader(c)
	roundTrip(t, c, br, getHealth)
	serverCloses(t, br)
	if err := ws.Subscribe(ctx, "book", 5, nil, "600519.SH"); err != nil {
		t.Fatal(err)
	}
	collect(t, ws, func(m mdclient.Message) bool { return m.Type == "subscribed" })
}

// TestPlainListenerRefused checks that plain text is refused at start on
// an address that is not loopback, unless a load balancer terminates TLS
// in front.
func TestPlainListenerRefused(t *testing.T) {
	pki := netsectest.NewPKI(t, "test CA")
	srv := pki.Server("server")
	tests := []struct {
		name string
		cfg  Config
		want string // "" = accepted
	}{
		{name: "all interfaces", cfg: Config{HTTP: "0.0.0.0:8080"}, want: "gateway.http 0.0.0.0:8080 would carry plain text across a network"},
		{name: "empty host", cfg: Config{HTTP: ":8080"}, want: "gateway.tls_terminated_by"},
		{name: "a public address", cfg: Config{HTTP: "203.0.113.1:443"}, want: "plain text"},
		{name: "loopback", cfg: Config{HTTP: "127.0.0.1:8080"}},
		{name: "localhost", cfg: Config{HTTP: "localhost:8080"}},
		{name: "IPv6 loopback", cfg: Config{HTTP: "[::1]:8080"}},
		{name: "behind a TLS load balancer", cfg: Config{HTTP: "0.0.0.0:8080", TLSTerminatedBy: "slb-prod-1"}},
		{name: "TLS", cfg: Config{HTTP: "0.0.0.0:8443", TLS: &netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile}}},
		{name: "TLS and a load balancer's", cfg: Config{HTTP: "0.0.0.0:8443", TLSTerminatedBy: "slb-prod-1", TLS: &netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile}}, want: "exclusive"},
		{name: "TLS 1.1", cfg: Config{TLS: &netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile, MinVersion: "1.1"}}, want: "gateway.tls.min_version"},
		{name: "proxy protocol without load balancers", cfg: Config{ProxyProtocol: &netsec.ProxyConfig{}}, want: "gateway.proxy_protocol.trusted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, Deps{Market: newTestBooks(t, "600519.SH"), PublishedDepth: 20, Registry: prometheus.NewRegistry()})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.want != "" && (!errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("New: %v; want ErrConfig containing %q", err, tc.want)
			}
		})
	}
}

// tlsLive serves a TLS listener with a fresh PKI.
func tlsLive(t *testing.T, min string) (*liveServer, *netsectest.PKI, netsectest.Pair) {
	t.Helper()
	pki := netsectest.NewPKI(t, "test CA")
	pair := pki.Server("server")
	s := serveLive(t, Config{TLS: &netsec.ServerTLSConfig{CertFile: pair.CertFile, KeyFile: pair.KeyFile, MinVersion: min}})
	return s, pki, pair
}

// httpsClient is an HTTP client trusting pki, with TLS versions min..max.
func httpsClient(pki *netsectest.PKI, min, max uint16) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: pki.ClientConfig(min, max), ForceAttemptHTTP2: true}}
}

// TestTLSListener serves REST and /ws over TLS 1.3 and refuses older
// versions, to Go's client and to OpenSSL's.
func TestTLSListener(t *testing.T) {
	s, pki, _ := tlsLive(t, "")
	t.Run("REST over TLS 1.3, HTTP/1.1", func(t *testing.T) {
		resp, err := httpsClient(pki, 0, 0).Get("https://" + s.addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 || resp.Proto != "HTTP/1.1" {
			t.Fatalf("answer %d over %+v %s; want 200 over TLS 1.3, HTTP/1.1", resp.StatusCode, resp.TLS, resp.Proto)
		}
	})
	for _, v := range []struct {
		name     string
		min, max uint16
	}{{"TLS 1.2", tls.VersionTLS12, tls.VersionTLS12}, {"TLS 1.1", tls.VersionTLS10, tls.VersionTLS11}} {
		t.Run(v.name+" refused", func(t *testing.T) {
			_, err := httpsClient(pki, v.min, v.max).Get("https://" + s.addr + "/healthz")
			if err == nil || !strings.Contains(err.Error(), "protocol version") {
				t.Fatalf("GET over %s: %v; want a protocol version alert", v.name, err)
			}
		})
	}
	t.Run("refusals counted", func(t *testing.T) {
		waitUntil(t, func() bool {
			return metricValue(t, s.reg, "gateway_tls_handshake_failures_total", `listener="http"`) >= 2
		})
	})
	t.Run("wss", func(t *testing.T) {
		ctx := context.Background()
		ws, _, err := mdclient.Dial(ctx, "wss://"+s.addr+"/ws", mdclient.Options{HTTPClient: httpsClient(pki, 0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Conn().CloseNow()
		if err := ws.Subscribe(ctx, "book", 5, nil, "600519.SH"); err != nil {
			t.Fatal(err)
		}
		collect(t, ws, func(m mdclient.Message) bool { return m.Type == "subscribed" })
	})
	t.Run("openssl s_client", func(t *testing.T) {
		old := []string{"-cipher", "DEFAULT@SECLEVEL=0"} // or OpenSSL 3 will not offer TLS 1.1 itself
		for _, tc := range []struct {
			args []string
			ok   bool
		}{{[]string{"-tls1_3"}, true}, {[]string{"-tls1_2"}, false}, {append([]string{"-tls1_1"}, old...), false}} {
			r := netsectest.SClient(t, s.addr, pki.CAFile, tc.args...)
			switch {
			case tc.ok && (!r.OK || r.Protocol() != "TLSv1.3"):
				t.Errorf("openssl %s: refused or not TLS 1.3:\n%s", tc.args[0], r.Output)
			case !tc.ok && (r.OK || !strings.Contains(r.Output, "alert protocol version")):
				t.Errorf("openssl %s: not refused by the server:\n%s", tc.args[0], r.Output)
			}
		}
	})
}

// TestTLSReloadUnderWebSocket replaces the listener's certificate while a
// WebSocket is open: it keeps working, and new connections get the new
// certificate.
func TestTLSReloadUnderWebSocket(t *testing.T) {
	s, pki, pair := tlsLive(t, "")
	ctx := context.Background()
	ws, _, err := mdclient.Dial(ctx, "wss://"+s.addr+"/ws", mdclient.Options{HTTPClient: httpsClient(pki, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Conn().CloseNow()
	renewed, err := pki.CA.Issue(netsec.LocalhostLeaf())
	if err != nil {
		t.Fatal(err)
	}
	pki.Write(netsectest.Pair{Issued: renewed}, pair.CertFile, pair.KeyFile)
	if err := s.srv.tls.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := ws.Subscribe(ctx, "book", 5, nil, "600519.SH"); err != nil {
		t.Fatal(err)
	}
	collect(t, ws, func(m mdclient.Message) bool { return m.Type == "subscribed" })
	resp, err := httpsClient(pki, 0, 0).Get("https://" + s.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.TLS.PeerCertificates[0].Raw; !bytes.Equal(got, renewed.Certificate.Leaf.Raw) {
		t.Fatal("a new connection after the reload did not get the renewed certificate")
	}
	if v := metricValue(t, s.reg, "gateway_tls_certificate_expiry_timestamp_seconds", `listener="http"`); v != float64(renewed.Certificate.Leaf.NotAfter.Unix()) {
		t.Fatalf("expiry metric %v; want %d", v, renewed.Certificate.Leaf.NotAfter.Unix())
	}
}

// TestMutualTLSListener asks clients for certificates: one without is
// refused.
func TestMutualTLSListener(t *testing.T) {
	pki := netsectest.NewPKI(t, "test CA")
	pair := pki.Server("server")
	client := pki.Client("client", "desk-1")
	s := serveLive(t, Config{TLS: &netsec.ServerTLSConfig{CertFile: pair.CertFile, KeyFile: pair.KeyFile, ClientCAFile: pki.CAFile}})
	if _, err := httpsClient(pki, 0, 0).Get("https://" + s.addr + "/healthz"); err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Fatalf("GET without a client certificate: %v; want refused", err)
	}
	hc := httpsClient(pki, 0, 0)
	hc.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{client.Certificate}
	resp, err := hc.Get("https://" + s.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with a client certificate: %d", resp.StatusCode)
	}
}
