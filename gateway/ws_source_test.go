package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/auth"
	"sgw/fix"
	"sgw/gateway/mdclient"
	"sgw/journal"
	"sgw/orders"
	"sgw/refdata"
	"sgw/risk"
)

// recordingUpstream acknowledges new orders as ackingUpstream does and
// records every cancel request it is sent.
type recordingUpstream struct {
	ackingUpstream
	mu      sync.Mutex
	cancels []fix.CancelRequest
}

func (u *recordingUpstream) Send(req any) error {
	if p, ok := req.(fix.Prepared); ok {
		req = p.Request()
	}
	if r, ok := req.(fix.CancelRequest); ok {
		u.mu.Lock()
		u.cancels = append(u.cancels, r)
		u.mu.Unlock()
	}
	return u.ackingUpstream.Send(req)
}

func (u *recordingUpstream) cancelled() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []string
	for _, c := range u.cancels {
		out = append(out, c.OrigClOrdID)
	}
	return out
}

// leaderAt is one gateway process serving order entry (a cluster's leader,
// or a single gateway) over the journal at path: a manager that replays it
// and a WebSocket server whose clients it numbers from 1, as every process
// does.
func leaderAt(t *testing.T, path string, v *auth.Verifier, cancelOnDisconnect bool, opts ...func(*recordingUpstream)) (*wsEnv, *orders.Manager, *recordingUpstream) {
	t.Helper()
	books := newTestBooks(t, testSymbols...)
	rc, err := risk.New(risk.Config{
		Instruments: books.ins,
		Accounts: []risk.AccountConfig{{ID: "A1", Cash: 10_000_000 * refdata.PriceScale},
			{ID: "B9", Cash: 10_000_000 * refdata.PriceScale}},
		Schedule:           risk.ScheduleConfig{AlwaysOpen: true},
		CancelOnDisconnect: cancelOnDisconnect,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(journal.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	up := &recordingUpstream{}
	m, err := orders.New(orders.Config{}, rc, j, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close(); m.Close() })
	up.m = m
	for _, o := range opts {
		o(up)
	}
	m.AddUpstream("core", up)
	if _, err := m.Recover(); err != nil {
		t.Fatal(err)
	}
	m.OnSessionUp("core", "test")
	reg := prometheus.NewRegistry()
	srv, err := New(Config{}, Deps{Market: books, PublishedDepth: 20, Registry: reg, Tokens: v, Orders: m})
	if err != nil {
		t.Fatal(err)
	}
	return startEnv(t, srv, books, reg, v), m, up
}

// copyFile copies the journal as replication would have: the next leader
// holds the same records.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// oldLeaderOrder runs the first leader: user u1 (account A1) enters c1,
// which the venue acknowledges; it returns the journal the next leader
// replays.
func oldLeaderOrder(t *testing.T, v *auth.Verifier) string {
	t.Helper()
	dir := t.TempDir()
	old, _, _ := leaderAt(t, filepath.Join(dir, "old"), v, false)
	tokA, _ := v.IssueFor("u1", []string{"A1"}, time.Hour, time.Now())
	c := old.dial(tokA)
	if err := c.Send(t.Context(), map[string]any{"op": "order.new", "clOrdId": "c1", "account": "A1", "symbol": "600519.SH", "side": "buy", "type": "limit", "price": "1700.00", "qty": 100}); err != nil {
		t.Fatal(err)
	}
	collect(t, c, func(m mdclient.Message) bool { return m.Type == "exec" && m.ExecType == "new" && m.ClOrdID == "c1" })
	// The old leader is lost here (killed, partitioned): its client's
	// disconnection never reaches a manager that can act on it.
	next := filepath.Join(dir, "next")
	copyFile(t, filepath.Join(dir, "old"), next)
	return next
}

// TestWSSourceNotReusedAcrossLeaders: an order's Source is journaled and
// replayed, and the next leader (or the same gateway restarted) routes the
// order's events to the client registered under that Source, and cancels
// its orders when that client disconnects (cancel_on_disconnect; the old
// leader's clients have all gone, so the next leader cancels theirs at
// once). A
// WebSocket client's Source is "ws:<n>", n counted from 1 in each process,
// so the next leader's first trading client, another user trading another
// account, is taken for the old leader's first client: it receives A1's
// fills, and its disconnection cancels A1's working order.
func TestWSSourceNotReusedAcrossLeaders(t *testing.T) {
	v, err := auth.New(auth.Config{Secret: strings.Repeat("k", 32), Anonymous: auth.FullEntitlements()})
	if err != nil {
		t.Fatal(err)
	}
	tokB, _ := v.IssueFor("u2", []string{"B9"}, time.Hour, time.Now())
	newB := map[string]any{"op": "order.new", "clOrdId": "b1", "account": "B9", "symbol": "600519.SH", "side": "buy", "type": "limit", "price": "1700.00", "qty": 100}

	t.Run("another user gets the fills", func(t *testing.T) {
		next, m, _ := leaderAt(t, oldLeaderOrder(t, v), v, false)
		// Another user, another account: the new leader's first trading client.
		c := next.dial(tokB)
		if err := c.Send(t.Context(), newB); err != nil {
			t.Fatal(err)
		}
		collect(t, c, func(m mdclient.Message) bool { return m.Type == "exec" && m.ExecType == "new" && m.ClOrdID == "b1" })
		// The venue fills A1's c1, then B9's b1.
		fill := func(account, id string) {
			o, ok := m.Get(account, id)
			if !ok {
				t.Fatalf("the new leader has no order %s/%s", account, id)
			}
			m.OnExecReport("core", fix.ExecReport{ClOrdID: o.UpstreamID, OrderID: "X" + o.UpstreamID, ExecID: "f-" + id, ExecType: 'F', OrdStatus: '2',
				LastPx: 17000000, AvgPx: 17000000, LastQty: 100, CumQty: 100, LeavesQty: 0})
		}
		fill("A1", "c1")
		fill("B9", "b1")
		var leaked []mdclient.Message
		collect(t, c, func(m mdclient.Message) bool {
			if m.Account != "" && m.Account != "B9" {
				leaked = append(leaked, m)
			}
			return m.Type == "exec" && m.ExecType == "trade" && m.ClOrdID == "b1"
		})
		for _, l := range leaked {
			t.Errorf("user u2 (account B9) received account %s's %s %s (%s)", l.Account, l.Type, l.ExecType, l.ClOrdID)
		}
	})

	t.Run("another user's disconnection cancels the order", func(t *testing.T) {
		// The venue refuses the first cancel (c1's, below), so that c1
		// works on with nothing pending, and cancels the others.
		refused := make(chan struct{})
		var once sync.Once
		next, m, up := leaderAt(t, oldLeaderOrder(t, v), v, true, func(up *recordingUpstream) {
			up.onCancel = func(m *orders.Manager, r fix.CancelRequest) {
				first := false
				once.Do(func() { first = true })
				if !first {
					up.answer(fix.ExecReport{ClOrdID: r.ClOrdID, OrigClOrdID: r.OrigClOrdID, ExecType: '4', OrdStatus: '4'})
					return
				}
				m.OnCancelReject("core", fix.CancelReject{ClOrdID: r.ClOrdID, OrigClOrdID: r.OrigClOrdID, ResponseTo: '1', Text: "too late to cancel"})
				close(refused)
			}
		})
		c := next.dial(tokB)
		if err := c.Send(t.Context(), newB); err != nil {
			t.Fatal(err)
		}
		collect(t, c, func(m mdclient.Message) bool { return m.Type == "exec" && m.ExecType == "new" && m.ClOrdID == "b1" })
		uid := func(account, id string) string {
			o, _ := m.Get(account, id)
			return o.UpstreamID
		}
		b1, c1 := uid("B9", "b1"), uid("A1", "c1")
		sent := func(id string) int {
			n := 0
			for _, c := range up.cancelled() {
				if c == id {
					n++
				}
			}
			return n
		}
		// u1's session ended with the old leader, so the new one cancels
		// c1 once it has replayed the journal (orders.TestCancelsOwedAfterRestart).
		waitUntil(t, func() bool { return sent(c1) == 1 })
		<-refused
		// u2 goes: its own b1 is cancelled (cancel_on_disconnect), and
		// nothing of A1's (were u2 taken for u1, c1 would be again).
		c.Conn().CloseNow()
		waitUntil(t, func() bool { return sent(b1) == 1 })
		if n := sent(c1); n != 1 {
			t.Errorf("user u2's disconnection cancelled account A1's working order c1 again (cancels sent: %v)", up.cancelled())
		}
	})
}
