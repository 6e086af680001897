// Package netsectest is test support for TLS and the PROXY protocol: a
// throw-away PKI written to files, PROXY protocol headers, and Debian's
// `openssl s_client` as a peer that shares no code with Go's TLS.
// PROXY headers are encoded by github.com/pires/go-proxyproto, which
// shares no code with netsec's decoder.
package netsectest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"

	"sgw/netsec"
)

// PKI is a CA with the files a test configures: the CA certificate and
// issued key pairs, in a temporary directory.
type PKI struct {
	CA *netsec.CA
	// Dir holds the files.
	Dir string
	// CAFile is the CA certificate in PEM.
	CAFile string
	tb     testing.TB
}

// NewPKI creates a CA named name and writes its certificate.
func NewPKI(tb testing.TB, name string) *PKI {
	tb.Helper()
	ca, err := netsec.NewCA(name)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	p := &PKI{CA: ca, Dir: dir, CAFile: filepath.Join(dir, "ca.pem"), tb: tb}
	if err := os.WriteFile(p.CAFile, ca.CertPEM(), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// Pair is an issued certificate and the files holding it.
type Pair struct {
	netsec.Issued
	CertFile, KeyFile string
}

// Issue issues a certificate for l and writes it as name.pem and
// name.key.
func (p *PKI) Issue(name string, l netsec.Leaf) Pair {
	p.tb.Helper()
	is, err := p.CA.Issue(l)
	if err != nil {
		p.tb.Fatal(err)
	}
	pr := Pair{Issued: is, CertFile: filepath.Join(p.Dir, name+".pem"), KeyFile: filepath.Join(p.Dir, name+".key")}
	p.Write(pr, pr.CertFile, pr.KeyFile)
	return pr
}

// Write writes pr's certificate and key to certFile and keyFile, each
// atomically (a rename), as a certificate manager replaces them.
func (p *PKI) Write(pr Pair, certFile, keyFile string) {
	p.tb.Helper()
	for _, f := range []struct {
		path string
		data []byte
	}{{certFile, pr.CertPEM}, {keyFile, pr.KeyPEM}} {
		tmp := f.path + ".tmp"
		if err := os.WriteFile(tmp, f.data, 0o600); err != nil {
			p.tb.Fatal(err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			p.tb.Fatal(err)
		}
	}
}

// Server issues a localhost server certificate written as name.pem and
// name.key.
func (p *PKI) Server(name string) Pair { return p.Issue(name, netsec.LocalhostLeaf()) }

// Client issues a client certificate with common name cn, written as
// name.pem and name.key.
func (p *PKI) Client(name, cn string) Pair {
	return p.Issue(name, netsec.Leaf{CommonName: cn, Client: true})
}

// Pool returns a certificate pool holding the CA.
func (p *PKI) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.CA.CertPEM())
	return pool
}

// ClientConfig returns a Go client configuration trusting the CA, for
// server name localhost, with versions min to max (0: Go's defaults).
func (p *PKI) ClientConfig(min, max uint16) *tls.Config {
	return &tls.Config{RootCAs: p.Pool(), ServerName: "localhost", MinVersion: min, MaxVersion: max}
}

// TLV is a type-length-value of a PROXY v2 header.
type TLV struct {
	Type  byte
	Value []byte
}

// ProxyV2 encodes a PROXY protocol v2 header of command PROXY over TCP
// from src to dst (IPv4 or IPv6), with tlvs. The encoder is
// github.com/pires/go-proxyproto's, which shares no code with netsec's
// decoder.
func ProxyV2(tb testing.TB, src, dst netip.AddrPort, tlvs ...TLV) []byte {
	tb.Helper()
	h := proxyproto.HeaderProxyFromAddrs(2, net.TCPAddrFromAddrPort(src), net.TCPAddrFromAddrPort(dst))
	return format(tb, h, tlvs)
}

// ProxyV2Local encodes a LOCAL header (a load balancer's health check,
// family UNSPEC) with tlvs, by go-proxyproto.
func ProxyV2Local(tb testing.TB, tlvs ...TLV) []byte {
	tb.Helper()
	return format(tb, &proxyproto.Header{Version: 2, Command: proxyproto.LOCAL, TransportProtocol: proxyproto.UNSPEC}, tlvs)
}

// ProxyV1 encodes a version 1 (text) header over TCP, by go-proxyproto.
func ProxyV1(tb testing.TB, src, dst netip.AddrPort) []byte {
	tb.Helper()
	h := proxyproto.HeaderProxyFromAddrs(1, net.TCPAddrFromAddrPort(src), net.TCPAddrFromAddrPort(dst))
	return format(tb, h, nil)
}

func format(tb testing.TB, h *proxyproto.Header, tlvs []TLV) []byte {
	tb.Helper()
	if len(tlvs) > 0 {
		var ts []proxyproto.TLV
		for _, t := range tlvs {
			ts = append(ts, proxyproto.TLV{Type: proxyproto.PP2Type(t.Type), Value: t.Value})
		}
		if err := h.SetTLVs(ts); err != nil {
			tb.Fatal(err)
		}
	}
	b, err := h.Format()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// SClientResult is what `openssl s_client` did.
type SClientResult struct {
	// OK reports that the command exited 0: the handshake succeeded.
	OK bool
	// Output is its standard output and error.
	Output string
}

// Protocol returns the version s_client negotiated ("TLSv1.3"), or "".
func (r SClientResult) Protocol() string {
	for _, line := range strings.Split(r.Output, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Protocol version:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// SClient runs `openssl s_client -brief -connect addr` with args (for
// example "-tls1_3", or "-tls1_1" with "-cipher", "DEFAULT@SECLEVEL=0" so
// that OpenSSL itself offers TLS 1.1), sending nothing, verifying the
// server's certificate against caFile. It skips the test when openssl is
// not installed, or fails it under CI=true, where it must run.
func SClient(tb testing.TB, addr, caFile string, args ...string) SClientResult {
	tb.Helper()
	path := OpenSSL(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	all := append([]string{"s_client", "-brief", "-connect", addr, "-servername", "localhost",
		"-CAfile", caFile, "-verify_return_error"}, args...)
	cmd := exec.CommandContext(ctx, path, all...)
	cmd.Stdin = strings.NewReader("") // end of input: s_client closes after the handshake
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		tb.Fatalf("openssl %s: timed out: %s", strings.Join(all, " "), out)
	}
	return SClientResult{OK: err == nil, Output: string(out)}
}

// OpenSSL returns the path of the openssl command, or skips the test when
// it is not installed (fails it under CI=true).
func OpenSSL(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		msg := "netsectest: openssl not found on $PATH (install it with: apt-get install -y openssl)"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return path
}
