package feed_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sgw/feed"
	"sgw/netsec"
)

// TestSourceSecurityConfig: a source's tls and tlcp sections, validated
// by New and NewSZSE alike and read by Check, each error naming its key.
func TestSourceSecurityConfig(t *testing.T) {
	ca, err := netsec.NewSM2CA("feed test SM2 CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile := filepath.Join(dir, "sm2-ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("no certificate here"), 0o600); err != nil {
		t.Fatal(err)
	}
	const remote = "relay.branch.example:24001"
	tests := []struct {
		name   string
		backup feed.SourceConfig
		want   string // "" for valid
	}{
		{name: "tlcp with a CA file", backup: feed.SourceConfig{Addr: remote, TLCP: &feed.TLCPConfig{CAFile: caFile}}},
		{name: "tlcp with an inline CA", backup: feed.SourceConfig{Addr: remote, TLCP: &feed.TLCPConfig{CAPEM: string(ca.CertPEM()), ServerName: "relay"}}},
		{name: "tlcp without a CA", backup: feed.SourceConfig{Addr: remote, TLCP: &feed.TLCPConfig{}}, want: "backup.tlcp.ca_file (or ca_pem) is required"},
		{name: "tlcp and tls", backup: feed.SourceConfig{Addr: remote, TLCP: &feed.TLCPConfig{CAFile: caFile}, TLS: &feed.TLSConfig{}}, want: "backup.tlcp is exclusive with tls and tunnel"},
		{name: "tlcp and tunnel", backup: feed.SourceConfig{Addr: remote, TLCP: &feed.TLCPConfig{CAFile: caFile}, Tunnel: "wg0"}, want: "backup.tlcp is exclusive"},
		{name: "tlcp with half a client pair", backup: feed.SourceConfig{Addr: remote, TLCP: &feed.TLCPConfig{CAFile: caFile, SignCertFile: "s.pem"}}, want: "backup.tlcp: sign_cert_file, sign_key_file, enc_cert_file and enc_key_file go together"},
		{name: "tlcp CA file missing", backup: feed.SourceConfig{Addr: remote, TLCP: &feed.TLCPConfig{CAFile: filepath.Join(dir, "absent.pem")}}, want: "backup.tlcp.ca_file"},
		{name: "tlcp CA file without a certificate", backup: feed.SourceConfig{Addr: remote, TLCP: &feed.TLCPConfig{CAFile: notPEM}}, want: "backup.tlcp: no PEM certificate"},
		{name: "plain text off loopback", backup: feed.SourceConfig{Addr: remote}, want: "set tls or name the tunnel that encrypts it (or set tlcp)"},
	}
	for _, protocol := range []string{feed.ProtocolITCH, feed.ProtocolSZSE} {
		for _, tc := range tests {
			t.Run(protocol+"/"+tc.name, func(t *testing.T) {
				cfg := feed.Config{Name: "x", Protocol: protocol, Primary: feed.SourceConfig{Addr: "127.0.0.1:9000"}, Backup: tc.backup}
				var err error
				if protocol == feed.ProtocolSZSE {
					_, err = feed.NewSZSE(cfg, nopSZSESink{}, nil)
				} else {
					_, err = feed.New(cfg, nil, nil)
				}
				checkErr := cfg.Check()
				for what, err := range map[string]error{"New": err, "Check": checkErr} {
					switch {
					case tc.want == "" && err != nil:
						t.Fatalf("%s refused a valid config: %v", what, err)
					case tc.want != "" && (err == nil || !errors.Is(err, feed.ErrConfig) || !strings.Contains(err.Error(), tc.want)):
						t.Fatalf("%s: got %v, want ErrConfig naming %q", what, err, tc.want)
					}
				}
			})
		}
	}
}
