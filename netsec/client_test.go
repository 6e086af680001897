package netsec_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"sgw/netsec"
	"sgw/tlcp"
)

// TestClientSecurity: one builder for a client's tls or tlcp section;
// its handshake secures a connection with the one configured and names
// the protocol when it fails.
func TestClientSecurity(t *testing.T) {
	ca, err := netsec.NewSM2CA("client test SM2 CA")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ca.IssueTLCP(netsec.LocalhostLeaf())
	if err != nil {
		t.Fatal(err)
	}
	other, err := netsec.NewSM2CA("another SM2 CA")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	srv := &tlcp.Config{SignCertificate: pair.Sign, EncCertificate: pair.Enc}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := tlcp.Server(c, srv)
				if sc.Handshake() == nil {
					_, _ = sc.Write([]byte("hi"))
				}
			}()
		}
	}()
	addr := ln.Addr().String()

	t.Run("config", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			tls      *netsec.ClientTLSConfig
			tlcp     *netsec.ClientTLCPConfig
			protocol string
			want     string // an error naming this; "" for valid
		}{
			{name: "plain text", protocol: ""},
			{name: "tls", tls: &netsec.ClientTLSConfig{}, protocol: "tls"},
			{name: "tlcp", tlcp: &netsec.ClientTLCPConfig{CAPEM: string(ca.CertPEM())}, protocol: "tlcp"},
			{name: "both", tls: &netsec.ClientTLSConfig{}, tlcp: &netsec.ClientTLCPConfig{CAPEM: string(ca.CertPEM())}, want: "src: tls and tlcp are exclusive"},
			{name: "tlcp raw CertificateVerify", tlcp: &netsec.ClientTLCPConfig{CAPEM: string(ca.CertPEM()), CertificateVerify: "raw"}, protocol: "tlcp"},
			{name: "tlcp unknown CertificateVerify", tlcp: &netsec.ClientTLCPConfig{CAPEM: string(ca.CertPEM()), CertificateVerify: "sm3"}, want: `src.tlcp.certificate_verify "sm3"`},
			{name: "tlcp without a CA", tlcp: &netsec.ClientTLCPConfig{}, want: "src.tlcp.ca_file (or ca_pem) is required"},
			{name: "tlcp CA not PEM", tlcp: &netsec.ClientTLCPConfig{CAPEM: "nothing"}, want: "src.tlcp: no PEM certificate"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s, err := netsec.NewClientSecurity(tc.tls, tc.tlcp, addr, "src")
				if tc.want != "" {
					if err == nil || !errors.Is(err, netsec.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
						t.Fatalf("got %v, want ErrConfig naming %q", err, tc.want)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := s.Protocol(); got != tc.protocol {
					t.Fatalf("protocol %q, want %q", got, tc.protocol)
				}
				if (s == nil) != (tc.protocol == "") {
					t.Fatalf("security %v for protocol %q", s, tc.protocol)
				}
			})
		}
	})

	t.Run("handshake", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			caPEM []byte
			ok    bool
		}{
			{name: "trusted", caPEM: ca.CertPEM(), ok: true},
			{name: "untrusted", caPEM: other.CertPEM()},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s, err := netsec.NewClientSecurity(nil, &netsec.ClientTLCPConfig{CAPEM: string(tc.caPEM), ServerName: "localhost"}, addr, "src")
				if err != nil {
					t.Fatal(err)
				}
				raw, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				c, err := s.Handshake(context.Background(), raw)
				if !tc.ok {
					if err == nil || !strings.HasPrefix(err.Error(), "tlcp: ") {
						t.Fatalf("got %v, want a failed tlcp handshake", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				buf := make([]byte, 2)
				if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hi" {
					t.Fatalf("read %q, %v", buf, err)
				}
				if st := c.(*tlcp.Conn).ConnectionState(); st.PeerCertificates[0].SerialNumber.Cmp(pair.Sign.Leaf.SerialNumber) != 0 {
					t.Fatal("not the issued signature certificate")
				}
			})
		}
	})
}

// TestClientTLCPNeedsAName: a TLCP client whose address names no host
// (":9000") and whose server_name is not set must not run without a name
// check, under which any certificate of its CAs passes for the server;
// crypto/tls refuses to run so too. With server_name it runs.
func TestClientTLCPNeedsAName(t *testing.T) {
	ca, err := netsec.NewSM2CA("name test SM2 CA")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, addr, serverName, want string
	}{
		{name: "no host", addr: ":9000", want: `src.tlcp.server_name is required: the address ":9000" names no host`},
		{name: "no host, server_name", addr: ":9000", serverName: "md.example"},
		{name: "host", addr: "md.example:9000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := netsec.NewClientSecurity(nil, &netsec.ClientTLCPConfig{CAPEM: string(ca.CertPEM()), ServerName: tc.serverName}, tc.addr, "src")
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (!errors.Is(err, netsec.ErrConfig) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want ErrConfig naming %q", err, tc.want)
			}
		})
	}
}
