package broker

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/quickfixgo/quickfix"

	"sgw/fix"
	"sgw/orders"
	"sgw/refdata"
)

// Restatement (Config.Restate). A clustered gateway's new leader takes
// the broker sessions over from the previous one with their replicated
// stores, which may lack the last reports the previous leader produced:
// a report still queued when it died (or stopped while the broker was
// logged out), or one it sent that was not yet replicated, or an
// execution it journaled whose report it never made. A restarted single
// gateway's file stores lack the same of its previous run.
// FIX resend recovery brings back what the store holds; nothing brings
// back what it lacks. So at each session's first logon under such an
// acceptor, every order the session entered whose state differs from the
// last report the store holds for it (OrdStatus, CumQty), or of which the
// store holds none, or whose last one is a rejection the acceptor made
// (which may be a refusal of a request reusing its ClOrdID:
// ownRejection), is restated with an ExecutionReport ExecType I (order
// status; FIX 4.2: ExecTransType 3): the broker's view is made whole,
// and a report it did get is only repeated as a status, which changes
// nothing. Before the statuses, each trade of those orders whose report
// (by ExecID) neither the store nor the session's queue holds is sent
// again, flagged PossResend: a broker books each execution, and one it
// did get it tells by its ExecID; so is the latest cancel or correction
// of a trade it was told of, or resent, whose report neither holds. A
// trade canceled by then is resent as it stood, then its cancel: a broker
// that had it (sent, not yet replicated) takes it back, one that had not
// books it and takes it back. Only when its cancel went before (stored
// or queued) is such a trade not resent; should a correction bring it
// back later, the trade goes before the correction. A later logon of the
// same run does the same if the session's queue, full, dropped a message
// meanwhile (a broker away for long on a busy day).

// keptStores is a storeFactory that remembers the store of each session,
// for the restatement, and starts reading each store's reports as it is
// created (when the acceptor starts, at a term's start): by the session's
// first logon, which waits for it if need be, only the messages stored
// since remain to be read (BenchmarkRestate). At most GOMAXPROCS stores
// are read at once: a read is CPU-bound and holds a copy of its store's
// messages (LockedStore.IterateMessages), so more at once would only add
// memory. Safe for concurrent use.
type keptStores struct {
	storeFactory
	mu    sync.Mutex
	bySID map[quickfix.SessionID]*keptStore // by sessionKey
	scans sync.WaitGroup                    // the scans Create started
	slots chan struct{}                     // one per scan running
}

var _ storeFactory = (*keptStores)(nil)

// keptStore is a session's store as quickfix holds it, with the scan of
// its reports that Create started. quickfix calls its methods on the
// session's goroutine and, for sending, on the pacer's: the store it
// wraps is safe for concurrent use (a fix.LockedStore), and the scan
// goroutine reads it alongside. The scan goroutine sets reports, upTo,
// before and err, then closes scanned; storedReports, on the session's
// goroutine, reads them only after scanned is closed.
type keptStore struct {
	quickfix.MessageStore
	// resets counts the Reset calls that have returned. A scan that loaded
	// it before a reset's end may have read messages the reset dropped,
	// and sees the count moved; one that loaded it after read the reset
	// store.
	resets atomic.Uint64

	scanned chan struct{} // closed when the fields below are set
	reports *fix.StoredReports
	upTo    int    // the scan read the messages below this sender sequence number
	before  uint64 // resets when the scan began
	err     error
}

var _ quickfix.MessageStore = (*keptStore)(nil)

// Reset implements quickfix.MessageStore. The reset is counted once it is
// done (see resets).
func (k *keptStore) Reset() error {
	err := k.MessageStore.Reset()
	k.resets.Add(1)
	return err
}

// keep wraps st so that the sessions' stores can be found (Restate only).
func (a *Acceptor) keep(st storeFactory) storeFactory {
	if !a.cfg.Restate {
		return st
	}
	k := newKeptStores(st)
	a.kept = k
	return k
}

func newKeptStores(st storeFactory) *keptStores {
	return &keptStores{storeFactory: st, bySID: map[quickfix.SessionID]*keptStore{},
		slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
}

// Create implements quickfix.MessageStoreFactory; it starts the scan of
// the store's reports on a goroutine of its own.
func (k *keptStores) Create(sid quickfix.SessionID) (quickfix.MessageStore, error) {
	st, err := k.storeFactory.Create(sid)
	if err != nil {
		return nil, err
	}
	ks := &keptStore{MessageStore: st, scanned: make(chan struct{})}
	k.mu.Lock()
	k.bySID[sessionKey(sid)] = ks
	k.mu.Unlock()
	k.scans.Add(1)
	go func() {
		defer k.scans.Done()
		defer close(ks.scanned)
		k.slots <- struct{}{}
		defer func() { <-k.slots }()
		ks.before = ks.resets.Load()
		ks.reports = fix.NewStoredReports()
		ks.upTo, ks.err = ks.reports.Add(st, 1)
	}()
	return ks, nil
}

// Close waits for the scans Create started (each a read of one store),
// then closes the stores.
func (k *keptStores) Close() error {
	k.scans.Wait()
	return k.storeFactory.Close()
}

// store returns sid's store, or nil.
func (k *keptStores) store(sid quickfix.SessionID) *keptStore {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.bySID[sessionKey(sid)]
}

// storedReports returns what the store's reports say: the scan Create
// started (waited for), completed with the messages stored since; or, if
// the store was reset since the scan began, or the scan failed, or its
// result was already taken, a scan of the whole store. It runs on the
// session's goroutine (the scan's result is handed over to the caller).
func (ks *keptStore) storedReports() (*fix.StoredReports, error) {
	<-ks.scanned
	r := ks.reports
	ks.reports = nil
	// ks.MessageStore, the factory's own store: read without its
	// OnReadError, which logs and counts a failed read as a resend not
	// made; restate logs what failed here.
	if r == nil || ks.err != nil || ks.resets.Load() != ks.before {
		return fix.ReadStoredReports(ks.MessageStore)
	}
	_, err := r.Add(ks.MessageStore, ks.upTo)
	return r, err
}

// restate runs at the session's first logon of an acceptor run, and at a
// later logon if a message for the session was dropped since the last
// restatement (its queue full). It queues, flagged PossResend, each trade
// of the session's orders whose report neither the store holds nor the
// queue, and the cancel or correction of a trade the broker was told of,
// or resent, whose report neither holds (resendTrades), then the status of every
// order whose last stored report does not show it as it is (or may not be
// its own: ownRejection), or of which
// a trade, cancel or correction was resent; an order that ended on a
// trading day before the store's session period began is left out (the
// store, reset since, holds none of its reports), and so is one whose
// ClOrdID a later order of the session took. From its read of the orders
// until its messages are queued the sink holds the session's events,
// then reports them after those messages (session.holding). It runs on
// the session's goroutine (OnLogon), which is the only writer of the
// store meanwhile, and returns how many orders it restated and how many trades, trade
// cancels and corrections it resent.
func (s *session) restate() (restated, resent int) {
	k := s.a.kept
	again := s.dropped.Swap(false)
	if k == nil || s.restated && !again {
		return 0, 0
	}
	s.restated = true
	st := k.store(s.id)
	if st == nil {
		return 0, 0
	}
	reports, err := st.storedReports()
	if err != nil {
		// Without the store's reports every order is restated and every
		// trade resent: the broker tells a trade it had by its ExecID.
		// The read is not counted as a failed resend (fix.StoredReports.Add):
		// the session goes on; a resend that meets the same damage is.
		s.a.log.Warn("broker: restatement: the store's reports cannot be read; restating every order and resending every trade", "broker", s.id.TargetCompID, "err", err)
		reports = nil
	}
	// Since is the trading day the store's session period began (its
	// CreationTime: created, or last reset): the store holds every report
	// sent since, and none of an earlier day. It may be later than the
	// manager's trading day (after a restart the manager keeps the
	// journal's last day until the first request after midnight, while
	// the broker logs on before it, on a store reset at its session's new
	// day), or earlier: a session without a schedule (Config's Schedule
	// nil) is never reset, and its store holds every day's reports since
	// it was created. Before, the later of the two was taken for both:
	// after midnight's first request, such a store's orders ended the day
	// before, and their trades, were left out, and a report lost when the
	// gateway stopped before midnight was never resent
	// (TestRestateUnresetStoreAcrossMidnight). With a schedule the later
	// of the two is still taken: a period that begins before midnight (a
	// start at 17:00) holds none of the reports sent earlier that day, and
	// the broker, told of them then, would be sent them again under that
	// day's ExecIDs (TestRestateScheduledPeriodFromTheEveningBefore).
	// Without a creation time, the trading day.
	since := s.a.entry.TradingDay()
	if c := st.CreationTime(); !c.IsZero() {
		if s.spec.cfg.Schedule != nil {
			since = max(since, s.a.entry.DayOf(c))
		} else {
			since = s.a.entry.DayOf(c)
		}
	}
	// The orders are read, and their messages queued, while the sink
	// holds the session's events (session.holding): those it reports
	// after, in order, and none overtakes what the restatement read.
	s.hold()
	defer s.release()
	all := s.a.entry.OrdersFrom(s.src)
	// latest is the index in all of the order that holds each ClOrdID
	// (tookAfter): a ClOrdID is free again from the first request after
	// the day its order ended.
	latest := make(map[string]int, len(all))
	for i := range all {
		if j, ok := latest[all[i].ClOrdID]; !ok || tookAfter(&all[j], &all[i]) {
			latest[all[i].ClOrdID] = i
		}
	}
	for i, o := range all {
		if day := o.EndDay(); o.Status.Terminal() && day != 0 && day < since {
			// It ended before the store's session period began, whose
			// session (its store since reset) told the broker. The day
			// it ended, not the day it was entered: an order a venue
			// that never closes carried over may trade today
			// (TestRestateOrderEndedOnALaterDay).
			continue
		}
		if latest[o.ClOrdID] != i {
			// The broker entered a later order under its ClOrdID, done
			// with this one: the store's last report of the ClOrdID is
			// the later order's, and a status or trade of this one
			// under it would be taken for the later order's.
			continue
		}
		n := s.resendTrades(&o, reports, since)
		resent += n
		r := orderReport(&o, 'I')
		if reports != nil && n == 0 {
			if got, ok := reports.Last[o.ClOrdID]; ok && got.OrdStatus == r.ordStatus && got.CumQty == r.cum && !ownRejection(got) {
				continue
			}
		}
		r.execID = s.a.nextExecID()
		s.sendReport(&r)
		restated++
	}
	if restated > 0 {
		s.a.log.Info("broker: orders restated after a takeover or restart", "broker", s.id.TargetCompID, "orders", restated, "trades_resent", resent)
	}
	return restated, resent
}

// tookAfter reports whether o, entered after p, both under the same
// (current) ClOrdID, took it after p did: p ended, and o works or ended
// on p's day or later (one that ended before p's day held the ClOrdID
// before p took it). Entry order alone does not tell: an order a venue
// that never closes carried over may be replaced to the ClOrdID of an
// order entered after it, ended on an earlier day; taken for the
// ClOrdID's holder, that ended order's status went under it, for the
// working order's, and the working one was left out, its trades never
// resent (TestRestateClOrdIDTakenByAReplaceOfAnEarlierOrder). A day not
// known (0) leaves entry order.
func tookAfter(p, o *orders.Order) bool {
	switch {
	case !p.Status.Terminal():
		return false
	case !o.Status.Terminal() || o.EndDay() == 0 || p.EndDay() == 0:
		return true
	}
	return o.EndDay() >= p.EndDay()
}

// ownRejection reports whether a stored report is a rejection (OrdStatus
// 8) under one of the acceptor's own ExecIDs, not an upstream's
// ("<upstream>:<ExecID>", as OrderEvent forwards a venue's reject): that
// may be no report of the order its ClOrdID names, which the broker did
// not take for the order's. The acceptor refuses a NewOrderSingle that
// reused an order's ClOrdID (OrdRejReason 6, duplicate order:
// session.reused) under that ClOrdID, and answers a status
// request that found no order (another account's) so; neither is
// journaled. Taken as the order's last report, such a refusal hid the
// order's own rejection when its report was lost (queued at a stop, not
// replicated): rejected (8, nothing filled) like the refusal, the order
// was not restated and the broker kept it pending new for good (found by
// TestBrokerAgainstModel, seed 732084861959205361). An order whose last
// stored report is its own rejection by the gateway (a request held too
// long), or a restatement of it, is restated again: a status, which
// changes nothing.
func ownRejection(r fix.StoredReport) bool {
	return r.OrdStatus == '8' && !strings.Contains(r.RejectExecID, ":")
}

// resendTrades queues each trade of o, reported on trading day today or
// later (Trade.ReportDay: the date it was applied on, before the day's
// first request too; today is the day the store's session period began,
// whose reports it holds), that the broker may never have been told of: whose ExecID
// ("<upstream>:<ExecID>", as OrderEvent sends it) the store's reports do
// not hold (all trades when reports is nil) and whose report is not
// queued (resendTrade). Each goes flagged PossResend, in the order
// applied, as ExecType F under the order's current ClOrdID, with the
// order's totals after it and the upstream's TransactTime. A trade
// without the upstream's ExecID cannot be told apart and is not resent
// (the status that follows shows its quantity). One the upstream
// corrected goes with the correction's quantity and price
// (orders.Trade). One it canceled goes as it stood before the cancel,
// which follows it: with the totals as they were with it standing, as
// are those of the trades resent after it until then (standing). So are
// those of the trades resent after a canceled trade the broker was told
// of whose cancel follows them: the broker has it until then.
//
// After the trades it queues, flagged PossResend too, the cancel or
// correction of each trade the broker was told of (its report stored, or
// still queued as it was; or made on an earlier trading day, whose
// session told it) or resent, whose report (by its ExecID,
// "<upstream>:<Trade.Amended>") neither the store holds nor the queue:
// a broker that had a trade the store lacks (sent, not yet replicated)
// ignores its resend, and the cancel or correction brings it up to date;
// one that had not books the trade, and the cancel takes it back, the
// correction changes nothing. Each goes as OrderEvent sends one, ExecType
// H or G (a FIX 4.2 broker's a restatement, D), ExecRefID the trade's
// ExecID, a correction with the trade as corrected, with the order's
// current totals (the status follows). A broker that books fills one by
// one learns which to take back or correct; the status alone gives only
// the totals. Only a trade's latest cancel or correction is known
// (Trade.Amended): of a trade amended twice only the latest is resent,
// which leaves the trade as the venue last did. The correction of a
// trade the broker was told of goes before the first trade resent after
// that trade, if any, with the order's totals after the trade before it
// (as corrected, and with the canceled trades standing): that trade's
// totals are with the trade as corrected, which the broker has then.
// Before, it followed: the broker had the trade as first told, and the
// totals of the trades resent after it matched nothing it had
// (TestRestateCanceledTradesStandingTotals). The cancel or correction
// of a trade of an earlier trading day is resent only if made today
// (Trade.AmendDay; an order a venue that never closes carried over):
// one made on that earlier day, the store (reset since) tells nothing
// of, and that day's session told the broker
// (TestRestateTodaysCancelOfAnEarlierDaysTrade). Before, today's was
// left out with the trade: the broker kept a trade the venue canceled.
//
// A canceled trade not told (neither stored nor queued) whose cancel
// cannot follow it is withheld (session.withheld): its cancel went or
// goes before the restatement's messages (stored, or queued, as the sink
// reported it between the acceptor's start and the logon), or has no
// ExecID. Resent, the trade would stand: a broker that books it after
// its cancel takes it back no more. Should the upstream correct it
// later, bringing it back, the trade goes before the correction, which
// would otherwise name a trade the broker never had.
//
// It returns how many reports (trades, cancels, corrections) it resent.
func (s *session) resendTrades(o *orders.Order, reports *fix.StoredReports, today int32) int {
	n := 0
	// amendment is a trade the broker was told of, or resent, whose
	// latest cancel or correction it may lack.
	type amendment struct {
		t orders.Trade
		// ahead is set on the correction of a trade the broker was told
		// of: it goes before the next trade resent, if any, whose totals
		// are with the trade as corrected.
		ahead bool
	}
	var amended []amendment
	// ahead sends the corrections that go ahead of a trade resent, with
	// totals, the order's as the broker has them then (the trade's
	// before); the others stay.
	ahead := func(totals orders.Trade) {
		kept := amended[:0]
		for _, a := range amended {
			if !a.ahead {
				kept = append(kept, a)
				continue
			}
			r := amendResend(o, a.t, &totals)
			if s.resendTrade(&r) {
				n++
			}
		}
		amended = kept
	}
	// The canceled trades resent so far, whose cancels follow: the
	// trades resent until then show the totals with them standing.
	var backQty, backTurnover int64
	ts := o.Trades()
	for i, t := range ts {
		backQtyBefore, backTurnoverBefore := backQty, backTurnover
		earlier := t.ReportDay != 0 && t.ReportDay < today
		if t.ExecID == "" || earlier && t.AmendDay < today {
			// No id to tell it by; or a trade of an earlier trading day,
			// whose session told the broker (a venue may number its
			// ExecIDs anew each day: resent, it could shadow today's),
			// not amended since.
			continue
		}
		id, amendID := orders.TradeID(o.Upstream, t.ExecID), orders.TradeID(o.Upstream, t.Amended)
		amend := t.Amended != ""
		stored := earlier // told on its day; amended today
		if reports != nil {
			_, got := reports.Trades[id]
			stored = stored || got
			if amend {
				_, got := reports.Amends[amendID]
				amend = !got
			}
		}
		// A canceled trade whose cancel this restatement resends (after
		// the trades) stands until then, told or resent.
		cancelFollows := t.Canceled && amend && !s.isQueued(amendID)
		if stored || s.isQueued(id) {
			// Told: not resent. A report still queued goes as it was, and
			// its cancel or correction must follow.
			if amend {
				amended = append(amended, amendment{t: t, ahead: !t.Canceled && !s.isQueued(amendID)})
			}
			if cancelFollows {
				backQty, backTurnover = backQty+t.Qty, backTurnover+t.Qty*int64(t.Px)
			}
			continue
		}
		if t.Canceled {
			if !cancelFollows {
				// Its cancel goes before the resend would: withheld. A
				// correction may bring it back, and then the trade goes
				// before it (sink.OrderEvent).
				s.withhold(id)
				continue
			}
			backQty, backTurnover = backQty+t.Qty, backTurnover+t.Qty*int64(t.Px)
		}
		if i > 0 {
			ahead(standing(ts[i-1], backQtyBefore, backTurnoverBefore))
		}
		r := tradeReport(o, standing(t, backQty, backTurnover), id)
		if s.resendTrade(&r) {
			n++
		}
		if amend {
			// Resent as corrected, which a broker that had it ignores
			// (its ExecID): the correction follows. Resent canceled: the
			// cancel follows.
			amended = append(amended, amendment{t: t})
		}
	}
	for _, a := range amended {
		r := amendResend(o, a.t, nil)
		if s.resendTrade(&r) {
			n++
		}
	}
	return n
}

// amendResend is a restatement's resend of the latest cancel or
// correction of t, a trade of o as amended, as OrderEvent sends one,
// with the order's current totals, or those of totals (a trade's, after
// it) if not nil.
func amendResend(o *orders.Order, t orders.Trade, totals *orders.Trade) execReport {
	at := *o
	at.Text = ""
	if totals != nil {
		at.Status, at.CumQty, at.LeavesQty, at.AvgPx = totals.Status, totals.CumQty, totals.LeavesQty, totals.AvgPx
	}
	r := orderReport(&at, 'G')
	amendReport(&r, t)
	r.execID, r.execRefID = orders.TradeID(o.Upstream, t.Amended), orders.TradeID(o.Upstream, t.ExecID)
	return r
}

// standing returns t with the order's totals after it as they were with
// the canceled trades of qty and turnover (price × quantity, summed)
// standing: t's own, or earlier trades', whose cancels a restatement
// resends after t. The totals amendTrade moved by each cancel move back;
// the average price is the turnover's over CumQty, as orders makes it.
func standing(t orders.Trade, qty, turnover int64) orders.Trade {
	if qty == 0 {
		return t
	}
	t.CumQty += qty
	if !t.Status.Terminal() {
		t.LeavesQty = max(t.LeavesQty-qty, 0)
	}
	t.AvgPx = refdata.Price((t.Turnover() + turnover) / t.CumQty)
	return t
}

// tradeReport describes trade t of o, whose id the broker knows it by is
// id, as a trade report (ExecType F) with the order's totals after it,
// under the order's current ClOrdID: as a restatement resends it.
func tradeReport(o *orders.Order, t orders.Trade, id string) execReport {
	at := *o
	at.Status, at.CumQty, at.LeavesQty, at.AvgPx, at.Text = t.Status, t.CumQty, t.LeavesQty, t.AvgPx, ""
	r := orderReport(&at, 'F')
	r.execID, r.lastQty, r.lastPx, r.transactTime = id, t.Qty, t.Px, t.Time
	return r
}
