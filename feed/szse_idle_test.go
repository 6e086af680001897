package feed

import (
	"testing"
	"time"

	"sgw/feed/szse"
)

// TestSZSEEndlessAnswersDoNotWedgeRecovery: a source asked for a gap that
// keeps re-sending its ReTransmit answer (an echo announcing the range) but
// never the records does not hold the request for ever: only its first
// answer is progress, so after the heartbeat timeout the request is a
// failed attempt and the other source, which is live, is asked. Before,
// every echo counted as progress: the channel stayed behind the gap, not
// stale, and the other source was never asked.
func TestSZSEEndlessAnswersDoNotWedgeRecovery(t *testing.T) {
	r := newArbRig(t, nil) // HeartbeatTimeout (request timeout) 3 s
	r.mustOffer(Primary, 2011, 1, 2)
	r.mustOffer(Primary, 2011, 10, 10)
	r.mustOffer(Backup, 2011, 1, 2)
	r.mustOffer(Backup, 2011, 12, 12) // both passed 3..9
	r.expect(seqs(2011, 1, 2)...)
	asks := r.check(0)
	if len(asks) != 1 || asks[0].src != Primary {
		t.Fatalf("asks %v", asks)
	}
	// The primary answers the same echo every second, and never resends.
	askedBackup := false
	for i := 0; i < 60 && !askedBackup; i++ {
		r.answer(Primary, 2011, 3, 9, szse.ResendStatusPartial)
		for _, a := range r.check(time.Second) {
			if a.src == Backup {
				askedBackup = true
			}
		}
	}
	c := r.channel(2011)
	if !askedBackup && c.Lost == 0 {
		t.Fatalf("after 60 s of empty answers from the primary the backup was never asked and nothing was declared lost: %+v", c)
	}
}

// TestSZSENewDayWhileOtherSourceIdle: the backup's session ran into the
// next trading day and brings no record of it (its relay starts the day
// later, or it is idle); the primary logs in on the new day and brings its
// records. While the backup streamed the old day within heartbeat_timeout,
// they are refused (a relay left on another day); once it has been idle
// on the channel that long, the channel begins the new day (rebuilt from
// ApplSeqNum 1, stale until then). Before, the new day was refused at
// every login of the primary for as long as the backup stayed connected,
// and the old day's books were served as valid.
func TestSZSENewDayWhileOtherSourceIdle(t *testing.T) {
	r := newArbRig(t, nil) // HeartbeatTimeout 3 s
	r.mustOfferDay(Primary, 2011, 1, 10, 20261203)
	r.mustOfferDay(Backup, 2011, 1, 10, 20261203)
	r.expect(seqs(2011, 1, 10)...)
	refused, began := 0, false
	for range 10 { // the primary logs in again, a second apart
		r.a.SourceDown(Primary)
		r.a.SourceLive(Primary)
		r.heartbeat(Primary, 2011, 0)
		if err := r.offerDay(Primary, 2011, 1, 20, 20261204); err != nil {
			refused++
		} else {
			began = true
			break
		}
		r.check(time.Second)
	}
	if refused == 0 {
		t.Fatal("the new day was taken at once, while the backup had just streamed the old day")
	}
	// The new day rebuilt the channel and delivered its records 1..20.
	if c := r.channel(2011); !began || c.Rebuilds != 1 || c.Next != 21 || c.Stale {
		t.Fatalf("the new day's records were refused %d times, the backup idle on the old day; channel 2011: %+v", refused, c)
	}
	r.expect(append([]string{"reset 2011", "2011:1", "live 2011"}, seqs(2011, 2, 20)...)...)
}
