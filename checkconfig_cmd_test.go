package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfigCommand runs `gateway check-config` as an operator
// would: one line "ok: ..." for a valid file, the file and the YAML path
// of what is wrong otherwise.
func TestCheckConfigCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	demo, err := os.ReadFile("configs/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	unknownKey := write("unknown.yaml", strings.Replace(string(demo), "  shards: 2\n", "  shards: 2\n  shard: 3\n", 1))
	szseOff := write("szse-off.yaml", strings.Replace(string(demo), "    enabled: true\n", "    enabled: false\n", 1))
	tests := []struct {
		name string
		args []string
		out  string // stdout's start, on success
		want string // the error's substring, on failure
	}{
		{name: "demo", args: []string{"configs/demo.yaml"},
			out: "ok: configs/demo.yaml: demo, 6 instruments, 2 feeds (4 sources), orders: 2 upstreams over 4 lines, 3 accounts, 1 broker session, 1 token key, 2 TLS configurations read, simulator\n"},
		{name: "no file", args: nil, want: "check-config: want one configuration file"},
		{name: "two files", args: []string{"a.yaml", "b.yaml"}, want: "check-config: want one configuration file"},
		{name: "missing file", args: []string{filepath.Join(dir, "nope.yaml")}, want: "nope.yaml: no such file or directory"},
		{name: "unknown key", args: []string{unknownKey}, want: "(books.shard): field shard not found in type configs.Books"},
		{name: "simulator wiring", args: []string{szseOff},
			want: "szse-off.yaml: 2 problems:\n  feeds[1] (szse): primary.addr sim:szse-primary names the simulator's SZSE listener, but sim.szse.enabled is false\n  feeds[1] (szse): backup.addr sim:szse-backup"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), append([]string{"check-config"}, tc.args...), &out, &errOut)
			if tc.want == "" {
				if err != nil || out.String() != tc.out {
					t.Fatalf("check-config %q: %v\nstdout %q\nwant   %q", tc.args, err, out.String(), tc.out)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("check-config %q = %v\nwant an error containing %q", tc.args, err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("check-config %q printed %q on failure", tc.args, out.String())
			}
		})
	}
}
