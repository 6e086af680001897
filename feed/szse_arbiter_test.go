package feed

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"sgw/feed/szse"
)

// recSZSESink records what the arbiter delivers as short strings ("2011:5",
// "reset 2011", "live 2011", "snapshot 1011") and checks that each
// channel's records arrive once and in order, from 1 after a reset.
type recSZSESink struct {
	got  []string
	next map[uint16]int64
	bad  []string
	// px is the price of the order delivered last at each channel and
	// ApplSeqNum: which stream's record the books hold there.
	px map[[2]int64]int64
}

func newRecSZSESink() *recSZSESink {
	return &recSZSESink{next: map[uint16]int64{}, px: map[[2]int64]int64{}}
}

func (r *recSZSESink) ApplySZSE(m *szse.Message, _ int64) error {
	if m.Type == szse.TypeSnapshot {
		r.got = append(r.got, fmt.Sprintf("snapshot %d", m.Snapshot.ChannelNo))
		return nil
	}
	ch, seq := recordKey(m)
	if want := r.next[ch] + 1; seq != want {
		r.bad = append(r.bad, fmt.Sprintf("channel %d: got %d, want %d", ch, seq, want))
	}
	r.next[ch] = seq
	if m.Type == szse.TypeOrder {
		r.px[[2]int64{int64(ch), seq}] = int64(m.Order.Price)
	}
	r.got = append(r.got, fmt.Sprintf("%d:%d", ch, seq))
	return nil
}

func (r *recSZSESink) ResetChannel(ch uint16) error {
	r.next[ch] = 0
	r.got = append(r.got, fmt.Sprintf("reset %d", ch))
	return nil
}

func (r *recSZSESink) ChannelLive(ch uint16) error {
	r.got = append(r.got, fmt.Sprintf("live %d", ch))
	return nil
}

// take returns what was delivered since the last take.
func (r *recSZSESink) take() []string {
	out := r.got
	r.got = nil
	return out
}

// arbRig drives an arbiter directly, on a clock of its own.
type arbRig struct {
	t    *testing.T
	a    *szseArbiter
	sink *recSZSESink
	now  time.Time
	m    szse.Message
}

func newArbRig(t *testing.T, edit func(*Config)) *arbRig {
	cfg := Config{Name: "t", Protocol: ProtocolSZSE, Primary: SourceConfig{Addr: "127.0.0.1:1"}, Backup: SourceConfig{Addr: "127.0.0.1:2"},
		Window: 16, MaxRecoveryAttempts: 2, RecoveryTimeout: time.Second, GapWait: 100 * time.Millisecond, HeartbeatTimeout: 3 * time.Second}
	if edit != nil {
		edit(&cfg)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	r := &arbRig{t: t, sink: newRecSZSESink(), now: time.Unix(1_700_000_000, 0)}
	r.a = newSZSEArbiter(cfg, r.sink, slog.New(slog.DiscardHandler))
	r.a.SourceLive(Primary)
	r.a.SourceLive(Backup)
	return r
}

// record returns the frame of record seq of channel ch: orders, with a
// trade every third.
func record(ch uint16, seq int64) []byte {
	if seq%3 == 0 {
		return szse.AppendTrade(nil, &szse.Trade{ChannelNo: ch, ApplSeqNum: seq, BidApplSeqNum: seq - 1, OfferApplSeqNum: seq - 2,
			LastPx: 100000, LastQty: 10000, ExecType: szse.ExecTypeTrade})
	}
	return szse.AppendOrder(nil, &szse.Order{ChannelNo: ch, ApplSeqNum: seq, Price: 100000, OrderQty: 10000, Side: szse.SideBuy, OrdType: szse.OrdTypeLimit})
}

// offer hands the arbiter records from..to of channel ch from src.
func (r *arbRig) offer(src int, ch uint16, from, to int64) *sourceError {
	r.t.Helper()
	for seq := from; seq <= to; seq++ {
		frame := record(ch, seq)
		if _, err := szse.Decode(frame, &r.m); err != nil {
			r.t.Fatal(err)
		}
		if err := r.a.Offer(src, &r.m, frame, r.now.UnixNano()); err != nil {
			return err
		}
	}
	return nil
}

func (r *arbRig) mustOffer(src int, ch uint16, from, to int64) {
	r.t.Helper()
	if err := r.offer(src, ch, from, to); err != nil {
		r.t.Fatalf("offer %d:%d-%d from %d: %v", ch, from, to, src, err)
	}
}

// sendHeartbeat hands the arbiter a ChannelHeartbeat of channel ch from
// src and returns its answer.
func (r *arbRig) sendHeartbeat(src int, ch uint16, last int64) *sourceError {
	return r.a.Heartbeat(src, &szse.ChannelHeartbeat{ChannelNo: ch, ApplLastSeqNum: last}, r.now.UnixNano())
}

func (r *arbRig) heartbeat(src int, ch uint16, last int64) {
	r.t.Helper()
	if err := r.sendHeartbeat(src, ch, last); err != nil {
		r.t.Fatal(err)
	}
}

func (r *arbRig) answer(src int, ch uint16, beg, end int64, status uint8) {
	r.t.Helper()
	if err := r.a.Answer(src, &szse.ReTransmit{ResendType: szse.ResendTypeTick, ChannelNo: ch, ApplBegSeqNum: beg, ApplEndSeqNum: end, ResendStatus: status}, r.now.UnixNano()); err != nil {
		r.t.Fatal(err)
	}
}

// check advances the clock by d and runs Check.
func (r *arbRig) check(d time.Duration) []szseAsk {
	r.now = r.now.Add(d)
	return r.a.Check(r.now, nil)
}

func (r *arbRig) expect(want ...string) {
	r.t.Helper()
	if got := r.sink.take(); !slices.Equal(got, want) {
		r.t.Fatalf("delivered %v, want %v", got, want)
	}
	if len(r.sink.bad) > 0 {
		r.t.Fatalf("out of order: %v", r.sink.bad)
	}
}

// refuse advances the clock by d, runs Check and answers each ReTransmit
// it asks for "unavailable"; it returns the asks.
func (r *arbRig) refuse(d time.Duration) []szseAsk {
	r.t.Helper()
	asks := r.check(d)
	for _, a := range asks {
		r.answer(a.src, a.channel, int64(a.from), int64(a.to), szse.ResendStatusUnavailable)
	}
	return asks
}

// nextAsks runs Check every d until it asks for something or declares a
// loss, ten times at most, and returns what it asked.
func (r *arbRig) nextAsks(d time.Duration) []szseAsk {
	for range 10 {
		asks := r.check(d)
		if len(asks) > 0 || slices.ContainsFunc(r.a.channels(), func(ch *szseArbChannel) bool { return ch.lost.Load() > 0 }) {
			return asks
		}
	}
	return nil
}

// snapshot hands the arbiter a 300111 snapshot of channel 1011 from src.
func (r *arbRig) snapshot(src int) {
	var m szse.Message
	m.Type = szse.TypeSnapshot
	m.Snapshot.ChannelNo = 1011
	r.a.Snapshot(src, &m, nil, r.now.UnixNano())
}

func seqs(ch uint16, from, to int64) []string {
	var out []string
	for s := from; s <= to; s++ {
		out = append(out, fmt.Sprintf("%d:%d", ch, s))
	}
	return out
}

func (r *arbRig) channel(no uint16) ChannelStatus {
	for _, ch := range r.a.channels() {
		if ch.no == no {
			return ch.status()
		}
	}
	r.t.Fatalf("no channel %d", no)
	return ChannelStatus{}
}

func TestSZSEArbiterMerges(t *testing.T) {
	r := newArbRig(t, nil)
	r.mustOffer(Primary, 2011, 1, 3)
	r.mustOffer(Backup, 2011, 1, 4)
	r.mustOffer(Primary, 2012, 1, 2) // channels are independent
	r.mustOffer(Primary, 2011, 4, 5)
	r.expect(append(append(seqs(2011, 1, 4), seqs(2012, 1, 2)...), "2011:5")...)
	if c := r.channel(2011); c.Delivered != 5 || c.Duplicates != 4 || c.Next != 6 {
		t.Fatalf("status %+v", c)
	}
	if got := [2]uint64{r.a.first[Primary].Load(), r.a.first[Backup].Load()}; got != [2]uint64{6, 1} {
		t.Fatalf("first copies %v", got)
	}
}

func TestSZSEArbiterHoldsAndFillsFromTheOtherSource(t *testing.T) {
	r := newArbRig(t, nil)
	r.mustOffer(Primary, 2011, 1, 2)
	r.mustOffer(Primary, 2011, 5, 6) // 3 and 4 missing on the primary
	r.expect(seqs(2011, 1, 2)...)
	if asks := r.check(50 * time.Millisecond); len(asks) != 0 {
		t.Fatalf("asked %v while the backup may bring the gap", asks)
	}
	r.mustOffer(Backup, 2011, 1, 4)
	r.expect(seqs(2011, 3, 6)...)
	if asks := r.check(time.Second); len(asks) != 0 {
		t.Fatalf("asked %v with no gap", asks)
	}
}

func TestSZSEArbiterRecoversByReTransmit(t *testing.T) {
	r := newArbRig(t, func(c *Config) { c.MaxRecoveryAttempts = 3 })
	r.mustOffer(Primary, 2011, 1, 2)
	r.mustOffer(Primary, 2011, 10, 10)
	r.mustOffer(Backup, 2011, 1, 2)
	r.mustOffer(Backup, 2011, 12, 12) // both passed 3
	r.expect(seqs(2011, 1, 2)...)
	asks := r.check(0)
	if want := []szseAsk{{src: Primary, channel: 2011, from: 3, to: 9}}; !slices.Equal(asks, want) {
		t.Fatalf("asks %v, want %v", asks, want)
	}
	if asks := r.check(time.Second); len(asks) != 0 {
		t.Fatalf("asked again %v while the first request is under way", asks)
	}
	// Refused: the next attempt goes to the backup.
	r.answer(Primary, 2011, 3, 9, szse.ResendStatusUnavailable)
	if asks := r.check(0); !slices.Equal(asks, []szseAsk{{src: Backup, channel: 2011, from: 3, to: 9}}) {
		t.Fatalf("asks %v after a refusal", asks)
	}
	// Partial: 3..5 come, then the rest is asked for.
	r.answer(Backup, 2011, 3, 5, szse.ResendStatusPartial)
	r.mustOffer(Backup, 2011, 3, 5)
	r.expect(seqs(2011, 3, 5)...)
	if asks := r.check(0); !slices.Equal(asks, []szseAsk{{src: Primary, channel: 2011, from: 6, to: 9}}) {
		t.Fatalf("asks %v after a partial answer", asks)
	}
	// A live record below the primary's live position is not allowed, a
	// resent one is.
	if err := r.offer(Primary, 2011, 7, 7); err == nil || err.reason != "backwards" {
		t.Fatalf("a backwards live record: %v", err)
	}
	r.answer(Primary, 2011, 6, 9, szse.ResendStatusDone)
	r.mustOffer(Primary, 2011, 6, 9)
	r.expect(seqs(2011, 6, 10)...)
	if c := r.channel(2011); c.Next != 11 || c.Gaps != 2 || c.Rerequests != 3 || c.Lost != 0 {
		t.Fatalf("status %+v", c)
	}
	// 11 is missing and 12 held. The primary, whose stream is at 11, may
	// still bring it, and has GapWait to.
	if asks := r.check(0); len(asks) != 0 {
		t.Fatalf("asked %v at once", asks)
	}
	if asks := r.check(100 * time.Millisecond); !slices.Equal(asks, []szseAsk{{src: Primary, channel: 2011, from: 11, to: 11}}) {
		t.Fatalf("asks %v", asks)
	}
}

func TestSZSEArbiterLosesAndRebuilds(t *testing.T) {
	r := newArbRig(t, nil)
	r.mustOffer(Primary, 2011, 1, 3)
	r.mustOffer(Primary, 2011, 8, 9)
	r.mustOffer(Backup, 2011, 1, 3)
	r.mustOffer(Backup, 2011, 8, 9)
	r.expect(seqs(2011, 1, 3)...)
	for i, src := range []int{Primary, Backup} {
		asks := r.check(10 * time.Millisecond)
		if !slices.Equal(asks, []szseAsk{{src: src, channel: 2011, from: 4, to: 7}}) {
			t.Fatalf("attempt %d: asks %v", i+1, asks)
		}
		r.answer(src, 2011, 4, 7, szse.ResendStatusUnavailable)
	}
	if asks := r.check(500 * time.Millisecond); len(asks) != 0 || r.channel(2011).Stale {
		t.Fatalf("gave up before the recovery time: asks %v, %+v", asks, r.channel(2011))
	}
	// Lost: reset, then the rebuild asks for everything from 1.
	asks := r.check(500 * time.Millisecond)
	r.expect("reset 2011")
	if c := r.channel(2011); !c.Stale || c.Lost != 4 || c.Next != 1 || c.Rebuilds != 1 {
		t.Fatalf("after the loss: %+v", c)
	}
	if len(asks) == 0 {
		asks = r.check(0)
	}
	if !slices.Equal(asks, []szseAsk{{src: Primary, channel: 2011, from: 1, to: 9}}) {
		t.Fatalf("rebuild asks %v", asks)
	}
	r.answer(Primary, 2011, 1, 5, szse.ResendStatusPartial)
	r.mustOffer(Primary, 2011, 1, 5)
	r.mustOffer(Backup, 2011, 10, 10) // live, meanwhile
	r.expect(seqs(2011, 1, 5)...)
	// The backup, taken with nothing delivered, is verified once the
	// rebuild delivered the primary's records (firstDelivered): its 10
	// waits, and the primary is asked through it.
	asks = r.check(0)
	if !slices.Equal(asks, []szseAsk{{src: Primary, channel: 2011, from: 6, to: 10}}) {
		t.Fatalf("rebuild asks %v", asks)
	}
	r.answer(Primary, 2011, 6, 10, szse.ResendStatusDone)
	r.mustOffer(Primary, 2011, 6, 10)
	r.expect(append(seqs(2011, 6, 10), "live 2011")...)
	if c := r.channel(2011); c.Stale {
		t.Fatalf("still stale: %+v", c)
	}
}

func TestSZSEArbiterLiveStart(t *testing.T) {
	r := newArbRig(t, func(c *Config) { c.Window = 64 })
	r.heartbeat(Primary, 2011, 40) // the session starts after 40 records
	r.heartbeat(Backup, 2011, 40)
	asks := r.check(0)
	if !slices.Equal(asks, []szseAsk{{src: Primary, channel: 2011, from: 1, to: 40}}) {
		t.Fatalf("asks %v", asks)
	}
	r.mustOffer(Primary, 2011, 41, 42) // live records, held
	r.answer(Primary, 2011, 1, 40, szse.ResendStatusDone)
	r.mustOffer(Primary, 2011, 1, 40)
	r.expect(seqs(2011, 1, 42)...)
	if c := r.channel(2011); c.Stale || c.Lost != 0 || c.Gaps != 1 {
		t.Fatalf("status %+v", c)
	}
}

func TestSZSEArbiterWindow(t *testing.T) {
	r := newArbRig(t, nil) // window 16
	r.mustOffer(Primary, 2011, 2, 16)
	r.mustOffer(Primary, 2011, 17, 20) // beyond the window: dropped
	if c := r.channel(2011); c.Overflow != 4 {
		t.Fatalf("status %+v", c)
	}
	r.mustOffer(Backup, 2011, 1, 1)
	// The primary's records wait until its copy of the first record
	// delivered, the backup's, matches it (firstDelivered): resent.
	r.answer(Primary, 2011, 1, 1, szse.ResendStatusDone)
	r.mustOffer(Primary, 2011, 1, 1)
	r.expect(seqs(2011, 1, 16)...)
	r.mustOffer(Backup, 2011, 17, 20)
	r.expect(seqs(2011, 17, 20)...)
}

func TestSZSEArbiterSnapshotAlignment(t *testing.T) {
	r := newArbRig(t, nil)
	r.mustOffer(Primary, 2011, 1, 3)
	r.mustOffer(Primary, 2012, 1, 1)
	r.expect("2011:1", "2011:2", "2011:3", "2012:1")
	r.snapshot(Primary) // no ChannelHeartbeat yet: other channels may exist
	r.heartbeat(Primary, 2011, 3)
	r.heartbeat(Backup, 2011, 0)
	r.snapshot(Primary) // the primary is where delivery is
	r.snapshot(Backup)  // the backup has shown nothing
	r.mustOffer(Backup, 2011, 1, 2)
	r.mustOffer(Backup, 2012, 1, 1)
	r.snapshot(Backup) // behind on 2011
	r.mustOffer(Primary, 2011, 5, 5)
	r.snapshot(Primary) // 4 is missing: 5 was sent but not delivered
	r.expect("snapshot 1011")
	r.mustOffer(Backup, 2011, 3, 5)
	r.expect("2011:4", "2011:5")
	r.snapshot(Backup)
	r.snapshot(Primary)
	r.expect("snapshot 1011", "snapshot 1011")
	if c := r.channel(1011); c.Snapshots != 3 || c.SnapshotsDropped != 4 {
		t.Fatalf("status %+v", c)
	}
}

// statusAtSink is a recSZSESink that also notes, at each call, what the
// arbiter's status (read without the lock, as any status reader does)
// already counts: a record's channel's Next, a snapshot's channel's
// Snapshots.
type statusAtSink struct {
	*recSZSESink
	a    *szseArbiter
	seen []string
}

func (s *statusAtSink) ApplySZSE(m *szse.Message, recv int64) error {
	status := func(no uint16) ChannelStatus {
		for _, ch := range s.a.channels() {
			if ch.no == no {
				return ch.status()
			}
		}
		return ChannelStatus{}
	}
	if m.Type == szse.TypeSnapshot {
		s.seen = append(s.seen, fmt.Sprintf("snapshot: %d counted", status(m.Snapshot.ChannelNo).Snapshots))
	} else {
		no, seq := recordKey(m)
		s.seen = append(s.seen, fmt.Sprintf("%d:%d: next %d", no, seq, status(no).Next))
	}
	return s.recSZSESink.ApplySZSE(m, recv)
}

// TestSZSEArbiterSnapshotCountedOnceDelivered: a snapshot counts as
// delivered (ChannelStatus.Snapshots) once the sink has it, as a record
// does (Next moves past it after the sink call), so whoever sees the count
// finds the snapshot in the sink. Before, the count went up before the
// sink call: TestSZSECaptureReplayRebuildsIdenticalBooks, which waits for
// the replay's count to reach the snapshots played, now and then read the
// sink's stream one snapshot short.
func TestSZSEArbiterSnapshotCountedOnceDelivered(t *testing.T) {
	r := newArbRig(t, nil)
	sink := &statusAtSink{recSZSESink: r.sink, a: r.a}
	r.a.sink = sink
	r.mustOffer(Primary, 2011, 1, 2)
	r.heartbeat(Primary, 2011, 2)
	r.snapshot(Primary)
	r.snapshot(Primary)
	r.expect("2011:1", "2011:2", "snapshot 1011", "snapshot 1011")
	want := []string{"2011:1: next 1", "2011:2: next 2", "snapshot: 0 counted", "snapshot: 1 counted"}
	if !slices.Equal(sink.seen, want) {
		t.Fatalf("status at the sink calls %q, want %q", sink.seen, want)
	}
	if c := r.channel(1011); c.Snapshots != 2 {
		t.Fatalf("status %+v after two snapshots delivered", c)
	}
}

// TestSZSEArbiterSnapshotAfterResent: a source's snapshots travel in its
// live stream, so they are aligned by where that stream is, not by what
// the source resent. The backup's live stream is at 3 when it resends 4..7
// (the primary skipped them); its next snapshot shows the books at 3 and
// is dropped while delivery is at 7, the primary's is delivered. Before,
// the resent records counted as the backup's position and its snapshot
// was delivered against books four records ahead of it.
func TestSZSEArbiterSnapshotAfterResent(t *testing.T) {
	r := newArbRig(t, nil)
	r.mustOffer(Primary, 2011, 1, 3)
	r.mustOffer(Backup, 2011, 1, 3)
	r.heartbeat(Backup, 2011, 3)  // the backup's live stream is at 3
	r.heartbeat(Primary, 2011, 7) // the primary passed 4..7 without sending them
	r.expect(seqs(2011, 1, 3)...)
	r.check(0)
	var asks []szseAsk
	for range 4 {
		if asks = r.check(200 * time.Millisecond); len(asks) > 0 && asks[0].src == Backup {
			break
		}
		for _, a := range asks {
			r.answer(a.src, a.channel, int64(a.from), int64(a.to), szse.ResendStatusUnavailable)
		}
	}
	if len(asks) != 1 || asks[0].src != Backup || asks[0].from != 4 || asks[0].to != 7 {
		t.Fatalf("asks %v; want 4..7 of the backup", asks)
	}
	r.answer(Backup, 2011, 4, 7, szse.ResendStatusDone)
	r.mustOffer(Backup, 2011, 4, 7) // resent, not live
	r.expect(seqs(2011, 4, 7)...)
	r.snapshot(Backup)
	if got := r.sink.take(); len(got) != 0 {
		t.Fatalf("a snapshot of the backup's live stream at 3 delivered against the books at 7: %v", got)
	}
	r.snapshot(Primary)
	r.expect("snapshot 1011")
}

func TestSZSEArbiterSourceDownFailsItsRequest(t *testing.T) {
	r := newArbRig(t, nil)
	r.mustOffer(Primary, 2011, 3, 3)
	r.mustOffer(Backup, 2011, 3, 3)
	if asks := r.check(0); !slices.Equal(asks, []szseAsk{{src: Primary, channel: 2011, from: 1, to: 2}}) {
		t.Fatalf("asks %v", asks)
	}
	r.a.SourceDown(Primary)
	if asks := r.check(0); !slices.Equal(asks, []szseAsk{{src: Backup, channel: 2011, from: 1, to: 2}}) {
		t.Fatalf("asks %v after the primary went down", asks)
	}
	// Unanswered for the heartbeat timeout: the request has failed, the
	// attempts are spent and the recovery time has passed.
	if asks := r.check(3 * time.Second); len(asks) != 0 {
		t.Fatalf("asks %v", asks)
	}
	r.expect("reset 2011")
}

// TestSZSEArbiterSnapshotChannel: a ChannelHeartbeat of a channel that
// carries only snapshots opens no gap once a snapshot has shown what the
// channel is.
func TestSZSEArbiterSnapshotChannel(t *testing.T) {
	r := newArbRig(t, nil)
	r.heartbeat(Primary, 1011, 12) // before any snapshot: taken for records
	if asks := r.check(200 * time.Millisecond); len(asks) != 1 || asks[0].channel != 1011 {
		t.Fatalf("asks %v", asks)
	}
	r.snapshot(Primary)
	r.heartbeat(Backup, 1011, 30)
	r.snapshot(Backup)
	if asks := r.check(5 * time.Second); len(asks) != 0 {
		t.Fatalf("asks %v for a snapshot channel", asks)
	}
	r.expect("snapshot 1011", "snapshot 1011")
	if c := r.channel(1011); c.Last != 0 || c.Stale || c.Lost != 0 {
		t.Fatalf("status %+v", c)
	}
}

// TestSZSEArbiterRebuildOnRequest: the sink's rebuild request resets the
// channel and delivers it again from 1; an unknown or rebuilding channel
// is left alone.
func TestSZSEArbiterRebuildOnRequest(t *testing.T) {
	r := newArbRig(t, nil)
	r.mustOffer(Primary, 2011, 1, 4)
	r.mustOffer(Backup, 2011, 1, 4)
	r.expect(seqs(2011, 1, 4)...)
	r.a.Rebuild(2099)
	r.a.Rebuild(2011)
	r.a.Rebuild(2011)
	r.expect("reset 2011")
	asks := r.check(0)
	if !slices.Equal(asks, []szseAsk{{src: Primary, channel: 2011, from: 1, to: 4}}) {
		t.Fatalf("asks %v", asks)
	}
	r.answer(Primary, 2011, 1, 4, szse.ResendStatusDone)
	r.mustOffer(Primary, 2011, 1, 4)
	r.expect(append(seqs(2011, 1, 4), "live 2011")...)
	if c := r.channel(2011); c.Rebuilds != 1 || c.Lost != 0 || c.Stale {
		t.Fatalf("status %+v", c)
	}
}
