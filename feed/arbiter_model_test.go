package feed

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"sgw/feed/itch"
	"sgw/feed/soupbin"
)

// This file checks the ITCH arbiter against a model: one canonical stream
// of real ITCH messages, served by two simulated SoupBinTCP servers whose
// connections, relays and journals fail at random, read by the feed's own
// sources (source.go: login, Login Accepted, tracking numbers) and
// arbitrated by its Arbiter, with the supervisor's loop (Feed.Run) driven
// on a simulated clock. Everything runs on the test's goroutine, one step
// at a time, so a seed replays exactly.

// modelTick is the simulated time between two supervisor checks.
const modelTick = 10 * time.Millisecond

// modelStamp is the ITCH timestamp of message seq: messages are stamped in
// sequence order, 100µs apart, so a message's bytes name its sequence.
func modelStamp(seq uint64) uint64 { return 34_200_000_000_000 + seq*100_000 }

// modelStream returns a canonical stream of n real ITCH messages (index 0
// is sequence 1): a Stock Directory, then Add Orders, executions and
// deletes of them, each carrying the low 16 bits of its sequence number
// in its Tracking Number.
func modelStream(t *testing.T, r *rand.Rand, n int) [][]byte {
	t.Helper()
	stock, _ := itch.StockOf("600519")
	var live []uint64
	ref := uint64(100)
	out := make([][]byte, 0, n)
	for seq := uint64(1); seq <= uint64(n); seq++ {
		m := itch.Message{StockLocate: 1, TrackingNumber: uint16(seq), Timestamp: modelStamp(seq)}
		switch k := r.IntN(10); {
		case seq == 1:
			m.Type, m.Stock, m.MarketCategory, m.FinancialStatus, m.RoundLotSize = itch.TypeStockDirectory, stock, 'Q', 'N', 100
			m.RoundLotsOnly, m.IssueClassification, m.IssueSubType, m.Authenticity = 'N', 'C', [2]byte{'Z', ' '}, 'P'
			m.ShortSaleThreshold, m.IPOFlag, m.LULDRefPriceTier, m.ETPFlag, m.InverseIndicator = 'N', 'N', '1', 'N', 'N'
		case len(live) > 0 && k < 2:
			i := r.IntN(len(live))
			m.Type, m.OrderRef = itch.TypeOrderDelete, live[i]
			live = append(live[:i], live[i+1:]...)
		case len(live) > 0 && k < 4:
			m.Type, m.OrderRef, m.Shares, m.MatchNumber = itch.TypeOrderExecuted, live[r.IntN(len(live))], 1, seq
		default:
			ref++
			m.Type, m.OrderRef, m.Stock, m.Shares, m.Price = itch.TypeAddOrder, ref, stock, 100, 17_000_000+uint32(r.IntN(100))*100
			m.Side = itch.SideBuy
			if r.IntN(2) == 0 {
				m.Side = itch.SideSell
			}
			live = append(live, ref)
		}
		b, err := itch.Append(nil, &m)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		out = append(out, b)
	}
	return out
}

// modelSink checks, as messages are applied, that each is a message of
// the canonical stream with its exact bytes, later than the last one
// applied; the gaps it finds are kept for the driver to compare with the
// losses the arbiter declared. It is a plain Sink: lost messages are
// skipped. Single goroutine: the driver's.
type modelSink struct {
	canon [][]byte
	// lenient: the sources may skip or repeat messages unseen (standard
	// ITCH), so a message applied may be the wrong one; wrong records it
	// (since the last Restart) instead of failing.
	lenient bool
	wrong   bool
	trace   func(format string, args ...any) // the run's tracef
	last    uint64                           // sequence number of the last message applied (0: none)
	high    uint64                           // the highest sequence number ever applied
	holes   [][2]uint64
	err     error // the first violation
}

func (s *modelSink) fail(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf(format, args...)
	}
}

func (s *modelSink) Apply(msg []byte, _ int64) error {
	if s.lenient {
		s.last++
		s.high = max(s.high, s.last)
		if s.last > uint64(len(s.canon)) || !bytes.Equal(msg, s.canon[s.last-1]) {
			if !s.wrong {
				s.trace("books: first wrong message applied at %d", s.last)
			}
			s.wrong = true
		}
		return nil
	}
	at, ok := itch.Timestamp(msg)
	seq := (at - modelStamp(0)) / 100_000
	switch {
	case !ok || seq == 0 || seq > uint64(len(s.canon)) || !bytes.Equal(msg, s.canon[seq-1]):
		s.fail("applied a message that is no canonical one at sequence %d (after %d): % x", seq, s.last, msg)
	case seq <= s.last:
		s.fail("applied sequence %d again (or out of order) after %d", seq, s.last)
	case seq > s.last+1:
		s.holes = append(s.holes, [2]uint64{s.last + 1, seq - 1})
	}
	s.last = seq
	s.high = max(s.high, seq)
	return nil
}

// modelBooks is a modelSink that rebuilds (Rebuilder, Staler, Misser,
// as the feed's ITCH decoder is): the books may never skip a message,
// and are stale from a Restart or MarkStale until Rebuilt, which must
// come only once what was applied before has been applied again. Like
// the real books, they find a message missing (Missed) when one names
// an order they do not hold or adds one they hold, until the next
// Restart.
type modelBooks struct {
	modelSink
	stale    bool
	restarts int
	rebuilt  int
	orders   map[uint64]bool
	missed   bool
}

func (b *modelBooks) Apply(msg []byte, recv int64) error {
	holes := len(b.holes)
	err := b.modelSink.Apply(msg, recv)
	if len(b.holes) != holes {
		b.fail("books skipped %d..%d", b.holes[holes][0], b.holes[holes][1])
	}
	var m itch.Message
	if itch.Decode(msg, &m) == nil {
		switch m.Type {
		case itch.TypeAddOrder:
			b.missed = b.missed || b.orders[m.OrderRef]
			b.orders[m.OrderRef] = true
		case itch.TypeOrderExecuted:
			b.missed = b.missed || !b.orders[m.OrderRef]
		case itch.TypeOrderDelete:
			b.missed = b.missed || !b.orders[m.OrderRef]
			delete(b.orders, m.OrderRef)
		}
	}
	return err
}

func (b *modelBooks) Restart() error {
	b.stale, b.last, b.wrong = true, 0, false
	b.restarts++
	clear(b.orders)
	b.missed = false
	return nil
}

func (b *modelBooks) Missed() bool { return b.missed }

func (b *modelBooks) MarkStale() error {
	b.trace("books: MarkStale at %d, wrong %v", b.last, b.wrong)
	b.stale = true
	return nil
}

func (b *modelBooks) Rebuilt() error {
	b.trace("books: Rebuilt at %d, wrong %v", b.last, b.wrong)
	if !b.stale {
		b.fail("Rebuilt while not stale")
	}
	if b.last < b.high {
		b.fail("Rebuilt at %d: the books held %d before the restart", b.last, b.high)
	}
	b.stale = false
	b.rebuilt++
	return nil
}

// modelLink is a source's link to a simulated server.
type modelLink struct{ c *modelConn }

func (l modelLink) send([]byte) {}
func (l modelLink) close()      { l.c.closed = true }

// modelConn is one connection of a simulated server.
type modelConn struct {
	gen      uint64
	closed   bool   // closed by the gateway
	acceptAt int    // the step its login is answered at
	accept   uint64 // the sequence number it accepts the login at (0: rejects it)
	accepted bool
	next     uint64 // the next sequence number it sends
	pause    int    // it sends nothing before this step (heartbeats only)
}

// modelServer is one simulated SoupBinTCP server (or the relay before it).
type modelServer struct {
	avail     uint64 // the messages it has received: 1..avail
	rate      int    // how many more it may receive per step
	slowUntil int    // its relay receives nothing before this step
	deadUntil int    // it accepts no connection before this step
	conn      *modelConn
}

// modelRun is one seed's run.
type modelRun struct {
	t        *testing.T
	r        *rand.Rand
	f        *Feed
	sink     *modelSink
	books    *modelBooks // nil: a plain sink
	canon    [][]byte
	srv      [2]*modelServer
	nsrc     int
	step     int
	now      time.Time
	produced uint64
	faults   bool // the fault phase
	tracking bool
	// skips: standard ITCH with relays that skip or repeat messages, which
	// only a divergence of the two sources' copies or the books' Missed
	// shows; the books (a Rebuilder) may apply wrong messages until then.
	skips bool
	bad   int // the source whose relay skips and repeats (skips)
	heat  int // how often faults strike: 1 (rarely) to 8
	lost  [][2]uint64
	// wrongValid counts the steps the books ended wrong yet valid (skips).
	wrongValid int
}

// modelRounds is how many seeds TestArbiterAgainstModel runs.
func modelRounds() int {
	if n, err := strconv.Atoi(os.Getenv("MODEL_ROUNDS")); err == nil && n > 0 {
		return n
	}
	if testing.Short() {
		return 200
	}
	return 1000
}

// TestArbiterAgainstModel drives the feed's sources and arbiter through
// random faults on both sources (connections dropped, servers dead for a
// while or both at once, a relay lagging or stalled, logins answered
// late, rejected, accepted above the sequence asked (a range the server
// cannot replay now) or below it, and, with the tracking profile,
// messages dropped or repeated by a relay) and checks, at every message
// applied, that the books get the canonical stream's messages with their
// bytes, each once per build and in order: with a Rebuilder, gap-free
// (a loss rebuilds from 1) and Rebuilt only once caught up with what was
// applied before; with a plain sink, every message skipped a loss the
// arbiter declared. Copies never differ there, so there must be no
// divergence. Once the faults end, the books must converge to the whole
// stream, valid.
//
// A third of the seeds with two sources and standard ITCH (skips) have
// one relay skip and repeat messages unseen, numbering the rest on: the
// books may then apply wrong messages, but must end with the whole
// stream, valid. Only what the arbiter's design can see is asked: the
// other source's copies of every message are compared (see faulty and
// trusted), and the books' Missed is the real books'.
//
// A failure prints its seed: MODEL_SEED=n reruns one (MODEL_TRACE=1
// logs the run); MODEL_ROUNDS=n runs n seeds.
func TestArbiterAgainstModel(t *testing.T) {
	seeds := make([]uint64, modelRounds())
	base := uint64(time.Now().UnixNano())
	for i := range seeds {
		seeds[i] = base + uint64(i)
	}
	if s, ok := modelSeedFromEnv(); ok {
		seeds = []uint64{s}
	}
	t.Logf("seeds %d..%d (MODEL_SEED=n reruns one)", seeds[0], seeds[len(seeds)-1])
	for _, seed := range seeds {
		if err := runModel(t, seed); err != nil {
			t.Fatalf("seed %d (MODEL_SEED=%d): %v", seed, seed, err)
		}
	}
}

// modelSeedFromEnv returns the seed MODEL_SEED names, if set.
func modelSeedFromEnv() (uint64, bool) {
	v := os.Getenv("MODEL_SEED")
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 64)
	return n, err == nil
}

func runModel(t *testing.T, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	m := &modelRun{t: t, r: r, now: time.Unix(1_000_000, 0), tracking: r.IntN(2) == 0, faults: true, heat: 1 + r.IntN(8)}
	m.nsrc = 2
	if r.IntN(6) == 0 {
		m.nsrc = 1
	}
	m.skips = !m.tracking && m.nsrc == 2 && r.IntN(3) == 0
	m.bad = r.IntN(2)
	n := uint64(100 + r.IntN(400)) // the messages sent while faults strike
	tail := uint64(0)
	if m.skips {
		// The stream goes on after the faults, as a market's does: a
		// rebuild begun after a source repeated messages is to reach the
		// sequence number that source had reached.
		tail = 100
	}
	m.canon = modelStream(t, r, int(n+tail))
	cfg := Config{
		Name:                "model",
		Primary:             SourceConfig{Addr: "127.0.0.1:1"},
		HeartbeatTimeout:    time.Second,
		HeartbeatInterval:   200 * time.Millisecond,
		RecoveryTimeout:     time.Duration(100+r.IntN(400)) * time.Millisecond,
		MaxRecoveryAttempts: 1 + r.IntN(3),
		Window:              []int{8, 64, 1024}[r.IntN(3)],
		CheckInterval:       modelTick,
		TrackingProfile:     m.tracking,
	}
	if m.nsrc == 2 {
		cfg.Backup = SourceConfig{Addr: "127.0.0.1:2"}
	}
	if m.skips {
		cfg.Window = 1024
	}
	m.sink = &modelSink{canon: m.canon, trace: m.tracef}
	var sink Sink = m.sink
	if m.skips || r.IntN(4) != 0 {
		m.books = &modelBooks{modelSink: modelSink{canon: m.canon, lenient: m.skips, trace: m.tracef}, orders: make(map[uint64]bool)}
		m.sink, sink = &m.books.modelSink, m.books
	}
	f, err := New(cfg, sink, nil)
	if err != nil {
		return err
	}
	m.f = f
	for i := range m.nsrc {
		m.srv[i] = &modelServer{rate: 2 + r.IntN(6)}
	}
	desc := fmt.Sprintf("heat %d, %d messages, %d sources, tracking %v, skips %v (bad %d), rebuilder %v, window %d, recovery %v, attempts %d",
		m.heat, len(m.canon), m.nsrc, m.tracking, m.skips, m.bad, m.books != nil, cfg.Window, cfg.RecoveryTimeout, cfg.MaxRecoveryAttempts)

	for m.produced < n {
		m.produced = min(n, m.produced+uint64(r.IntN(5)))
		m.advance()
		if err := m.check(); err != nil {
			return fmt.Errorf("%s: step %d: %w", desc, m.step, err)
		}
	}
	for range 50 + r.IntN(200) { // faults go on a while after the last message
		m.advance()
		if err := m.check(); err != nil {
			return fmt.Errorf("%s: step %d: %w", desc, m.step, err)
		}
	}
	// The faults end: the servers come back, their relays catch up and
	// their connections serve what is asked. The books must converge.
	m.faults = false
	if m.skips {
		m.drop(m.bad) // its relay mended: its next connection numbers right
	}
	for _, s := range m.srv[:m.nsrc] {
		s.deadUntil, s.slowUntil, s.rate = 0, 0, len(m.canon)
		if c := s.conn; c != nil {
			c.pause = 0
			c.acceptAt = min(c.acceptAt, m.step)
		}
	}
	const settle = 20_000 // steps: 200 s of simulated time
	for range settle {
		m.advance()
		if err := m.check(); err != nil {
			return fmt.Errorf("%s: step %d (faults over): %w", desc, m.step, err)
		}
		if m.converged() {
			if testing.Verbose() {
				st := f.Status()
				m.t.Logf("seed %d: %s: converged at step %d: rebuilds %d lost %d gaps %d rerequests %d overflow %d dups %d divergences %d missed %d wrong-valid steps %d",
					seed, desc, m.step, st.Rebuilds, st.Lost, st.Gaps, st.Rerequests, st.Overflow, st.Duplicates, st.Diverged, st.MissedRebuilds, m.wrongValid)
			}
			return nil
		}
	}
	st := f.Status()
	a := f.arb
	a.mu.Lock()
	m.t.Logf("arbiter: next %d rebuilding %v rebuildTo %d exclude %d divergedAt %d skipper %d firstCopy %d pending %d srcs %+v skipped %b fromMissed %v held %d attempts %d missedAt %v",
		a.next, a.rebuilding, a.rebuildTo, a.exclude, a.divergedAt, a.skipper, a.firstCopy, a.pending, a.srcs, a.skipped, a.fromMissed, a.held, a.attempts, a.missedAt)
	a.mu.Unlock()
	for i, sv := range m.srv[:m.nsrc] {
		if sv.conn != nil {
			m.t.Logf("server %d: avail %d conn %+v", i, sv.avail, *sv.conn)
		}
	}
	return fmt.Errorf("%s: not converged %d steps after the faults ended: applied up to %d of %d (wrong %v), stale %v (books %v), status %+v",
		desc, settle, m.sink.last, n, m.sink.wrong, f.Stale(), m.books != nil && m.books.stale, st)
}

// converged reports whether the books hold the whole stream and are valid.
func (m *modelRun) converged() bool {
	n := uint64(len(m.canon))
	if m.f.Next() != n+1 || m.sink.wrong || m.f.Stale() {
		return false
	}
	// A plain sink skips what was declared lost, the stream's end too.
	if m.sink.last != n && (m.books != nil || !m.declaredLost([2]uint64{m.sink.last + 1, n})) {
		return false
	}
	return m.books == nil || !m.books.stale
}

// check looks for a violation after a step.
func (m *modelRun) check() error {
	if m.sink.err != nil {
		return m.sink.err
	}
	st := m.f.arb.Stats()
	if m.skips {
		if m.books.stale && !m.f.Stale() {
			return fmt.Errorf("the books are stale, the feed is not")
		}
		if m.books.wrong && !m.books.stale && !m.f.Stale() {
			m.wrongValid++
		}
		return nil
	}
	if st.Divergences != 0 || st.MissedRebuilds != 0 {
		return fmt.Errorf("%d divergences, %d missed rebuilds, though every copy is the canonical message", st.Divergences, st.MissedRebuilds)
	}
	if st.SinkErrors != 0 {
		return fmt.Errorf("%d sink errors", st.SinkErrors)
	}
	for _, h := range m.sink.holes {
		if !m.declaredLost(h) {
			return fmt.Errorf("skipped %d..%d without declaring it lost (declared %v)", h[0], h[1], m.lost)
		}
	}
	if m.books != nil && m.books.stale != m.f.Stale() {
		return fmt.Errorf("the books are stale %v, the feed stale %v", m.books.stale, m.f.Stale())
	}
	return nil
}

// declaredLost reports whether the ranges declared lost cover h.
func (m *modelRun) declaredLost(h [2]uint64) bool {
	for from := h[0]; from <= h[1]; {
		covered := false
		for _, l := range m.lost {
			if l[0] <= from && from <= l[1] {
				from, covered = l[1]+1, true
			}
		}
		if !covered {
			return false
		}
	}
	return true
}

// advance runs one step: the servers' relays receive, faults strike,
// down sources reconnect, the connections send, and the supervisor runs
// its check as Feed.Run does.
func (m *modelRun) advance() {
	m.step++
	m.now = m.now.Add(modelTick)
	r := m.r
	if !m.faults {
		m.produced = min(uint64(len(m.canon)), m.produced+uint64(r.IntN(5)))
	}
	for i, s := range m.srv[:m.nsrc] {
		if m.step >= s.slowUntil {
			s.avail = min(m.produced, s.avail+uint64(r.IntN(s.rate+1)))
		}
		if m.faults && m.faulty(i) {
			m.strike(i, s)
		}
	}
	for i, s := range m.srv[:m.nsrc] {
		m.connect(i, s)
	}
	for i, s := range m.srv[:m.nsrc] {
		m.pump(i, s)
	}
	a := m.f.arb
	before := a.Stats()
	pick := a.Check(m.now)
	again := a.takeResync()
	if after := a.Stats(); pick >= 0 || again != 0 || after != before {
		m.tracef("next %d: Check %d resync %b rebuilds %d->%d lost %d->%d divergences %d",
			a.Next(), pick, again, before.Rebuilds, after.Rebuilds, before.Lost, after.Lost, after.Divergences)
	}
	if from, to, ok := a.TakeLost(); ok {
		m.lost = append(m.lost, [2]uint64{from, to})
	}
	for _, src := range m.f.srcs {
		if again&(1<<src.idx) != 0 || src.idx == pick {
			src.resync(a.Next())
		}
	}
}

// tracef logs what the run does when MODEL_TRACE is set (with MODEL_SEED).
// The sink calls it with the arbiter's lock held.
func (m *modelRun) tracef(format string, args ...any) {
	if os.Getenv("MODEL_TRACE") != "" {
		m.t.Logf("step %d: "+format, append([]any{m.step}, args...)...)
	}
}

// trusted reports whether source i alone delivers: a rebuild from it
// alone is under way (the other is excluded), as the arbiter's doc says,
// or the other is not streaming (back from an exclusion it logs in from
// the arbiter's next, so it never delivers what i delivers meanwhile).
// The arbiter then takes the stream from i with nothing to compare with,
// so a skip there cannot be seen; the bad relay behaves meanwhile.
// (Which source a divergence's rebuild comes from is a guess when the
// copies do not show who skipped, and a repeat looks like the other
// source skipping, so it may be the bad one.) Before, only the rebuild
// counted: a seed whose bad relay skipped in the steps between the
// rebuild's end and the other's login failed the run for a skip no copy
// could show.
func (m *modelRun) trusted(i int) bool {
	a := m.f.arb
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rebuilding && a.exclude == 1-i || !a.srcs[1-i].live
}

// faulty reports whether source i's server and connections fail. With
// skips, only the bad relay's do (the other's logins may still be
// answered from below the sequence asked): a message the bad one skips
// or repeats is then always compared with the other source's copy,
// which the arbiter keeps (the window is at least the lag). A skip with
// no good copy to compare with (the other source down, refused, or
// unable to replay the range) cannot be told from the stream with
// standard ITCH, only by the books' Missed if it shows: that is what
// TrackingProfile is for.
func (m *modelRun) faulty(i int) bool { return !m.skips || i == m.bad }

// strike applies the fault phase's random faults to server i.
func (m *modelRun) strike(i int, s *modelServer) {
	r := m.r
	switch k := r.IntN(1000) / m.heat; {
	case k < 8: // the connection drops
		m.drop(i)
	case k < 11: // the server dies for a while
		m.drop(i)
		s.deadUntil = m.step + 1 + r.IntN(300)
	case k < 13 && i == 0 && !m.skips: // both die
		for j, o := range m.srv[:m.nsrc] {
			m.drop(j)
			o.deadUntil = m.step + 1 + r.IntN(200)
		}
	case k < 20: // its relay lags: the other source runs ahead
		s.slowUntil = m.step + 1 + r.IntN(150)
	case k < 24: // it stalls: live, heartbeats only
		if s.conn != nil {
			s.conn.pause = m.step + 1 + r.IntN(400)
		}
	}
}

// drop closes server i's connection from the server's side.
func (m *modelRun) drop(i int) {
	s := m.srv[i]
	if c := s.conn; c != nil {
		s.conn = nil
		if !c.closed {
			m.f.srcs[i].onClosed(c.gen, errors.New("model: connection dropped"))
		}
	}
}

// connect connects source i when it is down, as its tick would after
// its backoff, if the server is up, and decides how its login is answered.
func (m *modelRun) connect(i int, s *modelServer) {
	if s.conn != nil && s.conn.closed {
		s.conn = nil
	}
	src := m.f.srcs[i]
	src.mu.Lock()
	down := src.state == stateDown
	src.mu.Unlock()
	r := m.r
	if !down || m.step < s.deadUntil || r.IntN(3) == 0 {
		return
	}
	src.mu.Lock()
	src.gen++
	gen := src.gen
	src.state = stateDialing
	src.mu.Unlock()
	c := &modelConn{gen: gen, acceptAt: m.step}
	login := src.onOpen(gen, modelLink{c})
	p, _, err := soupbin.Parse(login, maxPacket)
	if err != nil {
		m.t.Fatalf("login request: %v", err)
	}
	req, err := soupbin.ParseLoginRequest(p.Payload)
	if err != nil {
		m.t.Fatalf("login request: %v", err)
	}
	c.accept = max(req.Sequence, 1)
	if m.faults {
		switch k := r.IntN(100) / m.heat; {
		case k < 8 && !m.faulty(i):
			// With skips the good source's logins are only ever
			// answered from below the sequence asked: one answered
			// late, refused or above it leaves the bad one's copies
			// meanwhile uncompared.
			c.accept -= min(c.accept-1, uint64(1+r.IntN(10)))
		case k < 8: // it cannot replay from there now: it serves from later, within what it has
			c.accept = max(c.accept, min(c.accept+uint64(1+r.IntN(6)), s.avail+1))
		case k < 16: // it replays from below the sequence asked
			c.accept -= min(c.accept-1, uint64(1+r.IntN(10)))
		case k < 20:
			c.accept = 0 // rejected
		}
		if r.IntN(10) == 0 && m.faulty(i) {
			c.acceptAt += 1 + r.IntN(50)
		}
	}
	c.next = c.accept
	s.conn = c
	m.tracef("source %d logs in from %d, accepted at %d (0: rejected) at step %d", i, req.Sequence, c.accept, c.acceptAt)
}

// pump has server i answer its connection's login and send some of what
// its relay received.
func (m *modelRun) pump(i int, s *modelServer) {
	c := s.conn
	if c == nil || c.closed {
		return
	}
	src := m.f.srcs[i]
	r := m.r
	var b []byte
	if !c.accepted {
		if m.step < c.acceptAt {
			return
		}
		if c.accept == 0 {
			b = soupbin.AppendLoginRejected(b, soupbin.RejectSessionUnavailable)
		} else {
			b = soupbin.AppendLoginAccepted(b, "S1", c.accept)
			c.accepted = true
		}
	}
	if c.accepted && m.step >= c.pause {
		for range r.IntN(12) {
			if m.faults && (m.tracking || m.skips && i == m.bad && !m.trusted(i)) {
				switch k := r.IntN(200) / m.heat; {
				case k < 3: // the relay drops messages (and sends the next, which shows it)
					if d := uint64(1 + r.IntN(3)); c.next+d <= s.avail {
						m.tracef("source %d: relay drops %d at %d", i, d, c.next)
						c.next += d
					}
				case k < 4 && c.next > c.accept: // or repeats the last
					m.tracef("source %d: relay repeats %d", i, c.next-1)
					c.next--
				}
			}
			if c.next > s.avail {
				break
			}
			b = soupbin.AppendSequenced(b, m.canon[c.next-1])
			c.next++
		}
	}
	if len(b) == 0 {
		b = soupbin.AppendServerHeartbeat(b)
	}
	if _, closeIt := src.onData(c.gen, b, m.now); closeIt {
		c.closed = true
	}
	if c.closed {
		s.conn = nil
	}
}
