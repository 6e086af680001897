package feed_test

import (
	"testing"
	"time"

	"sgw/feed"
	"sgw/feed/feedpeer"
	"sgw/orderbook"
)

// TestIndependentITCHPeerMissedDirectory: the feed's one source (no
// backup to compare copies with) leaves the Stock Directory of one
// instrument out of every session from sequence 1 and numbers the rest
// on, as a relay that lost it would: no gap, no divergence, and the
// messages of its Stock Locate name no instrument the gateway knows. Its
// book is marked stale and the feed stale (not served as a valid, empty
// book), and the feed rebuilds from sequence 1 by itself, again as long
// as the directory is missing. Once the relay has it again, a rebuild
// ends with every book equal to the peer's reference and valid, and each
// print published once (the instrument's, dropped before, published by
// the rebuild). Before, its messages were dropped in silence: its book
// stayed empty and valid, and nothing rebuilt it. Decode's
// MissingDirectories is 1 while it is missing, 0 once rebuilt.
func TestIndependentITCHPeerMissedDirectory(t *testing.T) {
	sym := testInstruments[1].Symbol
	code := sym[:len(sym)-3]
	r := newPeerRigFaulted(t, feedpeer.TrackingRandom, false, func(c *feed.Config) {
		c.Backup = feed.SourceConfig{}
		c.MissedRebuildInterval = 100 * time.Millisecond
	}, func(r *peerRig) {
		for _, rec := range r.pf.Records() {
			if rec.Event.Kind == feedpeer.KindDirectory && rec.Event.Symbol == code {
				r.primary.DropRange(rec.Seq, rec.Seq)
				return
			}
		}
		t.Fatalf("the peer sends no directory of %s", code)
	})
	r.publish(500)
	id, _ := r.books.Lookup(sym)
	var v orderbook.View
	deadline := time.Now().Add(20 * time.Second)
	for {
		r.books.View(id, 20, &v)
		st := r.feed.Status()
		if v.State == orderbook.StateStale && st.Stale && st.MissedRebuilds >= 1 && st.Decode != nil && st.Decode.MissingDirectories == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s, its directory missed, never stale and rebuilt: state %v, %d bids, status %+v", sym, v.State, len(v.Bids), st)
		}
		time.Sleep(2 * time.Millisecond) // the feed has no state notification; poll it
	}
	r.primary.ClearDrops()
	r.check(r.publish(2000))
	st := r.feed.Status()
	if st.Lost != 0 || st.Diverged != 0 || st.Stale || st.Decode == nil || st.Decode.UnknownSymbol == 0 || st.Decode.MissingDirectories != 0 {
		t.Fatalf("status %+v: want messages of an unmapped locate, nothing lost or diverged, no directory missing, valid", st)
	}
	t.Logf("rebuilds %d (missed %d), decode %+v", st.Rebuilds, st.MissedRebuilds, *st.Decode)
	r.check(r.publish(300))
}
