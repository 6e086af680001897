package interop

import (
	"context"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/tjfoc/gmsm/gmtls"
	tjsm2 "github.com/tjfoc/gmsm/sm2"
	tjx509 "github.com/tjfoc/gmsm/x509"

	"sgw/tlcp"
	"sgw/tlcp/tlcptest"
)

// theirSuites are the suites gmtls v1.4.1 implements.
var theirSuites = []uint16{gmtls.GMTLS_SM2_WITH_SM4_SM3}

// theirCert converts one of our certificates to gmtls's.
func theirCert(c *tlcp.Certificate) gmtls.Certificate {
	k := c.PrivateKey
	return gmtls.Certificate{
		Certificate: c.Certificate,
		PrivateKey: &tjsm2.PrivateKey{
			PublicKey: tjsm2.PublicKey{Curve: tjsm2.P256Sm2(), X: new(big.Int).Set(k.X), Y: new(big.Int).Set(k.Y)},
			D:         new(big.Int).Set(k.D),
		},
	}
}

func theirPool(t *testing.T, ca *tlcptest.CA) *tjx509.CertPool {
	p := tjx509.NewCertPool()
	if !p.AppendCertsFromPEM(ca.CertPEM()) {
		t.Fatal("gmtls does not parse our CA certificate")
	}
	return p
}

// mux serves a text page and a WebSocket echo.
func mux() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.URL.Query().Get("from"))
	})
	m.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		// The handler may outlive the test (Close does not wait for
		// hijacked connections): it reports nothing to t; the client
		// sees any failure.
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("echo "), msg...)); err != nil {
				return
			}
		}
	})
	return m
}

// serve runs an HTTP server on ln.
func serve(t *testing.T, ln net.Listener) {
	srv := &http.Server{Handler: mux()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// exercise fetches a page and echoes WebSocket messages through dial,
// a TLS-like dialer.
func exercise(t *testing.T, addr string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) {
	t.Helper()
	tr := &http.Transport{DialTLSContext: dial}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	for i := range 3 {
		resp, err := client.Get("https://" + addr + "/hello?from=interop")
		if err != nil {
			t.Fatalf("GET %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "hello interop" {
			t.Fatalf("GET: body %q", body)
		}
	}
	ctx := context.Background()
	// A transport of its own: WebSocket takes the connection over.
	ws, _, err := websocket.Dial(ctx, "wss://"+addr+"/ws", &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: &http.Transport{DialTLSContext: dial}},
	})
	if err != nil {
		t.Fatalf("websocket dial: %v", err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(1 << 20)
	for _, msg := range []string{"ping", strings.Repeat("x", 70_000)} {
		if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "echo "+msg {
			t.Fatalf("websocket echo of %d bytes differs", len(msg))
		}
	}
	ws.Close(websocket.StatusNormalClosure, "")
}

func listen(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// TestTheirClientOurServer: gmtls's client against our server, with and
// without client certificates, every suite it has.
func TestTheirClientOurServer(t *testing.T) {
	ca := tlcptest.NewCA(t, "interop CA")
	server, client := ca.Issue(t, "127.0.0.1"), ca.Issue(t, "client.test")
	for _, suite := range theirSuites {
		for _, clientAuth := range []bool{false, true} {
			name := tlcp.CipherSuiteName(suite)
			if clientAuth {
				name += " client auth"
			}
			t.Run(name, func(t *testing.T) {
				cfg := &tlcp.Config{SignCertificate: server.Sign, EncCertificate: server.Enc, CipherSuites: []uint16{suite}}
				if clientAuth {
					cfg.ClientAuth, cfg.ClientCAs = tlcp.RequireAndVerifyClientCert, ca.Pool()
				}
				ln := listen(t)
				serve(t, tlcp.NewListener(ln, cfg))
				theirs := &gmtls.Config{
					GMSupport:    gmtls.NewGMSupport(),
					RootCAs:      theirPool(t, ca),
					ServerName:   "127.0.0.1",
					CipherSuites: []uint16{suite},
				}
				if clientAuth {
					theirs.Certificates = []gmtls.Certificate{theirCert(client.Sign), theirCert(client.Enc)}
				}
				exercise(t, ln.Addr().String(), func(ctx context.Context, network, addr string) (net.Conn, error) {
					return gmtls.Dial(network, addr, theirs)
				})
			})
		}
	}
}

// TestOurClientTheirServer: our client against gmtls's server.
func TestOurClientTheirServer(t *testing.T) {
	ca := tlcptest.NewCA(t, "interop CA")
	server, client := ca.Issue(t, "127.0.0.1"), ca.Issue(t, "client.test")
	for _, suite := range theirSuites {
		for _, clientAuth := range []bool{false, true} {
			name := tlcp.CipherSuiteName(suite)
			if clientAuth {
				name += " client auth"
			}
			t.Run(name, func(t *testing.T) {
				theirs := &gmtls.Config{
					GMSupport:    gmtls.NewGMSupport(),
					Certificates: []gmtls.Certificate{theirCert(server.Sign), theirCert(server.Enc)},
					CipherSuites: []uint16{suite},
				}
				if clientAuth {
					theirs.ClientAuth = gmtls.RequireAndVerifyClientCert
					theirs.ClientCAs = theirPool(t, ca)
				}
				ln := listen(t)
				serve(t, gmtls.NewListener(ln, theirs))
				ours := &tlcp.Config{RootCAs: ca.Pool(), CipherSuites: []uint16{suite}}
				if clientAuth {
					ours.SignCertificate, ours.EncCertificate = client.Sign, client.Enc
				}
				d := &tlcp.Dialer{Config: ours}
				exercise(t, ln.Addr().String(), d.DialContext)
			})
		}
	}
}

// TestTheirGCMRefused: gmtls has no GCM and no working ECDHE; our server
// refuses a client offering only ours-only suites with
// handshake_failure, and gmtls's server refuses ours in turn.
func TestOurOnlySuitesRefused(t *testing.T) {
	ca := tlcptest.NewCA(t, "interop CA")
	server := ca.Issue(t, "127.0.0.1")
	theirs := &gmtls.Config{
		GMSupport:    gmtls.NewGMSupport(),
		Certificates: []gmtls.Certificate{theirCert(server.Sign), theirCert(server.Enc)},
	}
	ln := listen(t)
	serve(t, gmtls.NewListener(ln, theirs))
	d := &tlcp.Dialer{Config: &tlcp.Config{RootCAs: ca.Pool(), CipherSuites: []uint16{tlcp.ECC_SM4_GCM_SM3}}}
	_, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
	var ae *tlcp.AlertError
	if !errors.As(err, &ae) || ae.Alert != tlcp.AlertHandshakeFailure || ae.Sent {
		t.Fatalf("dial: %v, want a received handshake_failure", err)
	}
}
