package tlcp_test

import (
	"io"
	"net"
	"testing"

	"sgw/tlcp"
)

// TestCertificateVerifyForms: a client signs its CertificateVerify in the
// form configured (zero: the standard's SM3 hash), and the server accepts
// either form and reports the one that verified (GB/T 38636-2020
// 6.4.5.9), for the ECC and the ECDHE suites.
func TestCertificateVerifyForms(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name  string
		suite uint16
		form  tlcp.CertificateVerifyForm // configured on the client
		want  tlcp.CertificateVerifyForm // verified by the server
	}{
		{name: "ECC default", suite: tlcp.ECC_SM4_GCM_SM3, want: tlcp.CertificateVerifyHash},
		{name: "ECC hash", suite: tlcp.ECC_SM4_CBC_SM3, form: tlcp.CertificateVerifyHash, want: tlcp.CertificateVerifyHash},
		{name: "ECC raw", suite: tlcp.ECC_SM4_GCM_SM3, form: tlcp.CertificateVerifyRaw, want: tlcp.CertificateVerifyRaw},
		{name: "ECDHE hash", suite: tlcp.ECDHE_SM4_GCM_SM3, form: tlcp.CertificateVerifyHash, want: tlcp.CertificateVerifyHash},
		{name: "ECDHE raw", suite: tlcp.ECDHE_SM4_CBC_SM3, form: tlcp.CertificateVerifyRaw, want: tlcp.CertificateVerifyRaw},
	} {
		t.Run(tc.name, func(t *testing.T) {
			states := make(chan tlcp.ConnectionState, 1)
			addr := serveState(t, f.serverConfig(true), states)
			cfg := f.clientConfig(tc.suite, true)
			cfg.CertificateVerify = tc.form
			c, err := dial(t, addr, cfg)
			if err != nil {
				t.Fatal(err)
			}
			st := <-states
			if st.CertificateVerify != tc.want || len(st.PeerCertificates) == 0 {
				t.Fatalf("server verified %s with %d peer certificates; want %s", st.CertificateVerify, len(st.PeerCertificates), tc.want)
			}
			if got := c.ConnectionState().CertificateVerify; got != 0 {
				t.Fatalf("client state reports %s", got)
			}
			echo(t, c, 100)
		})
	}
	t.Run("no client certificates", func(t *testing.T) {
		states := make(chan tlcp.ConnectionState, 1)
		addr := serveState(t, f.serverConfig(false), states)
		if _, err := dial(t, addr, f.clientConfig(tlcp.ECC_SM4_GCM_SM3, true)); err != nil {
			t.Fatal(err)
		}
		if st := <-states; st.CertificateVerify != 0 {
			t.Fatalf("server reports %s without a CertificateVerify", st.CertificateVerify)
		}
	})
}

// serveState accepts TLCP connections on 127.0.0.1:0, hands each
// completed handshake's state to states (when it has room) and echoes
// what the connection sends.
func serveState(t *testing.T, cfg *tlcp.Config, states chan<- tlcp.ConnectionState) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c := tlcp.Server(raw, cfg)
				defer c.Close()
				if c.Handshake() != nil {
					return
				}
				select {
				case states <- c.ConnectionState():
				default:
				}
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}
