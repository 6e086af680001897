package feed

import (
	"testing"

	"sgw/feed/szse"
)

// TestSZSERebuildFromNewNumberingPrints: records 1..3 of channel 2011 (a
// print of 10 shares at 3) are delivered, 4..7 are lost on both sources,
// and the channel is rebuilt from 1; meanwhile the venue numbered the
// channel again (its MDGW restarted without its records), and the rebuild
// delivers the new numbering's 1..10, stamped after every record delivered
// before (nothing delivered to compare with shows the new numbering). None
// of its records was delivered before: its prints of 3, 6 and 9 are
// published. Before, the print of 3 was taken for the old numbering's 3,
// published before, and never published.
func TestSZSERebuildFromNewNumberingPrints(t *testing.T) {
	early := renumberEarly
	later := szse.Timestamp(renumberDay*1_000_000_000 + 100500000)
	r, books, offer := newSZSEPrintRig(t)
	for _, src := range []int{Primary, Backup} {
		offer(src, 1, 3, early)
		offer(src, 8, 9, early)
	}
	if got := prints(books.ups); len(got) != 1 || got[0] != 10 {
		t.Fatalf("before the loss: prints %v, want [10]", got)
	}
	before := len(books.ups)
	rebuildFromOne(t, r)
	offer(Primary, 1, 10, later)
	if c := r.channel(2011); c.Next != 11 {
		t.Fatalf("after the new numbering's 1..10: %+v", c)
	}
	if got := prints(books.ups[before:]); len(got) != 3 || got[0] != 10 || got[1] != 20 || got[2] != 30 {
		t.Fatalf("prints published by the rebuild: %v, want [10 20 30] (none was delivered before)", got)
	}
}
