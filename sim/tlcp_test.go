package sim

import (
	"reflect"
	"testing"

	"github.com/emmansun/gmsm/smx509"

	"sgw/feed/soupbin"
	"sgw/feed/szse"
	"sgw/tlcp"
	"sgw/tlcp/tlcptest"
)

// tlcpClient is the client side of TLCP to a simulator listener whose
// SM2 CA is caPEM.
func tlcpClient(t *testing.T, caPEM []byte) *tlcp.Config {
	t.Helper()
	pool := smx509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("no SM2 CA certificate in the PEM")
	}
	return &tlcp.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// TestTLCP: ITCH and SZSE listeners serve TLCP with a self-signed SM2
// pair, one CA for all, what the gateway's tlcp sources dial; plain TCP
// gets no feed from them.
func TestTLCP(t *testing.T) {
	cfg := szseTestConfig()
	cfg.Backup.TLCP.SelfSigned = true
	cfg.SZSE.Backup.TLCP.SelfSigned = true
	s := startSim(t, cfg)
	if s.TLCPCACertPEM() == nil || s.CACertPEM() != nil {
		t.Fatal("want an SM2 CA and no ECDSA CA")
	}
	if err := s.Step(30); err != nil {
		t.Fatal(err)
	}
	t.Run("itch", func(t *testing.T) {
		c := dial(t, s.Addr(Backup))
		tc := tlcp.Client(c.nc, tlcpClient(t, s.TLCPCACertPEM()))
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		c.nc = tc
		c.login("", "", "", 1)
		c.accepted(s.Session())
		if got := c.sequenced(s.Next() - 1); len(got) != int(s.Next()-1) {
			t.Fatalf("got %d messages over TLCP, want %d", len(got), s.Next()-1)
		}
		p := dial(t, s.Addr(Backup))
		p.login("", "", "", 1)
		if pk, err := p.next(); err == nil && pk.Type == soupbin.TypeLoginAccepted {
			t.Fatal("plain login accepted on a TLCP listener")
		}
	})
	t.Run("szse", func(t *testing.T) {
		c := dialSZSE(t, s.Addr(SZSEBackup))
		c.nc = tlcp.Client(c.nc, tlcpClient(t, s.TLCPCACertPEM()))
		c.logon()
		last := s.SZSELast()
		c.send(reTransmitFrame(szse.ResendTypeTick, DefaultSZSEChannel, 1, 0))
		if m := c.want(szse.TypeReTransmit); m.ReTransmit.ResendStatus != szse.ResendStatusDone || m.ReTransmit.ApplEndSeqNum != last {
			t.Fatalf("answer %+v", m.ReTransmit)
		}
		if got := c.records(last); !reflect.DeepEqual(got, s.SZSERecords(1, last)) {
			t.Fatalf("got %d records over TLCP, want %d", len(got), last)
		}
	})
}

// TestTLCPFromFiles: a listener serves the SM2 pair of its four files.
func TestTLCPFromFiles(t *testing.T) {
	ca := tlcptest.NewCA(t, "sim test SM2 CA")
	files := ca.Issue(t, "127.0.0.1").WriteFiles(t, t.TempDir(), "feed")
	cfg := testConfig()
	cfg.Backup.TLCP = TLCPConfig{SignCertFile: files.SignCert, SignKeyFile: files.SignKey, EncCertFile: files.EncCert, EncKeyFile: files.EncKey}
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	s := startSim(t, cfg)
	if s.TLCPCACertPEM() != nil {
		t.Fatal("SM2 CA PEM without a self-signed listener")
	}
	c := dial(t, s.Addr(Backup))
	c.nc = tlcp.Client(c.nc, tlcpClient(t, ca.CertPEM()))
	c.login("", "", "", 0)
	if seq := c.accepted(s.Session()); seq != s.Next() {
		t.Fatalf("accepted %d", seq)
	}
}
