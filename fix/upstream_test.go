package fix

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quickfixgo/quickfix"

	"sgw/sim/faultproxy"
)

// rig is an Upstream with two lines, each a faultproxy in front of one
// test acceptor.
type rig struct {
	acc     *testAcceptor
	a, b    *faultproxy.Proxy
	rec     *recorder
	reg     *prometheus.Registry
	cfg     UpstreamConfig
	mu      sync.Mutex
	u       *Upstream
	stopRun func()
	// prepare, if set, is called with each new Upstream before its Run.
	prepare func(*Upstream)
}

func newRig(t *testing.T) *rig {
	t.Helper()
	return newRigWith(t, acceptorOpts{paced: true}, nil)
}

// newRigWith is newRig with the acceptor's options and a change to the
// Upstream's config before it starts.
func newRigWith(t *testing.T, o acceptorOpts, edit func(*UpstreamConfig)) *rig {
	t.Helper()
	gw, up := newCompIDs()
	r := &rig{acc: newTestAcceptor(t, gw, up, o)}
	storeDir := t.TempDir() // before the cleanup below, which runs first and still writes the store
	var err error
	if r.a, err = faultproxy.New(r.acc.addr()); err != nil {
		t.Fatal(err)
	}
	if r.b, err = faultproxy.New(r.acc.addr()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.stop()
		r.a.Close()
		r.b.Close()
	})
	r.cfg = UpstreamConfig{
		Name: "core", SenderCompID: gw, TargetCompID: up,
		Lines:    []LineConfig{{Name: "carrierA", Addr: r.a.Addr()}, {Name: "carrierB", Addr: r.b.Addr()}},
		StoreDir: storeDir,
	}
	if edit != nil {
		edit(&r.cfg)
	}
	r.start(t)
	return r
}

// start runs a new Upstream (and recorder) on the rig's config and store.
func (r *rig) start(t *testing.T) {
	t.Helper()
	rec := newRecorder()
	reg := prometheus.NewRegistry()
	u, err := NewUpstream(r.cfg, rec, reg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	rec.resend = u.Send
	if r.prepare != nil {
		r.prepare(u)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	r.mu.Lock()
	r.u, r.rec, r.reg = u, rec, reg
	r.stopRun = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	r.mu.Unlock()
}

func (r *rig) stop() {
	r.mu.Lock()
	stop := r.stopRun
	r.stopRun = nil
	r.mu.Unlock()
	if stop != nil {
		stop()
	}
}

func (r *rig) upstream() *Upstream {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.u
}

// stream sends orders from..to-1 at about 500/s, retrying each while the
// session is down, and returns the ids whose Send succeeded (all of them).
func (r *rig) stream(t *testing.T, from, to int) <-chan []string {
	out := make(chan []string, 1)
	go func() {
		var ids []string
		defer func() { out <- ids }()
		for i := from; i < to; i++ {
			o := orderN(i)
			for {
				err := r.upstream().Send(o)
				if err == nil {
					break
				}
				if !errors.Is(err, ErrNotLoggedOn) {
					t.Errorf("Send %s: %v", o.ClOrdID, err)
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			ids = append(ids, o.ClOrdID)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return out
}

// checkExactlyOnce waits until every id reached the acceptor and was
// acknowledged, then checks that none arrived twice without PossDup and
// that each got exactly one ack.
func (r *rig) checkExactlyOnce(t *testing.T, ids []string, recs ...*recorder) {
	t.Helper()
	acked := func(id string) int {
		n := 0
		for _, rec := range recs {
			n += rec.ackCount(id)
		}
		return n
	}
	eventually(t, 20*time.Second, "every order acknowledged", func() bool {
		for _, id := range ids {
			if !r.acc.hasOrder(id) || acked(id) == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(200 * time.Millisecond) // let any late duplicate arrive
	orders, resends, dups := r.acc.received()
	if len(dups) > 0 {
		t.Errorf("orders received twice without PossDup: %v", dups)
	}
	if orders != len(ids) {
		t.Errorf("acceptor received %d distinct orders, want %d", orders, len(ids))
	}
	for _, id := range ids {
		if n := acked(id); n != 1 {
			t.Errorf("order %s acknowledged %d times, want 1", id, n)
		}
	}
	t.Logf("%d orders exactly once (%d first arrived as PossDup resends); %d PossDup resends of orders already received",
		orders, r.acc.firstAsPossDup(), resends)
}

func TestUpstreamCutLineFailsOver(t *testing.T) {
	r := newRig(t)
	rec := r.rec
	if line := rec.waitUp(t, 10*time.Second); line != "carrierA" {
		t.Fatalf("first logon over %q, want carrierA", line)
	}
	ids := r.stream(t, 0, 600)
	eventually(t, 10*time.Second, "orders flowing", func() bool { o, _, _ := r.acc.received(); return o > 150 })

	r.a.Cut()
	err := rec.waitDown(t, 5*time.Second)
	if !errors.Is(err, ErrLineBroken) {
		t.Errorf("down reason %v, want ErrLineBroken", err)
	}
	if line := rec.waitUp(t, 5*time.Second); line != "carrierB" {
		t.Fatalf("resumed over %q, want carrierB", line)
	}
	r.checkExactlyOnce(t, <-ids, rec)

	for _, c := range []struct {
		name   string
		labels map[string]string
		want   func(float64) bool
	}{
		{"gateway_fix_line_up", map[string]string{"line": "carrierA"}, func(v float64) bool { return v == 0 }},
		{"gateway_fix_line_up", map[string]string{"line": "carrierB"}, func(v float64) bool { return v == 1 }},
		{"gateway_fix_messages_total", map[string]string{"line": "carrierA", "direction": "out"}, func(v float64) bool { return v > 100 }},
		{"gateway_fix_messages_total", map[string]string{"line": "carrierB", "direction": "out"}, func(v float64) bool { return v > 100 }},
		{"gateway_fix_messages_total", map[string]string{"line": "carrierB", "direction": "in"}, func(v float64) bool { return v > 100 }},
		{"gateway_fix_bytes_total", map[string]string{"line": "carrierB", "direction": "in"}, func(v float64) bool { return v > 10000 }},
	} {
		if v := metricValue(t, r.reg, c.name, c.labels); !c.want(v) {
			t.Errorf("%s%v = %v", c.name, c.labels, v)
		}
	}
}

// metricValue returns the value (a histogram's count) of the series of
// name whose labels include labels.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return -1
}

func TestUpstreamSilentLineFailsOver(t *testing.T) {
	r := newRig(t)
	rec := r.rec
	if line := rec.waitUp(t, 10*time.Second); line != "carrierA" {
		t.Fatalf("first logon over %q, want carrierA", line)
	}
	ids := r.stream(t, 0, 2000)
	eventually(t, 10*time.Second, "orders flowing", func() bool { o, _, _ := r.acc.received(); return o > 150 })

	stalled := time.Now()
	r.a.Stall()
	defer r.a.Unstall()
	err := rec.waitDown(t, 10*time.Second)
	detected := time.Since(stalled)
	if !errors.Is(err, ErrLineSilent) {
		t.Errorf("down reason %v, want ErrLineSilent", err)
	}
	if line := rec.waitUp(t, 15*time.Second); line != "carrierB" {
		t.Fatalf("resumed over %q, want carrierB", line)
	}
	resumed := time.Since(stalled) - detected
	t.Logf("silent line detected after %v, session resumed over carrierB %v later", detected, resumed)
	// Generous bounds for a loaded machine; the design values are 2.4 s
	// (2.4 HeartBtInt) and ReconnectInterval plus a logon round trip.
	if detected > 5*time.Second {
		t.Errorf("detection took %v", detected)
	}
	if resumed > 8*time.Second {
		t.Errorf("resumption took %v", resumed)
	}
	r.checkExactlyOnce(t, <-ids, rec)
	// The stall swallowed what was in flight; the upstream got it through
	// resend recovery, as PossDup.
	if r.acc.firstAsPossDup() == 0 {
		t.Error("no order arrived through resend recovery")
	}
}

func TestUpstreamBothLinesCutThenOneRestored(t *testing.T) {
	r := newRig(t)
	rec := r.rec
	rec.waitUp(t, 10*time.Second)
	ids := <-r.stream(t, 0, 100)

	r.a.Cut()
	r.b.Cut()
	if err := rec.waitDown(t, 5*time.Second); !errors.Is(err, ErrLineBroken) {
		t.Errorf("down reason %v, want ErrLineBroken", err)
	}
	if err := r.upstream().Send(orderN(100)); !errors.Is(err, ErrNotLoggedOn) {
		t.Errorf("Send while both lines are cut: %v, want ErrNotLoggedOn", err)
	}
	time.Sleep(1500 * time.Millisecond) // a few failed attempts on both lines
	if r.upstream().LoggedOn() {
		t.Fatal("logged on with both lines cut")
	}
	r.b.Restore()
	if line := rec.waitUp(t, 15*time.Second); line != "carrierB" {
		t.Fatalf("resumed over %q, want carrierB", line)
	}
	more := <-r.stream(t, 100, 200)
	r.checkExactlyOnce(t, append(ids, more...), rec)
}

// slowSessions is fakeSessions, made safe for concurrent use, whose
// reservation writes take delay: a durable write on a loaded disk, a Raft
// commit.
type slowSessions struct {
	mu    sync.Mutex
	f     *fakeSessions
	delay time.Duration
}

func (s *slowSessions) OpenMessages(sid quickfix.SessionID) (quickfix.MessageStore, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.OpenMessages(sid)
}

func (s *slowSessions) ReadReservation(sid quickfix.SessionID) (int, bool, string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.ReadReservation(sid)
}

func (s *slowSessions) WriteReservation(sid quickfix.SessionID, reserved int, clean bool, owner string) error {
	time.Sleep(s.delay) // the write's duration, not a synchronization
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.WriteReservation(sid, reserved, clean, owner)
}

func (s *slowSessions) Owner() string { return s.f.Owner() }

// TestUpstreamLogsOnAtThePeriodsStart: a session with a schedule logs on,
// at 1, with the first connection of its period, even when the store's
// reset takes longer than the dial timeout. quickfix connects as soon as
// the period begins and resets the past period's store before it builds
// its Logon; the relay waits for the Logon (within LogonTimeout) and then
// asks whether it may dial. Before, it asked as the connection came,
// found the past period and refused; then, asking after the Logon but
// waiting for it only DialTimeout, it gave up on it. Either way the
// session logged on a reconnect interval later (an hour here).
func TestUpstreamLogsOnAtThePeriodsStart(t *testing.T) {
	ss := &slowSessions{f: newFakeSessions("me"), delay: 1500 * time.Millisecond}
	start := time.Now().Add(6 * time.Second).Truncate(time.Second)
	r := newRigWith(t, acceptorOpts{}, func(c *UpstreamConfig) {
		c.Sessions, c.StoreDir = ss, ""
		c.Schedule = &SessionSchedule{Start: start.UTC().Format(time.TimeOnly), End: start.Add(time.Hour).UTC().Format(time.TimeOnly)}
		c.ReconnectInterval = time.Hour
	})
	var period int64
	eventually(t, 30*time.Second, "the store opened", func() bool {
		period = r.upstream().period.Load()
		return period != 0
	})
	if !time.Unix(0, period).Before(start.Add(-500 * time.Millisecond)) {
		t.Skipf("the store was opened at %v, too near the period's start %v to be of the past period", time.Unix(0, period), start)
	}
	r.rec.waitUp(t, 30*time.Second)
	if seqs := r.acc.logonSeqs(); !slices.Equal(seqs, []int{1}) {
		t.Errorf("the upstream got Logons at %v, want one at 1", seqs)
	}
}

// TestUpstreamSlowLogonIsDialed: a session whose Logon takes longer than
// the dial timeout to build (ResetOnLogon: quickfix resets the store twice
// before it, each with a durable reservation write) is dialed: the relay
// waits for the Logon within LogonTimeout.
func TestUpstreamSlowLogonIsDialed(t *testing.T) {
	ss := &slowSessions{f: newFakeSessions("me"), delay: 700 * time.Millisecond}
	r := newRigWith(t, acceptorOpts{}, func(c *UpstreamConfig) {
		c.Sessions, c.StoreDir = ss, ""
		c.ResetOnLogon = true
		c.ReconnectInterval = time.Hour
	})
	r.rec.waitUp(t, 30*time.Second)
}

func TestUpstreamRestartKeepsSequenceNumbers(t *testing.T) {
	r := newRig(t)
	first := r.rec
	first.waitUp(t, 10*time.Second)
	ids := r.stream(t, 0, 400)
	eventually(t, 10*time.Second, "orders flowing", func() bool { o, _, _ := r.acc.received(); return o > 100 })

	// Restart mid-stream, right after a burst: a new Upstream on the same
	// store. The stream retries on it. Orders the old one accepted but
	// had not yet stored are gone; the order manager finds them with
	// status requests.
	var burst []string
	for i := 1000; i < 1300; i++ {
		if err := r.upstream().Send(orderN(i)); err == nil {
			burst = append(burst, orderN(i).ClOrdID)
		}
	}
	r.stop()
	before, _, _ := r.acc.received()
	r.start(t)
	second := r.rec
	second.waitUp(t, 10*time.Second)
	sent := append(<-ids, burst...)

	// The order manager's recovery: every order without an ack is in an
	// unknown state; ask for its status before anything else about it.
	acked := func(id string) bool { return first.ackCount(id)+second.ackCount(id) > 0 }
	var unknown []string
	for _, id := range sent {
		if !acked(id) {
			unknown = append(unknown, id)
		}
	}
	for _, id := range unknown {
		if err := r.upstream().Send(StatusRequest{ClOrdID: id, Symbol: "600519.SH", Side: Buy}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "status answers", func() bool {
		for _, id := range unknown {
			if second.statusCount(id) == 0 {
				return false
			}
		}
		return true
	})
	// The answer reflects every message sent before it (FIX processes
	// them in sequence). An order the upstream does not know (OrdStatus 8,
	// OrdRejReason 5) never reached it: send it again, same ClOrdID.
	resent := 0
	inBurst := map[string]bool{}
	for _, id := range burst {
		inBurst[id] = true
	}
	for _, id := range unknown {
		// Handed, from the store, tells the same without asking the
		// upstream: a request the first session never had never left.
		// (The stream may have sent its last orders over the second.)
		st := second.lastStatus(id)
		notThere := st.UnknownOrder()
		if h := r.upstream().Handed(id); inBurst[id] && ((h == HandedNo) != notThere || h == HandedUnknown) {
			t.Errorf("%s: Handed = %d, but the upstream knows the order: %v", id, h, !notThere)
		}
		if st := second.lastStatus(id); st.OrdStatus == '8' && st.OrdRejReason == 5 {
			if err := r.upstream().Send(orderN(atoiID(t, id))); err != nil {
				t.Fatal(err)
			}
			resent++
		}
	}
	t.Logf("%d of %d orders unknown after the restart; %d of them had not reached the upstream and were sent again",
		len(unknown), len(sent), resent)
	r.checkExactlyOnce(t, sent, first, second)
	// Every report came in the store's one period (ExecReport.Period, the
	// store's creation), the same across the restart: nothing reset it.
	periods := map[int64]int{}
	for _, rec := range []*recorder{first, second} {
		rec.mu.Lock()
		for _, ers := range rec.acks {
			for _, er := range ers {
				periods[er.Period]++
			}
		}
		rec.mu.Unlock()
	}
	if _, unknown := periods[0]; len(periods) != 1 || unknown {
		t.Errorf("the reports' periods %v, want one, known", periods)
	}

	if r.acc.resetSeen.Load() {
		t.Error("a logon asked the upstream to reset sequence numbers")
	}
	if logons := r.acc.logonSeqs(); len(logons) != 2 || logons[1] <= before {
		t.Errorf("logon MsgSeqNums %v: the second should follow the %d orders sent before the restart", logons, before)
	}
}

// TestUpstreamStatusAskedAgainAfterGapFill: a status request the upstream
// never read (it asks for it again after the next logon, as a QuickFIX
// venue does for the messages it stashed while waiting for an earlier gap
// to be filled, which every logon after an unclean stop causes) is asked
// again after the resend, and answered. Before, its resend was gap-filled
// and nothing asked again: the order manager waited out its time limit
// and gave the order's status up (a day's end check expired the order).
func TestUpstreamStatusAskedAgainAfterGapFill(t *testing.T) {
	var accStore atomic.Pointer[quickfix.MessageStore]
	r := newRigWith(t, acceptorOpts{paced: true, onStore: func(st quickfix.MessageStore) { accStore.Store(&st) }}, nil)
	rec := r.rec
	if line := rec.waitUp(t, 10*time.Second); line != "carrierA" {
		t.Fatalf("first logon over %q, want carrierA", line)
	}
	o := orderN(0)
	if err := r.upstream().Send(o); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the order acknowledged", func() bool { return rec.ackCount(o.ClOrdID) == 1 })

	r.b.Cut() // the next logon is over carrierA again, once it is restored
	st := *accStore.Load()
	before := st.NextTargetMsgSeqNum()
	if err := r.upstream().Send(StatusRequest{ClOrdID: o.ClOrdID, Symbol: o.Symbol, Side: o.Side}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the status answered", func() bool { return rec.statusCount(o.ClOrdID) == 1 })
	r.a.Cut()
	rec.waitDown(t, 10*time.Second)
	// The venue never read the status request: it asks for it again.
	if err := st.SetNextTargetMsgSeqNum(before); err != nil {
		t.Fatal(err)
	}
	r.a.Restore()
	if line := rec.waitUp(t, 10*time.Second); line != "carrierA" {
		t.Fatalf("logon over %q, want carrierA", line)
	}
	eventually(t, 10*time.Second, "the status request asked again and answered", func() bool {
		return rec.statusCount(o.ClOrdID) == 2
	})
}
