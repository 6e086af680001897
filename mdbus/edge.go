package mdbus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"sgw/orderbook"
)

// EdgeConfig configures an Edge.
type EdgeConfig struct {
	// Conn is the NATS connection to subscribe on. Required; the caller
	// owns it (closes it after Run returns). The Edge installs its
	// disconnect and reconnect handlers.
	Conn *nats.Conn
	// Books is the edge's order-book configuration: Instruments (the same
	// symbols as the ingest node's; updates of others are counted and
	// dropped), Shards and RingSize, as for orderbook.NewMirror.
	Books orderbook.Config
	// Subject is the subject prefix, as the Publisher's. Zero means
	// DefaultSubject.
	Subject string
	// Buffer is how many bus messages may wait for the edge's loop, and
	// how many NATS may hold for the edge before it takes them (forward);
	// the excess is dropped (a slow consumer), as past BufferBytes. A
	// message dropped may have been a symbol's last update, which no
	// later gap would reveal, so every symbol goes stale and is rebuilt
	// from a snapshot, as after a disconnection: before the loop applies
	// any message that came after the drop (forward), and, for a drop
	// with no message after it, at the next drop check (dropCheck). Zero
	// means 65536.
	Buffer int
	// BufferBytes bounds the bytes of the bus messages waiting for the
	// edge's loop (their payloads and subjects): past it a message is
	// dropped and counted as NATS's drops are (Dropped; every symbol
	// stale before a later message is applied, rebuilt from snapshots),
	// but one is always taken into an empty buffer. A message longer
	// than the largest update or heartbeat (about 108 KiB:
	// maxStreamFrame) cannot decode: it is
	// counted as Malformed and dropped at once, taking no room. Buffer
	// alone bounded the buffer by count, at up to the NATS server's
	// max_payload (1 MiB by default, up to 64 MiB) each: 65536 of them
	// from a broken or hostile publisher while the loop fell behind.
	// Zero means 64 MiB.
	BufferBytes int64
	// Pending bounds the updates a stale symbol keeps while its snapshot
	// request is in flight; past it they are discarded and the symbol
	// asks again. Only the symbols with a request in flight (at most
	// Requesters) keep any: an update that came before the request cannot
	// be past the snapshot it asks for. While the publisher is silent none
	// is kept (Silence). Zero means 4096.
	Pending int
	// Requesters is the number of snapshot requests in flight at once.
	// Zero means 4.
	Requesters int
	// RequestTimeout bounds one snapshot request. Zero means 2s.
	RequestTimeout time.Duration
	// RetryInterval is the wait before asking again after a snapshot
	// request failed (no responder, timeout, refused). Zero means 200ms.
	RetryInterval time.Duration
	// RetryMax caps the wait between retries while requests keep failing
	// with no snapshot loaded: each retry round doubles the wait, from
	// RetryInterval up to RetryMax, and a snapshot loaded brings it back
	// to RetryInterval. Without it, while heartbeats flowed but nothing
	// answered snapshot requests (the publisher's snapshot subscription
	// gone, or refused by its permissions: NATS answers "no responders"
	// at once), the edge asked for every stale symbol every
	// RetryInterval, five times the instruments a second, for as long as
	// it lasted. A snapshot loaded also brings the next retry round of
	// the symbols still waiting to RetryInterval from then: the
	// responder is back. Zero means 5s; below RetryInterval means
	// RetryInterval.
	RetryMax time.Duration
	// Silence is how long the edge waits for a heartbeat of its epoch
	// before it takes the publisher for lost: every symbol goes stale, and
	// no snapshot is asked for (but once, as it falls silent) or loaded
	// until a heartbeat comes again. It must be well above the
	// publisher's interval (PublisherConfig.Heartbeat). Zero means 3s.
	Silence time.Duration
	// Registry receives the edge's metrics. Zero (nil) means none.
	Registry prometheus.Registerer
	// Log receives the edge's logs. Zero (nil) discards them.
	Log *slog.Logger

	// check is how often the loop runs its periodic checks (drops,
	// epoch, silence, connection). Tests only: zero means dropCheck.
	check time.Duration
}

// Edge keeps an orderbook.Mirror of the ingest books from the bus. Its
// Engine is what the edge's gateway serves. Run runs it; Engine, Stats and
// Stale may be called from any goroutine.
//
// Every piece of per-symbol state (the Mirror, pending updates, snapshot
// bookkeeping) belongs to Run's loop. NATS callbacks (messages, through
// forward; the connection's disconnect and reconnect) and the snapshot
// requesters only hand events to the loop over channels; none runs under
// a lock.
type Edge struct {
	cfg          EdgeConfig
	mirror       *orderbook.Mirror
	snapSubjects []string // by SymbolID

	// raw receives the bus messages from NATS's reader; forward hands
	// them on to msgs, the loop's, within BufferBytes (queued).
	raw      chan *nats.Msg
	msgs     chan *nats.Msg
	queued   atomic.Int64  // bytes (msgSize) waiting in msgs: forward adds, the loop subtracts
	overflow atomic.Uint64 // messages forward dropped past Buffer or BufferBytes
	conn     chan bool     // true: reconnected, false: disconnected
	work     chan snapRequest
	replies  chan snapReply
	done     chan struct{} // closed when Run returns
	// dropMark is bumped by forward at each drop it makes (overflow) or
	// sees NATS made (raw full), before it hands on any later message:
	// the loop, seeing it moved as it takes a message, counts the drops
	// and marks every symbol stale before it applies that message.
	dropMark atomic.Uint64

	// Loop state.
	syms      []edgeSym
	wantQ     []orderbook.SymbolID // symbols to request, each at most once (edgeSym.queued)
	retryQ    []orderbook.SymbolID // failed requests, asked again when retry fires
	free      int                  // idle requesters
	connected bool
	gen       uint64 // bumped by every disconnection and epoch change: older replies are discarded
	epoch     uint64
	msg       Message
	// retryWait is the wait before the next retry round: RetryInterval,
	// doubled at each round up to RetryMax, RetryInterval again once a
	// snapshot loads.
	retryWait time.Duration
	// Publisher liveness (checkSilence): when the last heartbeat of the
	// epoch came (or the wait for one began), and whether a silence has
	// made every symbol stale (only a heartbeat ends it).
	lastBeat time.Time
	silent   bool
	// silentNow is silent, for Stats (any goroutine).
	silentNow atomic.Bool
	// Epoch liveness (checkEpoch): messages of the current epoch and of
	// older ones since the last check, the latest older epoch seen, and
	// how many checks in a row saw only older ones.
	curSeen, oldSeen uint64
	oldEpoch         uint64
	onlyOld          int
	// Drops (checkDrops): dropMark as the loop last saw it, the drop
	// count (dropped) it last counted, that count at the last drop
	// check, and whether the drops going on since have been logged.
	markSeen           uint64
	dropSeen, tickSeen int
	dropping           bool

	stale                                       atomic.Int64
	updates, gaps, loaded, failed, bad, unknown atomic.Uint64
	disconnects, drops, olds, lost, silences    atomic.Uint64
	beats, dups                                 atomic.Uint64
}

// edgeSym is the loop's state of one symbol.
type edgeSym struct {
	queued, inflight bool
	retry            bool // on retryQ: its request failed, and it is asked again when the retry fires
	// pending are the updates received while stale and inflight, in
	// order: those a snapshot taken after the request may lack. nil
	// while no request is in flight (reply, apply).
	pending []orderbook.Update
	// beat is the highest seq a heartbeat of the epoch named: a snapshot
	// and the pending updates must reach it (the updates up to it came
	// before that heartbeat), or some were lost.
	beat uint64
}

type snapRequest struct {
	id  orderbook.SymbolID
	gen uint64
	// epoch is the epoch the edge follows (0: none yet), named in the
	// request so that a publisher of an older one does not answer.
	epoch uint64
	// heard is the highest seq of the symbol the edge had heard of when
	// it asked (edgeSym.beat: no update is kept before a request, and
	// every update heard before it is at or below the snapshot's seq): a
	// snapshot the publisher takes after the request holds it.
	heard uint64
}

type snapReply struct {
	snapRequest
	data []byte
	err  error
}

// EdgeStats are an Edge's counters since NewEdge.
type EdgeStats struct {
	Updates     uint64 // updates applied to the mirror
	Duplicates  uint64 // updates at or below the mirror's seq, ignored
	Gaps        uint64 // gaps and checksum mismatches (the symbol went stale)
	Snapshots   uint64 // snapshots loaded
	Failed      uint64 // snapshot requests that failed (retried)
	Malformed   uint64 // bus messages that did not decode
	Unknown     uint64 // messages about symbols the edge does not carry
	Disconnects uint64 // NATS disconnections (every symbol went stale)
	Dropped     uint64 // messages (updates, heartbeats) dropped for the edge, a slow consumer: past Buffer or BufferBytes (every symbol went stale)
	OldEpoch    uint64 // messages of an epoch older than the current one, ignored
	Heartbeats  uint64 // heartbeats of the epoch received
	Lost        uint64 // symbols a heartbeat showed behind (their last updates lost; they went stale), and snapshots not loaded as short of a seq heard of since the request
	Silences    uint64 // times the publisher fell silent, no heartbeat for Silence (every symbol went stale)
	Stale       int64  // symbols stale now
	// Silent: the publisher is silent now (no heartbeat for Silence;
	// every symbol stale until one comes).
	Silent bool
}

// NewEdge validates cfg, fills its defaults and returns an Edge whose
// books are all stale until Run has loaded their snapshots. Errors wrap
// ErrConfig or orderbook's.
func NewEdge(cfg EdgeConfig) (*Edge, error) {
	if cfg.Conn == nil {
		return nil, fmt.Errorf("%w: edge needs a NATS connection", ErrConfig)
	}
	if cfg.Subject == "" {
		cfg.Subject = DefaultSubject
	}
	if err := CheckSubject(cfg.Subject); err != nil {
		return nil, err
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.Buffer, 65536)
	if cfg.BufferBytes == 0 {
		cfg.BufferBytes = 64 << 20
	}
	def(&cfg.Pending, 4096)
	def(&cfg.Requesters, 4)
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 2 * time.Second
	}
	if cfg.RetryInterval == 0 {
		cfg.RetryInterval = 200 * time.Millisecond
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = 5 * time.Second
	}
	cfg.RetryMax = max(cfg.RetryMax, cfg.RetryInterval)
	if cfg.Silence == 0 {
		cfg.Silence = 3 * time.Second
	}
	if cfg.check == 0 {
		cfg.check = dropCheck
	}
	if cfg.Buffer < 0 || cfg.BufferBytes < 0 || cfg.Pending < 0 || cfg.Requesters < 0 || cfg.RequestTimeout < 0 || cfg.RetryInterval < 0 || cfg.RetryMax < 0 || cfg.Silence < 0 {
		return nil, fmt.Errorf("%w: edge sizes and durations must be positive", ErrConfig)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	m, err := orderbook.NewMirror(cfg.Books)
	if err != nil {
		return nil, fmt.Errorf("mdbus: edge books: %w", err)
	}
	e := &Edge{cfg: cfg, mirror: m,
		raw: make(chan *nats.Msg, cfg.Buffer), msgs: make(chan *nats.Msg, cfg.Buffer), conn: make(chan bool, 16),
		work: make(chan snapRequest, cfg.Requesters), replies: make(chan snapReply, cfg.Requesters),
		done: make(chan struct{}), free: cfg.Requesters, retryWait: cfg.RetryInterval}
	eng := m.Engine()
	e.syms = make([]edgeSym, len(eng.Symbols()))
	for _, id := range eng.Symbols() {
		e.snapSubjects = append(e.snapSubjects, cfg.Subject+".snap."+eng.Instrument(id).Symbol)
	}
	e.stale.Store(int64(len(e.syms)))
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(newEdgeCollector(e))
	}
	return e, nil
}

// Engine returns the mirrored books, to serve (gateway.Deps.Market).
func (e *Edge) Engine() *orderbook.Engine { return e.mirror.Engine() }

// Stale returns how many symbols are stale now. Safe from any goroutine.
func (e *Edge) Stale() int { return int(e.stale.Load()) }

// Stats returns the counters. Safe from any goroutine.
func (e *Edge) Stats() EdgeStats {
	return EdgeStats{Updates: e.updates.Load(), Duplicates: e.dups.Load(), Gaps: e.gaps.Load(), Snapshots: e.loaded.Load(), Failed: e.failed.Load(),
		Malformed: e.bad.Load(), Unknown: e.unknown.Load(), Disconnects: e.disconnects.Load(), Dropped: e.drops.Load(),
		OldEpoch: e.olds.Load(), Heartbeats: e.beats.Load(), Lost: e.lost.Load(), Silences: e.silences.Load(), Stale: e.stale.Load(),
		Silent: e.silentNow.Load()}
}

// Run mirrors the bus until ctx ends, then closes the mirror (its readers'
// Wait returns orderbook.ErrClosed) and returns nil. It returns an error
// if it cannot subscribe, or once its connection is closed for good (an
// error wrapping ErrConnClosed, within dropCheck): nats.go gave up on it
// (MaxReconnects reached, an -ERR from the server it does not retry) or
// it was closed under the edge, which would otherwise stay stale for
// ever while Run went on. Call it once.
func (e *Edge) Run(ctx context.Context) error {
	defer close(e.done)
	defer e.mirror.Close()
	nc := e.cfg.Conn
	nc.SetDisconnectErrHandler(func(*nats.Conn, error) { e.connEvent(false) })
	nc.SetReconnectHandler(func(*nats.Conn) { e.connEvent(true) })
	// One channel for both subscriptions: NATS's reader hands it their
	// messages in the order they arrived, so a heartbeat follows the
	// updates it accounts for.
	sub, err := nc.ChanSubscribe(e.cfg.Subject+".d.>", e.raw)
	if err != nil {
		return fmt.Errorf("mdbus: subscribe to updates: %w", err)
	}
	defer sub.Unsubscribe()
	hb, err := nc.ChanSubscribe(e.cfg.Subject+".hb", e.raw)
	if err != nil {
		return fmt.Errorf("mdbus: subscribe to heartbeats: %w", err)
	}
	defer hb.Unsubscribe()
	subs := []*nats.Subscription{sub, hb}

	var wg sync.WaitGroup
	defer wg.Wait()
	rctx, stop := context.WithCancel(context.Background())
	defer stop()
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.forward(rctx, subs)
	}()
	for range e.cfg.Requesters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.requester(rctx)
		}()
	}

	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	drops := time.NewTicker(e.cfg.check)
	defer drops.Stop()
	e.dropSeen = e.dropped(subs)
	e.tickSeen = e.dropSeen
	e.connected = nc.IsConnected()
	e.lastBeat = time.Now()
	for id := range e.syms {
		e.want(orderbook.SymbolID(id))
	}
	for {
		e.dispatch()
		select {
		case <-ctx.Done():
			return nil
		case m := <-e.msgs:
			e.take(m, subs)
		case r := <-e.replies:
			e.free++
			wait := e.retryWait
			switch {
			case e.reply(r) && len(e.retryQ) == 1:
				retry.Reset(e.retryWait)
			case e.retryWait < wait && len(e.retryQ) > 0:
				// A snapshot loaded: a responder is back. The symbols
				// waiting for a retry are asked RetryInterval from now,
				// not at the round armed with the backed-off wait (up
				// to RetryMax later).
				retry.Reset(e.retryWait)
			}
		case up := <-e.conn:
			e.connChange(up)
		case <-retry.C:
			for _, id := range e.retryQ {
				e.syms[id].retry = false
				if !e.silent { // else the heartbeat that ends the silence asks
					e.want(id)
				}
			}
			e.retryQ = e.retryQ[:0]
			// Until a snapshot loads (reply), each round waits twice as
			// long as the last, up to RetryMax.
			e.retryWait = min(2*e.retryWait, e.cfg.RetryMax)
		case <-drops.C:
			if err := closedErr(nc); err != nil {
				e.cfg.Log.Error("mdbus: the bus connection is closed for good; the edge stops", "err", nc.LastError())
				return err
			}
			// The backstop, for a drop with no message after it yet
			// (take counted every drop a later message was marked by).
			e.checkDrops(subs)
			if e.dropSeen == e.tickSeen {
				e.dropping = false // the episode is over: the next drop is logged
			}
			e.tickSeen = e.dropSeen
			e.checkEpoch()
			e.checkSilence(time.Now()) // not the tick's time: it may have waited
		}
	}
}

// checkDrops counts the messages dropped for the edge since it last
// looked and, if any, marks every symbol stale (dropStale): a message
// dropped may have been a symbol's last update, which no later gap would
// reveal. The Warn is logged once per episode of drops (until a drop
// check finds none new). Loop only: as it takes a message after
// dropMark moved, and every drop check.
func (e *Edge) checkDrops(subs []*nats.Subscription) {
	n := e.dropped(subs)
	if n <= e.dropSeen {
		e.dropSeen = n // less: a subscription closed (Run is ending)
		return
	}
	e.drops.Add(uint64(n - e.dropSeen))
	e.dropSeen = n
	if !e.dropping {
		e.dropping = true
		e.cfg.Log.Warn("mdbus: the bus dropped updates for this edge (slow consumer); every symbol is stale", "dropped", n)
	}
	e.dropStale()
}

// dropStale marks every symbol stale after a drop, as allStale does.
// When every symbol is stale already only the replies to the requests
// made before the drop are discarded (gen): each stale symbol is queued,
// in flight (its reply discarded and asked again) or waiting for its
// retry, or the publisher is silent and its next heartbeat asks; a
// snapshot asked for from now follows the drop. allStale's pass over
// every symbol at every message taken while the loop is behind and
// dropping would slow it further. Loop only.
func (e *Edge) dropStale() {
	if e.stale.Load() < int64(len(e.syms)) {
		e.allStale()
		return
	}
	e.gen++
}

// dropped returns the messages dropped for the edge: by NATS for subs
// (slow consumers: raw full) and by forward (past Buffer or BufferBytes).
// Loop only.
func (e *Edge) dropped(subs []*nats.Subscription) int {
	return int(e.overflow.Load()) + natsDropped(subs)
}

// natsDropped returns the messages NATS dropped for subs (raw full). It
// takes each subscription's lock.
func natsDropped(subs []*nats.Subscription) int {
	total := 0
	for _, s := range subs {
		if n, err := s.Dropped(); err == nil {
			total += n
		}
	}
	return total
}

// forward hands the messages NATS delivers on raw for subs to the loop
// (msgs) until ctx ends. It never waits for the loop, so raw stays near
// empty (NATS's reader reads each message's bytes off the socket before
// it, and its own drops past Buffer count too): what waits for the loop
// is at most Buffer messages and BufferBytes bytes (or a single
// message). A message dropped for either bound is counted (overflow)
// and marked (dropMark) before any later message is handed on, so the
// loop marks every symbol stale before it applies any message that came
// after the drop: it may have been a symbol's last update, which no
// later gap would reveal.
//
// NATS drops a message only while raw is full, holding its
// subscription's lock from the failed send to its count. So forward,
// when it takes a message and finds raw still at least Buffer-1 long
// (full as it took it), reads subs' drop counts (their locks, only
// then) and marks any new drop before it hands that message on: every
// message NATS delivers after a drop waits in raw behind that one, and
// reaches the loop after the mark. With a Buffer of 1 or 2 that is
// every message. The loop's drop check (every dropCheck) remains the
// backstop, for a drop with no message after it.
//
// A message longer than maxStreamFrame, which cannot decode, is counted
// as malformed and takes no room.
func (e *Edge) forward(ctx context.Context, subs []*nats.Subscription) {
	seen := 0 // NATS's drops marked so far
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-e.raw:
			if len(e.raw) >= cap(e.raw)-1 {
				if n := natsDropped(subs); n > seen {
					seen = n
					e.dropMark.Add(1)
				}
			}
			if len(m.Data) > maxStreamFrame {
				e.bad.Add(1)
				continue
			}
			// Only this goroutine adds to queued, so the room seen here
			// can only grow before the Add.
			n := msgSize(m)
			if q := e.queued.Load(); q > 0 && q+n > e.cfg.BufferBytes {
				e.overflow.Add(1)
				e.dropMark.Add(1)
				continue
			}
			e.queued.Add(n)
			select {
			case e.msgs <- m:
			default:
				e.queued.Add(-n)
				e.overflow.Add(1)
				e.dropMark.Add(1)
			}
		}
	}
}

// msgSize is what a bus message counts against BufferBytes.
func msgSize(m *nats.Msg) int64 { return int64(len(m.Data) + len(m.Subject)) }

// dropCheck is how often the edge reads its subscriptions' drop counts,
// checks its epoch's and its publisher's liveness and its connection
// (closedErr).
const dropCheck = connCheck

// checkSilence takes the publisher for lost once no heartbeat of the
// epoch has come for Silence while connected: its books may have moved
// on without a word reaching the edge (the ingest node died, its link to
// NATS is cut, its stream stalled). Every symbol goes stale, and stays
// so until a heartbeat comes again. An edge with messages waiting has
// not heard everything yet (a heartbeat may wait behind a backlog): it
// decides once it has caught up. Loop only, every dropCheck.
func (e *Edge) checkSilence(now time.Time) {
	if !e.connected || e.silent || len(e.msgs)+len(e.raw) > 0 || now.Sub(e.lastBeat) < e.cfg.Silence {
		return
	}
	e.silent = true
	e.silentNow.Store(true)
	e.silences.Add(1)
	e.cfg.Log.Warn("mdbus: no heartbeat from the publisher; every symbol is stale", "for", e.cfg.Silence, "epoch", e.epoch)
	e.allStale()
}

// waitBeat starts the wait for a heartbeat again (the edge's start, a
// new epoch, a reconnection): silence is declared Silence from now. It
// does not end a silence; only a heartbeat does. Loop only.
func (e *Edge) waitBeat() { e.lastBeat = time.Now() }

// epochTakeover is how long the bus must carry only messages of an epoch
// older than the edge's for the edge to follow that epoch: the ingest
// started again under a lower one (its state wiped, a clock stepped back,
// a standalone ingest replaced by a cluster's), or the current epoch was
// one stray message's. Without it the edge would ignore every message and
// serve frozen books as valid.
const epochTakeover = 2 * time.Second

// checkEpoch follows an older epoch once the bus has carried its
// messages, and none of the current epoch, for epochTakeover. Loop only,
// every dropCheck.
func (e *Edge) checkEpoch() {
	switch {
	case e.curSeen > 0:
		e.onlyOld = 0
	case e.oldSeen > 0 || e.onlyOld > 0: // silence after older messages counts too
		e.onlyOld++
	}
	e.curSeen, e.oldSeen = 0, 0
	if time.Duration(e.onlyOld)*e.cfg.check < epochTakeover {
		return
	}
	e.cfg.Log.Warn("mdbus: the bus carries only an older ingest epoch; following it, every symbol is stale",
		"epoch", e.oldEpoch, "was", e.epoch, "for", epochTakeover)
	e.onlyOld = 0
	e.setEpoch(e.oldEpoch)
	e.allStale()
}

// connEvent hands a connection change to the loop. NATS callback.
func (e *Edge) connEvent(up bool) {
	select {
	case e.conn <- up:
	case <-e.done:
	}
}

// connChange: a disconnection marks every symbol stale (deltas are being
// lost); a reconnection asks for their snapshots. Loop only.
func (e *Edge) connChange(up bool) {
	if up == e.connected {
		return
	}
	e.connected = up
	if up {
		e.cfg.Log.Info("mdbus: bus reconnected; rebuilding from snapshots", "stale", e.stale.Load())
		e.waitBeat()
		return // dispatch sends the queued requests
	}
	e.disconnects.Add(1)
	e.cfg.Log.Warn("mdbus: bus disconnected; every symbol is stale")
	e.allStale()
}

// allStale marks every symbol stale and queues its snapshot, discarding
// replies to requests made before. Loop only.
func (e *Edge) allStale() {
	e.gen++
	for id := range e.syms {
		e.markStale(orderbook.SymbolID(id))
		e.syms[id].pending = e.syms[id].pending[:0]
		e.want(orderbook.SymbolID(id))
	}
}

// markStale marks one symbol stale in the mirror and the count. Loop only.
func (e *Edge) markStale(id orderbook.SymbolID) {
	if _, stale := e.mirror.Book(id); !stale {
		e.mirror.MarkStale(id)
		e.stale.Add(1)
	}
}

// want queues a snapshot request for id unless one is queued or in
// flight. Loop only.
func (e *Edge) want(id orderbook.SymbolID) {
	s := &e.syms[id]
	if s.queued || s.inflight {
		return
	}
	s.queued = true
	e.wantQ = append(e.wantQ, id)
}

// dispatch hands queued requests to idle requesters while connected; the
// work channel has a slot per requester, so it never blocks. Loop only.
func (e *Edge) dispatch() {
	for e.connected && e.free > 0 && len(e.wantQ) > 0 {
		id := e.wantQ[0]
		e.wantQ = e.wantQ[1:]
		s := &e.syms[id]
		s.queued = false
		if _, stale := e.mirror.Book(id); !stale {
			continue
		}
		s.inflight = true
		e.free--
		e.work <- snapRequest{id: id, gen: e.gen, epoch: e.epoch, heard: s.beat}
	}
	if len(e.wantQ) == 0 {
		e.wantQ = nil // let a long queue's array go
	}
}

// requester performs snapshot requests until ctx ends. A request's
// payload is the epoch the edge follows, if any (doc.go).
func (e *Edge) requester(ctx context.Context) {
	var body []byte
	for {
		select {
		case <-ctx.Done():
			return
		case rq := <-e.work:
			r := snapReply{snapRequest: rq}
			body = body[:0]
			if rq.epoch != 0 {
				body = binary.AppendUvarint(body, rq.epoch)
			}
			qctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
			m, err := e.cfg.Conn.RequestWithContext(qctx, e.snapSubjects[rq.id], body)
			cancel()
			if err != nil {
				r.err = err
			} else {
				r.data = m.Data
			}
			select {
			case e.replies <- r:
			case <-ctx.Done():
				return
			}
		}
	}
}

// take takes one bus message from msgs: if forward dropped a message,
// or saw NATS drop one, before it handed m on (dropMark moved), every
// symbol goes stale (checkDrops) before m is applied. Loop only.
func (e *Edge) take(m *nats.Msg, subs []*nats.Subscription) {
	e.queued.Add(-msgSize(m))
	if d := e.dropMark.Load(); d != e.markSeen {
		e.markSeen = d
		e.checkDrops(subs)
	}
	e.handle(m.Data)
}

// handle applies one bus message. Loop only.
func (e *Edge) handle(data []byte) {
	m := &e.msg
	if err := Decode(data, m); err != nil || (m.Type != TypeUpdate && m.Type != TypeHeartbeat) {
		e.bad.Add(1)
		return
	}
	if !e.sameEpoch(m.Epoch) {
		return
	}
	if m.Type == TypeHeartbeat {
		e.heartbeat(m.Beats)
		return
	}
	id, ok := e.mirror.Engine().Lookup(string(m.Symbol))
	if !ok {
		e.unknown.Add(1)
		return
	}
	u := &m.Update
	u.Symbol = id
	e.apply(id, u)
}

// heartbeat takes a heartbeat of the epoch: a symbol served as valid
// whose Seq is below the heartbeat's has lost its last updates (NATS
// never delivered them, the publisher failed to publish or skipped them),
// which no later gap would reveal while the symbol is quiet: it goes
// stale and is rebuilt. Symbols the edge does not carry are ignored.
// Loop only.
func (e *Edge) heartbeat(beats []Beat) {
	if e.silent {
		// The silence ends: ask for the stale symbols, which no retry
		// asked for while it lasted. A reply to a request made during
		// the silence is discarded and asked again (gen): its snapshot
		// may predate updates heard while silent, which were not kept
		// (apply), and this heartbeat need not name the symbol (one of
		// several when the publisher has more than MaxBeats symbols, or
		// one that read its seq just before its last update went out).
		// Before, such a snapshot was loaded and the book served as
		// valid short of those updates until the symbol's next
		// heartbeat or update.
		e.gen++
		for id := range e.syms {
			if _, stale := e.mirror.Book(orderbook.SymbolID(id)); stale {
				e.want(orderbook.SymbolID(id))
			}
		}
	}
	e.lastBeat, e.silent = time.Now(), false
	e.silentNow.Store(false)
	e.beats.Add(1)
	eng := e.mirror.Engine()
	for _, b := range beats {
		id, ok := eng.Lookup(string(b.Symbol))
		if !ok {
			continue
		}
		s := &e.syms[id]
		s.beat = max(s.beat, b.Seq)
		if seq, stale := e.mirror.Book(id); stale || seq >= b.Seq {
			continue
		}
		e.lost.Add(1)
		e.cfg.Log.Info("mdbus: a heartbeat shows updates lost; requesting a snapshot", "symbol", eng.Instrument(id).Symbol, "seq", b.Seq)
		e.markStale(id)
		e.syms[id].pending = e.syms[id].pending[:0]
		e.want(id)
	}
}

// sameEpoch reports whether a message belongs to the current epoch,
// switching to a newer one (a new ingest process: every symbol stale).
// Loop only.
func (e *Edge) sameEpoch(epoch uint64) bool {
	switch {
	case epoch == e.epoch:
		e.curSeen++
		return true
	case epoch < e.epoch:
		e.oldSeen++
		e.oldEpoch = epoch
		e.olds.Add(1)
		return false
	}
	if e.epoch != 0 {
		e.cfg.Log.Warn("mdbus: new ingest epoch; every symbol is stale", "epoch", epoch)
		e.allStale()
	}
	e.setEpoch(epoch)
	return true
}

// setEpoch follows epoch: the heartbeats of the last one say nothing of
// its numbering, and the wait for its first starts. Loop only.
func (e *Edge) setEpoch(epoch uint64) {
	e.epoch = epoch
	for id := range e.syms {
		e.syms[id].beat = 0
	}
	e.waitBeat()
}

// apply applies one update, or keeps it while the symbol is stale. Loop
// only.
func (e *Edge) apply(id orderbook.SymbolID, u *orderbook.Update) {
	s := &e.syms[id]
	if seq, stale := e.mirror.Book(id); !stale && u.Seq <= seq {
		e.dups.Add(1) // the mirror would ignore it
		return
	}
	err := e.mirror.Apply(u)
	switch {
	case err == nil:
		e.updates.Add(1)
		return
	case errors.Is(err, orderbook.ErrStale):
	default: // a gap or a mismatch: the mirror marked the symbol stale
		e.gaps.Add(1)
		e.stale.Add(1)
		s.pending = s.pending[:0]
		e.cfg.Log.Info("mdbus: symbol stale; requesting a snapshot", "err", err)
		if errors.Is(err, orderbook.ErrSnapshotMismatch) {
			e.want(id)
			return // u is already in the mirror's (now stale) book
		}
	}
	if e.silent {
		// Nothing is loaded until a heartbeat ends the silence, and the
		// snapshot asked for then follows every update heard before it:
		// none is kept, none asks. Before, each asked again (its reply
		// refused) and each symbol kept up to Pending, for as long as the
		// silence lasted: for good with an ingest without heartbeats.
		s.pending = nil
		return
	}
	if !s.inflight {
		// The snapshot asked for next is taken after the request, so after
		// the publisher published u: u is not kept. Before, every stale
		// symbol, queued behind the Requesters or waiting for its retry,
		// kept up to Pending updates: with snapshot replies that did not
		// come, Pending updates of every instrument, gigabytes.
		s.pending = nil
		if !s.retry { // else it asks when the retry fires, not at every update
			e.want(id)
		}
		return
	}
	if len(s.pending) >= e.cfg.Pending {
		s.pending = s.pending[:0]
	}
	s.pending = append(s.pending, *u)
}

// reply takes a snapshot reply, and reports whether the symbol was put on
// the retry queue. Loop only.
func (e *Edge) reply(r snapReply) bool {
	s := &e.syms[r.id]
	s.inflight = false
	// The updates kept while the request was in flight serve this reply
	// only: a snapshot asked for later follows them (apply).
	kept := s.pending
	s.pending = nil
	if _, stale := e.mirror.Book(r.id); !stale {
		return false
	}
	if r.gen != e.gen || !e.connected {
		e.want(r.id) // asked before a disconnection: ask again
		return false
	}
	if e.silent {
		// The publisher may answer, but without heartbeats nothing shows
		// its stream reaches this edge: not loaded, and not asked again
		// until a heartbeat ends the silence (heartbeat). Asking every
		// RetryInterval meanwhile sent every edge's every symbol to NATS
		// five times a second for as long as the ingest was down, each
		// answered "no responders".
		e.failed.Add(1)
		return false
	}
	m := &e.msg
	err := r.err
	if err == nil {
		err = Decode(r.data, m)
	}
	if err == nil && m.Type == TypeError {
		err = fmt.Errorf("%w: %s", ErrRefused, m.Text)
	}
	if err == nil && m.Type != TypeSnapshot {
		err = fmt.Errorf("%w: reply of type %q", ErrMalformed, m.Type)
	}
	if want := e.mirror.Engine().Instrument(r.id).Symbol; err == nil && string(m.Symbol) != want {
		err = fmt.Errorf("%w: snapshot of %q, asked for %s", ErrMalformed, m.Symbol, want)
	}
	if err == nil && !e.sameEpoch(m.Epoch) {
		err = fmt.Errorf("mdbus: snapshot of an older epoch")
	}
	if err == nil && r.gen != e.gen { // sameEpoch switched epochs
		e.want(r.id)
		return false
	}
	var pending []orderbook.Update
	if err == nil {
		var ok bool
		if pending, ok = e.reaches(r, &m.View, kept); !ok {
			e.want(r.id)
			return false
		}
		m.View.Symbol = r.id
		err = e.mirror.Load(&m.View)
	}
	if err != nil {
		e.failed.Add(1)
		e.cfg.Log.Info("mdbus: snapshot failed; will retry", "symbol", e.mirror.Engine().Instrument(r.id).Symbol, "err", err)
		e.retryQ = append(e.retryQ, r.id)
		s.retry = true
		return true
	}
	e.loaded.Add(1)
	e.stale.Add(-1)
	s.retry = false
	e.retryWait = e.cfg.RetryInterval // a responder is back
	for i := range pending {
		e.apply(r.id, &pending[i])
		if _, stale := e.mirror.Book(r.id); stale {
			// A mismatch after the snapshot: the next one, asked for
			// after the rest came, holds them.
			break
		}
	}
	return false
}

// reaches decides, before a snapshot v of the current epoch is loaded,
// whether v and the updates kept while it was asked for (pending) that
// follow it reach every seq the edge heard of for the symbol while it was
// stale (edgeSym.beat, and the updates kept), and returns those updates. The updates v holds
// are dropped.
//
// If they fall short of a seq heard of after the request was made, v may
// have been taken before it: v is not loaded (ok false; the caller asks
// again), so that a book known to be behind is never served as valid. A
// seq heard of before the request, which v falls short of, is not the
// publisher's (a stray or hostile update or heartbeat of the epoch): v,
// taken after the publisher published or named it, would hold it. It is
// forgotten, with the updates that do not follow v, and v is loaded: such
// a message costs a snapshot or two, not one after every snapshot. Loop
// only.
func (e *Edge) reaches(r snapReply, v *orderbook.View, pending []orderbook.Update) (follow []orderbook.Update, ok bool) {
	s := &e.syms[r.id]
	for len(pending) > 0 && pending[0].Seq <= v.Seq {
		pending = pending[1:]
	}
	reach, n := v.Seq, 0
	for _, u := range pending {
		if u.Seq > reach+1 {
			break
		}
		reach = max(reach, u.Seq)
		n++
	}
	heard := s.beat
	for _, u := range pending[n:] {
		heard = max(heard, u.Seq)
	}
	if reach >= heard {
		return pending, true
	}
	sym := e.mirror.Engine().Instrument(r.id).Symbol
	if heard > r.heard {
		e.lost.Add(1)
		e.cfg.Log.Info("mdbus: a snapshot and the updates kept fall short of a seq heard of since the request; not loaded, requesting another",
			"symbol", sym, "snapshot", v.Seq, "reach", reach, "heard", heard)
		return nil, false
	}
	e.cfg.Log.Warn("mdbus: a seq heard of before the snapshot was requested is beyond it: not the publisher's, forgotten",
		"symbol", sym, "snapshot", v.Seq, "reach", reach, "heard", heard, "dropped", len(pending)-n)
	s.beat = min(s.beat, reach)
	return pending[:n], true
}

// edgeCollector exports an Edge's counters on scrape.
type edgeCollector struct {
	e                                                     *Edge
	updates, gaps, snapshots, malformed, unknown, discon  *prometheus.Desc
	dropped, oldEpoch, beats, lost, silences, stale, dups *prometheus.Desc
}

func newEdgeCollector(e *Edge) *edgeCollector {
	return &edgeCollector{e: e,
		updates:   prometheus.NewDesc("gateway_mdbus_updates_applied_total", "Bus updates applied to the edge's books.", nil, nil),
		gaps:      prometheus.NewDesc("gateway_mdbus_gaps_total", "Sequence gaps and checksum mismatches on the edge (the symbol went stale).", nil, nil),
		snapshots: prometheus.NewDesc("gateway_mdbus_snapshots_total", "Snapshot requests by result (loaded, failed).", []string{"result"}, nil),
		malformed: prometheus.NewDesc("gateway_mdbus_malformed_total", "Bus messages that did not decode.", nil, nil),
		unknown:   prometheus.NewDesc("gateway_mdbus_unknown_symbol_total", "Bus messages about symbols the edge does not carry.", nil, nil),
		discon:    prometheus.NewDesc("gateway_mdbus_disconnects_total", "Disconnections from the bus (every symbol went stale).", nil, nil),
		dropped:   prometheus.NewDesc("gateway_mdbus_dropped_total", "Bus updates dropped for the edge, a slow consumer: by NATS, or by the edge past its Buffer or BufferBytes (every symbol went stale).", nil, nil),
		oldEpoch:  prometheus.NewDesc("gateway_mdbus_old_epoch_total", "Bus messages of an ingest epoch older than the edge's, ignored (after 2 s of nothing else the edge follows that epoch).", nil, nil),
		dups:      prometheus.NewDesc("gateway_mdbus_duplicates_total", "Bus updates at or below the edge's seq of their symbol, ignored.", nil, nil),
		beats:     prometheus.NewDesc("gateway_mdbus_heartbeats_received_total", "Heartbeats of the current ingest epoch received by the edge.", nil, nil),
		lost:      prometheus.NewDesc("gateway_mdbus_heartbeat_lost_total", "Symbols a heartbeat showed behind the publisher, their last updates lost (the symbol went stale).", nil, nil),
		silences:  prometheus.NewDesc("gateway_mdbus_publisher_silences_total", "Times the edge heard no heartbeat for its silence limit (every symbol went stale).", nil, nil),
		stale:     prometheus.NewDesc("gateway_mdbus_stale_symbols", "Symbols stale on the edge, awaiting a snapshot.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *edgeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.updates, c.gaps, c.snapshots, c.malformed, c.unknown, c.discon, c.dropped, c.oldEpoch, c.beats, c.lost, c.silences, c.stale, c.dups} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *edgeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.e.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.updates, st.Updates)
	counter(c.gaps, st.Gaps)
	counter(c.snapshots, st.Snapshots, "loaded")
	counter(c.snapshots, st.Failed, "failed")
	counter(c.malformed, st.Malformed)
	counter(c.unknown, st.Unknown)
	counter(c.discon, st.Disconnects)
	counter(c.dropped, st.Dropped)
	counter(c.oldEpoch, st.OldEpoch)
	counter(c.beats, st.Heartbeats)
	counter(c.dups, st.Duplicates)
	counter(c.lost, st.Lost)
	counter(c.silences, st.Silences)
	ch <- prometheus.MustNewConstMetric(c.stale, prometheus.GaugeValue, float64(st.Stale))
}
