package netsec_test

import (
	"strings"
	"testing"

	"sgw/netsec"
	"sgw/netsec/netsectest"
)

// TestOpenSSLVersions checks the versions a listener accepts with Debian's
// `openssl s_client`, a TLS stack that shares no code with Go's. The old
// versions are offered with "-cipher DEFAULT@SECLEVEL=0", without which
// OpenSSL 3 refuses to offer them itself: the refusal must come from the
// server (a protocol_version or handshake_failure alert).
func TestOpenSSLVersions(t *testing.T) {
	pki := netsectest.NewPKI(t, "test CA")
	srv := pki.Server("server")
	old := []string{"-cipher", "DEFAULT@SECLEVEL=0"}
	tests := []struct {
		name    string
		min     string
		args    []string
		want    string // negotiated protocol; "" = refused
		refusal string // in the output of a refusal
	}{
		{name: "default: TLS 1.3", args: []string{"-tls1_3"}, want: "TLSv1.3"},
		{name: "default: TLS 1.2 refused", args: []string{"-tls1_2"}, refusal: "protocol version"},
		{name: "default: TLS 1.1 refused", args: append([]string{"-tls1_1"}, old...), refusal: "protocol version"},
		{name: "1.2: TLS 1.2", min: "1.2", args: []string{"-tls1_2"}, want: "TLSv1.2"},
		{name: "1.2: TLS 1.2 CBC suite refused", min: "1.2", args: []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"}, refusal: "handshake failure"},
		{name: "1.2: TLS 1.1 refused", min: "1.2", args: append([]string{"-tls1_1"}, old...), refusal: "protocol version"},
		{name: "1.2: TLS 1.0 refused", min: "1.2", args: append([]string{"-tls1"}, old...), refusal: "protocol version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newServerTLS(t, netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile, MinVersion: tc.min})
			addr := serveEcho(t, s.Config())
			r := netsectest.SClient(t, addr, pki.CAFile, tc.args...)
			switch {
			case tc.want != "" && (!r.OK || r.Protocol() != tc.want):
				t.Fatalf("openssl: ok %v, protocol %q; want %s:\n%s", r.OK, r.Protocol(), tc.want, r.Output)
			case tc.want == "" && (r.OK || !strings.Contains(r.Output, tc.refusal)):
				t.Fatalf("openssl: ok %v; want refused with %q:\n%s", r.OK, tc.refusal, r.Output)
			}
		})
	}
}
