package broker

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/config"

	"sgw/netsec"
	"sgw/netsec/netsectest"
)

// brokerTLS is the QuickFIX/Go settings of a broker engine connecting over
// TLS, trusting pki, presenting client (if not nil).
func brokerTLS(pki *netsectest.PKI, client *netsectest.Pair) map[string]string {
	s := map[string]string{
		config.SocketUseSSL:     "Y",
		config.SocketCAFile:     pki.CAFile,
		config.SocketServerName: "localhost",
	}
	if client != nil {
		s[config.SocketCertificateFile] = client.CertFile
		s[config.SocketPrivateKeyFile] = client.KeyFile
	}
	return s
}

// TestMutualTLSSessions serves two sessions over mutual TLS, each mapped
// to its broker's certificate: the right certificate logs on and trades;
// another session's certificate is refused before quickfix sees the Logon
// (the session's sequence numbers stay); no certificate, or one of
// another CA, fails the handshake.
func TestMutualTLSSessions(t *testing.T) {
	pki := netsectest.NewPKI(t, "broker CA")
	srv := pki.Server("server")
	certA := pki.Client("broker-a", "broker-a.example")
	certB := pki.Client("broker-b", "broker-b.example")
	stranger := netsectest.NewPKI(t, "another CA").Client("stranger", "broker-a.example")
	spkiB := netsec.SPKIFingerprint(certB.Certificate.Leaf)
	r := runAcceptor(t, func(c *Config) {
		c.TLS = &netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile, ClientCAFile: pki.CAFile}
		c.Sessions[0].ClientCertCN = "broker-a.example"
		c.Sessions = append(c.Sessions, SessionConfig{SenderCompID: c.Sessions[0].SenderCompID, TargetCompID: c.Sessions[0].TargetCompID + "B",
			Password: "right", Accounts: []string{"B1"}, ClientCertSPKI: hex.EncodeToString(spkiB[:])})
	})

	t.Run("another session's certificate", func(t *testing.T) {
		b := dialTestBrokerWith(t, r, r.a.Addr(), "right", brokerTLS(pki, &certB))
		if text := b.waitLogout(); text != textCertificate {
			t.Fatalf("Logout %q; want %q", text, textCertificate)
		}
		b.stop()
		r.waitMetric(t, "gateway_broker_logon_rejects_total", reasonCertificate, 1)
		sender, err1 := quickfix.GetExpectedSenderNum(r.sid())
		target, err2 := quickfix.GetExpectedTargetNum(r.sid())
		if err1 != nil || err2 != nil || sender != 1 || target != 1 {
			t.Fatalf("after the refusal the session expects to send %d and receive %d (%v %v); want 1 and 1", sender, target, err1, err2)
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		before := r.metric(t, "gateway_broker_logon_rejects_total", reasonTLS)
		b := dialTestBrokerWith(t, r, r.a.Addr(), "right", brokerTLS(pki, nil))
		// The engine tries again every reconnect interval: each
		// attempt fails its handshake and counts.
		r.waitMetricAtLeast(t, "gateway_broker_logon_rejects_total", reasonTLS, before+1)
		b.stop()
	})
	t.Run("certificate of another CA", func(t *testing.T) {
		before := r.metric(t, "gateway_broker_logon_rejects_total", reasonTLS)
		b := dialTestBrokerWith(t, r, r.a.Addr(), "right", brokerTLS(pki, &stranger))
		// The engine tries again every reconnect interval: each
		// attempt fails its handshake and counts.
		r.waitMetricAtLeast(t, "gateway_broker_logon_rejects_total", reasonTLS, before+1)
		b.stop()
	})
	t.Run("the session's certificate", func(t *testing.T) {
		b := dialTestBrokerWith(t, r, r.a.Addr(), "right", brokerTLS(pki, &certA))
		b.waitLogon()
		b.trade(r, "t1")
	})
}

// TestTLSVersions checks the acceptor's TLS versions with Go clients: 1.3
// by default, 1.2 refused.
func TestTLSVersions(t *testing.T) {
	pki := netsectest.NewPKI(t, "broker CA")
	srv := pki.Server("server")
	r := runAcceptor(t, func(c *Config) {
		c.TLS = &netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile}
	})
	c, err := tls13Dial(r.a.Addr(), pki, 0)
	if err != nil {
		t.Fatalf("TLS 1.3: %v", err)
	}
	c.Close()
	if _, err := tls13Dial(r.a.Addr(), pki, 0x0303); err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Fatalf("TLS 1.2: %v; want a protocol version alert", err)
	}
	r.waitMetric(t, "gateway_broker_logon_rejects_total", reasonTLS, 1)
}

// tls13Dial handshakes with addr, TLS at most max (0: Go's default).
func tls13Dial(addr string, pki *netsectest.PKI, max uint16) (net.Conn, error) {
	return tlsDial(addr, pki.ClientConfig(0, max))
}

// TestProxyProtocolBrokers puts a load balancer (127.0.0.1, trusted) in
// front of the acceptor: the session's allowed addresses are checked
// against the broker's address from the PROXY header; a header from a peer
// that is not a load balancer is refused.
func TestProxyProtocolBrokers(t *testing.T) {
	r := runAcceptor(t, func(c *Config) {
		c.ProxyProtocol = &netsec.ProxyConfig{Trusted: []string{"127.0.0.1"}}
		c.Sessions[0].AllowedAddrs = []string{"203.0.113.7", "127.0.0.2"}
	})
	t.Run("an allowed broker behind the balancer", func(t *testing.T) {
		b := dialTestBroker(t, r, loadBalancer(t, r.a.Addr(), "203.0.113.7:40000"), "right")
		b.waitLogon()
		b.trade(r, "p1")
		b.stop()
	})
	t.Run("another address behind the balancer", func(t *testing.T) {
		b := dialTestBroker(t, r, loadBalancer(t, r.a.Addr(), "203.0.113.99:40000"), "right")
		r.waitMetric(t, "gateway_broker_logon_rejects_total", ReasonAddress, 1)
		b.stop()
	})
	t.Run("a header from a peer that is not a balancer", func(t *testing.T) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
		c, err := d.Dial("tcp", r.a.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		h := netsectest.ProxyV2(t, netip.MustParseAddrPort("203.0.113.7:1"), netip.MustParseAddrPort("198.51.100.1:9878"))
		if _, err := c.Write(h); err != nil {
			t.Fatal(err)
		}
		r.waitMetric(t, "gateway_broker_logon_rejects_total", ReasonProxy, 1)
		if _, err := io.ReadAll(c); err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
			t.Fatalf("connection not closed: %v", err)
		}
	})
}

// loadBalancer is a layer-4 balancer on 127.0.0.1:0 relaying to target,
// announcing every connection as coming from client with a PROXY v2
// header.
func loadBalancer(t *testing.T, target, client string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); ln.Close() })
	header := netsectest.ProxyV2(t, netip.MustParseAddrPort(client), netip.MustParseAddrPort(ln.Addr().String()))
	go func() {
		for {
			front, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer front.Close()
				var d net.Dialer
				back, err := d.DialContext(ctx, "tcp", target)
				if err != nil {
					return
				}
				defer back.Close()
				if _, err := back.Write(header); err != nil {
					return
				}
				go func() { _, _ = io.Copy(back, front); back.Close() }()
				_, _ = io.Copy(front, back)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestTransportConfig checks the acceptor's transport settings.
func TestTransportConfig(t *testing.T) {
	pki := netsectest.NewPKI(t, "broker CA")
	srv := pki.Server("server")
	mutual := &netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile, ClientCAFile: pki.CAFile}
	session := func(edit func(*SessionConfig)) []SessionConfig {
		s := SessionConfig{TargetCompID: "B1", Password: "p", Accounts: []string{"A1"}}
		if edit != nil {
			edit(&s)
		}
		return []SessionConfig{s}
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{name: "plain on all interfaces", cfg: Config{Listen: "0.0.0.0:9878", Sessions: session(nil)}, want: "brokers.tls_terminated_by"},
		{name: "plain behind a TLS terminator", cfg: Config{Listen: "0.0.0.0:9878", TLSTerminatedBy: "f5-fix-1", Sessions: session(nil)}},
		{name: "TLS on all interfaces", cfg: Config{Listen: "0.0.0.0:9878", TLS: &netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile}, Sessions: session(nil)}},
		{name: "TLS 1.1", cfg: Config{TLS: &netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile, MinVersion: "1.1"}, Sessions: session(nil)}, want: "brokers.tls.min_version"},
		{name: "mutual TLS, session without a certificate", cfg: Config{TLS: mutual, Sessions: session(nil)}, want: "each session names its broker's certificate"},
		{name: "mutual TLS, CN", cfg: Config{TLS: mutual, Sessions: session(func(s *SessionConfig) { s.ClientCertCN = "b1" })}},
		{name: "mutual TLS, bad fingerprint", cfg: Config{TLS: mutual, Sessions: session(func(s *SessionConfig) { s.ClientCertSPKI = "abcd" })}, want: "sessions[0].client_cert_spki_sha256"},
		{name: "certificate without mutual TLS", cfg: Config{Sessions: session(func(s *SessionConfig) { s.ClientCertCN = "b1" })}, want: "need mutual TLS"},
		{name: "proxy protocol without balancers", cfg: Config{ProxyProtocol: &netsec.ProxyConfig{}, Sessions: session(nil)}, want: "brokers.proxy_protocol.trusted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.StoreDir = t.TempDir()
			_, _, err := tc.cfg.withDefaults()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("withDefaults: %v", err)
			case tc.want != "" && (!errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("withDefaults: %v; want ErrConfig containing %q", err, tc.want)
			}
		})
	}
}

// tlsDial handshakes with addr under cfg (server name localhost).
func tlsDial(addr string, cfg *tls.Config) (net.Conn, error) {
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	return c, nil
}
