package configs

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestLoggerKeysOnce: a component's logger derived from its parent's
// writes each key once, the innermost value winning; groups stay apart.
func TestLoggerKeysOnce(t *testing.T) {
	var buf bytes.Buffer
	log, err := Log{Format: "json"}.Logger(&buf)
	if err != nil {
		t.Fatal(err)
	}
	node := log.With("node", "n2", "component", "gateway")
	node.With("component", "cluster").With("node", "n2", "component", "fix").Info("session down", "line", "carrierA", "component", "relay")
	node.WithGroup("req").With("id", 1).Info("grouped", "component", "x")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines = %q", lines)
	}
	if strings.Count(lines[0], `"component"`) != 1 || strings.Count(lines[0], `"node"`) != 1 {
		t.Errorf("a key repeated: %s", lines[0])
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first["component"] != "relay" || first["node"] != "n2" || first["line"] != "carrierA" {
		t.Errorf("first line = %v", first)
	}
	var second struct {
		Component string
		Node      string
		Req       map[string]any
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	if second.Component != "gateway" || second.Node != "n2" || second.Req["id"] != float64(1) || second.Req["component"] != "x" {
		t.Errorf("grouped line = %s", lines[1])
	}

	buf.Reset()
	text, _ := Log{}.Logger(&buf)
	text.With("component", "cluster").With("component", "orders").Warn("journal failed")
	if got := buf.String(); strings.Count(got, "component=") != 1 || !strings.Contains(got, "component=orders") {
		t.Errorf("text line = %q", got)
	}
}
