package system

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"sgw/fix"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/config"
	"github.com/quickfixgo/quickfix/log/screen"
	"github.com/quickfixgo/tag"

	"sgw/configs"
	"sgw/fix/broker"
	"sgw/gateway/mdclient"
)

// brokerAwait bounds each wait for a FIX answer.
const brokerAwait = 15 * time.Second

// TestBrokerFIX runs the demo (simulator, gateway, FIX simulator) with its
// broker session and two more, and trades through the broker acceptor
// with QuickFIX/Go initiators as the brokers: a marketable order fills, a
// resting order is cancelled and another replaced, status requests are
// answered, risk and permission rejects carry their reasons, malformed and
// unsupported messages get session-level and business rejects, and wrong
// passwords, unknown CompIDs, disallowed addresses and garbage are turned
// away, while another broker session and a WebSocket client carry on.
func TestBrokerFIX(t *testing.T) {
	cfg, err := configs.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Gateway.HTTP = "127.0.0.1:0"
	if cfg.Brokers == nil || len(cfg.Brokers.Sessions) != 1 || cfg.Brokers.Sessions[0].TargetCompID != "BROKER1" {
		t.Fatalf("demo.yaml brokers: %+v", cfg.Brokers)
	}
	cfg.Brokers.Sessions = append(cfg.Brokers.Sessions,
		broker.SessionConfig{TargetCompID: "BROKER2", BeginString: "FIX.4.2", Password: "p2", Accounts: []string{"A2"}},
		broker.SessionConfig{TargetCompID: "BROKER3", Password: "p3", AllowedAddrs: []string{"192.0.2.0/24"}, Accounts: []string{"A1"}})
	d, err := NewDemo(cfg, brokerLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	}()
	addr := d.Gateway.Brokers().Addr()
	brokerWaitUntil(t, "/readyz", func() bool { code, _ := brokerGet(t, d.BaseURL+"/readyz"); return code == 200 })
	var bk struct{ Bids, Asks [][2]any }
	brokerWaitUntil(t, "a two-sided book", func() bool {
		_, body := brokerGet(t, d.BaseURL+"/api/v1/book/601318.SH?depth=1")
		return json.Unmarshal(body, &bk) == nil && len(bk.Asks) > 0 && len(bk.Bids) > 0
	})
	ask, bid := bk.Asks[0][0].(string), bk.Bids[0][0].(string)

	// Bystanders: a FIX 4.2 broker logged on, a WebSocket book subscriber.
	b2 := dialBroker(t, addr, "FIX.4.2", "BROKER2", "p2")
	ws, _, err := mdclient.Dial(ctx, "ws"+strings.TrimPrefix(d.BaseURL, "http")+"/ws", mdclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.Subscribe(ctx, "book", 5, nil, "601318.SH"); err != nil {
		t.Fatal(err)
	}
	var wsMsgs atomic.Int64
	go func() {
		for {
			msgs, err := ws.Next(ctx)
			if err != nil {
				return
			}
			wsMsgs.Add(int64(len(msgs)))
		}
	}()

	// Turned away before logon.
	t.Run("wrong password", func(t *testing.T) {
		reply := brokerRaw(t, addr, brokerLogon("FIX.4.4", "BROKER1", "SGW", "nope"))
		if !strings.Contains(reply, "\x0135=5\x01") || !strings.Contains(reply, "\x0158=bad password\x01") || strings.Contains(reply, "\x0135=A\x01") {
			t.Errorf("reply %q; want a Logout \"bad password\"", reply)
		}
	})
	t.Run("unknown CompID", func(t *testing.T) {
		for _, ids := range [][3]string{{"FIX.4.4", "NOBODY", "SGW"}, {"FIX.4.4", "BROKER1", "OTHER"}, {"FIX.4.2", "BROKER1", "SGW"}} {
			reply := brokerRaw(t, addr, brokerLogon(ids[0], ids[1], ids[2], "demo"))
			if !strings.Contains(reply, "\x0135=5\x01") || !strings.Contains(reply, "\x0158=unknown session") || strings.Contains(reply, "\x0135=A\x01") {
				t.Errorf("%v: reply %q; want a Logout \"unknown session\"", ids, reply)
			}
		}
	})
	t.Run("address not allowed", func(t *testing.T) {
		if reply := brokerRaw(t, addr, brokerLogon("FIX.4.4", "BROKER3", "SGW", "p3")); reply != "" {
			t.Errorf("reply %q; want the connection closed without one", reply)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		for _, junk := range []string{"hello\r\n", "8=FIX.4.4\x019=5\x0135=A\x0110=000\x01", "\x00\x01\x02\x03"} {
			if reply := brokerRaw(t, addr, []byte(junk)); reply != "" {
				t.Errorf("%q: reply %q; want the connection closed without one", junk, reply)
			}
		}
	})
	// The bystander session still works.
	b2.send("D", "11=k1", "1=A2", "21=1", "55=601318", "207=XSHG", "54=1", "40=2", "44="+brokerCents(t, bid, -300), "38=100",
		"60="+brokerTime())
	pn := b2.await("Pending New of k1", brokerExec("k1", 'A'))
	if brokerField(pn, tag.ExecTransType) != "0" || !strings.HasPrefix(brokerField(pn, tag.ExecID), "B") {
		t.Errorf("FIX 4.2 pending new %s", pn)
	}
	b2.await("New of k1", brokerExec("k1", '0'))
	b2.send("H", "11=k1", "54=1", "55=601318", "207=XSHG")
	st := b2.await("status of k1", func(m *quickfix.Message) bool {
		return brokerField(m, tag.MsgType) == "8" && brokerField(m, tag.ExecTransType) == "3" && brokerField(m, tag.ClOrdID) == "k1"
	})
	if brokerField(st, tag.ExecType) != "0" || brokerField(st, tag.OrdStatus) != "0" || brokerField(st, tag.LeavesQty) != "100" {
		t.Errorf("FIX 4.2 status %s", st)
	}
	b2.send("D", "11=k2", "1=A1", "21=1", "55=601318", "207=XSHG", "54=1", "40=2", "44=45.00", "38=100")
	if r := b2.await("reject of k2", brokerExec("k2", '8')); !strings.Contains(brokerField(r, tag.Text), "account not allowed") {
		t.Errorf("k2 reject %s", r)
	}

	b1 := dialBroker(t, addr, "FIX.4.4", "BROKER1", "demo")
	t.Run("marketable order fills", func(t *testing.T) {
		b1.send("D", "11=m1", "1=A1", "21=1", "55=601318", "207=XSHG", "54=1", "40=2", "44="+brokerCents(t, ask, 50), "38=100",
			"59=0", "60="+brokerTime())
		pn := b1.await("Pending New", brokerExec("m1", 'A'))
		nw := b1.await("New", brokerExec("m1", '0'))
		fill := b1.await("the fill", func(m *quickfix.Message) bool {
			return brokerIsExec(m, "m1", 'F') && brokerField(m, tag.OrdStatus) == "2"
		})
		if brokerField(pn, tag.OrdStatus) != "A" || !strings.HasPrefix(brokerField(pn, tag.ExecID), "B") {
			t.Errorf("pending new %s", pn)
		}
		if !strings.HasPrefix(brokerField(nw, tag.ExecID), "core:") || brokerField(nw, tag.OrderID) == "NONE" {
			t.Errorf("new %s", nw)
		}
		if !strings.HasPrefix(brokerField(fill, tag.ExecID), "core:") || brokerField(fill, tag.CumQty) != "100" || brokerField(fill, tag.LeavesQty) != "0" ||
			brokerField(fill, tag.LastPx) == "" || brokerField(fill, tag.Symbol) != "601318" || brokerField(fill, tag.SecurityExchange) != "XSHG" || brokerField(fill, tag.Account) != "A1" {
			t.Errorf("fill %s", fill)
		}
		b1.send("H", "11=m1", "790=s1", "55=601318", "207=XSHG", "54=1")
		st := b1.await("status", func(m *quickfix.Message) bool { return brokerIsExec(m, "m1", 'I') })
		if brokerField(st, tag.OrdStatus) != "2" || brokerField(st, tag.CumQty) != "100" || brokerField(st, tag.OrdStatusReqID) != "s1" {
			t.Errorf("status %s", st)
		}
	})
	t.Run("resting order cancelled", func(t *testing.T) {
		b1.send("D", "11=m2", "1=A1", "21=1", "55=601318.SH", "54=1", "40=2", "44="+brokerCents(t, bid, -300), "38=200")
		b1.await("New", brokerExec("m2", '0'))
		b1.send("F", "11=x2", "41=m2", "1=A1", "55=601318", "207=XSHG", "54=1", "38=200", "60="+brokerTime())
		pc := b1.await("Pending Cancel", brokerExec("x2", '6'))
		cx := b1.await("Canceled", brokerExec("x2", '4'))
		if brokerField(pc, tag.OrigClOrdID) != "m2" || brokerField(cx, tag.OrigClOrdID) != "m2" || brokerField(cx, tag.OrdStatus) != "4" || brokerField(cx, tag.LeavesQty) != "0" {
			t.Errorf("pending cancel %s; canceled %s", pc, cx)
		}
		b1.send("F", "11=x3", "41=m2", "1=A1")
		if cr := b1.await("cancel reject", brokerMsg("9", "x3")); brokerField(cr, tag.CxlRejResponseTo) != "1" || brokerField(cr, tag.Text) == "" {
			t.Errorf("cancel reject %s", cr)
		}
	})
	t.Run("resting order replaced", func(t *testing.T) {
		b1.send("D", "11=m3", "1=A1", "21=1", "55=601318", "207=XSHG", "54=1", "40=2", "44="+brokerCents(t, bid, -300), "38=100")
		b1.await("New", brokerExec("m3", '0'))
		b1.send("G", "11=r3", "41=m3", "1=A1", "21=1", "55=601318", "207=XSHG", "54=1", "40=2", "44="+brokerCents(t, bid, -310), "38=300")
		b1.await("Pending Replace", brokerExec("r3", 'E'))
		rp := b1.await("Replaced", brokerExec("r3", '5'))
		if brokerField(rp, tag.OrigClOrdID) != "m3" || brokerField(rp, tag.OrderQty) != "300" || brokerField(rp, tag.Price) != brokerCents(t, bid, -310) {
			t.Errorf("replaced %s", rp)
		}
		b1.send("G", "11=r4", "41=zzz", "1=A1", "40=2", "44=45.00", "38=300")
		if cr := b1.await("replace reject", brokerMsg("9", "r4")); brokerField(cr, tag.CxlRejResponseTo) != "2" || brokerField(cr, tag.CxlRejReason) != "1" {
			t.Errorf("replace reject %s", cr)
		}
	})
	t.Run("rejects with reasons", func(t *testing.T) {
		b1.send("D", "11=band", "1=A1", "21=1", "55=600519", "207=XSHG", "54=1", "40=2", "44=1900.00", "38=100")
		r := b1.await("price band reject", brokerExec("band", '8'))
		if brokerField(r, tag.OrdRejReason) != "3" || !strings.Contains(brokerField(r, tag.Text), "band") || brokerField(r, tag.OrdStatus) != "8" {
			t.Errorf("price band reject %s", r)
		}
		if _, ok := d.Gateway.Orders().Get("A1", "band"); ok {
			t.Error("a rejected order is in the order manager")
		}
		b1.send("D", "11=acct", "1=M1", "21=1", "55=600519", "207=XSHG", "54=1", "40=2", "44=1700.00", "38=100")
		r = b1.await("account reject", brokerExec("acct", '8'))
		if brokerField(r, tag.OrdRejReason) != "0" || !strings.Contains(brokerField(r, tag.Text), "account not allowed") {
			t.Errorf("account reject %s", r)
		}
		// Side is required in a status request and in its answer, which
		// echoes it for an order the gateway cannot show.
		b1.send("H", "11=nothing")
		r = b1.await("status request without Side refused", brokerMsg("3", ""))
		if brokerField(r, tag.RefTagID) != "54" || brokerField(r, tag.SessionRejectReason) != "1" {
			t.Errorf("status request without Side: %s", r)
		}
		b1.send("H", "11=nothing", "55=600519", "207=XSHG", "54=1")
		r = b1.await("unknown order status", func(m *quickfix.Message) bool { return brokerIsExec(m, "nothing", 'I') })
		if brokerField(r, tag.OrdStatus) != "8" || brokerField(r, tag.OrdRejReason) != "5" || brokerField(r, tag.Side) != "1" {
			t.Errorf("unknown order status %s", r)
		}
	})
	t.Run("malformed and unsupported messages", func(t *testing.T) {
		b1.send("D", "11=g1", "1=A1", "55=601318.SH", "54=1", "40=2", "44=45.00", "38=lots")
		r := b1.await("session reject", brokerMsg("3", ""))
		if brokerField(r, tag.RefTagID) != "38" || brokerField(r, tag.SessionRejectReason) != "6" {
			t.Errorf("reject %s", r)
		}
		b1.send("D", "1=A1", "55=601318.SH", "54=1", "40=2", "44=45.00", "38=100")
		r = b1.await("session reject", brokerMsg("3", ""))
		if brokerField(r, tag.RefTagID) != "11" || brokerField(r, tag.SessionRejectReason) != "1" {
			t.Errorf("reject %s", r)
		}
		b1.send("R", "131=q1", "146=0")
		r = b1.await("business reject", brokerMsg("j", ""))
		if brokerField(r, tag.BusinessRejectReason) != "3" || brokerField(r, tag.RefMsgType) != "R" {
			t.Errorf("business reject %s", r)
		}
		if _, ok := d.Gateway.Orders().Get("A1", "g1"); ok {
			t.Error("a malformed order is in the order manager")
		}
	})

	// The bystanders carried on.
	b2.send("F", "11=k1x", "41=k1", "1=A2")
	b2.await("Canceled k1", brokerExec("k1x", '4'))
	n := wsMsgs.Load()
	brokerWaitUntil(t, "the WebSocket book to move on", func() bool { return wsMsgs.Load() > n })

	code, body := authGet(t, d.BaseURL+"/metrics", d.OperatorToken)
	for _, want := range []string{
		`gateway_orders_total{result="accepted",source="fix"} 4`,
		// 1 risk reject + 2 accounts not allowed + 2 malformed, counted
		// by the acceptor through the order manager's CountRejected.
		`gateway_orders_total{result="rejected",source="fix"} 5`,
		`gateway_orders_rejects_total{code="risk.price_band"} 1`,
		`gateway_broker_rejects_total{code="broker.account_not_allowed"} 2`,
		`gateway_broker_rejects_total{code="broker.malformed"} 2`,
		`gateway_broker_logon_rejects_total{reason="password"} 1`,
		`gateway_broker_logon_rejects_total{reason="session"} 3`,
		`gateway_broker_logon_rejects_total{reason="address"} 1`,
		`gateway_broker_session_up{session="BROKER1"} 1`,
		`gateway_broker_session_up{session="BROKER3"} 0`,
	} {
		if code != 200 || !bytes.Contains(body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		re := regexp.MustCompile(`(?m)^gateway_(orders|risk|broker)_.*$`)
		t.Logf("metrics:\n%s", strings.Join(re.FindAllString(string(body), -1), "\n"))
	}

	b1.stop()
	brokerWaitUntil(t, "BROKER1 logged out", func() bool {
		_, body := authGet(t, d.BaseURL+"/metrics", d.OperatorToken)
		return bytes.Contains(body, []byte(`gateway_broker_session_up{session="BROKER1"} 0`))
	})
}

// brokerClient is a broker: a QuickFIX/Go initiator (memory store, resetting
// sequence numbers at logon) whose received application messages and
// session-level Rejects are kept in an inbox.
type brokerClient struct {
	t   *testing.T
	sid quickfix.SessionID
	pw  string
	ini *quickfix.Initiator

	logon    chan struct{}
	onceUp   sync.Once
	stopOnce sync.Once

	mu    sync.Mutex
	inbox []*quickfix.Message
	wake  chan struct{}
}

func dialBroker(t *testing.T, addr, begin, compID, pw string) *brokerClient {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &brokerClient{t: t, sid: quickfix.SessionID{BeginString: begin, SenderCompID: compID, TargetCompID: "SGW"}, pw: pw,
		logon: make(chan struct{}), wake: make(chan struct{}, 1)}
	st := quickfix.NewSettings()
	ss := quickfix.NewSessionSettings()
	ss.Set(config.BeginString, begin)
	ss.Set(config.SenderCompID, compID)
	ss.Set(config.TargetCompID, "SGW")
	ss.Set(config.SocketConnectHost, host)
	ss.Set(config.SocketConnectPort, port)
	ss.Set(config.HeartBtInt, "5")
	ss.Set(config.ReconnectInterval, "1")
	ss.Set(config.ResetOnLogon, "Y")
	if _, err := st.AddSession(ss); err != nil {
		t.Fatal(err)
	}
	var lf quickfix.LogFactory = quickfix.NewNullLogFactory()
	if os.Getenv("BROKER_TEST_LOG") != "" {
		lf = screen.NewLogFactory()
	}
	if c.ini, err = quickfix.NewInitiator(c, fix.LockedStoreFactory(quickfix.NewMemoryStoreFactory()), st, lf); err != nil {
		t.Fatal(err)
	}
	if err := c.ini.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.stop)
	select {
	case <-c.logon:
	case <-time.After(brokerAwait):
		t.Fatalf("%s did not log on", compID)
	}
	return c
}

func (c *brokerClient) stop() { c.stopOnce.Do(c.ini.Stop) }

func (c *brokerClient) OnCreate(quickfix.SessionID) {}
func (c *brokerClient) OnLogon(quickfix.SessionID) {
	c.onceUp.Do(func() { close(c.logon) })
}
func (c *brokerClient) OnLogout(quickfix.SessionID) {}
func (c *brokerClient) ToAdmin(m *quickfix.Message, _ quickfix.SessionID) {
	if m.IsMsgTypeOf("A") {
		m.Body.SetString(tag.Password, c.pw)
	}
}
func (c *brokerClient) ToApp(*quickfix.Message, quickfix.SessionID) error { return nil }
func (c *brokerClient) FromAdmin(m *quickfix.Message, _ quickfix.SessionID) quickfix.MessageRejectError {
	if m.IsMsgTypeOf("3") {
		c.keep(m)
	}
	return nil
}
func (c *brokerClient) FromApp(m *quickfix.Message, _ quickfix.SessionID) quickfix.MessageRejectError {
	c.keep(m)
	return nil
}

func (c *brokerClient) keep(m *quickfix.Message) {
	cp := quickfix.NewMessage()
	m.CopyInto(cp)
	c.mu.Lock()
	c.inbox = append(c.inbox, cp)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// send sends a message of msgType with body fields "tag=value".
func (c *brokerClient) send(msgType string, fields ...string) {
	c.t.Helper()
	m := quickfix.NewMessage()
	m.Header.SetString(tag.MsgType, msgType)
	for _, fv := range fields {
		k, v, _ := strings.Cut(fv, "=")
		n, err := strconv.Atoi(k)
		if err != nil {
			c.t.Fatalf("field %q", fv)
		}
		m.Body.SetString(quickfix.Tag(n), v)
	}
	if err := quickfix.SendToTarget(m, c.sid); err != nil {
		c.t.Fatal(err)
	}
}

// await returns (and removes from the inbox) the first message received
// that matches.
func (c *brokerClient) await(what string, match func(*quickfix.Message) bool) *quickfix.Message {
	c.t.Helper()
	deadline := time.After(brokerAwait)
	for {
		c.mu.Lock()
		for i, m := range c.inbox {
			if match(m) {
				c.inbox = append(c.inbox[:i], c.inbox[i+1:]...)
				c.mu.Unlock()
				return m
			}
		}
		pending := make([]string, len(c.inbox))
		for i, m := range c.inbox {
			pending[i] = strings.ReplaceAll(m.String(), "\x01", "|")
		}
		c.mu.Unlock()
		select {
		case <-c.wake:
		case <-deadline:
			c.t.Fatalf("%s: timed out waiting for %s; received:\n%s", c.sid.SenderCompID, what, strings.Join(pending, "\n"))
		}
	}
}

// f returns a field of m's header or body.
func brokerField(m *quickfix.Message, t quickfix.Tag) string {
	if m.Header.Has(t) {
		v, _ := m.Header.GetString(t)
		return v
	}
	v, _ := m.Body.GetString(t)
	return v
}

func brokerIsExec(m *quickfix.Message, clOrdID string, execType byte) bool {
	return brokerField(m, tag.MsgType) == "8" && brokerField(m, tag.ClOrdID) == clOrdID && brokerField(m, tag.ExecType) == string(execType)
}

func brokerExec(clOrdID string, execType byte) func(*quickfix.Message) bool {
	return func(m *quickfix.Message) bool { return brokerIsExec(m, clOrdID, execType) }
}

// brokerMsg matches a message of a type, for a ClOrdID when one is given.
func brokerMsg(msgType, clOrdID string) func(*quickfix.Message) bool {
	return func(m *quickfix.Message) bool {
		return brokerField(m, tag.MsgType) == msgType && (clOrdID == "" || brokerField(m, tag.ClOrdID) == clOrdID)
	}
}

func brokerTime() string { return time.Now().UTC().Format("20060102-15:04:05.000") }

// brokerLogon is a Logon frame as a broker would send it first.
func brokerLogon(begin, sender, target, pw string) []byte {
	m := quickfix.NewMessage()
	m.Header.SetString(tag.BeginString, begin)
	m.Header.SetString(tag.MsgType, "A")
	m.Header.SetInt(tag.MsgSeqNum, 1)
	m.Header.SetString(tag.SenderCompID, sender)
	m.Header.SetString(tag.TargetCompID, target)
	m.Header.SetField(tag.SendingTime, quickfix.FIXUTCTimestamp{Time: time.Now().UTC(), Precision: quickfix.Millis})
	m.Body.SetString(tag.EncryptMethod, "0")
	m.Body.SetString(tag.HeartBtInt, "30")
	m.Body.SetString(tag.ResetSeqNumFlag, "Y")
	m.Body.SetString(tag.Password, pw)
	return m.Bytes()
}

// brokerRaw connects, writes b, half-closes and returns everything the
// acceptor sent until it closed the connection.
func brokerRaw(t *testing.T, addr string, b []byte) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(brokerAwait))
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("\x0135=A\x01")) {
		_ = c.(*net.TCPConn).CloseWrite() // garbage: end it
	}
	reply, err := io.ReadAll(c)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read: %v (got %q)", err, reply)
	}
	return string(reply)
}

func brokerLog() *slog.Logger {
	if os.Getenv("BROKER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func brokerGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	return authGet(t, url, "")
}

// authGet is brokerGet with a bearer token ("" for none).
func authGet(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func brokerWaitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(brokerAwait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// brokerCents adds n hundredths to a decimal price string.
func brokerCents(t *testing.T, p string, n int) string {
	t.Helper()
	var whole, frac int
	if _, err := fmt.Sscanf(p, "%d.%d", &whole, &frac); err != nil {
		t.Fatalf("price %q: %v", p, err)
	}
	c := whole*100 + frac + n
	return fmt.Sprintf("%d.%02d", c/100, c%100)
}
