package sim

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"sgw/feed/capture"
	"sgw/feed/soupbin"
)

// writeCapture writes an arbitrated capture file holding msgs under the
// given sequence numbers.
func writeCapture(t *testing.T, seqs []uint64, msgs [][]byte) string {
	t.Helper()
	b, err := capture.AppendHeader(nil, capture.Header{Kind: capture.KindArbitrated, Source: capture.Arbitrated,
		Feed: "t", Stream: "arbitrated", Protocol: "itch"})
	if err != nil {
		t.Fatal(err)
	}
	for i, seq := range seqs {
		b = capture.AppendRecord(b, capture.TypeData, capture.Primary, int64(i), seq, msgs[i])
	}
	name := filepath.Join(t.TempDir(), "t-arbitrated-1.cap")
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestPlayerHolesAndRepeats plays a capture whose sequence numbers jump
// (3 and 4 missing) and repeat (a rebuild's redelivery of 1 and 2): a
// client logged in from 1 receives each recorded number once, in order,
// nothing for the holes, then End of Session; a client logging in from 4
// starts at 5.
func TestPlayerHolesAndRepeats(t *testing.T) {
	m := func(s string) []byte { return []byte(s) }
	name := writeCapture(t, []uint64{1, 2, 1, 2, 5, 6}, [][]byte{m("one"), m("two"), m("one"), m("two"), m("five"), m("six")})
	p, err := NewPlayer(PlayerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	st, err := p.Play(ctx, []string{name})
	if err != nil {
		t.Fatal(err)
	}
	if (st != PlayStats{Messages: 4, Holes: 2, Last: 6}) {
		t.Fatalf("played %+v", st)
	}
	for _, tc := range []struct {
		name  string
		from  uint64
		start uint64
		want  []string
	}{
		{"from 1", 1, 1, []string{"one", "two", "five", "six"}},
		{"from 4", 4, 4, []string{"five", "six"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, p.Addr())
			c.login("", "", "", tc.from)
			if seq := c.accepted(DefaultSession); seq != tc.start {
				t.Fatalf("login accepted at %d, want %d", seq, tc.start)
			}
			var got []string
			for {
				pk := c.must()
				if pk.Type == soupbin.TypeEndOfSession {
					break
				}
				if pk.Type == soupbin.TypeSequenced {
					got = append(got, string(pk.Payload))
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("received %q, want %q", got, tc.want)
			}
		})
	}
}
