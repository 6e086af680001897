package feedpeer

import (
	"bufio"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// readFrames reads a testdata file of hand-assembled frames: "== name"
// starts a frame; each other line is hex bytes (one or more tokens of even
// length until the first token that is not hex) or a "quoted" ASCII field,
// followed by a comment; '#' lines are comments.
func readFrames(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := make(map[string][]byte)
	name := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "== "):
			name = strings.TrimPrefix(line, "== ")
			out[name] = []byte{}
		case strings.HasPrefix(line, `"`):
			end := strings.Index(line[1:], `"`)
			if end < 0 {
				t.Fatalf("%s:%d: unterminated quote", path, n)
			}
			out[name] = append(out[name], line[1:1+end]...)
		default:
			for _, tok := range strings.Fields(line) {
				b, err := hex.DecodeString(tok)
				if err != nil {
					break
				}
				out[name] = append(out[name], b...)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
