package fix

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/config"
	"github.com/quickfixgo/tag"
)

// BenchmarkRoundTrip offers b.N orders at a fixed rate to an initiator and
// an acceptor in this process over loopback, each acknowledged by one
// ExecutionReport, and reports the achieved round trips per second and
// latencies from the Send call: until the relay writes the order to the
// line (out, paced only: the gateway's "order in to FIX out"), until it
// reaches the acceptor's FromApp (wire) and until its ack reaches the
// handler (rtt). genlag is how late the load generator issued orders
// against its schedule: it sleeps between orders, and timer granularity
// (about 1 ms) turns a steady rate into small bursts that queue.
//
//   - naive: a plain quickfix initiator (memory store) sending with
//     SendToTarget, and an acceptor answering with SendToTarget from
//     FromApp: the hazard.
//   - paced: this package's Upstream (relay, pacer, file store without
//     per-message fsync) and an acceptor answering through AcceptorPacer;
//     window=1 sets the Upstream's SendWindow to one message.
//
// The busy variants keep about a core of other work in the process
// (startBusy).
//
// Run with a fixed count, e.g.
//
//	go test -run '^$' -bench RoundTrip -benchtime 5000x ./fix/
func BenchmarkRoundTrip(b *testing.B) {
	for _, design := range []string{"naive", "paced"} {
		for _, rate := range []int{1000, 5000, 12000, 30000} {
			for _, busy := range []int{0, busyWorkers} {
				windows := []int{0}
				if design == "paced" {
					windows = append(windows, 1)
				}
				for _, window := range windows {
					name := fmt.Sprintf("%s/rate=%d", design, rate)
					if busy > 0 {
						name += fmt.Sprintf("/busy=%d", busy)
					}
					if window > 0 {
						name += fmt.Sprintf("/window=%d", window)
					}
					b.Run(name, func(b *testing.B) {
						runRoundTrip(b, roundTripRun{paced: design == "paced", rate: rate, busy: busy, window: window})
					})
				}
			}
		}
	}
}

// roundTripRun is one variant of BenchmarkRoundTrip.
type roundTripRun struct {
	paced  bool
	rate   int // orders offered per second
	busy   int // busy workers beside the sessions
	window int // the upstream's SendWindow; 0: its default
}

// busyWorkers is how many goroutines the busy variants of
// BenchmarkRoundTrip keep working beside the FIX session, each computing
// for busySlice then sleeping for as long: about one core of other work in
// the same process, as a gateway's Raft, feeds and books give it, so that
// every hand-over between the session's goroutines waits for a processor.
const (
	busyWorkers = 2
	busySlice   = 500 * time.Microsecond
)

// startBusy starts n busy workers; the function it returns stops them
// and returns when they have.
func startBusy(n int) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			x := uint64(1)
			for {
				select {
				case <-done:
					runtime.KeepAlive(x)
					return
				default:
				}
				for t := time.Now(); time.Since(t) < busySlice; {
					for range 1000 {
						x = x*6364136223846793005 + 1442695040888963407
					}
				}
				time.Sleep(busySlice)
			}
		})
	}
	return func() { close(done); wg.Wait() }
}

// roundTrips records the timeline of each order of a run.
type roundTrips struct {
	sched []int64        // scheduled send time, ns since start
	sent  []int64        // actual time Send was called
	wire  []atomic.Int64 // arrival at the acceptor
	out   []atomic.Int64 // written to the line by the relay (paced only)
	seqs  sync.Map       // MsgSeqNum -> order index (paced only)
	ack   []atomic.Int64
	acked atomic.Int64
	start time.Time
	done  chan struct{}
}

func newRoundTrips(n int) *roundTrips {
	return &roundTrips{sched: make([]int64, n), sent: make([]int64, n), wire: make([]atomic.Int64, n), out: make([]atomic.Int64, n), ack: make([]atomic.Int64, n), done: make(chan struct{})}
}

func (r *roundTrips) index(clOrdID string) int {
	i, err := strconv.Atoi(clOrdID[1:])
	if err != nil || i < 0 || i >= len(r.ack) {
		return -1
	}
	return i
}

func (r *roundTrips) onWire(clOrdID string) {
	if i := r.index(clOrdID); i >= 0 {
		r.wire[i].CompareAndSwap(0, int64(time.Since(r.start)))
	}
}

func (r *roundTrips) onAck(clOrdID string) {
	if i := r.index(clOrdID); i >= 0 && r.ack[i].CompareAndSwap(0, int64(time.Since(r.start))) {
		if int(r.acked.Add(1)) == len(r.ack) {
			close(r.done)
		}
	}
}

func runRoundTrip(b *testing.B, run roundTripRun) {
	paced, rate := run.paced, run.rate
	gw, up := newCompIDs()
	rt := newRoundTrips(b.N)
	acc := newTestAcceptor(b, gw, up, acceptorOpts{paced: paced, onOrder: rt.onWire})

	var send func(i int) error

	if paced {
		h := newRecorder()
		h.onExec = func(er ExecReport) { rt.onAck(er.ClOrdID) }
		u := newTestUpstream(b, UpstreamConfig{Name: "core", SenderCompID: gw, TargetCompID: up,
			Lines:    []LineConfig{{Name: "carrierA", Addr: acc.addr()}},
			StoreDir: b.TempDir(), HeartBtInt: 5 * time.Second, SendWindow: run.window}, h)
		u.pacer.sentHook = func(seq int, m *quickfix.Message) {
			if id, err := m.Body.GetString(tag.ClOrdID); err == nil {
				if i := rt.index(id); i >= 0 {
					rt.seqs.Store(seq, i)
				}
			}
		}
		u.wireHook = func(seq int) {
			if i, ok := rt.seqs.Load(seq); ok {
				rt.out[i.(int)].CompareAndSwap(0, int64(time.Since(rt.start)))
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		runDone := make(chan error, 1)
		go func() { runDone <- u.Run(ctx) }()
		defer func() { cancel(); <-runDone }()
		h.waitUp(b, 10*time.Second)
		send = func(i int) error { return u.Send(orderN(i)) }
	} else {
		ni := startNaiveInitiator(b, gw, up, acc.addr(), rt.onAck)
		send = func(i int) error {
			m, err := encode(orderN(i), time.Now())
			if err != nil {
				return err
			}
			return quickfix.SendToTarget(m, ni)
		}
	}

	defer startBusy(run.busy)()

	period := time.Second / time.Duration(rate)
	b.ReportAllocs()
	b.ResetTimer()
	rt.start = time.Now()

	for i := range b.N {
		due := time.Duration(i) * period
		rt.sched[i] = int64(due)
		if wait := due - time.Since(rt.start); wait > 200*time.Microsecond {
			time.Sleep(wait)
		}
		rt.sent[i] = int64(time.Since(rt.start))
		if err := send(i); err != nil {
			b.Fatalf("send %d: %v", i, err)
		}
	}
	offered := time.Since(rt.start)
	timeout := offered + 60*time.Second
	select {
	case <-rt.done:
	case <-time.After(timeout):
	}
	b.StopTimer()
	rt.report(b, offered)
}

func (r *roundTrips) report(b *testing.B, offered time.Duration) {
	var rtts, wires, lags, outs []time.Duration
	var last int64
	for i := range r.ack {
		a, w := r.ack[i].Load(), r.wire[i].Load()
		if a == 0 {
			continue
		}
		last = max(last, a)
		rtts = append(rtts, time.Duration(a-r.sent[i]))
		lags = append(lags, time.Duration(r.sent[i]-r.sched[i]))
		if w != 0 {
			wires = append(wires, time.Duration(w-r.sent[i]))
		}
		if o := r.out[i].Load(); o != 0 {
			outs = append(outs, time.Duration(o-r.sent[i]))
		}
	}
	if len(rtts) < len(r.ack) {
		b.Logf("only %d of %d orders acknowledged", len(rtts), len(r.ack))
	}
	b.ReportMetric(float64(len(rtts))/time.Duration(last).Seconds(), "orders/s")
	b.ReportMetric(float64(len(r.ack))/offered.Seconds(), "offered/s")
	if len(outs) > 0 {
		b.ReportMetric(pct(outs, 50).Seconds()*1e3, "out-p50-ms")
		b.ReportMetric(pct(outs, 90).Seconds()*1e3, "out-p90-ms")
		b.ReportMetric(pct(outs, 99).Seconds()*1e3, "out-p99-ms")
	}
	b.ReportMetric(pct(wires, 50).Seconds()*1e3, "wire-p50-ms")
	b.ReportMetric(pct(wires, 99).Seconds()*1e3, "wire-p99-ms")
	b.ReportMetric(pct(rtts, 50).Seconds()*1e3, "rtt-p50-ms")
	b.ReportMetric(pct(rtts, 99).Seconds()*1e3, "rtt-p99-ms")
	b.ReportMetric(pct(lags, 99).Seconds()*1e3, "genlag-p99-ms")
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, len(d)*p/100)]
}

// naiveApp is a plain quickfix initiator application.
type naiveApp struct {
	onAck  func(string)
	logged chan struct{}
	once   atomic.Bool
}

func (a *naiveApp) OnCreate(quickfix.SessionID) {}
func (a *naiveApp) OnLogon(quickfix.SessionID) {
	if a.once.CompareAndSwap(false, true) {
		close(a.logged)
	}
}
func (a *naiveApp) OnLogout(quickfix.SessionID)                   {}
func (a *naiveApp) ToAdmin(*quickfix.Message, quickfix.SessionID) {}
func (a *naiveApp) ToApp(*quickfix.Message, quickfix.SessionID) error {
	return nil
}
func (a *naiveApp) FromAdmin(*quickfix.Message, quickfix.SessionID) quickfix.MessageRejectError {
	return nil
}
func (a *naiveApp) FromApp(m *quickfix.Message, _ quickfix.SessionID) quickfix.MessageRejectError {
	id, _ := m.Body.GetString(tag.ClOrdID)
	a.onAck(id)
	return nil
}

// startNaiveInitiator starts a plain quickfix initiator with a memory
// store and waits for its logon.
func startNaiveInitiator(tb testing.TB, gw, up, addr string, onAck func(string)) quickfix.SessionID {
	tb.Helper()
	host, port, _ := net.SplitHostPort(addr)
	s := quickfix.NewSettings()
	ss := quickfix.NewSessionSettings()
	ss.Set(config.BeginString, quickfix.BeginStringFIX44)
	ss.Set(config.SenderCompID, gw)
	ss.Set(config.TargetCompID, up)
	ss.Set(config.SocketConnectHost, host)
	ss.Set(config.SocketConnectPort, port)
	ss.Set(config.HeartBtInt, "5")
	ss.Set(config.ReconnectInterval, "1")
	ss.Set(config.InChanCapacity, "1024")
	sid, err := s.AddSession(ss)
	if err != nil {
		tb.Fatal(err)
	}
	app := &naiveApp{onAck: onAck, logged: make(chan struct{})}
	ini, err := quickfix.NewInitiator(app, quickfix.NewMemoryStoreFactory(), s, quickfix.NewNullLogFactory())
	if err != nil {
		tb.Fatal(err)
	}
	if err := ini.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(ini.Stop)
	select {
	case <-app.logged:
	case <-time.After(10 * time.Second):
		tb.Fatal("naive initiator did not log on")
	}
	return sid
}
