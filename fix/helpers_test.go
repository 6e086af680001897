package fix

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/config"
	"github.com/quickfixgo/tag"
)

// compIDSeq keeps the CompIDs of each test's sessions unique: quickfix
// registers sessions process-wide.
var compIDSeq atomic.Int64

func newCompIDs() (gateway, upstream string) {
	n := compIDSeq.Add(1)
	return "GW" + strconv.FormatInt(n, 10), "UP" + strconv.FormatInt(n, 10)
}

func testLogger(tb testing.TB) *slog.Logger {
	if os.Getenv("FIX_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// testAcceptor is the upstream in tests: a quickfix acceptor (memory
// store) that acknowledges each NewOrderSingle with one ExecutionReport,
// answers OrderStatusRequest and OrderCancelRequest, and records what it
// received.
type testAcceptor struct {
	tb    testing.TB
	acc   *quickfix.Acceptor
	ln    net.Listener
	pacer *AcceptorPacer // nil: answer with quickfix.SendToTarget (naive)

	// onOrder, if set before start, is called on every first receipt of a
	// NewOrderSingle.
	onOrder func(clOrdID string)

	logons    atomic.Int64
	logouts   atomic.Int64 // sessions ended (Logout or disconnect)
	execID    atomic.Int64
	resetSeen atomic.Bool // a Logon carried ResetSeqNumFlag=Y

	mu       sync.Mutex
	orders   map[string]int // ClOrdID -> first receipts
	possDup1 int            // first receipts that were PossDup resends
	resends  map[string]int // ClOrdID -> PossDup receipts of an order already received
	statuses map[string]int // ClOrdID -> OrderStatusRequests
	dupErrs  []string       // ClOrdIDs received twice without PossDup
	logonSq  []int          // MsgSeqNum of each Logon received
}

type acceptorOpts struct {
	paced   bool
	onOrder func(string)
	// onStore, if set, receives the acceptor's session store when
	// quickfix creates it.
	onStore func(quickfix.MessageStore)
}

// capturingFactory hands each store it creates to got.
type capturingFactory struct {
	f   quickfix.MessageStoreFactory
	got func(quickfix.MessageStore)
}

func (c capturingFactory) Create(sid quickfix.SessionID) (quickfix.MessageStore, error) {
	st, err := c.f.Create(sid)
	if err == nil {
		c.got(st)
	}
	return st, err
}

func newTestAcceptor(tb testing.TB, gatewayID, upstreamID string, o acceptorOpts) *testAcceptor {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	a := &testAcceptor{tb: tb, ln: ln, onOrder: o.onOrder,
		orders: map[string]int{}, resends: map[string]int{}, statuses: map[string]int{}}
	s := quickfix.NewSettings()
	ss := quickfix.NewSessionSettings()
	ss.Set(config.BeginString, quickfix.BeginStringFIX44)
	ss.Set(config.SenderCompID, upstreamID)
	ss.Set(config.TargetCompID, gatewayID)
	ss.Set(config.SocketAcceptPort, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	ss.Set(config.InChanCapacity, "1024")
	if _, err := s.AddSession(ss); err != nil {
		tb.Fatal(err)
	}
	stores := LockedStoreFactory(quickfix.NewMemoryStoreFactory())
	if o.onStore != nil {
		stores = capturingFactory{f: stores, got: o.onStore}
	}
	a.acc, err = quickfix.NewAcceptor(a, stores, s, quickfix.NewNullLogFactory())
	if err != nil {
		tb.Fatal(err)
	}
	if o.paced {
		a.pacer = NewAcceptorPacer(0, testLogger(tb))
		a.acc.SetNewListenerCallback(a.pacer.Listener(ln))
	} else {
		a.acc.SetNewListenerCallback(func(string, *tls.Config) (net.Listener, error) { return ln, nil })
	}
	if err := a.acc.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(a.stop)
	return a
}

func (a *testAcceptor) addr() string { return a.ln.Addr().String() }

func (a *testAcceptor) stop() {
	a.acc.Stop()
	if a.pacer != nil {
		a.pacer.Close()
	}
}

func (a *testAcceptor) OnCreate(quickfix.SessionID) {}
func (a *testAcceptor) OnLogon(sid quickfix.SessionID) {
	a.logons.Add(1)
	if a.pacer != nil {
		a.pacer.OnLogon(sid)
	}
}
func (a *testAcceptor) OnLogout(sid quickfix.SessionID) {
	a.logouts.Add(1)
	if a.pacer != nil {
		a.pacer.OnLogout(sid)
	}
}
func (a *testAcceptor) ToAdmin(*quickfix.Message, quickfix.SessionID)     {}
func (a *testAcceptor) ToApp(*quickfix.Message, quickfix.SessionID) error { return nil }
func (a *testAcceptor) FromAdmin(m *quickfix.Message, _ quickfix.SessionID) quickfix.MessageRejectError {
	if t, _ := m.Header.GetString(tag.MsgType); t == "A" {
		if v, _ := m.Body.GetString(tag.ResetSeqNumFlag); v == "Y" {
			a.resetSeen.Store(true)
		}
		seq, _ := m.Header.GetInt(tag.MsgSeqNum)
		a.mu.Lock()
		a.logonSq = append(a.logonSq, seq)
		a.mu.Unlock()
	}
	return nil
}

func (a *testAcceptor) logonSeqs() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int(nil), a.logonSq...)
}

func (a *testAcceptor) FromApp(m *quickfix.Message, sid quickfix.SessionID) quickfix.MessageRejectError {
	t, _ := m.Header.GetString(tag.MsgType)
	id, _ := m.Body.GetString(tag.ClOrdID)
	dup, _ := PossDup(m)
	switch t {
	case "D":
		a.mu.Lock()
		seen := a.orders[id] > 0
		switch {
		case seen && dup:
			a.resends[id]++
		case seen:
			a.dupErrs = append(a.dupErrs, id)
		default:
			a.orders[id]++
			if dup {
				a.possDup1++
			}
		}
		a.mu.Unlock()
		if seen {
			return nil // an upstream deduplicates on ClOrdID
		}
		if a.onOrder != nil {
			a.onOrder(id)
		}
		a.send(sid, a.execReport(m, '0', '0', 0))
	case "H":
		a.mu.Lock()
		a.statuses[id]++
		known := a.orders[id] > 0
		a.mu.Unlock()
		if known {
			a.send(sid, a.execReport(m, 'I', '0', 0))
		} else {
			a.send(sid, a.execReport(m, 'I', '8', 5))
		}
	case "F":
		a.send(sid, a.execReport(m, '4', '4', 0))
	}
	return nil
}

func (a *testAcceptor) execReport(req *quickfix.Message, execType, ordStatus byte, rejReason int) *quickfix.Message {
	er := quickfix.NewMessage()
	er.Header.SetField(tag.MsgType, quickfix.FIXString("8"))
	n := a.execID.Add(1)
	for _, t := range []quickfix.Tag{tag.ClOrdID, tag.Symbol, tag.SecurityExchange, tag.Side, tag.OrderQty, tag.Price, tag.OrigClOrdID} {
		if v, err := req.Body.GetBytes(t); err == nil {
			er.Body.SetBytes(t, append([]byte(nil), v...))
		}
	}
	id, _ := req.Body.GetString(tag.ClOrdID)
	er.Body.SetField(tag.OrderID, quickfix.FIXString("O-"+id))
	er.Body.SetField(tag.ExecID, quickfix.FIXString("E"+strconv.FormatInt(n, 10)))
	er.Body.SetField(tag.ExecType, quickfix.FIXString(string(execType)))
	er.Body.SetField(tag.OrdStatus, quickfix.FIXString(string(ordStatus)))
	qty, _ := req.Body.GetString(tag.OrderQty)
	if qty == "" {
		qty = "0"
	}
	er.Body.SetField(tag.LeavesQty, quickfix.FIXString(qty))
	er.Body.SetField(tag.CumQty, quickfix.FIXString("0"))
	er.Body.SetField(tag.AvgPx, quickfix.FIXString("0"))
	if rejReason != 0 {
		er.Body.SetField(tag.OrdRejReason, quickfix.FIXInt(rejReason))
	}
	er.Body.SetField(tag.TransactTime, quickfix.FIXUTCTimestamp{Time: time.Now().UTC(), Precision: quickfix.Millis})
	return er
}

func (a *testAcceptor) send(sid quickfix.SessionID, m *quickfix.Message) {
	var err error
	if a.pacer != nil {
		err = a.pacer.Send(sid, m)
	} else {
		err = quickfix.SendToTarget(m, sid)
	}
	if err != nil {
		a.tb.Errorf("acceptor send: %v", err)
	}
}

// received returns how many distinct orders arrived, how many PossDup
// resends of already received orders arrived, and the ClOrdIDs that
// arrived twice without PossDup (a duplicate order).
func (a *testAcceptor) received() (orders, resends int, dups []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, n := range a.resends {
		resends += n
	}
	return len(a.orders), resends, append([]string(nil), a.dupErrs...)
}

// firstAsPossDup returns how many orders first arrived as PossDup
// resends (in flight on a line that failed).
func (a *testAcceptor) firstAsPossDup() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.possDup1
}

func (a *testAcceptor) hasOrder(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.orders[id] > 0
}

// recorder is a Handler that records events.
type recorder struct {
	mu     sync.Mutex
	acks   map[string][]ExecReport // every report, by ClOrdID
	ups    []string                // lines of OnSessionUp, in order
	downs  []error
	onExec func(ExecReport)
	upCh   chan string
	downCh chan error
	// reclaimed holds the requests OnSessionDown gave back; OnSessionUp
	// sends them again through resend, as the order manager does.
	reclaimed []any
	resend    func(req any) error
	rejects   []Reject
	// gaveBack lists what each OnSessionDown reclaimed.
	gaveBack [][]any
}

var (
	_ Handler              = (*recorder)(nil)
	_ quickfix.Application = (*testAcceptor)(nil)
)

func newRecorder() *recorder {
	return &recorder{acks: map[string][]ExecReport{}, upCh: make(chan string, 64), downCh: make(chan error, 64)}
}

func (r *recorder) OnExecReport(_ string, er ExecReport) {
	r.mu.Lock()
	r.acks[er.ClOrdID] = append(r.acks[er.ClOrdID], er)
	f := r.onExec
	r.mu.Unlock()
	if f != nil {
		f(er)
	}
}
func (r *recorder) OnCancelReject(string, CancelReject) {}
func (r *recorder) OnReject(_ string, rej Reject) {
	r.mu.Lock()
	r.rejects = append(r.rejects, rej)
	r.mu.Unlock()
}
func (r *recorder) OnSessionUp(_ string, line string) {
	r.mu.Lock()
	r.ups = append(r.ups, line)
	held, resend := r.reclaimed, r.resend
	r.reclaimed = nil
	r.mu.Unlock()
	for _, req := range held {
		if err := resend(req); err != nil {
			panic(fmt.Sprintf("resending a reclaimed request: %v", err))
		}
	}
	r.upCh <- line
}
func (r *recorder) OnSessionDown(_ string, _ string, err error, reclaimed []any) {
	r.mu.Lock()
	r.downs = append(r.downs, err)
	r.reclaimed = append(r.reclaimed, reclaimed...)
	r.gaveBack = append(r.gaveBack, reclaimed)
	r.mu.Unlock()
	r.downCh <- err
}

// statusCount returns how many status answers (ExecType I) arrived for id.
func (r *recorder) statusCount(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, er := range r.acks[id] {
		if er.ExecType == 'I' {
			n++
		}
	}
	return n
}

// lastStatus returns the last status answer for id.
func (r *recorder) lastStatus(id string) ExecReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	var last ExecReport
	for _, er := range r.acks[id] {
		if er.ExecType == 'I' {
			last = er
		}
	}
	return last
}

func atoiID(tb testing.TB, id string) int {
	n, err := strconv.Atoi(id[1:])
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// ackCount returns how many acks (ExecType 0, new) arrived for id.
func (r *recorder) ackCount(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, er := range r.acks[id] {
		if er.ExecType == '0' {
			n++
		}
	}
	return n
}

// waitUp waits for the next OnSessionUp and returns its line.
func (r *recorder) waitUp(tb testing.TB, within time.Duration) string {
	tb.Helper()
	select {
	case l := <-r.upCh:
		return l
	case <-time.After(within):
		tb.Fatalf("session not up within %v", within)
		return ""
	}
}

func (r *recorder) waitDown(tb testing.TB, within time.Duration) error {
	tb.Helper()
	select {
	case err := <-r.downCh:
		return err
	case <-time.After(within):
		tb.Fatalf("session not down within %v", within)
		return nil
	}
}

// eventually polls cond every 10ms until it holds or within passes.
func eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newTestUpstream(tb testing.TB, cfg UpstreamConfig, h Handler) *Upstream {
	tb.Helper()
	u, err := NewUpstream(cfg, h, prometheus.NewRegistry(), testLogger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func orderN(i int) NewOrder {
	return NewOrder{ClOrdID: fmt.Sprintf("c%06d", i), Account: "A1", Symbol: "600519.SH", Side: Buy,
		Price: 17000000, Qty: 100}
}
