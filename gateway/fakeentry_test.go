package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/auth"
	"sgw/gateway/mdclient"
	"sgw/orders"
	"sgw/refdata"
	"sgw/risk"
)

// fakeEntry is an OrderEntry that takes every request it is given, so
// that a test sees exactly what the gateway lets through. It records the
// calls of New, Cancel and Replace, answers New with an accepted event on
// the source's sink, before New returns (or, with end set, New and Cancel
// with the event by which the gateway ends a request: an exec rejected, a
// cancel_reject), and lists the orders it was seeded with as
// orders.Manager does (entry order, offset cursors, the same limits).
// Safe for concurrent use; mu guards every field below it.
type fakeEntry struct {
	mu       sync.Mutex
	calls    []string                  // "new c1 A1", "cancel x1 c1 A1", "replace r1 c1 A1"
	accounts map[string][]orders.Order // by account, in entry order
	sinks    map[orders.Source]orders.Sink
	hold     chan struct{} // when not nil, New waits until it is closed
	entered  chan struct{} // when not nil, New sends on it once it holds
	returned int           // calls of New that have returned
	end      string        // when not "", New and Cancel end the request with this code instead of accepting it
}

var _ OrderEntry = (*fakeEntry)(nil)

func newFakeEntry() *fakeEntry {
	return &fakeEntry{accounts: map[string][]orders.Order{}, sinks: map[orders.Source]orders.Sink{}}
}

// seed gives account n orders with identifiers and a text of the largest
// size the protocol allows, so that their JSON is as long as it gets.
func (f *fakeEntry) seed(account string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range n {
		id := fmt.Sprintf("%s-%0*d", account, refdata.MaxClOrdIDLen-len(account)-1, i)
		f.accounts[account] = append(f.accounts[account], orders.Order{ClOrdID: id, OrigClOrdID: id, Account: account,
			Symbol: "600519.SH", Side: risk.Buy, Price: 17000000, Qty: 100, LeavesQty: 100, Status: orders.StatusNew,
			OrderID: strings.Repeat("X", 40), Text: strings.Repeat("<&>", refdata.MaxTextLen/3), Updated: time.Unix(0, int64(i+1))})
	}
}

func (f *fakeEntry) New(req orders.NewRequest) (orders.Order, error) {
	f.mu.Lock()
	f.calls = append(f.calls, "new "+req.ClOrdID+" "+req.Account)
	hold, entered, end := f.hold, f.entered, f.end
	sink := f.sinks[req.Source]
	f.mu.Unlock()
	if hold != nil {
		if entered != nil {
			entered <- struct{}{}
		}
		<-hold
	}
	o := orders.Order{ClOrdID: req.ClOrdID, OrigClOrdID: req.ClOrdID, Account: req.Account, Symbol: req.Symbol,
		Side: req.Side, Price: req.Price, Qty: req.Qty, LeavesQty: req.Qty, Status: orders.StatusPendingNew, Source: req.Source,
		Updated: time.Now()}
	switch {
	case sink != nil && end != "":
		o.Status, o.LeavesQty = orders.StatusRejected, 0
		sink.OrderEvent(orders.Event{Kind: orders.EventExec, ExecType: '8', Order: o, Ref: req.ClOrdID, Code: end})
	case sink != nil:
		sink.OrderEvent(orders.Event{Kind: orders.EventAccepted, Order: o, Ref: req.ClOrdID})
	}
	f.mu.Lock()
	f.returned++
	f.mu.Unlock()
	return o, nil
}

func (f *fakeEntry) Cancel(req orders.CancelRequest) (orders.Order, error) {
	f.mu.Lock()
	f.calls = append(f.calls, "cancel "+req.ClOrdID+" "+req.OrigClOrdID+" "+req.Account)
	end, sink := f.end, f.sinks[req.Source]
	f.mu.Unlock()
	o := orders.Order{ClOrdID: req.OrigClOrdID, OrigClOrdID: req.OrigClOrdID, Account: req.Account, Status: orders.StatusNew, Updated: time.Now()}
	if sink != nil && end != "" {
		sink.OrderEvent(orders.Event{Kind: orders.EventCancelReject, Order: o, Ref: req.ClOrdID, Request: 'F', Requester: req.Source, Code: end})
	}
	return o, nil
}

func (f *fakeEntry) Replace(req orders.ReplaceRequest) (orders.Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "replace "+req.ClOrdID+" "+req.OrigClOrdID+" "+req.Account)
	return orders.Order{}, nil
}

func (f *fakeEntry) Status(account, clOrdID string) (orders.Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.accounts[account] {
		if o.ClOrdID == clOrdID {
			return o, nil
		}
	}
	return orders.Order{}, &orders.Reject{Code: orders.CodeUnknownOrder, Text: "no order " + clOrdID + " of account " + account}
}

// List pages like orders.Manager.List.
func (f *fakeEntry) List(account, cursor string, limit int) (orders.ListPage, error) {
	if limit <= 0 {
		limit = orders.DefaultListLimit
	}
	limit = min(limit, orders.MaxListLimit)
	f.mu.Lock()
	defer f.mu.Unlock()
	all := f.accounts[account]
	start := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 || n > len(all) {
			return orders.ListPage{}, &orders.Reject{Code: orders.CodeBadCursor, Text: "cursor is not one this gateway handed out"}
		}
		start = n
	}
	end := min(start+limit, len(all))
	page := orders.ListPage{Orders: append([]orders.Order(nil), all[start:end]...), Total: len(all), Remaining: len(all) - end}
	if end < len(all) {
		page.Next = strconv.Itoa(end)
	}
	return page, nil
}

func (f *fakeEntry) Register(src orders.Source, sink orders.Sink) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sinks[src] = sink
}

// Account knows no account: the fake holds no risk state.
func (f *fakeEntry) Account(account string) (risk.AccountState, error) {
	return risk.AccountState{}, fmt.Errorf("%w: %s", risk.ErrUnknownAccount, account)
}

func (f *fakeEntry) Watch(string, orders.Sink)   {}
func (f *fakeEntry) Unwatch(string, orders.Sink) {}

func (f *fakeEntry) Disconnected(src orders.Source) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sinks, src)
	return 0
}

// Calls returns the requests that reached the fake.
func (f *fakeEntry) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// newFakeEntryEnv serves a gateway whose order entry is f, and returns it
// with a token that may trade A1.
func newFakeEntryEnv(t *testing.T, cfg WSConfig, f *fakeEntry) (*wsEnv, string) {
	t.Helper()
	books := newTestBooks(t, testSymbols...)
	v, err := auth.New(auth.Config{Secret: strings.Repeat("k", 32), Anonymous: auth.FullEntitlements()})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	srv, err := New(Config{WS: cfg}, Deps{Market: books, PublishedDepth: 20, Registry: reg, Tokens: v, Orders: f})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := v.IssueFor("u1", []string{"A1"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return startEnv(t, srv, books, reg, v), tok
}

// rawMessage is one server message as JSON fields, to see which are
// present.
type rawMessage map[string]json.RawMessage

func (m rawMessage) str(key string) string {
	var s string
	_ = json.Unmarshal(m[key], &s)
	return s
}

// nextRaw reads frames from c, bypassing its book keeping, until pick
// returns true for a message, and returns that message and its line.
func nextRaw(t *testing.T, c *mdclient.Client, pick func(rawMessage) bool) (rawMessage, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	for {
		_, frame, err := c.Conn().Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		for _, line := range strings.Split(string(frame), "\n") {
			var m rawMessage
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("bad message %q: %v", line, err)
			}
			if pick(m) {
				return m, line
			}
		}
	}
}
