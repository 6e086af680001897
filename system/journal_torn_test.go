package system

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sgw/configs"
	"sgw/journal"
)

// TestJournalTornTailIsLogged: journal.Open truncates a damaged last
// record (a torn write after a crash, or an acknowledged record damaged
// on disk: the two look alike) and reports what it cut in Recovered. The
// gateway must tell the operator: the cut may be an order whose client
// was told it was accepted. Before, nothing read Recovered: the cut was
// silent. The gateway now logs it as a warning.
func TestJournalTornTailIsLogged(t *testing.T) {
	cfg, err := configs.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Gateway.HTTP = "127.0.0.1:0"
	cfg.Feeds, cfg.Sim, cfg.FIXSim, cfg.Brokers = nil, nil, nil, nil
	dir := t.TempDir()
	cfg.Orders.Journal = filepath.Join(dir, "orders.jrnl")
	for i := range cfg.Orders.Upstreams {
		u := &cfg.Orders.Upstreams[i]
		u.StoreDir = filepath.Join(dir, "fix-"+u.Name)
		for j := range u.Lines {
			u.Lines[j].Addr = "127.0.0.1:1"
		}
	}
	// A journal whose last record is damaged.
	j, err := journal.Open(journal.Config{Path: cfg.Orders.Journal, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append('D', []byte{1, 0x80, 0xd4, 0xb0, 0x13}); err != nil { // a day record
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(cfg.Orders.Journal)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(cfg.Orders.Journal, b, 0o600); err != nil {
		t.Fatal(err)
	}

	var logs lockedLog
	g, err := New(cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	g.close()
	if !strings.Contains(logs.String(), "truncated_bytes") {
		t.Errorf("the journal's damaged last record was cut without a word in the log:\n%s", logs.String())
	}
}
