package feed_test

import (
	"testing"

	"sgw/feed"
	"sgw/feed/feedpeer"
)

// TestIndependentITCHPeerRepeatedExecution: the feed's one source (no
// backup to compare copies with) sends an Order Executed of an order it
// does not take whole twice and numbers the rest on, as a relay
// repeating it would: no gap, no divergence, and the book still holds
// the order. The repeat carries the first's Match Number: the book drops
// it, and every book ends equal to the peer's reference, valid, each
// print published once, nothing rebuilt. Before, the repeat printed
// again (counted twice in the day's volume) and took its shares from the
// order again, the book served as valid.
func TestIndependentITCHPeerRepeatedExecution(t *testing.T) {
	for _, tc := range []struct {
		name      string
		withPrice bool
	}{
		{"Order Executed (E)", false},
		{"Order Executed With Price (C)", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newPeerRigTuned(t, feedpeer.TrackingRandom, false, func(c *feed.Config) { c.Backup = feed.SourceConfig{} })
			at := r.publish(500)
			r.check(at)

			// What the peer publishes next: the first execution after at,
			// of the message type asked, of an order it leaves resting.
			oracle := newPeerFeed(t, feedpeer.TrackingRandom)
			if _, _, err := oracle.Publish(2500); err != nil {
				t.Fatal(err)
			}
			left := map[uint64]int64{} // order -> shares resting
			var k uint64
			for _, rec := range oracle.Records() {
				ev := rec.Event
				switch ev.Kind {
				case feedpeer.KindAdd:
					left[ev.Order] = ev.Qty
				case feedpeer.KindExecute:
					if rec.Seq > at && k == 0 && ev.WithPrice == tc.withPrice && ev.Qty < left[ev.Order] {
						k = rec.Seq
					}
					left[ev.Order] -= ev.Qty
				case feedpeer.KindCancel:
					left[ev.Order] -= ev.Qty
				case feedpeer.KindDelete:
					delete(left, ev.Order)
				case feedpeer.KindReplace:
					delete(left, ev.Order)
					left[ev.NewOrder] = ev.Qty
				}
			}
			if k == 0 || k > at+2000 {
				t.Fatalf("the peer's flow executes no order partly in the 2000 messages after the first 500 (%d)", k)
			}
			r.primary.RepeatRange(k, k)
			last := r.publish(2000)
			rec, _ := oracle.Record(k)
			r.check(last + 1) // the repeat numbers the peer's last message one higher (its reference at last+1 is at last)
			st, bs := r.feed.Status(), r.books.Stats()
			if st.Rebuilds != 0 || st.Lost != 0 || st.Stale || bs.Repeated != 1 || bs.UnknownOrder+bs.DuplicateOrder+bs.OverExecution != 0 {
				t.Fatalf("status %+v, books %+v: want the repeat dropped, nothing rebuilt or lost", st, bs)
			}
			t.Logf("repeated at %d: %v", k, rec.Event)
		})
	}
}
