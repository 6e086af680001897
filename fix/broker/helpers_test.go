package broker

import (
	"bytes"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/orders"
	"sgw/risk"
)

// testConfig has a FIX 4.4 session trading A1 and A2 and a FIX 4.2 session
// trading B1.
func testConfig(tb testing.TB) Config {
	return Config{
		StoreDir: tb.TempDir(),
		Sessions: []SessionConfig{
			{TargetCompID: "BROKER1", Password: "pw1", Accounts: []string{"A1", "A2"}},
			{TargetCompID: "BROKER2", BeginString: "FIX.4.2", Password: "pw2", Accounts: []string{"B1"}},
		},
	}
}

// sent is a message the acceptor queued for a session.
type sent struct {
	dropped bool // refused by a full queue (realHarness.full)
	broker  string
	m       *quickfix.Message
}

// harness is an Acceptor that is never run: its sessions handle messages
// given to them directly and what they send is captured.
type harness struct {
	a     *Acceptor
	entry *fakeEntry
	reg   *prometheus.Registry

	mu  sync.Mutex
	out []sent
}

func newHarness(tb testing.TB) *harness {
	tb.Helper()
	h := &harness{entry: newFakeEntry(), reg: prometheus.NewRegistry()}
	a, err := New(testConfig(tb), h.entry, h.reg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(a.Close)
	a.sendHook = func(s *session, m *quickfix.Message) error {
		h.mu.Lock()
		h.out = append(h.out, sent{broker: s.id.TargetCompID, m: m})
		h.mu.Unlock()
		return nil
	}
	h.a = a
	return h
}

func (h *harness) session(tb testing.TB, broker string) *session {
	tb.Helper()
	return sessionOf(tb, h.a, broker)
}

// sessionOf returns a's session of broker.
func sessionOf(tb testing.TB, a *Acceptor, broker string) *session {
	tb.Helper()
	for _, s := range a.sessions {
		if s.id.TargetCompID == broker {
			return s
		}
	}
	tb.Fatalf("no session %s", broker)
	return nil
}

// take returns and forgets what was sent.
func (h *harness) take() []sent {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.out
	h.out = nil
	return out
}

// fields renders a message's body as "tag=value" pairs for comparisons;
// missing tags are "".
func field(m *quickfix.Message, t quickfix.Tag) string {
	if m.Header.Has(t) {
		v, _ := m.Header.GetString(t)
		return v
	}
	v, _ := m.Body.GetString(t)
	return v
}

// inbound builds a message as the broker would send it and parses it back,
// as quickfix hands it to the Application. body is "tag=value|...".
func inbound(tb testing.TB, begin, msgType, body string, header ...string) *quickfix.Message {
	tb.Helper()
	m := quickfix.NewMessage()
	m.Header.SetString(tag.BeginString, begin)
	m.Header.SetString(tag.MsgType, msgType)
	m.Header.SetString(tag.SenderCompID, "BROKER1")
	m.Header.SetString(tag.TargetCompID, "SGW")
	m.Header.SetInt(tag.MsgSeqNum, 2)
	m.Header.SetField(tag.SendingTime, quickfix.FIXUTCTimestamp{Time: time.Now(), Precision: quickfix.Millis})
	for _, h := range header {
		t, v := splitField(tb, h)
		m.Header.SetString(t, v)
	}
	if body != "" {
		for _, f := range strings.Split(body, "|") {
			t, v := splitField(tb, f)
			m.Body.SetString(t, v)
		}
	}
	out := quickfix.NewMessage()
	if err := quickfix.ParseMessage(out, bytes.NewBuffer(m.Bytes())); err != nil {
		tb.Fatalf("parse %q: %v", m.Bytes(), err)
	}
	return out
}

func splitField(tb testing.TB, f string) (quickfix.Tag, string) {
	k, v, ok := strings.Cut(f, "=")
	n, err := strconv.Atoi(k)
	if !ok || err != nil {
		tb.Fatalf("bad field %q", f)
	}
	return quickfix.Tag(n), v
}

// fakeEntry is an OrderEntry keeping orders in a map. New refuses with
// newErr when it is set, and a ClOrdID used before with risk's duplicate
// reject.
type fakeEntry struct {
	// notify, if set, receives every request New accepts, and New then
	// reports the acceptance to the source's sink (on another goroutine,
	// as the manager's journal goroutine would): a Pending New.
	notify chan orders.NewRequest

	mu       sync.Mutex
	orders   map[string]orders.Order
	newErr   error
	news     []orders.NewRequest
	cancels  []orders.CancelRequest
	replaces []orders.ReplaceRequest
	sinks    map[orders.Source]orders.Sink
	disconn  []orders.Source
	refused  []string // codes passed to CountRejected
}

var (
	_ OrderEntry    = (*fakeEntry)(nil)
	_ RejectCounter = (*fakeEntry)(nil)
)

func (f *fakeEntry) CountRejected(src orders.Source, code string) {
	f.mu.Lock()
	f.refused = append(f.refused, code)
	f.mu.Unlock()
}

func newFakeEntry() *fakeEntry {
	return &fakeEntry{orders: map[string]orders.Order{}, sinks: map[orders.Source]orders.Sink{}}
}

func (f *fakeEntry) New(r orders.NewRequest) (orders.Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.news = append(f.news, r)
	if f.newErr != nil {
		return orders.Order{}, f.newErr
	}
	if _, dup := f.orders[r.Account+"\x00"+r.ClOrdID]; dup {
		return orders.Order{}, &risk.Reject{Code: risk.CodeDuplicateClOrd, Text: "clOrdId " + r.ClOrdID + " was already used today", FIXReason: risk.FIXDuplicateOrder}
	}
	o := orders.Order{ClOrdID: r.ClOrdID, OrigClOrdID: r.ClOrdID, Account: r.Account, Symbol: r.Symbol, Side: r.Side,
		Price: r.Price, Qty: r.Qty, LeavesQty: r.Qty, Status: orders.StatusPendingNew, Upstream: "core", Source: r.Source}
	f.orders[r.Account+"\x00"+r.ClOrdID] = o
	if f.notify != nil {
		f.notify <- r
		if sink := f.sinks[r.Source]; sink != nil {
			go sink.OrderEvent(orders.Event{Kind: orders.EventAccepted, Order: o, Ref: r.ClOrdID})
		}
	}
	return o, nil
}

func (f *fakeEntry) Cancel(r orders.CancelRequest) (orders.Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancels = append(f.cancels, r)
	o, ok := f.orders[r.Account+"\x00"+r.OrigClOrdID]
	if !ok {
		return orders.Order{}, &orders.Reject{Code: "orders.unknown_order", Text: "no order " + r.OrigClOrdID + " of account " + r.Account, FIXReason: 1}
	}
	return o, nil
}

func (f *fakeEntry) Replace(r orders.ReplaceRequest) (orders.Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.replaces = append(f.replaces, r)
	o, ok := f.orders[r.Account+"\x00"+r.OrigClOrdID]
	if !ok {
		return orders.Order{}, &orders.Reject{Code: "orders.unknown_order", Text: "no order " + r.OrigClOrdID + " of account " + r.Account, FIXReason: 1}
	}
	return o, nil
}

func (f *fakeEntry) Get(account, clOrdID string) (orders.Order, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orders[account+"\x00"+clOrdID]
	return o, ok
}

// OrdersFrom returns the orders put in f whose source is src, in
// ClOrdID order.
// TradingDay is no day: the fake's orders have none (orders.Order.Day 0).
func (f *fakeEntry) TradingDay() int32 { return 0 }

// RequestDay is no day either.
func (f *fakeEntry) RequestDay() int32 { return 0 }

// DayOf is no day either.
func (f *fakeEntry) DayOf(time.Time) int32 { return 0 }

func (f *fakeEntry) OrdersFrom(src orders.Source) []orders.Order {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []orders.Order
	for _, o := range f.orders {
		if o.Source == src {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b orders.Order) int { return strings.Compare(a.ClOrdID, b.ClOrdID) })
	return out
}

func (f *fakeEntry) Register(src orders.Source, s orders.Sink) {
	f.mu.Lock()
	f.sinks[src] = s
	f.mu.Unlock()
}

func (f *fakeEntry) Unregister(src orders.Source) {
	f.mu.Lock()
	delete(f.sinks, src)
	f.mu.Unlock()
}

func (f *fakeEntry) SessionEnded(src orders.Source) int {
	f.mu.Lock()
	f.disconn = append(f.disconn, src)
	f.mu.Unlock()
	return 0
}

// put adds an order as if entered earlier.
func (f *fakeEntry) put(o orders.Order) {
	f.mu.Lock()
	f.orders[o.Account+"\x00"+o.ClOrdID] = o
	f.mu.Unlock()
}

// queuedNow returns a copy of the trades s holds as queued and not yet
// handed to quickfix. Any goroutine.
func (s *session) queuedNow() map[string]struct{} {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	return maps.Clone(s.queued)
}
