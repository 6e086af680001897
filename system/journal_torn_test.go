package system

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sgw/configs"
	"sgw/internal/syncbuf"
	"sgw/journal"
)

// TestJournalTornTailIsLogged: journal.Open truncates a damaged last
// record (a torn write after a crash, or an acknowledged record damaged
// on disk: the two look alike) and reports what it cut in Recovered. The
// gateway must tell the operator: the cut may be an order whose client
// was told it was accepted. Before, nothing read Recovered: the cut was
// silent. The gateway now logs it as a warning.
func TestJournalTornTailIsLogged(t *testing.T) {
	cfg := journalOnlyConfig(t, 1)
	// A journal whose last record is damaged.
	b, err := os.ReadFile(cfg.Orders.Journal)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(cfg.Orders.Journal, b, 0o600); err != nil {
		t.Fatal(err)
	}

	var logs syncbuf.Buffer
	g, err := New(cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	g.close()
	if !strings.Contains(logs.String(), "truncated_bytes") {
		t.Errorf("the journal's damaged last record was cut without a word in the log:\n%s", logs.String())
	}
}

// TestJournalCorruptMiddleRefusesStart: a bit flipped in a record that
// later batches follow (acknowledged records, so no torn write) makes the
// gateway refuse to start with an error naming the file and the record's
// offset, and leaves the file as it was: never a start that drops the
// records after the damage.
func TestJournalCorruptMiddleRefusesStart(t *testing.T) {
	cfg := journalOnlyConfig(t, 3)
	b, err := os.ReadFile(cfg.Orders.Journal)
	if err != nil {
		t.Fatal(err)
	}
	const first = 16      // the first record's frame, after the file header
	b[first+8+25] ^= 0x04 // a bit of its body
	if err := os.WriteFile(cfg.Orders.Journal, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = New(cfg, testLog())
	var ce *journal.CorruptError
	if !errors.As(err, &ce) || ce.Offset != first || !strings.Contains(err.Error(), cfg.Orders.Journal) ||
		!strings.Contains(err.Error(), "offset 16") {
		t.Fatalf("New over a journal damaged in the middle: %v, want a CorruptError naming the file and offset %d", err, first)
	}
	if after, err := os.ReadFile(cfg.Orders.Journal); err != nil || !bytes.Equal(after, b) {
		t.Fatalf("the damaged journal was changed (%v)", err)
	}
}

// journalOnlyConfig returns the demo's configuration with order entry
// only, its upstream lines unreachable, over a new journal in a temporary
// directory holding n day records, each committed alone.
func journalOnlyConfig(t *testing.T, n int) *configs.File {
	t.Helper()
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
	j, err := journal.Open(journal.Config{Path: cfg.Orders.Journal, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if _, err := j.Append('D', []byte{1, 0x80, 0xd4, 0xb0, 0x13}); err != nil { // a day record
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return cfg
}
