package feed

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"sgw/feed/capture"
	"sgw/feed/szse"
)

// captureRig records an arbiter's arbitrated stream into a directory.
type captureRig struct {
	t   *testing.T
	dir string
	rec *capture.Recorder
}

func newCaptureRig(t *testing.T, protocol string) *captureRig {
	t.Helper()
	dir := t.TempDir()
	rec, err := capture.New(capture.Config{Dir: dir, Record: []string{capture.RecordArbitrated}}, "t", protocol, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec.Start()
	return &captureRig{t: t, dir: dir, rec: rec}
}

// scan stops the recorder and returns what capture.Scan (what a replay
// serves) finds in the capture, one "stream/channel:seq" a message.
func (c *captureRig) scan() []string {
	c.t.Helper()
	if err := c.rec.Close(); err != nil {
		c.t.Fatal(err)
	}
	files, err := capture.Files(c.dir, "", "")
	if err != nil {
		c.t.Fatal(err)
	}
	var got []string
	if _, err := capture.Scan(files, func(m capture.Message) error {
		got = append(got, fmt.Sprintf("%d/%d:%d", m.Stream, m.Channel, m.Seq))
		return nil
	}); err != nil {
		c.t.Fatal(err)
	}
	return got
}

// streamSeqs returns "stream/channel:seq" for seq from..to.
func streamSeqs(stream int, ch uint16, from, to uint64) []string {
	var out []string
	for s := from; s <= to; s++ {
		out = append(out, fmt.Sprintf("%d/%d:%d", stream, ch, s))
	}
	return out
}

// TestCaptureNewStreamReplaysBoth: the arbiter begins a new stream (a new
// SoupBinTCP session; a renumbered stream it rebuilds from; an SZSE
// channel's new trading day or renumbering) and numbers it from 1 again.
// The capture of the arbitrated stream marks the boundary (a stream
// record), so what a replay serves (capture.Scan) holds both streams in
// full, in order. Before, the arbitrated stream recorded no boundary and
// Scan skipped the second stream's messages up to the first one's
// extent, as if a reconnect had delivered them again.
func TestCaptureNewStreamReplaysBoth(t *testing.T) {
	t.Run("itch new session", func(t *testing.T) {
		c := newCaptureRig(t, ProtocolITCH)
		a := newArbiter(&recordSink{}, 64, 3, time.Second, time.Second)
		a.rec = c.rec
		a.Session(Primary, "S1")
		a.SourceLive(Primary, 1)
		for s := uint64(1); s <= 8; s++ {
			a.Offer(Primary, s, msgOf(s), 0)
		}
		a.SourceDown(Primary)
		if ok, switched := a.Session(Primary, "S2"); !ok || !switched {
			t.Fatalf("the new session: ok %v, switched %v", ok, switched)
		}
		a.SourceLive(Primary, 1)
		for s := uint64(1); s <= 5; s++ {
			a.Offer(Primary, s, msgOf(100+s), 0)
		}
		want := append(streamSeqs(0, 0, 1, 8), streamSeqs(1, 0, 1, 5)...)
		if got := c.scan(); !slices.Equal(got, want) {
			t.Fatalf("replayed %v\nwant %v", got, want)
		}
	})
	t.Run("itch renumbered", func(t *testing.T) {
		c := newCaptureRig(t, ProtocolITCH)
		a := newArbiter(&staleSink{}, 64, 1, time.Second, time.Minute)
		a.rec = c.rec
		a.SourceLive(Primary, 1)
		a.SourceLive(Backup, 1)
		const open = 9*time.Hour + 30*time.Minute
		for s := uint64(1); s <= 20; s++ {
			a.Offer(Primary, s, stamped(s, open+time.Duration(s)*time.Millisecond), 0)
		}
		t0 := time.Unix(100, 0)
		for _, src := range []int{Primary, Backup} {
			a.SourceDown(src)
			a.SourceLive(src, 3)
		}
		restarted := open + time.Minute
		for s := uint64(3); s <= 6; s++ {
			a.Offer(Primary, s, stamped(s, restarted+time.Duration(s)*time.Millisecond), t0.UnixNano())
			a.Offer(Backup, s, stamped(s, restarted+time.Duration(s)*time.Millisecond), t0.UnixNano())
		}
		src := a.Check(t0.Add(2 * time.Minute))
		if src < 0 || !a.Rebuilding() {
			t.Fatalf("no rebuild from the renumbered stream")
		}
		a.SourceLive(src, 1)
		for s := uint64(1); s <= 9; s++ {
			a.Offer(src, s, stamped(s, restarted+time.Duration(s)*time.Millisecond), t0.UnixNano())
		}
		want := append(streamSeqs(0, 0, 1, 20), streamSeqs(1, 0, 1, 9)...)
		if got := c.scan(); !slices.Equal(got, want) {
			t.Fatalf("replayed %v\nwant %v", got, want)
		}
	})
	t.Run("szse new day", func(t *testing.T) {
		c := newCaptureRig(t, ProtocolSZSE)
		r := newArbRig(t, nil)
		r.a.rec = c.rec
		r.mustOfferDay(Primary, 2011, 1, 10, 20261203)
		r.mustOfferDay(Primary, 2012, 1, 4, 20261203)
		r.relogin()
		r.mustOfferDay(Primary, 2011, 1, 6, 20261204)
		// The other channel goes on: the session, new there too, is
		// verified by its copy of the last record delivered (a ReTransmit
		// asked of it starts there) before its records are taken.
		r.mustOfferDay(Primary, 2012, 4, 6, 20261203)
		want := slices.Concat(streamSeqs(0, 2011, 1, 10), streamSeqs(0, 2012, 1, 4), streamSeqs(1, 2011, 1, 6), streamSeqs(0, 2012, 5, 6))
		if got := c.scan(); !slices.Equal(got, want) {
			t.Fatalf("replayed %v\nwant %v", got, want)
		}
	})
	t.Run("szse renumbered", func(t *testing.T) {
		const day = 20261204
		c := newCaptureRig(t, ProtocolSZSE)
		r := newArbRig(t, nil)
		r.a.rec = c.rec
		early := szse.Timestamp(day*1_000_000_000 + 93000000)
		r.offerAt(Primary, 2011, 1, 20, early, 100000)
		r.relogin()
		later := szse.Timestamp(day*1_000_000_000 + 100500000)
		r.offerAt(Primary, 2011, 1, 7, later, 101000)
		want := append(streamSeqs(0, 2011, 1, 20), streamSeqs(1, 2011, 1, 7)...)
		if got := c.scan(); !slices.Equal(got, want) {
			t.Fatalf("replayed %v\nwant %v", got, want)
		}
	})
}
