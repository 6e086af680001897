package broker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/config"
	"github.com/quickfixgo/tag"

	"sgw/fix"
	"sgw/orders"
)

// await bounds each wait of the end-to-end tests; it only keeps a broken
// test from hanging.
const await = 15 * time.Second

// compSeq makes CompIDs unique across tests: quickfix's session registry
// is process-wide.
var compSeq atomic.Int64

// running is an Acceptor serving one FIX 4.4 session (BROKERn, password
// "right", account A1) with a fakeEntry that reports acceptances, or the
// order entry given to runAcceptorWith.
type running struct {
	a       *Acceptor
	entry   *fakeEntry // nil with runAcceptorWith's entry
	reg     *prometheus.Registry
	gateway string // SenderCompID
	broker  string // TargetCompID

	mu    sync.Mutex
	conns []*fix.InboundConn
}

func runAcceptor(t *testing.T, edit func(*Config)) *running {
	t.Helper()
	return runAcceptorWith(t, nil, edit)
}

// runAcceptorWith is runAcceptor in front of entry (a real
// orders.Manager), or of a fakeEntry when entry is nil.
func runAcceptorWith(t *testing.T, entry OrderEntry, edit func(*Config)) *running {
	t.Helper()
	n := compSeq.Add(1)
	r := &running{reg: prometheus.NewRegistry(), gateway: fmt.Sprintf("SGW%d", n), broker: fmt.Sprintf("BROKER%d", n)}
	if entry == nil {
		r.entry = newFakeEntry()
		r.entry.notify = make(chan orders.NewRequest, 100)
		entry = r.entry
	}
	cfg := Config{StoreDir: t.TempDir(), Sessions: []SessionConfig{
		{SenderCompID: r.gateway, TargetCompID: r.broker, Password: "right", Accounts: []string{"A1"}}}}
	if edit != nil {
		edit(&cfg)
	}
	a, err := New(cfg, entry, r.reg, testLog())
	if err != nil {
		t.Fatal(err)
	}
	a.connHook = func(c *fix.InboundConn) {
		r.mu.Lock()
		r.conns = append(r.conns, c)
		r.mu.Unlock()
	}
	r.a = a
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

// sid is the acceptor's session id.
func (r *running) sid() quickfix.SessionID {
	return quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: r.gateway, TargetCompID: r.broker}
}

// metric reads a counter of the acceptor's registry.
func (r *running) metric(t testing.TB, name, label string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if lp := m.GetLabel(); len(lp) == 1 && lp[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// waitMetric waits until a counter reaches want.
func (r *running) waitMetric(t testing.TB, name, label string, want float64) {
	t.Helper()
	if got := r.waitMetricAtLeast(t, name, label, want); got != want {
		t.Fatalf("%s{%s} = %v; want %v", name, label, got, want)
	}
}

// waitMetricAtLeast waits until the metric reaches want and returns it:
// for counts a client's reconnections may raise further meanwhile.
func (r *running) waitMetricAtLeast(t testing.TB, name, label string, want float64) float64 {
	t.Helper()
	deadline := time.Now().Add(await)
	for {
		got := r.metric(t, name, label)
		if got >= want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s{%s} = %v; want %v", name, label, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// nextNew waits for the next order the acceptor passed to the order
// manager.
func (r *running) nextNew(t testing.TB) orders.NewRequest {
	t.Helper()
	select {
	case o := <-r.entry.notify:
		return o
	case <-time.After(await):
		t.Fatal("no order reached the order manager")
		return orders.NewRequest{}
	}
}

// testBroker is a broker's engine: a QuickFIX/Go initiator (memory store,
// sequence numbers kept across logons) connecting to addr.
type testBroker struct {
	t   *testing.T
	ini *quickfix.Initiator
	sid quickfix.SessionID
	pw  atomic.Pointer[string]

	logons  chan struct{}
	logouts chan string // Text of each Logout received before a logon
	// trace is every message the engine sent and received, with times,
	// logged if the test fails.
	traceMu sync.Mutex
	trace   []string
	app     chan *quickfix.Message
	stopped sync.Once
}

func dialTestBroker(t *testing.T, r *running, addr, pw string) *testBroker {
	t.Helper()
	return dialTestBrokerWith(t, r, addr, pw, nil)
}

// dialTestBrokerWith is dialTestBroker with more session settings (TLS).
func dialTestBrokerWith(t *testing.T, r *running, addr, pw string, settings map[string]string) *testBroker {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	b := &testBroker{t: t, sid: quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: r.broker, TargetCompID: r.gateway},
		logons: make(chan struct{}, 16), logouts: make(chan string, 16), app: make(chan *quickfix.Message, 100)}
	b.pw.Store(&pw)
	st := quickfix.NewSettings()
	ss := quickfix.NewSessionSettings()
	ss.Set(config.BeginString, "FIX.4.4")
	ss.Set(config.SenderCompID, r.broker)
	ss.Set(config.TargetCompID, r.gateway)
	ss.Set(config.SocketConnectHost, host)
	ss.Set(config.SocketConnectPort, port)
	ss.Set(config.HeartBtInt, "30")
	ss.Set(config.ReconnectInterval, "50ms")
	ss.Set(config.ResetOnLogon, "N")
	for k, v := range settings {
		ss.Set(k, v)
	}
	if _, err := st.AddSession(ss); err != nil {
		t.Fatal(err)
	}
	if b.ini, err = quickfix.NewInitiator(b, fix.LockedStoreFactory(quickfix.NewMemoryStoreFactory()), st, logTap{b}); err != nil {
		t.Fatal(err)
	}
	if err := b.ini.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.stop)
	t.Cleanup(func() {
		if t.Failed() {
			b.traceMu.Lock()
			t.Logf("%s's FIX messages:\n%s", b.sid.SenderCompID, strings.Join(b.trace, "\n"))
			b.traceMu.Unlock()
		}
	})
	return b
}

func (b *testBroker) stop() { b.stopped.Do(b.ini.Stop) }

// record adds a message to the trace.
func (b *testBroker) record(dir string, msg []byte) {
	b.traceMu.Lock()
	defer b.traceMu.Unlock()
	b.trace = append(b.trace, time.Now().Format("15:04:05.000000")+" "+dir+" "+strings.ReplaceAll(string(msg), "\x01", "|"))
}

func (b *testBroker) OnCreate(quickfix.SessionID)                       {}
func (b *testBroker) OnLogon(quickfix.SessionID)                        { b.logons <- struct{}{} }
func (b *testBroker) OnLogout(quickfix.SessionID)                       {}
func (b *testBroker) ToApp(*quickfix.Message, quickfix.SessionID) error { return nil }
func (b *testBroker) ToAdmin(m *quickfix.Message, _ quickfix.SessionID) {
	if m.IsMsgTypeOf("A") {
		m.Body.SetString(tag.Password, *b.pw.Load())
	}
}
func (b *testBroker) FromAdmin(*quickfix.Message, quickfix.SessionID) quickfix.MessageRejectError {
	return nil
}
func (b *testBroker) FromApp(m *quickfix.Message, _ quickfix.SessionID) quickfix.MessageRejectError {
	cp := quickfix.NewMessage()
	m.CopyInto(cp)
	b.app <- cp
	return nil
}

// logTap is the test broker's quickfix log: silent, except that it passes
// on the Text of a Logout answering a Logon, which quickfix gives no
// callback.
type logTap struct{ b *testBroker }

func (l logTap) Create() (quickfix.Log, error)                             { return l, nil }
func (l logTap) CreateSessionLog(quickfix.SessionID) (quickfix.Log, error) { return l, nil }
func (l logTap) OnOutgoing(b []byte)                                       { l.b.record("out", b) }
func (logTap) OnEvent(string)                                              {}
func (logTap) OnEventf(string, ...any)                                     {}
func (l logTap) OnIncoming(b []byte) {
	l.b.record("in ", b)
	if !bytes.Contains(b, []byte("\x0135=5\x01")) {
		return
	}
	text := ""
	if _, after, ok := bytes.Cut(b, []byte("\x0158=")); ok {
		text, _, _ = strings.Cut(string(after), "\x01")
	}
	select {
	case l.b.logouts <- text:
	default:
	}
}

func (b *testBroker) waitLogon() {
	b.t.Helper()
	select {
	case <-b.logons:
	case text := <-b.logouts:
		b.t.Fatalf("%s: logged out: %q", b.sid.SenderCompID, text)
	case <-time.After(await):
		b.t.Fatalf("%s: no logon", b.sid.SenderCompID)
	}
}

func (b *testBroker) waitLogout() string {
	b.t.Helper()
	select {
	case text := <-b.logouts:
		return text
	case <-b.logons:
		b.t.Fatalf("%s: logged on", b.sid.SenderCompID)
	case <-time.After(await):
		b.t.Fatalf("%s: no Logout", b.sid.SenderCompID)
	}
	return ""
}

// order sends a limit NewOrderSingle for 100 600519.SH at price.
func (b *testBroker) order(clOrdID, price string) {
	b.t.Helper()
	m := quickfix.NewMessage()
	m.Header.SetString(tag.MsgType, "D")
	for _, f := range [][2]string{{"11", clOrdID}, {"1", "A1"}, {"55", "600519"}, {"207", "XSHG"}, {"54", "1"},
		{"40", "2"}, {"44", price}, {"38", "100"}, {"60", time.Now().UTC().Format("20060102-15:04:05.000")}} {
		n, _ := strconv.Atoi(f[0])
		m.Body.SetString(quickfix.Tag(n), f[1])
	}
	if err := quickfix.SendToTarget(m, b.sid); err != nil {
		b.t.Fatal(err)
	}
}

// report waits for the next ExecutionReport.
func (b *testBroker) report() *quickfix.Message {
	b.t.Helper()
	for {
		select {
		case m := <-b.app:
			if m.IsMsgTypeOf("8") {
				return m
			}
		case <-time.After(await):
			b.t.Fatalf("%s: no ExecutionReport", b.sid.SenderCompID)
			return nil
		}
	}
}

// trade sends an order and checks it reaches the order manager and comes
// back as Pending New.
func (b *testBroker) trade(r *running, clOrdID string) {
	b.t.Helper()
	b.order(clOrdID, "1700.00")
	if o := r.nextNew(b.t); o.ClOrdID != clOrdID || o.Price != 17000000 {
		b.t.Fatalf("order manager got %+v; want %s at 1700.00", o, clOrdID)
	}
	if m := b.report(); field(m, tag.ClOrdID) != clOrdID || field(m, tag.ExecType) != "A" {
		b.t.Fatalf("report %s; want Pending New of %s", m, clOrdID)
	}
}

// TestRefusedLogonKeepsSequenceNumbers sends a Logon with a wrong password
// and then the real broker's: the refusal must leave the session's
// sequence numbers untouched, so the real broker logs on and trades.
// quickfix's own refusal counted the refused Logon as received (and its
// Logout as sent), and the real broker's Logon was then "MsgSeqNum too
// low".
func TestRefusedLogonKeepsSequenceNumbers(t *testing.T) {
	t.Run("another engine, then the broker", func(t *testing.T) {
		r := runAcceptor(t, nil)
		impostor := dialTestBroker(t, r, r.a.Addr(), "wrong")
		if text := impostor.waitLogout(); text != textBadPassword {
			t.Fatalf("Logout %q; want %q", text, textBadPassword)
		}
		impostor.stop()
		r.waitMetric(t, "gateway_broker_logon_rejects_total", reasonPassword, 1)
		sender, err1 := quickfix.GetExpectedSenderNum(r.sid())
		target, err2 := quickfix.GetExpectedTargetNum(r.sid())
		if err1 != nil || err2 != nil || sender != 1 || target != 1 {
			t.Fatalf("after the refusal the session expects to send %d and receive %d (%v %v); want 1 and 1", sender, target, err1, err2)
		}
		real := dialTestBroker(t, r, r.a.Addr(), "right")
		real.waitLogon()
		real.trade(r, "c1")
	})
	t.Run("the broker's engine, password fixed", func(t *testing.T) {
		r := runAcceptor(t, nil)
		b := dialTestBroker(t, r, r.a.Addr(), "wrong")
		if text := b.waitLogout(); text != textBadPassword {
			t.Fatalf("Logout %q; want %q", text, textBadPassword)
		}
		right := "right"
		b.pw.Store(&right)
		// The engine reconnects with its next sequence number; the gap
		// its refused Logon left is filled by the usual resend.
		for {
			select {
			case <-b.logons:
			case <-b.logouts: // a retry with the old password
				continue
			case <-time.After(await):
				t.Fatal("no logon")
			}
			break
		}
		b.trade(r, "c1")
		b.trade(r, "c2")
	})
}

// tamperProxy relays a broker's connection to the acceptor, changing the
// first occurrence of from to to (of the same length) in what the broker
// sends: a bit error the TCP checksum missed, or a meddling middlebox.
type tamperProxy struct {
	ln       net.Listener
	from, to []byte
	done     atomic.Bool
}

func newTamperProxy(t *testing.T, target string, from, to string) *tamperProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tamperProxy{ln: ln, from: []byte(from), to: []byte(to)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); up.Close() })
			go func() { _, _ = io.Copy(c, up); c.Close() }()
			go p.forward(up, c)
		}
	}()
	return p
}

// forward copies src to dst, tampering once; it holds back a tail that
// may begin a match, so that a match split across reads is found.
func (p *tamperProxy) forward(dst, src net.Conn) {
	defer dst.Close()
	var pending []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		pending = append(pending, buf[:n]...)
		if !p.done.Load() {
			if i := bytes.Index(pending, p.from); i >= 0 {
				copy(pending[i:], p.to)
				p.done.Store(true)
			}
		}
		keep := 0 // the tail that may begin a match
		if !p.done.Load() && err == nil {
			for k := min(len(pending), len(p.from)-1); k > 0; k-- {
				if bytes.HasSuffix(pending, p.from[:k]) {
					keep = k
					break
				}
			}
		}
		if _, werr := dst.Write(pending[:len(pending)-keep]); werr != nil {
			return
		}
		pending = append(pending[:0], pending[len(pending)-keep:]...)
		if err != nil {
			return
		}
	}
}

// TestGarbledMessageDiscarded changes a price in transit (1700.00 to
// 1900.00, same length: only CheckSum tells). The acceptor must discard
// the message unprocessed and count it; the broker's next message shows a
// gap, quickfix asks for a resend and the order arrives intact, once.
// quickfix alone accepted the altered price and passed it on.
func TestGarbledMessageDiscarded(t *testing.T) {
	r := runAcceptor(t, nil)
	p := newTamperProxy(t, r.a.Addr(), "44=1700.00\x01", "44=1900.00\x01")
	b := dialTestBroker(t, r, p.ln.Addr().String(), "right")
	b.waitLogon()
	b.order("c1", "1700.00") // altered in transit
	r.waitMetric(t, "gateway_broker_garbled_total", fix.GarbledChecksum, 1)
	b.order("c2", "1700.00")
	got := map[string]int64{}
	for range 2 {
		o := r.nextNew(t)
		if _, dup := got[o.ClOrdID]; dup {
			t.Fatalf("%s entered twice", o.ClOrdID)
		}
		got[o.ClOrdID] = int64(o.Price)
	}
	if got["c1"] != 17000000 || got["c2"] != 17000000 {
		t.Fatalf("orders entered %v; want c1 and c2 at 1700.00", got)
	}
	if !p.done.Load() {
		t.Fatal("nothing was altered")
	}
	if n := r.metric(t, "gateway_broker_logon_rejects_total", reasonPassword); n != 0 {
		t.Errorf("password rejects %v", n)
	}
}

// rawConn connects to the acceptor, writes b and returns what it reads
// until the acceptor closes the connection.
func rawConn(t *testing.T, addr string, b []byte, keepWriting bool) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(await))
	if len(b) > 0 {
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if keepWriting {
		go func() {
			junk := bytes.Repeat([]byte("x"), 64<<10)
			for range 1 << 10 { // 64 MB, unless the connection is closed
				if _, err := c.Write(junk); err != nil {
					return
				}
			}
		}()
	}
	reply, err := io.ReadAll(c)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read: %v (got %q)", err, reply)
	}
	return string(reply)
}

// TestUnboundedInput sends what an unauthenticated connection should not
// be able to: a BodyLength of 2 GB followed by megabytes, a first message
// that is not a Logon, nothing at all. Each connection is closed and
// counted, and none buffers more than one read: quickfix alone buffered
// whatever BodyLength announced.
func TestUnboundedInput(t *testing.T) {
	r := runAcceptor(t, func(c *Config) { c.LogonTimeout = 200 * time.Millisecond })
	if reply := rawConn(t, r.a.Addr(), []byte("8=FIX.4.4\x019=2000000000\x0135=A\x01"), true); reply != "" {
		t.Errorf("reply %q", reply)
	}
	r.waitMetric(t, "gateway_broker_garbled_total", fix.ReasonTooLarge, 1)

	hb := quickfix.NewMessage()
	hb.Header.SetString(tag.BeginString, "FIX.4.4")
	hb.Header.SetString(tag.MsgType, "0")
	hb.Header.SetString(tag.SenderCompID, r.broker)
	hb.Header.SetString(tag.TargetCompID, r.gateway)
	hb.Header.SetInt(tag.MsgSeqNum, 1)
	hb.Header.SetString(tag.SendingTime, time.Now().UTC().Format("20060102-15:04:05.000"))
	if reply := rawConn(t, r.a.Addr(), hb.Bytes(), false); reply != "" {
		t.Errorf("reply %q", reply)
	}
	r.waitMetric(t, "gateway_broker_logon_rejects_total", reasonNotLogon, 1)

	if reply := rawConn(t, r.a.Addr(), nil, false); reply != "" {
		t.Errorf("reply %q", reply)
	}
	r.waitMetric(t, "gateway_broker_logon_rejects_total", reasonTimeout, 1)

	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.conns) != 3 {
		t.Fatalf("%d connections", len(r.conns))
	}
	for i, c := range r.conns {
		if c.BufferSize() > 4<<10 {
			t.Errorf("connection %d buffered %d bytes", i, c.BufferSize())
		}
	}
	if sender, _ := quickfix.GetExpectedSenderNum(r.sid()); sender != 1 {
		t.Errorf("the session sent %d messages", sender-1)
	}
}

// TestLongClOrdID sends a 70,000-byte ClOrdID (the acceptor allowing
// messages that large): it is refused with an ExecutionReport that does
// not echo it, and order entry carries on.
func TestLongClOrdID(t *testing.T) {
	r := runAcceptor(t, func(c *Config) { c.MaxMessageBytes = 128 << 10 })
	b := dialTestBroker(t, r, r.a.Addr(), "right")
	b.waitLogon()
	b.order(strings.Repeat("L", 70000), "1700.00")
	m := b.report()
	if field(m, tag.ClOrdID) != "?LLLLLLLLLLLLLLLL~70000" || field(m, tag.ExecType) != "8" || field(m, tag.OrdRejReason) != "99" ||
		field(m, tag.Text) != "ClOrdID is 70000 bytes long; the limit is 32" {
		t.Fatalf("report %s", m)
	}
	r.waitMetric(t, "gateway_broker_rejects_total", orders.CodeBadID, 1)
	b.trade(r, "c1")
}

func testLog() *slog.Logger {
	if os.Getenv("BROKER_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug - 4}))
}

// TestAcceptorMaxConnections checks that an acceptor on its own listener
// closes a connection over max_connections at once, before reading it, and
// counts it.
func TestAcceptorMaxConnections(t *testing.T) {
	r := runAcceptor(t, func(c *Config) { c.MaxConnections = 2 })
	// Dials complete in order, and the accept loop takes them in order:
	// the third is over the cap.
	var conns []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", r.a.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	_ = conns[2].SetReadDeadline(time.Now().Add(await))
	if n, err := conns[2].Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("read %d, %v; want EOF", n, err)
	}
	if n := r.metric(t, "gateway_broker_logon_rejects_total", ReasonMaxConnections); n != 1 {
		t.Fatalf("max_connections refusals %v; want 1", n)
	}
}
