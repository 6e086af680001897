package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sgw/gateway/mdclient"
	"sgw/refdata"
)

// Orders scenario parameters.
const (
	// maxOrderSymbols bounds the instruments the sessions cycle over.
	maxOrderSymbols = 16
	// restFor is how long an order may work before its session cancels
	// it: resting orders are cancelled then, and so is what is left of a
	// marketable order the book could not fill.
	restFor = 500 * time.Millisecond
	// drainTimeout bounds the wait for the outcomes of the orders still
	// working when the load stops.
	drainTimeout = 10 * time.Second
	// marketableTicks and restingTicks place orders: marketable ones that
	// many ticks through the opposite best price, resting ones that many
	// ticks behind their own side's best.
	marketableTicks = 2
	restingTicks    = 10
)

// OrdersSummary is the orders part of a run's result.
type OrdersSummary struct {
	Sessions  int      `json:"sessions"`
	Transport string   `json:"transport"`
	Accounts  []string `json:"accounts"`
	Symbols   []string `json:"symbols"`
	// FIXSessions of the Sessions trade over the gateway's FIX acceptor
	// for brokers (Transport fix or websocket+fix); FIXOrders counts the
	// new orders they sent. Latencies count both transports together.
	FIXSessions int   `json:"fixSessions"`
	FIXOrders   int64 `json:"fixOrders"`
	// Rate is the scheduled total of new orders per second.
	Rate int `json:"ratePerSecond"`
	// SentPerSecond (in), AcceptedPerSecond and ExecsPerSecond (out) are
	// measured over the measurement window.
	SentPerSecond     float64 `json:"sentPerSecond"`
	AcceptedPerSecond float64 `json:"acceptedPerSecond"`
	ExecsPerSecond    float64 `json:"execsPerSecond"`
	FillsPerSecond    float64 `json:"fillsPerSecond"`
	// MaxSendLag is how far behind its schedule a send went, at most.
	MaxSendLag time.Duration `json:"maxSendLagNs"`
	// Total counts every order of the run, warmup and drain included.
	Total       int64 `json:"total"`
	SendErrors  int64 `json:"sendErrors"`
	CancelsSent int64 `json:"cancelsSent"`
	// Outcomes counts the final outcome of every order: filled,
	// canceled, expired, rejected_upstream, rejected_gateway; and those
	// with none at the end: working (accepted) and unanswered.
	Outcomes      map[string]int64 `json:"outcomes"`
	Rejects       map[string]int64 `json:"rejectsByCode"`
	CancelRejects map[string]int64 `json:"cancelRejectsByCode"`
	// Unattributed counts error replies that named no request (a
	// rate_limited reply names none); unanswered orders up to this many
	// are explained by them and are not violations.
	Unattributed map[string]int64 `json:"unattributedErrorsByCode"`
	Restatements int64            `json:"statusRestatements"`
	Violations   int64            `json:"violations"`
	ViolationsBy map[string]int64 `json:"violationsByKind"`
	// JournalFsync is the gateway's gateway_journal_fsync_seconds over
	// the measurement window, when it exports it.
	JournalFsync *ExportedHistogram `json:"journalFsync,omitempty"`
	// GatewayInternal is the gateway's gateway_order_internal_latency_seconds
	// (arrival to hand-over to the FIX session) over the window.
	GatewayInternal *ExportedHistogram `json:"gatewayInternal,omitempty"`
	Notes           []string           `json:"notes,omitempty"`
}

// ExportedHistogram summarises a Prometheus histogram the gateway exports:
// how many observations the window added and their mean.
type ExportedHistogram struct {
	Name   string  `json:"name"`
	Count  int64   `json:"count"`
	MeanUs float64 `json:"meanUs"`
	// P50Us, P99Us and P999Us are upper bounds of the histogram bucket
	// holding the quantile (the gateway's buckets double in width); a
	// quantile beyond the largest finite bucket is reported as that
	// bucket's bound with Above set (JSON has no infinity).
	P50Us  float64 `json:"p50UsBucket,omitempty"`
	P99Us  float64 `json:"p99UsBucket,omitempty"`
	P999Us float64 `json:"p999UsBucket,omitempty"`
	// Above lists the quantiles ("p50", "p99", "p99.9") that lie beyond
	// the largest finite bucket.
	Above []string `json:"aboveLargestBucket,omitempty"`
}

// bound formats a quantile's bucket bound: "≤X" or, beyond the largest
// finite bucket, ">X".
func (h *ExportedHistogram) bound(q string, us float64) string {
	if slices.Contains(h.Above, q) {
		return fmt.Sprintf(">%.0f", us)
	}
	return fmt.Sprintf("≤%.0f", us)
}

// promHist is a Prometheus histogram read from /metrics: count, sum and
// cumulative bucket counts by upper bound.
type promHist struct {
	count, sum float64
	buckets    map[float64]float64
}

// scrapeHist reads histogram name from the gateway.
func scrapeHist(t *target, name string) (promHist, bool) {
	samples, err := scrapeMetrics(context.Background(), t)
	if err != nil {
		return promHist{}, false
	}
	h := promHist{buckets: map[float64]float64{}}
	found := false
	for _, p := range samples {
		switch p.name {
		case name + "_count":
			h.count, found = p.value, true
		case name + "_sum":
			h.sum = p.value
		case name + "_bucket":
			if le, err := strconv.ParseFloat(label(p.labels, "le"), 64); err == nil {
				h.buckets[le] = p.value
			}
		}
	}
	return h, found
}

// window summarises what histogram b added since a.
func window(name string, a, b promHist) *ExportedHistogram {
	n := b.count - a.count
	if n <= 0 {
		return nil
	}
	out := &ExportedHistogram{Name: name, Count: int64(n), MeanUs: (b.sum - a.sum) / n * 1e6}
	les := make([]float64, 0, len(b.buckets))
	for le := range b.buckets {
		les = append(les, le)
	}
	sort.Float64s(les)
	finite := 0.0
	for _, le := range les {
		if !math.IsInf(le, 1) {
			finite = le
		}
	}
	q := func(name string, f float64) float64 {
		for _, le := range les {
			if b.buckets[le]-a.buckets[le] >= f*n {
				if math.IsInf(le, 1) {
					break
				}
				return le * 1e6
			}
		}
		out.Above = append(out.Above, name)
		return finite * 1e6
	}
	out.P50Us, out.P99Us, out.P999Us = q("p50", 0.5), q("p99", 0.99), q("p99.9", 0.999)
	return out
}

// instrumentInfo is what the sessions need to price an instrument's
// orders, from GET /api/v1/instruments.
type instrumentInfo struct {
	Symbol    string        `json:"symbol"`
	Board     string        `json:"board"`
	Tick      refdata.Price `json:"tick"`
	Lot       int64         `json:"lot"`
	PrevClose refdata.Price `json:"prevClose"`
	LimitDown refdata.Price `json:"limitDown"`
	LimitUp   refdata.Price `json:"limitUp"`
}

// instruments lists the target's instruments with their bands.
func instruments(ctx context.Context, base string) ([]instrumentInfo, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/instruments", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("loadtest: instruments: %w", err)
	}
	defer resp.Body.Close()
	var list []instrumentInfo
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("loadtest: instruments: %w", err)
	}
	for i := range list {
		in := &list[i]
		if in.Tick <= 0 {
			in.Tick = refdata.PriceScale / 100
		}
		if in.Lot <= 0 {
			in.Lot = 100
		}
		if in.Board == "star" {
			in.Lot = max(in.Lot, 200) // the STAR minimum buy
		}
	}
	return list, nil
}

// quoteBoard holds the best bid and ask of the traded symbols, kept by
// the quote reader, read by the senders. Safe for concurrent use.
type quoteBoard struct {
	mu sync.Mutex
	q  map[string][2]refdata.Price // bid, ask; 0 for an empty side
}

func (b *quoteBoard) set(sym string, bid, ask refdata.Price) {
	b.mu.Lock()
	b.q[sym] = [2]refdata.Price{bid, ask}
	b.mu.Unlock()
}

func (b *quoteBoard) get(sym string) (bid, ask refdata.Price, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	q, ok := b.q[sym]
	return q[0], q[1], ok
}

func (b *quoteBoard) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.q)
}

// price places an order of kind in in: marketable orders a few ticks
// through the best opposite price, resting ones well behind their own
// side's best; within the band, on the tick. With one side of the book
// empty it prices from the other, with both empty from the previous
// close.
func price(in *instrumentInfo, kind orderKind, bid, ask refdata.Price) refdata.Price {
	ref := in.PrevClose
	if bid > 0 && ask > 0 {
		ref = (bid + ask) / 2 / in.Tick * in.Tick
	} else if bid > 0 {
		ref = bid
	} else if ask > 0 {
		ref = ask
	}
	or := func(p refdata.Price) refdata.Price {
		if p > 0 {
			return p
		}
		return ref
	}
	var p refdata.Price
	switch kind {
	case marketableBuy:
		p = or(ask) + marketableTicks*in.Tick
	case marketableSell:
		p = or(bid) - marketableTicks*in.Tick
	case restingBuy:
		p = or(bid) - restingTicks*in.Tick
	default:
		p = or(ask) + restingTicks*in.Tick
	}
	return min(max(p, in.LimitDown), in.LimitUp)
}

// ordersWorkload is the orders scenario's load: trading sessions that
// send new orders at a fixed total rate, open loop, cancel what rests and
// check that every order gets exactly one outcome. Run calls its methods
// from one goroutine.
type ordersWorkload struct {
	c     Config
	t     *target
	runID string
	instr []instrumentInfo

	quotes         quoteBoard
	ack, firstExec *Recorder
	stats          *orderStats
	fixSent        atomic.Int64 // new orders sent over FIX

	// winMu guards winFrom and winTo, the measurement window as the
	// senders see it: an order is measured when its intended send time
	// lies in [winFrom, winTo). winTo is zero until the window ends.
	winMu          sync.Mutex
	winFrom, winTo time.Time

	traders  []*trader
	quoteMC  *mdclient.Client
	stopSend chan struct{}
	sendOnce sync.Once
	stopOnce sync.Once
	cancel   context.CancelFunc
	senders  sync.WaitGroup
	readers  sync.WaitGroup

	// Measurement window.
	began, end           time.Time
	sent0, acks0         int64
	execs0, fills0       int64
	sent1, acks1         int64
	execs1, fills1       int64
	fsync0, fsync1       promHist // gateway_journal_fsync_seconds
	internal0, internal1 promHist // gateway_order_internal_latency_seconds
	lastSent             int64
	lastT                time.Time
}

var _ workload = (*ordersWorkload)(nil)

func newOrdersWorkload(c Config, t *target) *ordersWorkload {
	return &ordersWorkload{c: c, t: t, runID: strconv.FormatInt(time.Now().UnixMilli(), 36),
		quotes: quoteBoard{q: map[string][2]refdata.Price{}},
		ack:    NewRecorder("order_ack"), firstExec: NewRecorder("order_first_exec"),
		stats: newOrderStats(), stopSend: make(chan struct{})}
}

// trader is one session's sender: it follows the schedule, picks each
// order's kind, symbol and price, and cancels what has worked too long.
// Its goroutine is the only one that sends on the session.
type trader struct {
	w       *ordersWorkload
	idx     int
	account string
	prefix  string
	sess    orderSession
	fix     bool // sess is a FIX session
	track   *orderTracker
	n       int64 // orders sent
	cancels int64
}

// start fetches the instruments, subscribes to their quotes, waits for
// the upstream FIX sessions, connects the trading sessions and starts the
// senders.
func (w *ordersWorkload) start(ctx context.Context, sum *Summary) error {
	c := w.c
	all, err := instruments(ctx, w.t.base)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		return fmt.Errorf("loadtest: the gateway trades no instruments")
	}
	w.instr = all[:min(len(all), maxOrderSymbols)]
	if sum.Symbols == 0 {
		sum.Symbols = len(all)
	}
	if err := waitFIXUp(ctx, w.t, c.ReadyTimeout); err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	w.cancel = cancel
	wsURL := "ws" + strings.TrimPrefix(w.t.base, "http") + "/ws"
	if err := w.startQuotes(rctx, wsURL); err != nil {
		return err
	}
	for i := range c.Sessions {
		acct := c.Accounts[i%len(c.Accounts)]
		tr := &trader{w: w, idx: i, account: acct, prefix: fmt.Sprintf("LT%s-%d-", w.runID, i),
			track: newOrderTracker(i, w.stats, w.ack, w.firstExec)}
		var sess orderSession
		var err error
		if i < c.FIXSessions {
			tr.fix = true
			sess, err = dialFIXOrderSession(ctx, w.t.fixBroker, fixCompID(c.FIXSender, i), c.FIXPassword, tr.prefix, c.ReadyTimeout, tr.track)
		} else {
			sess, err = dialWSOrderSession(ctx, wsURL, w.t.token, acct, tr.prefix, tr.track)
		}
		if err != nil {
			return err
		}
		tr.sess = sess
		w.traders = append(w.traders, tr)
		w.readers.Add(1)
		go func() { defer w.readers.Done(); sess.read(rctx) }()
	}
	// The sessions share one schedule at the total rate, interleaved:
	// session i sends the orders i, i+M, i+2M, ...
	total := time.Second / time.Duration(c.OrderRate)
	begin := time.Now().Add(50 * time.Millisecond)
	for i, tr := range w.traders {
		sched := &schedule{start: begin.Add(time.Duration(i) * total), interval: total * time.Duration(c.Sessions)}
		w.senders.Add(1)
		go func() { defer w.senders.Done(); tr.sendLoop(rctx, sched) }()
	}
	return nil
}

// startQuotes subscribes one connection to the traded symbols' quotes and
// keeps the quote board; it waits up to 5 s for a first quote of each.
func (w *ordersWorkload) startQuotes(ctx context.Context, wsURL string) error {
	mc, _, err := mdclient.Dial(ctx, wsURL, mdclient.Options{Token: w.t.token})
	if err != nil {
		return fmt.Errorf("loadtest: quotes: %w", err)
	}
	w.quoteMC = mc
	syms := make([]string, len(w.instr))
	for i, in := range w.instr {
		syms[i] = in.Symbol
	}
	if err := mc.Subscribe(ctx, "quote", 0, nil, syms...); err != nil {
		mc.Conn().CloseNow()
		return fmt.Errorf("loadtest: quotes: %w", err)
	}
	w.readers.Add(1)
	go func() {
		defer w.readers.Done()
		for {
			msgs, err := mc.Next(ctx)
			if err != nil {
				return
			}
			for _, m := range msgs {
				if m.Ch == "quote" {
					w.quotes.set(m.Sym, m.Bid.Price, m.Ask.Price)
				}
			}
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for w.quotes.len() < len(syms) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// sendLoop sends the session's orders on its schedule until the workload
// stops sending. Open loop: each order is sent at its scheduled time or,
// when the sender is behind, at once; its latency is measured from the
// scheduled time either way. Told to stop, a sender behind its schedule
// still sends the orders the measurement window scheduled, so the orders
// a stall delayed the most are measured too, not dropped.
func (tr *trader) sendLoop(ctx context.Context, sched *schedule) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		intended := sched.next()
		if d := time.Until(intended); d > 0 {
			timer.Reset(d)
			select {
			case <-tr.w.stopSend:
				if !tr.w.owed(intended) {
					return
				}
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		} else {
			select {
			case <-tr.w.stopSend:
				if !tr.w.owed(intended) {
					return
				}
			case <-ctx.Done():
				return
			default:
			}
		}
		now := time.Now()
		tr.cancelDue(ctx, now, restFor)
		tr.sendNew(ctx, intended, now)
	}
}

// sendNew sends the next order of the session's cycle: each symbol in
// turn gets a marketable buy, a resting buy, a marketable sell and a
// resting sell, so the account's cash and shares go round.
func (tr *trader) sendNew(ctx context.Context, intended, now time.Time) {
	w := tr.w
	k := tr.n
	tr.n++
	kind := orderKind(k % int64(orderKinds))
	in := &w.instr[(k/int64(orderKinds)*int64(w.c.Sessions)+int64(tr.idx))%int64(len(w.instr))]
	if !kind.buy() && tr.track.sellBlocked(in.Symbol) {
		kind -= marketableSell // the buy of the same kind
	}
	bid, ask, _ := w.quotes.get(in.Symbol)
	o := &trackedOrder{id: tr.prefix + strconv.FormatInt(k, 36), account: tr.account, symbol: in.Symbol, kind: kind,
		sell: !kind.buy(), price: price(in, kind, bid, ask), qty: in.Lot, intended: intended,
		measured: w.inWindow(intended), sent: now}
	w.stats.lag(now.Sub(intended))
	tr.track.add(o)
	if err := tr.sess.sendNew(ctx, o); err != nil {
		tr.track.sendFailed(o)
		return
	}
	w.stats.sent.Add(1)
	if tr.fix {
		w.fixSent.Add(1)
	}
}

// cancelDue cancels the orders that have worked for age without a cancel
// pending.
func (tr *trader) cancelDue(ctx context.Context, now time.Time, age time.Duration) {
	for _, o := range tr.track.due(now, age) {
		tr.cancels++
		id := o.id + "-x" + strconv.FormatInt(tr.cancels, 36) // "-" is no base-36 digit: never an order's id
		tr.track.cancelling(o, id, now)
		if err := tr.sess.sendCancel(ctx, o, id); err != nil {
			tr.w.stats.sendErrs.Add(1)
		}
	}
}

// inWindow reports whether an order scheduled at intended belongs to the
// measurement window: by its place in the schedule, not by when a sender
// behind its schedule got to send it. Safe for concurrent use.
func (w *ordersWorkload) inWindow(intended time.Time) bool {
	w.winMu.Lock()
	defer w.winMu.Unlock()
	return !w.winFrom.IsZero() && !intended.Before(w.winFrom) && (w.winTo.IsZero() || intended.Before(w.winTo))
}

// owed reports whether the window has ended and scheduled an order at
// intended: a sender told to stop still sends it. Safe for concurrent use.
func (w *ordersWorkload) owed(intended time.Time) bool {
	w.winMu.Lock()
	defer w.winMu.Unlock()
	return !w.winTo.IsZero() && intended.Before(w.winTo)
}

func (w *ordersWorkload) setRecording(on bool, now time.Time) {
	s := w.stats
	w.winMu.Lock()
	if on {
		w.winFrom = now
	} else {
		w.winTo = now
	}
	w.winMu.Unlock()
	if on {
		w.began, w.lastT = now, now
		w.sent0, w.acks0, w.execs0, w.fills0 = s.sent.Load(), s.acks.Load(), s.execs.Load(), s.fills.Load()
		w.lastSent = w.sent0
		w.fsync0, _ = scrapeHist(w.t, "gateway_journal_fsync_seconds")
		w.internal0, _ = scrapeHist(w.t, "gateway_order_internal_latency_seconds")
		return
	}
	w.end = now
	w.sent1, w.acks1, w.execs1, w.fills1 = s.sent.Load(), s.acks.Load(), s.execs.Load(), s.fills.Load()
	w.fsync1, _ = scrapeHist(w.t, "gateway_journal_fsync_seconds")
	w.internal1, _ = scrapeHist(w.t, "gateway_order_internal_latency_seconds")
}

func (w *ordersWorkload) progress(now time.Time) string {
	s := w.stats
	sent := s.sent.Load()
	snap := w.ack.Snapshot()
	working := 0
	for _, tr := range w.traders {
		working += tr.track.working()
	}
	str := fmt.Sprintf("orders=%.0f/s ack p50=%s p99=%s working=%d violations=%d",
		float64(sent-w.lastSent)/now.Sub(w.lastT).Seconds(), time.Duration(snap.ValueAtQuantile(50)),
		time.Duration(snap.ValueAtQuantile(99)), working, s.violations.Load())
	w.lastSent, w.lastT = sent, now
	return str
}

// violations counts integrity violations: those seen so far, and once the
// run has finished, unanswered orders beyond what unattributed error
// replies explain.
func (w *ordersWorkload) violations() int64 { return w.stats.violations.Load() }

// finish stops sending, cancels what still works, waits for the outcomes,
// stops the sessions and fills sum.Orders.
func (w *ordersWorkload) finish(sum *Summary) {
	w.sendOnce.Do(func() { close(w.stopSend) })
	w.senders.Wait()
	w.drain()
	stopped := time.Now() // the tester stops waiting for answers
	w.stop()
	var outAcks, outExecs int64
	for _, tr := range w.traders {
		a, e := tr.track.recordOutstanding(stopped)
		outAcks, outExecs = outAcks+a, outExecs+e
	}

	s := w.stats
	el := w.end.Sub(w.began).Seconds()
	transport := "websocket"
	switch n := w.c.FIXSessions; {
	case n == len(w.traders):
		transport = "fix"
	case n > 0:
		transport = "websocket+fix"
	}
	out := &OrdersSummary{Sessions: len(w.traders), Transport: transport, FIXSessions: w.c.FIXSessions, FIXOrders: w.fixSent.Load(),
		Accounts: w.c.Accounts, Rate: w.c.OrderRate,
		SentPerSecond: float64(w.sent1-w.sent0) / el, AcceptedPerSecond: float64(w.acks1-w.acks0) / el,
		ExecsPerSecond: float64(w.execs1-w.execs0) / el, FillsPerSecond: float64(w.fills1-w.fills0) / el,
		MaxSendLag: time.Duration(s.maxLag.Load()), SendErrors: s.sendErrs.Load(), CancelsSent: s.cancelsSent.Load(),
		Outcomes: map[string]int64{}, Restatements: s.restatements.Load()}
	for _, in := range w.instr {
		out.Symbols = append(out.Symbols, in.Symbol)
	}
	for _, tr := range w.traders {
		tr.track.tally(out.Outcomes)
	}
	for _, n := range out.Outcomes {
		out.Total += n
	}
	s.mu.Lock()
	out.Rejects, out.CancelRejects, out.Unattributed = maps.Clone(s.rejects), maps.Clone(s.cancelRejects), maps.Clone(s.unattributed)
	var unattributed int64
	for _, n := range s.unattributed {
		unattributed += n
	}
	s.mu.Unlock()
	if lost := out.Outcomes["unanswered"] - unattributed; lost > 0 {
		s.violation("unanswered", "%d orders got neither accepted nor an error reply", lost)
	}
	s.mu.Lock()
	out.ViolationsBy = maps.Clone(s.kinds)
	if sum.FirstIssue == "" {
		sum.FirstIssue = s.firstIssue
	}
	s.mu.Unlock()
	out.Violations = s.violations.Load()
	out.JournalFsync = window("gateway_journal_fsync_seconds", w.fsync0, w.fsync1)
	out.GatewayInternal = window("gateway_order_internal_latency_seconds", w.internal0, w.internal1)
	if out.GatewayInternal == nil {
		out.Notes = append(out.Notes, "gateway_internal (order in to FIX out) is not measured: the target exports no gateway_order_internal_latency_seconds")
	}
	// The window scheduled Rate × el orders, give or take one a session;
	// fewer sent means the senders fell behind (the tester starved, or
	// writes to the gateway blocked), and the gateway saw less than the
	// offered rate: the report must not read as if it took that rate.
	if offered := float64(w.c.OrderRate) * el; offered-float64(w.sent1-w.sent0) > max(0.01*offered, float64(w.c.Sessions)) {
		sum.Warnings = append(sum.Warnings, fmt.Sprintf("the tester sent %.1f orders/s of the %d/s offered: its senders fell behind their schedule (max send lag %v), so the gateway was offered less than that rate (latencies still run from each order's place in the schedule)",
			out.SentPerSecond, out.Rate, out.MaxSendLag.Round(time.Microsecond)))
	}
	sum.Orders = out
	for _, r := range []struct {
		rec         *Recorder
		outstanding int64
	}{{w.ack, outAcks}, {w.firstExec, outExecs}} {
		m := measureOf(r.rec)
		m.Outstanding = r.outstanding
		sum.Latency = append(sum.Latency, m)
		sum.hists = append(sum.hists, r.rec.Snapshot())
	}
}

// drain cancels every order still working and waits, up to drainTimeout,
// until each has its outcome. Cancels refused (an order being reconciled
// after a failover) are sent again.
func (w *ordersWorkload) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	for ctx.Err() == nil {
		working := 0
		now := time.Now()
		for _, tr := range w.traders {
			tr.cancelDue(ctx, now, 0)
			working += tr.track.working()
		}
		if working == 0 {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop ends the senders and the sessions and waits for their goroutines.
func (w *ordersWorkload) stop() {
	w.stopOnce.Do(func() {
		w.sendOnce.Do(func() { close(w.stopSend) })
		w.senders.Wait()
		if w.cancel != nil {
			w.cancel()
		}
		for _, tr := range w.traders {
			tr.sess.close()
		}
		if w.quoteMC != nil {
			w.quoteMC.Conn().CloseNow()
		}
		w.readers.Wait()
	})
}
