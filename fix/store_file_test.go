package fix

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/quickfixgo/quickfix/store/file"
)

// TestFileStoreReadsAsQuickfix: on an index in sequence order (no Reset
// raced a save), fileStore returns for any range exactly what quickfix's
// own read of the same files returns: the ends inclusive, ranges below 1,
// past the last message or empty, empty messages, and messages larger
// than a read chunk (1 MiB) among small ones, so that a range's chunks
// start and end inside messages.
func TestFileStoreReadsAsQuickfix(t *testing.T) {
	dir := t.TempDir()
	f, sid := newTestStoreFactory(t, dir)
	qf, err := file.NewStoreFactory(f.settings).Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	defer qf.Close()
	fs := &fileStore{MessageStore: qf, prefix: prefixOf(dir, sid)}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 300
	for i := 1; i <= n; i++ {
		size := rng.IntN(300)
		switch rng.IntN(40) {
		case 0:
			size = 1<<20 + rng.IntN(1<<19)
		case 1:
			size = 0
		}
		msg := append(bytes.Repeat([]byte{byte('a' + i%26)}, size), fmt.Sprint(i)...)
		if rng.IntN(40) == 0 {
			msg = nil
		}
		if err := qf.SaveMessageAndIncrNextSenderMsgSeqNum(i, msg); err != nil {
			t.Fatal(err)
		}
	}
	for range 300 {
		begin, end := rng.IntN(n+6)-2, rng.IntN(n+6)-2
		want, err := qf.GetMessages(begin, end)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fs.GetMessages(begin, end)
		if err != nil {
			t.Fatalf("GetMessages(%d, %d): %v", begin, end, err)
		}
		if len(got) != len(want) {
			t.Fatalf("GetMessages(%d, %d): %d messages, quickfix's %d", begin, end, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("GetMessages(%d, %d): message %d (%d bytes) is not quickfix's (%d bytes)", begin, end, i, len(got[i]), len(want[i]))
			}
		}
	}
}
