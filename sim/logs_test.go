package sim

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// TestLogsNameSources logs the simulator's source faults with slog's JSON
// handler: the source and the garbage kind are words, not numbers.
func TestLogsNameSources(t *testing.T) {
	var buf bytes.Buffer // written by this goroutine only: the faults log synchronously
	cfg := szseTestConfig()
	cfg.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.StopSource(SZSEBackup); err != nil {
		t.Fatal(err)
	}
	if err := s.Garbage(SZSEPrimary, GarbageChecksum); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		"sim: source stopped": {"source": "szse-backup"},
		"sim: garbage":        {"source": "szse-primary", "kind": "checksum"},
	}
	for line := range strings.Lines(buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		msg, _ := rec["msg"].(string)
		for k, v := range want[msg] {
			if rec[k] != v {
				t.Errorf("%q: %s is %v (%T), want %q", msg, k, rec[k], rec[k], v)
			}
		}
		delete(want, msg)
	}
	if len(want) > 0 {
		t.Errorf("not logged: %v", want)
	}
}
