package broker

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
	"sgw/fix/qfcpp"
	"sgw/orders"
	"sgw/orders/orderstest"
	"sgw/refdata"
	"sgw/risk"
)

// memSessions is a fix.SessionStores in memory, as a cluster's replicated
// stores look to the acceptor. Used by one goroutine at a time.
type memSessions struct {
	stores map[quickfix.SessionID]quickfix.MessageStore
	res    map[quickfix.SessionID][2]int // reserved, clean (0 or 1)
	owner  string
	prev   string // the owner of every reservation written before
}

var _ fix.SessionStores = (*memSessions)(nil)

type keepOpen struct{ quickfix.MessageStore }

func (keepOpen) Close() error { return nil }

func (m *memSessions) OpenMessages(sid quickfix.SessionID) (quickfix.MessageStore, error) {
	if st, ok := m.stores[sid]; ok {
		return st, nil
	}
	st, err := quickfix.NewMemoryStoreFactory().Create(sid)
	if err != nil {
		return nil, err
	}
	m.stores[sid] = keepOpen{st}
	return m.stores[sid], nil
}

func (m *memSessions) ReadReservation(sid quickfix.SessionID) (int, bool, string, bool, error) {
	r, ok := m.res[sid]
	return r[0], r[1] == 1, m.prev, ok, nil
}

func (m *memSessions) WriteReservation(sid quickfix.SessionID, reserved int, clean bool, _ string) error {
	c := 0
	if clean {
		c = 1
	}
	m.res[sid] = [2]int{reserved, c}
	return nil
}

func (m *memSessions) Owner() string { return m.owner }

// frame builds a FIX message from '|'-separated fields (header and body,
// without BeginString, BodyLength and CheckSum).
func frame(begin, fields string) []byte {
	body := strings.ReplaceAll(fields, "|", "\x01") + "\x01"
	msg := fmt.Appendf(nil, "8=%s\x019=%d\x01%s", begin, len(body), body)
	return append(msg, "10="+qfcpp.Checksum(msg)+"\x01"...)
}

// TestRestateAfterTakeover runs an acceptor with Restate over a store a
// previous owner left unclean, holding reports of two orders: at the
// broker's logon the order whose state moved on since its last report and
// an order with no report at all are restated (ExecType I, not PossDup),
// the unchanged one is not; the reports the store holds come back by
// resend recovery (PossDup); a second logon of the same run restates
// nothing.
func TestRestateAfterTakeover(t *testing.T) {
	ss := &memSessions{stores: map[quickfix.SessionID]quickfix.MessageStore{}, res: map[quickfix.SessionID][2]int{},
		owner: "n2/7", prev: "n1/6"}
	r := runAcceptor(t, func(c *Config) {
		sid := quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: c.Sessions[0].SenderCompID, TargetCompID: c.Sessions[0].TargetCompID}
		st, _ := ss.OpenMessages(sid)
		for i, body := range []string{
			"37=o1|11=a|17=x1|150=0|39=0|55=600519|54=1|38=100|151=100|14=0|6=0",
			"37=o2|11=b|17=x2|150=F|39=2|55=600519|54=1|38=100|151=0|14=100|6=1700",
		} {
			head := fmt.Sprintf("35=8|34=%d|49=%s|56=%s|52=20261202-10:00:00.000|", i+1, sid.SenderCompID, sid.TargetCompID)
			if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(i+1, frame("FIX.4.4", head+body)); err != nil {
				t.Fatal(err)
			}
		}
		ss.res[sid] = [2]int{20, 0}
		c.StoreDir, c.Stores, c.Restate, c.Term = "", ss, true, 7
	})
	src := orders.Source{Kind: "fix", Session: r.broker}
	for _, o := range []orders.Order{
		{ClOrdID: "a", Account: "A1", Symbol: "600519.SH", Qty: 100, CumQty: 100, Status: orders.StatusFilled, OrderID: "o1", Source: src},
		{ClOrdID: "b", Account: "A1", Symbol: "600519.SH", Qty: 100, CumQty: 100, Status: orders.StatusFilled, OrderID: "o2", Source: src},
		{ClOrdID: "c", Account: "A1", Symbol: "600519.SH", Qty: 100, Status: orders.StatusNew, OrderID: "o3", Source: src},
		{ClOrdID: "w", Account: "A1", Symbol: "600519.SH", Qty: 100, Status: orders.StatusNew, Source: orders.Source{Kind: "ws", Session: "1"}},
	} {
		r.entry.put(o)
	}
	// The restatements may be numbered while quickfix serves the broker's
	// resend; the acceptor holds them until it does (fix.AcceptorPacer),
	// else the broker's QuickFIX/Go engine could drop one sent ahead of the
	// resend (its resendState loses the first message it stashes) and get
	// it only by another resend after the next heartbeat. The window is a
	// few instructions wide and was hit once in many full runs: the broker
	// heartbeats every two seconds, so that whatever FIX still recovers by
	// a resend comes within the test's wait, not 30 s later.
	b := dialTestBrokerWith(t, r, r.a.Addr(), "right", map[string]string{"HeartBtInt": "2"})
	b.waitLogon()
	restated := map[string]string{}
	resent := map[string]bool{}
	for len(restated) < 2 || len(resent) < 2 {
		m := b.report()
		id := field(m, tag.ClOrdID)
		dup, _ := fix.PossDup(m)
		switch {
		case field(m, tag.ExecType) == "I":
			// A restatement that went out while the broker's engine waited
			// for its resend comes again in the resend (PossDup).
			if _, again := restated[id]; again && !dup {
				t.Fatalf("%s restated twice", id)
			}
			restated[id] = field(m, tag.OrdStatus) + "/" + field(m, tag.CumQty)
			if ex := field(m, tag.ExecID); !strings.HasPrefix(ex, "T7.") {
				t.Errorf("restatement ExecID %q; want the term's prefix T7.", ex)
			}
		case dup:
			resent[id] = true
		default:
			t.Fatalf("unexpected report %s", m)
		}
	}
	if restated["a"] != "2/100" || restated["c"] != "0/0" || len(restated) != 2 {
		t.Fatalf("restated %v; want a as filled 100 and c as new, nothing else", restated)
	}
	if !resent["a"] || !resent["b"] {
		t.Fatalf("resent %v; want the store's reports of a and b", resent)
	}
	// A second logon of the same run (a new engine, resetting the
	// sequence numbers): no restatement. Its status request's
	// answer follows anything queued before it.
	b.stop()
	b2 := dialTestBrokerWith(t, r, r.a.Addr(), "right", map[string]string{"ResetOnLogon": "Y"}) // a new engine: sequence numbers from 1
	b2.waitLogon()
	m := quickfix.NewMessage()
	m.Header.SetString(tag.MsgType, "H")
	m.Body.SetString(tag.ClOrdID, "b")
	m.Body.SetString(tag.Side, "1")
	m.Body.SetString(tag.Symbol, "600519")
	if err := quickfix.SendToTarget(m, b2.sid); err != nil {
		t.Fatal(err)
	}
	if rep := b2.report(); field(rep, tag.ClOrdID) != "b" || field(rep, tag.ExecType) != "I" {
		t.Fatalf("after the second logon: %s; want only the status of b", rep)
	}
}

// sliceEntry is a fakeEntry whose OrdersFrom copies a fixed list out, as
// the order manager copies a source's orders out of its index. Used by
// one goroutine.
type sliceEntry struct {
	*fakeEntry
	list []*orders.Order
}

func (e *sliceEntry) OrdersFrom(orders.Source) []orders.Order {
	out := make([]orders.Order, len(e.list))
	for i, o := range e.list {
		out[i] = *o
	}
	return out
}

// BenchmarkRestate measures a session's first-logon restatement after a
// takeover: every order the session entered against the last report its
// store holds. The store holds two reports per order (New, then Filled),
// but one order in a hundred has only its New (the old leader's Filled
// never replicated) and is restated.
//
//	go test -run '^$' -bench BenchmarkRestate -benchmem ./fix/broker/
func BenchmarkRestate(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("orders=%dk", n/1000), func(b *testing.B) {
			h := newHarness(b)
			s := h.session(b, "BROKER1")
			st, err := quickfix.NewMemoryStoreFactory().Create(s.id)
			if err != nil {
				b.Fatal(err)
			}
			entry := &sliceEntry{fakeEntry: h.entry}
			h.a.entry = entry
			seq := 1
			save := func(body string) {
				head := fmt.Sprintf("35=8|34=%d|49=SGW|56=BROKER1|52=20261202-10:00:00.000|", seq)
				if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(seq, frame("FIX.4.4", head+body)); err != nil {
					b.Fatal(err)
				}
				seq++
			}
			for i := range n {
				id := fmt.Sprintf("C%07d", i)
				save(fmt.Sprintf("37=O%07d|11=%s|17=E%07da|150=0|39=0|1=A1|55=600519|207=XSHG|54=1|40=2|44=1700|38=100|151=100|14=0|6=0|60=20261202-10:00:00.000", i, id, i))
				if i%100 != 0 {
					save(fmt.Sprintf("37=O%07d|11=%s|17=E%07db|150=F|39=2|1=A1|55=600519|207=XSHG|54=1|40=2|44=1700|38=100|151=0|14=100|6=1700|31=1700|32=100|60=20261202-10:00:01.000", i, id, i))
				}
				entry.list = append(entry.list, &orders.Order{ClOrdID: id, OrigClOrdID: id, Account: "A1", Symbol: "600519.SH", Qty: 100, CumQty: 100,
					Status: orders.StatusFilled, OrderID: fmt.Sprintf("O%07d", i), Source: s.src})
			}
			// The term's start: the acceptor creates the store, which
			// starts reading its reports; the broker logs on later. Each
			// iteration is a takeover; "logon" is the cost of the logon
			// once the scan is done, "cold" that of a logon with the scan
			// still to be made (before this scan existed, every logon's).
			for _, mode := range []string{"logon", "cold"} {
				b.Run(mode, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						b.StopTimer()
						h.a.kept = newKeptStores(fixedStore{st})
						if _, err := h.a.kept.Create(s.id); err != nil {
							b.Fatal(err)
						}
						ks := h.a.kept.store(s.id)
						if mode == "logon" {
							<-ks.scanned
						}
						s.restated = false
						b.StartTimer()
						if got, _ := s.restate(); got != n/100 {
							b.Fatalf("restated %d; want %d", got, n/100)
						}
						b.StopTimer()
						h.take()
						h.a.kept.Close()
						b.StartTimer()
					}
				})
			}
		})
	}
}

// fixedStore is a storeFactory whose Create returns one store; Close
// closes nothing, and OnReadError counts nothing.
type fixedStore struct{ st quickfix.MessageStore }

func (f fixedStore) Create(quickfix.SessionID) (quickfix.MessageStore, error) { return f.st, nil }
func (fixedStore) Close() error                                               { return nil }
func (fixedStore) OnReadError(func(quickfix.SessionID, error))                {}

// TestKeptStoreReports checks the reports a session's first logon compares
// its orders with: those the scan begun at the store's creation read,
// completed with what was stored after it; after a reset of the store, or
// when that scan failed, only what a whole read of the store finds.
func TestKeptStoreReports(t *testing.T) {
	sid := quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "SGW", TargetCompID: "BROKER1"}
	report := func(st quickfix.MessageStore, id, status, cum string) {
		t.Helper()
		seq := st.NextSenderMsgSeqNum()
		msg := frame("FIX.4.4", fmt.Sprintf("35=8|34=%d|49=SGW|56=BROKER1|52=20261202-10:00:00.000|37=o|11=%s|17=e%d|150=0|39=%s|14=%s", seq, id, seq, status, cum))
		if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(seq, msg); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		fail  bool                        // the scan at creation fails
		after func(ks *keptStore)         // between the scan and the logon
		want  map[string]fix.StoredReport // what the logon compares with
	}{
		{"scan, then the tail", false, func(ks *keptStore) {
			report(ks, "a", "2", "100") // a filled since the scan
			report(ks, "c", "0", "0")
		}, map[string]fix.StoredReport{"a": {OrdStatus: '2', CumQty: 100}, "b": {OrdStatus: '0', CumQty: 0}, "c": {OrdStatus: '0', CumQty: 0}}},
		{"nothing stored since", false, func(*keptStore) {},
			map[string]fix.StoredReport{"a": {OrdStatus: '0', CumQty: 0}, "b": {OrdStatus: '0', CumQty: 0}}},
		{"reset since the scan", false, func(ks *keptStore) {
			if err := ks.Reset(); err != nil {
				t.Fatal(err)
			}
			report(ks, "c", "0", "0")
			report(ks, "d", "0", "0")
			report(ks, "e", "1", "50") // past the scan's end: a tail read would find it alone
		}, map[string]fix.StoredReport{"c": {OrdStatus: '0', CumQty: 0}, "d": {OrdStatus: '0', CumQty: 0}, "e": {OrdStatus: '1', CumQty: 50}}},
		{"the scan failed", true, func(ks *keptStore) {
			report(ks, "c", "0", "0")
		}, map[string]fix.StoredReport{"a": {OrdStatus: '0', CumQty: 0}, "b": {OrdStatus: '0', CumQty: 0}, "c": {OrdStatus: '0', CumQty: 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem, err := quickfix.NewMemoryStoreFactory().Create(sid)
			if err != nil {
				t.Fatal(err)
			}
			st := &failingStore{LockedStore: fix.NewLockedStore(mem)}
			st.fail.Store(tt.fail)
			report(st, "a", "0", "0")
			report(st, "b", "0", "0")
			k := newKeptStores(fixedStore{st})
			if _, err := k.Create(sid); err != nil {
				t.Fatal(err)
			}
			ks := k.store(sid)
			<-ks.scanned
			if tt.fail && ks.err == nil {
				t.Fatal("the scan did not fail")
			}
			st.fail.Store(false)
			tt.after(ks)
			rep, err := ks.storedReports()
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(rep.Last, tt.want) {
				t.Fatalf("reports %v; want %v", rep.Last, tt.want)
			}
			// The scan's result was handed over: a second call reads the
			// whole store.
			if again, err := ks.storedReports(); err != nil || !maps.Equal(again.Last, tt.want) {
				t.Fatalf("a second call: %v, %v; want %v", again, err, tt.want)
			}
			if err := k.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestKeptStoreResetDuringScan: a Reset that began before the scan of
// the store's reports and ends after it (quickfix resets a store of an
// earlier session day at Start, right after Create) makes the first logon
// read the whole store again, not the scan of what the reset dropped.
// With one processor the scan runs exactly while the reset waits.
func TestKeptStoreResetDuringScan(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	sid := quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "SGW", TargetCompID: "BROKER1"}
	mem, err := quickfix.NewMemoryStoreFactory().Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	st := &failingStore{LockedStore: fix.NewLockedStore(mem)}
	save := func(id string) {
		seq := st.NextSenderMsgSeqNum()
		msg := frame("FIX.4.4", fmt.Sprintf("35=8|34=%d|49=SGW|56=BROKER1|52=20261202-10:00:00.000|37=o|11=%s|17=e%d|150=0|39=0|14=0", seq, id, seq))
		if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(seq, msg); err != nil {
			t.Fatal(err)
		}
	}
	save("old1")
	save("old2")
	k := newKeptStores(fixedStore{st})
	if _, err := k.Create(sid); err != nil {
		t.Fatal(err)
	}
	ks := k.store(sid)
	st.resetAfter = ks.scanned // the reset ends after the scan
	if err := ks.Reset(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"new1", "new2", "new3"} {
		save(id)
	}
	rep, err := ks.storedReports()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"new1", "new2", "new3"}; !slices.Equal(slices.Sorted(maps.Keys(rep.Last)), want) {
		t.Fatalf("the logon compares with the reports of %v; want %v", slices.Sorted(maps.Keys(rep.Last)), want)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
}

// failingStore is a store whose IterateMessages fails while fail is set,
// and whose Reset waits for resetAfter, when set, before resetting.
type failingStore struct {
	*fix.LockedStore
	fail       atomic.Bool
	resetAfter <-chan struct{}
}

func (f *failingStore) Reset() error {
	if f.resetAfter != nil {
		<-f.resetAfter
	}
	return f.LockedStore.Reset()
}

func (f *failingStore) IterateMessages(begin, end int, cb func([]byte) error) error {
	if f.fail.Load() {
		return errors.New("broken")
	}
	return f.LockedStore.IterateMessages(begin, end, cb)
}

// TestRestateResendsTradesTheStoreLacks: at the first logon of an acceptor
// run, a trade of the previous run whose report the store lacks (lost in
// its queue) is sent again, flagged PossResend, with its ExecID, LastQty,
// LastPx, the order's totals after it and the venue's TransactTime,
// before the order's status; so is one of this run whose report the full
// queue dropped; a trade whose report the store holds is not, nor one
// queued and not yet sent. A later logon of the run restates again only
// after a drop.
func TestRestateResendsTradesTheStoreLacks(t *testing.T) {
	h := newRealHarness(t, nil)
	s := h.session(t, "BROKER1")
	uid := h.workingOrder(t, s)
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	fill := func(n int, last, cum int64) {
		t.Helper()
		status := byte('1')
		if cum == 100 {
			status = '2'
		}
		id := fmt.Sprintf("E%d", n)
		h.m.OnExecReport("core", fix.ExecReport{ClOrdID: uid, OrderID: "V1", ExecID: id, ExecType: 'F', OrdStatus: status,
			Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LastQty: last, LastPx: refdata.Price(16990000 + n),
			CumQty: cum, LeavesQty: 100 - cum, TransactTime: at.Add(time.Duration(n) * time.Second)})
		h.waitFor(t, "the trade "+id, func(m *quickfix.Message) bool { return field(m, tag.ExecID) == "core:"+id })
	}
	// The previous run: two trades, the store got the first one's report
	// only.
	fill(1, 30, 30)
	fill(2, 20, 50)
	st, err := quickfix.NewMemoryStoreFactory().Create(s.id)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(1, frame("FIX.4.4",
		"35=8|34=1|49=SGW|56=BROKER1|52=20261202-10:00:01.000|37=V1|11=o1|17=core:E1|150=F|39=1|14=30|151=70|32=30|31=1699.0001")); err != nil {
		t.Fatal(err)
	}
	// This run: its sink queues the third trade before the logon.
	h.restarting(t, s, st)
	fill(3, 10, 60)
	// dropped is fill with the session's queue full.
	dropped := func(n int, last, cum int64) {
		t.Helper()
		h.setFull(true)
		fill(n, last, cum)
		h.setFull(false)
	}
	dropped(4, 5, 65)
	// The fifth, queued, comes after the fourth's drop is recorded (one
	// dispatcher hands the sink its events in turn).
	fill(5, 5, 70)
	before := len(h.all())

	restated, resent := s.restate()
	if restated != 1 || resent != 2 {
		t.Fatalf("restated %d orders, resent %d trades; want 1 and 2", restated, resent)
	}
	out := h.all()[before:]
	if len(out) != 3 || field(out[1], tag.ExecID) != "core:E4" || field(out[1], tag.CumQty) != "65" {
		t.Fatalf("the restatement queued %v; want the trades E2 and E4, then the status", out)
	}
	tr, status := out[0], out[2]
	_, possResend := fix.PossDup(tr)
	for _, c := range []struct {
		tag  quickfix.Tag
		want string
	}{
		{tag.ExecType, "F"}, {tag.ExecID, "core:E2"}, {tag.ClOrdID, "o1"}, {tag.OrderID, "V1"}, {tag.OrdStatus, "1"},
		{tag.LastQty, "20"}, {tag.LastPx, "1699.0002"}, {tag.CumQty, "50"}, {tag.LeavesQty, "50"},
		{tag.TransactTime, "20261202-10:00:02.000"},
	} {
		if got := field(tr, c.tag); got != c.want {
			t.Errorf("the resent trade's tag %d is %q; want %q (%s)", c.tag, got, c.want, tr)
		}
	}
	if !possResend {
		t.Errorf("the resent trade is not flagged PossResend: %s", tr)
	}
	if field(status, tag.ExecType) != "I" || field(status, tag.CumQty) != "70" {
		t.Errorf("after the trades: %s; want the order's status, CumQty 70", status)
	}
	if _, possResend := fix.PossDup(status); possResend {
		t.Errorf("the status is flagged PossResend: %s", status)
	}
	if again, _ := s.restate(); again != 0 {
		t.Fatalf("a second logon of the run restated %d orders", again)
	}
	// A later logon after a drop restates again: the trade dropped, not
	// those the first restatement queued.
	dropped(6, 5, 75)
	fill(7, 5, 80)
	before = len(h.all())
	if restated, resent := s.restate(); restated != 1 || resent != 1 {
		t.Fatalf("the logon after a drop restated %d orders, resent %d trades; want 1 and 1", restated, resent)
	}
	out = h.all()[before:]
	if len(out) != 2 || field(out[0], tag.ExecID) != "core:E6" || field(out[1], tag.ExecType) != "I" || field(out[1], tag.CumQty) != "80" {
		t.Fatalf("the restatement after a drop queued %v; want the trade E6, then the status", out)
	}
}

// gateSink is an orders.Sink that, on the event of the trade execID,
// signals held and waits for release: it holds the manager's dispatcher,
// and every event behind that one, as a slow journal commit does.
type gateSink struct {
	execID  string
	held    chan struct{}
	release chan struct{}
}

func (g *gateSink) OrderEvent(ev orders.Event) {
	if ev.ExecID == g.execID {
		close(g.held)
		<-g.release
	}
}

// TestRestateTradeStillToBeDispatched: a trade the manager applied whose
// event its dispatcher has yet to hand to the sink (its journal record not
// yet durable) when the first logon's restatement reads the orders is
// resent flagged PossResend; the sink's own report of it, coming after,
// must be flagged too. Before, it went unflagged after the resend: a
// broker booking trades by ExecID, which ignores only a PossResend one it
// has, booked it twice.
func TestRestateTradeStillToBeDispatched(t *testing.T) {
	h := newRealHarness(t, nil)
	s := h.session(t, "BROKER1")
	uid := h.workingOrder(t, s)
	h.restarting(t, s, nil)
	gate := &gateSink{execID: "E1", held: make(chan struct{}), release: make(chan struct{})}
	h.m.Watch("A1", gate) // called after the session's sink
	fill := func(n int, last, cum int64) {
		h.m.OnExecReport("core", fix.ExecReport{ClOrdID: uid, OrderID: "V1", ExecID: fmt.Sprintf("E%d", n), ExecType: 'F', OrdStatus: '1',
			Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LastQty: last, LastPx: 16990000,
			CumQty: cum, LeavesQty: 100 - cum})
	}
	fill(1, 30, 30)
	<-gate.held // E1 reached the session's sink; the dispatcher is held
	fill(2, 20, 50)
	if _, resent := s.restate(); resent != 1 {
		t.Fatalf("resent %d trades; want E2, applied, its event not yet dispatched", resent)
	}
	close(gate.release)
	copies := func(m *quickfix.Message) bool { return field(m, tag.ExecID) == "core:E2" }
	h.waitFor(t, "the sink's report of E2", func(*quickfix.Message) bool {
		n := 0
		for _, m := range h.all() {
			if copies(m) {
				n++
			}
		}
		return n == 2
	})
	first := true
	for _, m := range h.all() {
		if !copies(m) {
			continue
		}
		if _, possResend := fix.PossDup(m); !first && !possResend {
			t.Errorf("E2 sent again without PossResend, after %s: %s", "its first report", m)
		}
		first = false
	}
}

// dayRig is a broker session in front of a real order manager whose
// risk runs on a manual clock (from 10:00 on 2026-12-01 in Shanghai), for
// the restatement's days. Used by one test goroutine.
type dayRig struct {
	t     *testing.T
	clk   *risk.ManualClock
	m     *orders.Manager
	up    *orderstest.Line
	h     *realHarness
	s     *session
	begin string // the session's BeginString
	acct  string // the account its orders are for
	sent  int
}

// newDayRig is a dayRig of BROKER1 (FIX 4.4, account A1).
func newDayRig(t *testing.T) *dayRig {
	return newDayRigOf(t, "BROKER1")
}

// newDayRigOf is a dayRig of broker: BROKER1 (FIX 4.4, account A1) or
// BROKER2 (FIX 4.2, account B1).
func newDayRigOf(t *testing.T, broker string) *dayRig {
	clk := risk.NewManualClock(time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC))
	m, j, up := openRigManager(t, filepath.Join(t.TempDir(), "orders.jrnl"), nil, nil, clk)
	t.Cleanup(m.Close)
	t.Cleanup(func() { j.Close() })
	m.OnSessionUp("core", "line")
	h := newRealHarness(t, func(*orders.Manager) OrderEntry { return m })
	r := &dayRig{t: t, clk: clk, m: m, up: up, h: h, s: h.session(t, broker), begin: "FIX.4.4", acct: "A1"}
	if broker == "BROKER2" {
		r.begin, r.acct = "FIX.4.2", "B1"
	}
	return r
}

// newOrder enters order id (buy 100) from the broker and has the venue
// acknowledge it.
func (r *dayRig) newOrder(id string) fix.NewOrder {
	r.t.Helper()
	return r.newOrderAs(id, id)
}

// newOrderAs is newOrder with the venue's ids named after venue
// (OrderID V-venue, ExecID N-venue): a ClOrdID the broker uses again is
// another order at the venue.
func (r *dayRig) newOrderAs(id, venue string) fix.NewOrder {
	r.t.Helper()
	if rej := r.s.handle(inbound(r.t, r.begin, "D", "11="+id+"|1="+r.acct+"|55=600519|207=XSHG|54=1|40=2|44=1700|38=100|21=1")); rej != nil {
		r.t.Fatalf("new order %s: %v", id, rej)
	}
	r.sent++
	nos := r.up.Wait(r.t, r.sent)[r.sent-1].(fix.NewOrder)
	r.m.OnExecReport("core", fix.ExecReport{ClOrdID: nos.ClOrdID, OrderID: "V-" + venue, ExecID: "N-" + venue, ExecType: '0', OrdStatus: '0',
		Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LeavesQty: 100})
	return nos
}

// fill has the venue fill qty of order id (one trade, ExecID F-id) and
// waits for its report to the broker.
func (r *dayRig) fill(id string, nos fix.NewOrder, qty int64) {
	r.t.Helper()
	status := byte('1')
	if qty == 100 {
		status = '2'
	}
	r.m.OnExecReport("core", fix.ExecReport{ClOrdID: nos.ClOrdID, OrderID: "V-" + id, ExecID: "F-" + id, ExecType: 'F', OrdStatus: status,
		Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LastQty: qty, LastPx: 17000000,
		CumQty: qty, LeavesQty: 100 - qty})
	r.h.waitFor(r.t, "the trade of "+id, func(m *quickfix.Message) bool { return field(m, tag.ExecID) == "core:F-"+id })
}

// bust has the venue cancel order id's trade F-id of 40 (FIX 4.2 form:
// ExecTransType 1, ExecID X-id), leaving it working with nothing filled.
func (r *dayRig) bust(id string, nos fix.NewOrder) {
	r.t.Helper()
	r.m.OnExecReport("core", fix.ExecReport{ClOrdID: nos.ClOrdID, OrderID: "V-" + id, ExecID: "X-" + id, ExecRefID: "F-" + id,
		ExecType: 'D', ExecTransType: '1', OrdStatus: '0', Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100,
		LastQty: 40, LastPx: 17000000, LeavesQty: 100})
}

// correct has the venue correct order id's trade F-id of 40 to 30 at
// 1701.00 (FIX 4.4 form: ExecType G, ExecID X-id).
func (r *dayRig) correct(id string, nos fix.NewOrder) {
	r.t.Helper()
	r.m.OnExecReport("core", fix.ExecReport{ClOrdID: nos.ClOrdID, OrderID: "V-" + id, ExecID: "X-" + id, ExecRefID: "F-" + id,
		ExecType: 'G', OrdStatus: '1', Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100,
		LastQty: 30, LastPx: 17010000, CumQty: 30, LeavesQty: 70, AvgPx: 17010000})
}

// restart gives the acceptor a new run whose store, reset at the
// session's new day, was created now, restates at the broker's logon and
// checks what it sent (ClOrdID/ExecType of each message).
func (r *dayRig) restart(want ...string) {
	r.t.Helper()
	r.restartHolding(nil, want...)
}

// restartHolding is restart with a store that holds the reports sent so
// far that stored (nil: none) takes.
func (r *dayRig) restartHolding(stored func(*quickfix.Message) bool, want ...string) {
	r.t.Helper()
	r.restartCreated(r.clk.Now(), stored, want...)
}

// restartCreated is restartHolding with a store whose session period
// began at created.
func (r *dayRig) restartCreated(created time.Time, stored func(*quickfix.Message) bool, want ...string) {
	r.t.Helper()
	st := periodStore(r.t, r.s, created)
	for _, m := range r.h.all() {
		if stored != nil && stored(m) {
			if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(st.NextSenderMsgSeqNum(), []byte(m.String())); err != nil {
				r.t.Fatal(err)
			}
		}
	}
	r.h.restarting(r.t, r.s, st)
	before := len(r.h.all())
	restated, resent := r.s.restate()
	var got []string
	for _, m := range r.h.all()[before:] {
		got = append(got, field(m, tag.ClOrdID)+"/"+field(m, tag.ExecType))
	}
	if !slices.Equal(got, want) {
		r.t.Fatalf("restated %d orders, resent %d trades: %v; want %v", restated, resent, got, want)
	}
}

// TestRestateLeavesEarlierDaysOut: a gateway restarted on a new trading
// day finds the session's store reset (empty) at the broker's first
// logon: an order that ended on an earlier day is neither restated nor
// are its trades resent (that day's session told the broker); an order
// still working from that day is, but not its trade of that day; an order
// of the day is, with its trade.
func TestRestateLeavesEarlierDaysOut(t *testing.T) {
	r := newDayRig(t)
	r.fill("ended", r.newOrder("ended"), 100)    // filled on 2026-12-01
	r.fill("working", r.newOrder("working"), 40) // still working the next day (the venue never closes)
	// The next morning, before any request: the manager still counts the
	// day before (the first request starts the new one), the store's
	// session period began today.
	r.clk.Set(time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC))
	if r.m.TradingDay() != 20261201 {
		t.Fatalf("the trading day before the morning's first request: %d; want 20261201", r.m.TradingDay())
	}
	r.restart("working/I")
	// Later that day.
	r.clk.Set(time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC))
	r.fill("today", r.newOrder("today"), 100) // its request starts 2026-12-02
	if got, ok := r.m.Get("A1", "ended"); !ok || got.Day() != 20261201 || r.m.TradingDay() != 20261202 {
		t.Fatalf("the first order's day %d, the trading day %d; want 20261201 and 20261202", got.Day(), r.m.TradingDay())
	}
	r.restart("working/I", "today/F", "today/I")
}

// periodStore is an empty store of s whose session period began at
// created (its CreationTime).
func periodStore(t *testing.T, s *session, created time.Time) quickfix.MessageStore {
	t.Helper()
	st, err := quickfix.NewMemoryStoreFactory().Create(s.id)
	if err != nil {
		t.Fatal(err)
	}
	return createdAt{st, created}
}

type createdAt struct {
	quickfix.MessageStore
	created time.Time
}

func (c createdAt) CreationTime() time.Time { return c.created }

// TestRestateOrderEndedOnALaterDay: an order entered on one trading day
// and filled on the next (a venue that never closes carries it over) ended
// on the later day: a restart on that day whose store lacks the trade's
// report resends it. Before, the restatement left out every terminal
// order entered on an earlier day, by the day it was entered, and the
// broker never got that trade.
func TestRestateOrderEndedOnALaterDay(t *testing.T) {
	r := newDayRig(t)
	carried := r.newOrder("carried") // entered on 2026-12-01
	r.clk.Set(time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC))
	r.fill("today", r.newOrder("today"), 100) // its request starts 2026-12-02
	r.fill("carried", carried, 100)           // filled on 2026-12-02
	if got, ok := r.m.Get("A1", "carried"); !ok || got.Day() != 20261201 || !got.Status.Terminal() || r.m.TradingDay() != 20261202 {
		t.Fatalf("the carried order's day %d, status %s, the trading day %d; want 20261201, filled, 20261202", got.Day(), got.Status, r.m.TradingDay())
	}
	// The restart, on 2026-12-02: the store lacks both trades' reports
	// (they were queued for a broker logged out when the gateway died).
	r.restart("carried/F", "carried/I", "today/F", "today/I")
}

// TestRestateCanceledAndCorrectedTrades: a trade the venue canceled (FIX
// 4.2 ExecTransType 1, naming it by ExecRefID) whose report the store
// lacks is resent at the restart's first logon as it stood, with the
// totals as they were with it standing, then its cancel, then the
// order's status, which shows the order without it; one it corrected
// (FIX 4.4 ExecType G) is resent with the correction's quantity and
// price and the totals after it, then the correction (a broker that had
// a trade ignores its resend, and takes the cancel or correction). A
// broker that books fills one by one ends with the canceled trade taken
// back and the corrected one as corrected, whether it had them or not.
// Before, the canceled trade was withheld: a broker that had it (sent,
// the report not yet replicated) kept it, as no cancel followed.
func TestRestateCanceledAndCorrectedTrades(t *testing.T) {
	r := newDayRig(t)
	bust := r.newOrder("bust")
	r.fill("bust", bust, 40)
	r.bust("bust", bust)
	corr := r.newOrder("corr")
	r.fill("corr", corr, 40)
	r.correct("corr", corr)
	for _, id := range []string{"core:X-bust", "core:X-corr"} {
		r.h.waitFor(t, "the report "+id, func(m *quickfix.Message) bool { return field(m, tag.ExecID) == id })
	}
	live := len(r.h.all())
	// The restart: the store lacks every report (queued for a broker
	// logged out when the gateway died, or sent and not yet replicated).
	r.restart("bust/F", "bust/H", "bust/I", "corr/F", "corr/G", "corr/I")
	out := r.h.all()
	bustTrade, bustCancel, bustStatus, tr := out[len(out)-6], out[len(out)-5], out[len(out)-4], out[len(out)-3]
	type want struct {
		tag  quickfix.Tag
		want string
	}
	check := func(what string, m *quickfix.Message, ws ...want) {
		t.Helper()
		for _, c := range ws {
			if got := field(m, c.tag); got != c.want {
				t.Errorf("%s: tag %d %q; want %q (%s)", what, c.tag, got, c.want, m)
			}
		}
	}
	check("the canceled trade resent", bustTrade, want{tag.ExecID, "core:F-bust"}, want{tag.PossResend, "Y"}, want{tag.LastQty, "40"},
		want{tag.LastPx, "1700.00"}, want{tag.CumQty, "40"}, want{tag.LeavesQty, "60"}, want{tag.AvgPx, "1700.00"}, want{tag.OrdStatus, "1"})
	check("its cancel resent", bustCancel, want{tag.ExecID, "core:X-bust"}, want{tag.ExecRefID, "core:F-bust"}, want{tag.PossResend, "Y"},
		want{tag.CumQty, "0"}, want{tag.LeavesQty, "100"})
	check("the canceled trade's order restated", bustStatus, want{tag.CumQty, "0"}, want{tag.OrdStatus, "0"})
	check("the corrected trade resent", tr, want{tag.ExecID, "core:F-corr"}, want{tag.LastQty, "30"}, want{tag.LastPx, "1701.00"},
		want{tag.CumQty, "30"}, want{tag.LeavesQty, "70"}, want{tag.AvgPx, "1701.00"})
	// A broker that had every report before the restart, and one that
	// had none, book the trades alike.
	for what, got := range map[string][]*quickfix.Message{"had every report": out, "had none": out[live:]} {
		booked, err := bookTrades(got)
		if err != nil {
			t.Fatalf("a broker that %s: %v", what, err)
		}
		if booked["core:F-bust"] != 0 || booked["core:F-corr"] != 30 {
			t.Errorf("a broker that %s booked %v; want F-bust 0, F-corr 30", what, booked)
		}
	}
}

// TestRestateResendsLostTradeCancelAndCorrection: the broker got a trade's
// report but not that of the venue's cancel or correction of it (queued
// for a broker logged out when the gateway died): the restart's first
// logon resends that cancel or correction, flagged PossResend, as the
// live report went (FIX 4.4: ExecType H, or G with the trade as
// corrected, ExecRefID naming the trade; FIX 4.2: a restatement, D),
// before the order's status; nothing for an order whose every report
// the store holds. Before, only the status went, with the new totals: a
// broker booking fills one by one never learned which fill to take back
// or correct. The live reports are checked too: a FIX 4.2 upstream's
// cancel reaches a FIX 4.4 broker as ExecType H, and a correction
// carries LastQty and LastPx as corrected.
func TestRestateResendsLostTradeCancelAndCorrection(t *testing.T) {
	for _, tc := range []struct {
		broker          string
		cancel, correct string // ExecType of each (FIX 4.2: D)
		want            []string
	}{
		{"BROKER1", "H", "G", []string{"bust/H", "bust/I", "corr/G", "corr/I"}},
		{"BROKER2", "D", "D", []string{"bust/D", "bust/0", "corr/D", "corr/1"}},
	} {
		t.Run(tc.broker, func(t *testing.T) {
			r := newDayRigOf(t, tc.broker)
			fix42 := tc.broker == "BROKER2"
			bust := r.newOrder("bust")
			r.fill("bust", bust, 40)
			r.bust("bust", bust) // a FIX 4.2 upstream's cancel (ExecTransType 1)
			corr := r.newOrder("corr")
			r.fill("corr", corr, 40)
			r.correct("corr", corr)
			kept := r.newOrder("kept")
			r.fill("kept", kept, 40)
			r.m.OnExecReport("core", fix.ExecReport{ClOrdID: kept.ClOrdID, OrderID: "V-kept", ExecID: "X-kept", ExecRefID: "F-kept",
				ExecType: 'H', OrdStatus: '0', Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LeavesQty: 100})
			type fields = map[quickfix.Tag]string
			check := func(what string, m *quickfix.Message, want fields) {
				t.Helper()
				for tg, v := range want {
					if got := field(m, tg); got != v {
						t.Errorf("%s: tag %d %q; want %q (%s)", what, tg, got, v, m)
					}
				}
			}
			lastCorr := fields{tag.LastQty: "30", tag.LastPx: "1701.00"}
			if fix42 {
				lastCorr = fields{tag.LastQty: "0", tag.LastPx: "0.00", tag.ExecTransType: "0"}
			}
			liveBust := fields{tag.ExecType: tc.cancel, tag.ExecRefID: "core:F-bust", tag.CumQty: "0", tag.LastQty: ""}
			if fix42 {
				liveBust = fields{tag.ExecType: tc.cancel, tag.ExecRefID: "core:F-bust", tag.CumQty: "0", tag.LastQty: "0", tag.ExecTransType: "0"}
			}
			liveCorr := fields{tag.ExecType: tc.correct, tag.ExecRefID: "core:F-corr", tag.CumQty: "30"}
			maps.Copy(liveCorr, lastCorr)
			for _, c := range []struct {
				id   string
				want fields
			}{{"core:X-bust", liveBust}, {"core:X-corr", liveCorr}, {"core:X-kept", nil}} {
				m := r.h.waitFor(t, "the report "+c.id, func(m *quickfix.Message) bool { return field(m, tag.ExecID) == c.id })
				check("the live report "+c.id, m, c.want)
			}
			// The restart: the store holds every report but the bust's
			// and the correction's.
			lost := func(m *quickfix.Message) bool {
				id := field(m, tag.ExecID)
				return id == "core:X-bust" || id == "core:X-corr"
			}
			r.restartHolding(func(m *quickfix.Message) bool { return !lost(m) }, tc.want...)
			out := r.h.all()
			out = out[len(out)-4:]
			resentBust, resentCorr := out[0], out[2]
			liveBust[tag.PossResend] = "Y"
			liveCorr[tag.PossResend] = "Y"
			liveBust[tag.ExecID], liveCorr[tag.ExecID] = "core:X-bust", "core:X-corr"
			check("the resent cancel", resentBust, liveBust)
			check("the resent correction", resentCorr, liveCorr)
		})
	}
}

// TestRestateQueuedTradeCancelOrCorrection: in the new run, before the
// broker's first logon, the venue canceled or corrected three trades:
// the first's cancel, whose trade the store holds, is queued for the
// broker and not resent by the restatement, which sends only the order's
// status; the second and third trades' reports are queued, and their
// cancel and correction the full queue dropped: each is resent (the
// queued trades go as they were), then the order's status.
func TestRestateQueuedTradeCancelOrCorrection(t *testing.T) {
	r := newDayRig(t)
	bust := r.newOrder("bust")
	r.fill("bust", bust, 40)
	st := periodStore(t, r.s, r.clk.Now())
	for _, m := range r.h.all() {
		if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(st.NextSenderMsgSeqNum(), []byte(m.String())); err != nil {
			t.Fatal(err)
		}
	}
	r.h.restarting(t, r.s, st)
	cancel := func(id string) {
		t.Helper()
		r.m.OnExecReport("core", fix.ExecReport{ClOrdID: bust.ClOrdID, OrderID: "V-" + id, ExecID: "X-" + id, ExecRefID: "F-" + id,
			ExecType: 'H', OrdStatus: '0', Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LeavesQty: 100})
		r.h.waitFor(t, "the cancel of "+id, func(m *quickfix.Message) bool { return field(m, tag.ExecID) == "core:X-"+id })
	}
	cancel("bust")
	drop := r.newOrder("drop")
	r.fill("drop", drop, 40)
	corr := r.newOrder("corr")
	r.fill("corr", corr, 40)
	r.h.setFull(true)
	r.m.OnExecReport("core", fix.ExecReport{ClOrdID: drop.ClOrdID, OrderID: "V-drop", ExecID: "X-drop", ExecRefID: "F-drop",
		ExecType: 'H', OrdStatus: '0', Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LeavesQty: 100})
	r.correct("corr", corr)
	r.h.waitFor(t, "the dropped correction", func(m *quickfix.Message) bool { return field(m, tag.ExecID) == "core:X-corr" })
	r.h.setFull(false)
	before := len(r.h.all())
	if _, resent := r.s.restate(); resent != 2 {
		t.Errorf("resent %d reports; want 2", resent)
	}
	var got []string
	for _, m := range r.h.all()[before:] {
		d := field(m, tag.ClOrdID) + "/" + field(m, tag.ExecType)
		if field(m, tag.ExecType) != "I" {
			d += "/" + field(m, tag.ExecID)
		}
		got = append(got, d)
	}
	if want := []string{"bust/I", "drop/H/core:X-drop", "drop/I", "corr/G/core:X-corr", "corr/I"}; !slices.Equal(got, want) {
		t.Fatalf("restated %v; want %v", got, want)
	}
}

// bookTrades folds the ExecutionReports ms, in order and deduplicated by
// ExecID, as a broker booking fills one by one does: a trade (ExecType F)
// books its LastQty under its ExecID; a cancel (H) or correction (G,
// LastQty as corrected) of the trade its ExecRefID names (the trade's
// ExecID, or that of an earlier cancel or correction of it) books the
// trade anew. It returns the trades' quantities by ExecID, and an error
// for a cancel or correction naming no trade the broker had.
func bookTrades(ms []*quickfix.Message) (map[string]int64, error) {
	booked := map[string]int64{}
	trade := map[string]string{} // ExecID of a trade, cancel or correction -> the trade's
	seen := map[string]bool{}
	for _, m := range ms {
		id := field(m, tag.ExecID)
		if field(m, tag.MsgType) != "8" || seen[id] {
			continue
		}
		seen[id] = true
		last, _ := strconv.ParseInt(field(m, tag.LastQty), 10, 64)
		switch field(m, tag.ExecType) {
		case "F":
			booked[id], trade[id] = last, id
		case "H", "G":
			ref, ok := trade[field(m, tag.ExecRefID)]
			if !ok {
				return booked, fmt.Errorf("a trade cancel or correction naming no trade the broker had: %s", m)
			}
			if field(m, tag.ExecType) == "H" {
				last = 0
			}
			booked[ref], trade[id] = last, ref
		}
	}
	return booked, nil
}

// TestRestateStaleTradeAmendmentStillToBeDispatched: the venue corrected
// a trade the broker got, then canceled it; both applied, their events
// not yet dispatched (a slow journal commit) when the first logon's
// restatement resends the latest, the cancel, flagged PossResend. The
// sink's report of the correction, coming after, must not undo the
// cancel: before, it went out unflagged under its own ExecID, which the
// broker had not seen, and the broker booked the trade again as
// corrected; the cancel's own live report, flagged, it ignored.
func TestRestateStaleTradeAmendmentStillToBeDispatched(t *testing.T) {
	h := newRealHarness(t, nil)
	s := h.session(t, "BROKER1")
	uid := h.workingOrder(t, s)
	fill := func(n int, last, cum int64) {
		h.m.OnExecReport("core", fix.ExecReport{ClOrdID: uid, OrderID: "V1", ExecID: fmt.Sprintf("E%d", n), ExecType: 'F', OrdStatus: '1',
			Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LastQty: last, LastPx: 17000000,
			CumQty: cum, LeavesQty: 100 - cum, AvgPx: 17000000})
		h.waitFor(t, fmt.Sprintf("the trade E%d", n), func(m *quickfix.Message) bool { return field(m, tag.ExecID) == fmt.Sprintf("core:E%d", n) })
	}
	fill(1, 30, 30)
	st, err := quickfix.NewMemoryStoreFactory().Create(s.id)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range h.all() {
		if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(st.NextSenderMsgSeqNum(), []byte(m.String())); err != nil {
			t.Fatal(err)
		}
	}
	h.restarting(t, s, st)
	gate := &gateSink{execID: "E2", held: make(chan struct{}), release: make(chan struct{})}
	h.m.Watch("A1", gate) // called after the session's sink
	h.m.OnExecReport("core", fix.ExecReport{ClOrdID: uid, OrderID: "V1", ExecID: "E2", ExecType: 'F', OrdStatus: '1',
		Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LastQty: 10, LastPx: 17000000,
		CumQty: 40, LeavesQty: 60, AvgPx: 17000000})
	<-gate.held // E2 reached the session's sink; the dispatcher is held
	h.m.OnExecReport("core", fix.ExecReport{ClOrdID: uid, OrderID: "V1", ExecID: "X1", ExecRefID: "E1", ExecType: 'G', OrdStatus: '1',
		Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LastQty: 20, LastPx: 17000000,
		CumQty: 30, LeavesQty: 70, AvgPx: 17000000})
	h.m.OnExecReport("core", fix.ExecReport{ClOrdID: uid, OrderID: "V1", ExecID: "X2", ExecRefID: "X1", ExecType: 'H', OrdStatus: '1',
		Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, CumQty: 10, LeavesQty: 90, AvgPx: 17000000})
	if _, resent := s.restate(); resent != 1 {
		t.Fatalf("resent %d reports; want the cancel X2, applied, its event not yet dispatched", resent)
	}
	close(gate.release)
	// The sink's report of X2 comes after that of X1 (dispatched in
	// order).
	h.waitFor(t, "the sink's report of X2", func(*quickfix.Message) bool {
		n := 0
		for _, m := range h.all() {
			if field(m, tag.ExecID) == "core:X2" {
				n++
			}
		}
		return n == 2
	})
	var got []*quickfix.Message
	for _, m := range h.all() {
		if field(m, tag.MsgType) == "8" {
			got = append(got, m)
		}
	}
	booked, err := bookTrades(got)
	if err != nil {
		t.Fatal(err)
	}
	if booked["core:E1"] != 0 || booked["core:E2"] != 10 {
		var d []string
		for _, m := range got {
			d = append(d, m.String())
		}
		t.Errorf("the broker books E1 %d, E2 %d; want 0 (canceled) and 10\n%s", booked["core:E1"], booked["core:E2"], strings.Join(d, "\n"))
	}
}

// TestTradeAmendmentNamesTheTrade: a venue that names a trade by its
// last cancel or correction (FIX allows either) corrects a trade; the
// reports of both are lost (the full queue dropped them), and the
// restatement resends the trade as corrected, then the correction. The
// venue's next correction names the first: its report names the trade
// by the trade's ExecID. Before, it named the first correction, whose
// report the broker never got, and the broker could not tell which fill
// it corrected.
func TestTradeAmendmentNamesTheTrade(t *testing.T) {
	h := newRealHarness(t, nil)
	s := h.session(t, "BROKER1")
	uid := h.workingOrder(t, s)
	st, err := quickfix.NewMemoryStoreFactory().Create(s.id)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range h.all() {
		if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(st.NextSenderMsgSeqNum(), []byte(m.String())); err != nil {
			t.Fatal(err)
		}
	}
	h.restarting(t, s, st)
	report := func(er fix.ExecReport) {
		t.Helper()
		er.ClOrdID, er.OrderID, er.OrdStatus, er.Symbol, er.Side, er.Price, er.OrderQty = uid, "V1", '1', "600519.SH", fix.Buy, 17000000, 100
		er.LastPx, er.CumQty, er.LeavesQty, er.AvgPx = 17000000, er.LastQty, 100-er.LastQty, 17000000
		h.m.OnExecReport("core", er)
		h.waitFor(t, "the report of "+er.ExecID, func(m *quickfix.Message) bool { return field(m, tag.ExecID) == "core:"+er.ExecID })
	}
	h.setFull(true)
	report(fix.ExecReport{ExecID: "E1", ExecType: 'F', LastQty: 30})
	report(fix.ExecReport{ExecID: "X1", ExecRefID: "E1", ExecType: 'G', LastQty: 20})
	h.setFull(false)
	if _, resent := s.restate(); resent != 2 {
		t.Fatalf("resent %d reports; want the trade E1, as corrected, and the correction X1", resent)
	}
	report(fix.ExecReport{ExecID: "X2", ExecRefID: "X1", ExecType: 'G', LastQty: 40})
	got := h.delivered()
	booked, err := bookTrades(got)
	if err != nil {
		t.Fatal(err)
	}
	if booked["core:E1"] != 40 {
		t.Errorf("the broker books E1 %d; want 40", booked["core:E1"])
	}
}
