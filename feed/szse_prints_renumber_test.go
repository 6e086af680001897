package feed

import (
	"slices"
	"testing"
	"time"

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

// TestSZSENewNumberingPrintsPublished: records 1..9 of channel 2011 are
// delivered (prints of 10, 20 and 30 shares at 3, 6 and 9), then the
// channel is numbered again: the same day (the venue's MDGW restarted
// without its records; the primary logs in again and its record 6 is
// stamped two seconds after the last delivered), or a new trading day
// just after midnight. The channel is rebuilt from ApplSeqNum 1 of the
// new numbering, none of whose records was delivered: its prints of 3
// and 6 are published, though numbered within what was delivered and
// stamped within szseRenumberSlack of it (restartNumbering forgets the
// old numbering's replay mark). Without that, they were taken for the
// old numbering's 3 and 6, published before, and never published.
func TestSZSENewNumberingPrintsPublished(t *testing.T) {
	at := func(day, hhmmssmmm int64) szse.Timestamp { return szse.Timestamp(day*1_000_000_000 + hhmmssmmm) }
	t.Run("the same day", func(t *testing.T) {
		r, books, offer := newSZSEPrintRig(t)
		old := at(renumberDay, 93000000)
		offer(Primary, 1, 9, old)
		if got := prints(books.ups); !slices.Equal(got, []int64{10, 20, 30}) {
			t.Fatalf("the old numbering's prints %v, want [10 20 30]", got)
		}
		r.a.SourceDown(Backup)
		r.a.SourceDown(Primary)
		r.a.SourceLive(Primary)
		before := len(books.ups)
		offer(Primary, 6, 6, at(renumberDay, 93002000)) // the new numbering shows
		if c := r.channel(2011); c.Rebuilds != 1 || !c.Stale || c.Next != 1 {
			t.Fatalf("after a record below next stamped late: %+v", c)
		}
		asks := r.nextAsks(200 * time.Millisecond)
		if len(asks) != 1 || asks[0].src != Primary || asks[0].from != 1 {
			t.Fatalf("asks %v, want the primary's from 1", asks)
		}
		r.answer(Primary, 2011, 1, int64(asks[0].to), szse.ResendStatusDone)
		offer(Primary, 1, 5, at(renumberDay, 93000500)) // within the slack of the old numbering's last
		if c := r.channel(2011); c.Stale || c.Next != 7 {
			t.Fatalf("after the new numbering's 1..6: %+v", c)
		}
		if got := prints(books.ups[before:]); !slices.Equal(got, []int64{10, 20}) {
			t.Fatalf("prints published by the rebuild: %v, want [10 20] (none was delivered before)", got)
		}
	})
	t.Run("a new day", func(t *testing.T) {
		r, books, offer := newSZSEPrintRig(t)
		offer(Primary, 1, 9, at(renumberDay, 235959900))
		if got := prints(books.ups); !slices.Equal(got, []int64{10, 20, 30}) {
			t.Fatalf("the old day's prints %v, want [10 20 30]", got)
		}
		r.a.SourceDown(Backup)
		r.a.SourceDown(Primary)
		r.a.SourceLive(Primary)
		before := len(books.ups)
		offer(Primary, 1, 6, at(renumberDay+1, 100)) // 00:00:00.100 of the next day
		if c := r.channel(2011); c.Rebuilds != 1 || c.Stale || c.Next != 7 {
			t.Fatalf("after the new day's 1..6: %+v", c)
		}
		if got := prints(books.ups[before:]); !slices.Equal(got, []int64{10, 20}) {
			t.Fatalf("prints published by the new day: %v, want [10 20] (none was delivered before)", got)
		}
	})
}
