package feed

import (
	"testing"
	"time"
)

// TestOutageEndedByRebuildThenDownAgain: an outage is ended by the end
// of a rebuild from sequence 1 (its Rebuilt, in deliver) at a moment no
// source is up when the supervisor looks: the source that brought it is
// gone again. No source comes back: after stale_after_outage the books
// are marked stale for a new outage. Before, the supervisor noted an
// outage's end only while a source was up, and began none while it had
// not noted the last one's end: the books were served valid for as long
// as every source stayed down.
func TestOutageEndedByRebuildThenDownAgain(t *testing.T) {
	msgs := printStream(t)
	sink := &bookSink{b: newPrintBook(t)}
	f, err := New(Config{Name: "x", Primary: SourceConfig{Addr: "127.0.0.1:1"}, StaleAfterOutage: time.Second},
		NewITCHDecoder(oneSymbol{}, sink), nil)
	if err != nil {
		t.Fatal(err)
	}
	a := f.arb
	deliver := func() {
		a.SourceLive(Primary, 1)
		for i, m := range msgs {
			a.Offer(Primary, uint64(i+1), m, 0)
		}
		a.SourceDown(Primary)
	}
	deliver()
	t0 := time.Unix(1000, 0)
	f.watchOutage(t0)
	f.watchOutage(t0.Add(time.Second))
	if st := a.Stats(); st.Outages != 1 || !f.Stale() {
		t.Fatalf("outages %d, stale %v: want an outage begun", st.Outages, f.Stale())
	}
	// A rebuild from 1 (as Check begins one) is delivered whole, and the
	// source is gone again before the supervisor looks.
	a.mu.Lock()
	a.restart()
	a.mu.Unlock()
	deliver()
	if f.Stale() {
		t.Fatal("stale after the rebuild caught up")
	}
	for d := 2 * time.Second; d <= 5*time.Second; d += time.Second {
		f.watchOutage(t0.Add(d))
	}
	if st := a.Stats(); st.Outages != 2 || !f.Stale() {
		t.Fatalf("outages %d, stale %v: every source down past the grace after the last outage ended, want a new outage", st.Outages, f.Stale())
	}
}
