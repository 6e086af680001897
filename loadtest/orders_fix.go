package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/config"
	"github.com/quickfixgo/tag"

	"sgw/fix"
)

// fixOrderSession is a trading session over the gateway's FIX acceptor for
// brokers (package fix/broker): a FIX 4.4 quickfix initiator logged on as
// a broker. It sends NewOrderSingle and OrderCancelRequest and maps the
// reports to the tracker as the WebSocket session maps its messages:
//
//   - ExecutionReport Pending New (150=A) → accepted of the order; Pending
//     Cancel (150=6) → accepted of the cancel;
//   - ExecutionReport 150=8 for an order not yet accepted → the gateway's
//     refusal (an error reply), code "risk.position" when Text says so,
//     else "fix.ord_rej_reason_<103>"; any other ExecutionReport → exec,
//     ExecType and OrdStatus mapped to the names of docs/PROTOCOL.md;
//   - OrderCancelReject → cancelRejected (CxlRejReason 1, unknown order:
//     the error orders.unknown_order);
//   - session Reject (3) and BusinessMessageReject (j) → an error naming
//     no request.
//
// Pacing, as package fix does it: quickfix's session loop spins while its
// connection writer is busy (the in-process hazard of package fix), which
// delayed back-to-back sends (a cancel, then a new order) by the
// scheduler's 10 ms preemption. So the initiator connects through a
// loopback relay that sees its frames leave, and send submits one message
// at a time, waiting until the previous one has left. quickfix's memory
// store is wrapped in a lock and keeps every message sent for resends.
type fixOrderSession struct {
	ini    *quickfix.Initiator
	relay  *fixRelay
	sendMu sync.Mutex
	sid    quickfix.SessionID
	pw     string
	prefix string
	track  *orderTracker
	stats  *orderStats

	up       atomic.Bool
	logon    chan struct{} // closed at the first logon
	lost     chan struct{} // closed at a logout after the first logon
	refused  chan string   // the Logout text that refused the logon
	logonMu  sync.Once
	lostOnce sync.Once
	stopOnce sync.Once
}

var _ orderSession = (*fixOrderSession)(nil)

// fixCompID is the SenderCompID of FIX session k (0-based) of n: sender
// itself for the first, then the next numbers of its numeric suffix
// (BROKER1, BROKER2, ...).
func fixCompID(sender string, k int) string {
	if k == 0 {
		return sender
	}
	base := strings.TrimRight(sender, "0123456789")
	n, err := strconv.Atoi(sender[len(base):])
	if err != nil {
		n = 1
	}
	return base + strconv.Itoa(n+k)
}

// dialFIXOrderSession logs on to the broker acceptor at addr as sender
// with password pw, failing with the gateway's reason when it refuses the
// logon, or after within.
func dialFIXOrderSession(ctx context.Context, addr, sender, pw, prefix string, within time.Duration, track *orderTracker) (*fixOrderSession, error) {
	if addr == "" {
		return nil, fmt.Errorf("%w: -fix-sessions needs the gateway's FIX broker address (-fix-broker with -target)", ErrConfig)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("%w: -fix-broker %q: %v", ErrConfig, addr, err)
	}
	relay, err := newFIXRelay(addr)
	if err != nil {
		return nil, fmt.Errorf("loadtest: FIX session %s: %w", sender, err)
	}
	host, port, _ := net.SplitHostPort(relay.ln.Addr().String())
	s := &fixOrderSession{relay: relay, sid: quickfix.SessionID{BeginString: quickfix.BeginStringFIX44, SenderCompID: sender, TargetCompID: "SGW"},
		pw: pw, prefix: prefix, track: track, stats: track.stats,
		logon: make(chan struct{}), lost: make(chan struct{}), refused: make(chan string, 1)}
	st := quickfix.NewSettings()
	ss := quickfix.NewSessionSettings()
	ss.Set(config.BeginString, s.sid.BeginString)
	ss.Set(config.SenderCompID, sender)
	ss.Set(config.TargetCompID, "SGW")
	ss.Set(config.SocketConnectHost, host)
	ss.Set(config.SocketConnectPort, port)
	ss.Set(config.HeartBtInt, "5")
	ss.Set(config.ReconnectInterval, "1")
	ss.Set(config.ResetOnLogon, "Y")
	if _, err := st.AddSession(ss); err != nil {
		relay.close()
		return nil, fmt.Errorf("loadtest: FIX session %s: %w", sender, err)
	}
	logs := refusalTap{LogFactory: fix.LogFactory(slog.New(slog.DiscardHandler), "loadtest"), s: s}
	if s.ini, err = quickfix.NewInitiator(s, fix.LockedStoreFactory(quickfix.NewMemoryStoreFactory()), st, logs); err != nil {
		relay.close()
		return nil, fmt.Errorf("loadtest: FIX session %s: %w", sender, err)
	}
	if err := s.ini.Start(); err != nil {
		relay.close()
		return nil, fmt.Errorf("loadtest: FIX session %s: %w", sender, err)
	}
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case <-s.logon:
		return s, nil
	case text := <-s.refused:
		err = fmt.Errorf("%w: the gateway refused the FIX logon of %s: %q (a session per -fix-sessions needs BROKER1.. sessions with -fix-password in the gateway's brokers config)", ErrConfig, sender, text)
	case <-timer.C:
		err = fmt.Errorf("loadtest: FIX session %s: no logon to %s within %v", sender, addr, within)
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.close()
	return nil, err
}

func (s *fixOrderSession) sendNew(_ context.Context, o *trackedOrder) error {
	m := s.message("D", o, o.id)
	b := &m.Body
	b.SetString(tag.OrdType, "2")
	b.SetString(tag.Price, o.price.String())
	return s.send(m)
}

func (s *fixOrderSession) sendCancel(_ context.Context, o *trackedOrder, id string) error {
	m := s.message("F", o, id)
	m.Body.SetString(tag.OrigClOrdID, o.id)
	return s.send(m)
}

// message starts a NewOrderSingle or OrderCancelRequest for o. The
// instrument goes as a broker sends it: Symbol (55) and SecurityExchange
// (207), or the gateway symbol in 55 alone when it has no known suffix.
func (s *fixOrderSession) message(msgType string, o *trackedOrder, clOrdID string) *quickfix.Message {
	m := quickfix.NewMessage()
	m.Header.SetString(tag.MsgType, msgType)
	b := &m.Body
	b.SetString(tag.ClOrdID, clOrdID)
	b.SetString(tag.Account, o.account)
	if code, mic, ok := fix.SplitSymbol(o.symbol); ok {
		b.SetString(tag.Symbol, code)
		b.SetString(tag.SecurityExchange, mic)
	} else {
		b.SetString(tag.Symbol, o.symbol)
	}
	side := fix.Buy
	if o.sell {
		side = fix.Sell
	}
	b.SetString(tag.Side, string(rune(side)))
	b.SetString(tag.OrderQty, strconv.FormatInt(o.qty, 10))
	b.SetField(tag.TransactTime, quickfix.FIXUTCTimestamp{Time: time.Now().UTC(), Precision: quickfix.Millis})
	return m
}

// fixPaceWait bounds the wait for a message to leave before the next.
const fixPaceWait = 100 * time.Millisecond

// send submits m and waits until it has left on the connection, so that
// quickfix never holds more than one of our messages.
func (s *fixOrderSession) send(m *quickfix.Message) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if !s.up.Load() {
		return errors.New("loadtest: FIX session not logged on")
	}
	before := s.relay.frames.Load()
	if err := quickfix.SendToTarget(m, s.sid); err != nil {
		return err
	}
	s.relay.waitPast(before, fixPaceWait)
	return nil
}

func (s *fixOrderSession) close() {
	s.stopOnce.Do(func() {
		s.ini.Stop()
		s.relay.close()
	})
}

// read waits until ctx ends or the session is logged out; the reports
// are handled on quickfix's goroutine as they arrive.
func (s *fixOrderSession) read(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-s.lost:
		if ctx.Err() == nil {
			s.stats.readErrs.Add(1)
			s.stats.violation("session_lost", "FIX trading session %s: logged out", s.sid.SenderCompID)
		}
	}
}

// quickfix.Application.

func (s *fixOrderSession) OnCreate(quickfix.SessionID) {}

func (s *fixOrderSession) OnLogon(quickfix.SessionID) {
	s.up.Store(true)
	s.logonMu.Do(func() { close(s.logon) })
}

func (s *fixOrderSession) OnLogout(quickfix.SessionID) {
	if s.up.Swap(false) {
		s.lostOnce.Do(func() { close(s.lost) })
	}
}

func (s *fixOrderSession) ToAdmin(m *quickfix.Message, _ quickfix.SessionID) {
	if m.IsMsgTypeOf("A") {
		m.Body.SetString(tag.Password, s.pw)
	}
}

func (s *fixOrderSession) ToApp(*quickfix.Message, quickfix.SessionID) error { return nil }

func (s *fixOrderSession) FromAdmin(m *quickfix.Message, _ quickfix.SessionID) quickfix.MessageRejectError {
	if m.IsMsgTypeOf("3") {
		s.track.reject("", "fix.session_reject")
	}
	return nil
}

// refusalTap is the initiator's quickfix log: the toolkit's adapter
// (fix.LogFactory), tapped for the Logout that answers the logon, which
// quickfix passes to no callback: it is the gateway's refusal.
type refusalTap struct {
	quickfix.LogFactory
	s *fixOrderSession
}

func (t refusalTap) Create() (quickfix.Log, error) {
	l, err := t.LogFactory.Create()
	return tapLog{Log: l, s: t.s}, err
}

func (t refusalTap) CreateSessionLog(sid quickfix.SessionID) (quickfix.Log, error) {
	l, err := t.LogFactory.CreateSessionLog(sid)
	return tapLog{Log: l, s: t.s}, err
}

type tapLog struct {
	quickfix.Log
	s *fixOrderSession
}

func (l tapLog) OnIncoming(b []byte) {
	l.Log.OnIncoming(b)
	if l.s.up.Load() || string(fix.FrameMsgType(b)) != "5" {
		return
	}
	text := ""
	fix.ScanFields(b, func(t int, v []byte) bool {
		if t == int(tag.Text) {
			text = string(v)
			return false
		}
		return true
	})
	select {
	case l.s.refused <- text:
	default:
	}
}

func (s *fixOrderSession) FromApp(m *quickfix.Message, _ quickfix.SessionID) quickfix.MessageRejectError {
	now := time.Now()
	d := fix.NewFieldReader(m, fix.EmptyAllowed)
	str := func(t quickfix.Tag) string { return d.Str(t, false) }
	id, orig := str(tag.ClOrdID), str(tag.OrigClOrdID)
	switch {
	case m.IsMsgTypeOf("j"):
		s.track.reject("", "fix.business_reject")
	case !strings.HasPrefix(id, s.prefix):
		// Not an order of this run's session.
	case m.IsMsgTypeOf("9"):
		if str(tag.CxlRejReason) == "1" {
			s.track.reject(id, "orders.unknown_order")
		} else {
			s.track.cancelRejected(id)
		}
	case m.IsMsgTypeOf("8"):
		order := id
		if orig != "" {
			order = orig
		}
		execType := str(tag.ExecType)
		switch execType {
		case "A":
			s.track.accepted(id, id, now)
		case "6", "E":
			s.track.accepted(id, order, now)
		case "8":
			if orig == "" && !s.track.isAcked(id) {
				code := "fix.ord_rej_reason_" + str(tag.OrdRejReason)
				if strings.Contains(str(tag.Text), "sellable position") {
					code = "risk.position"
				}
				s.track.reject(id, code)
				return nil
			}
			fallthrough
		default:
			cum := d.Qty(tag.CumQty, false)                     // 0 when absent or not a whole number
			possResend, _ := m.Header.GetString(tag.PossResend) // "" when absent
			s.track.exec(order, fixExecTypes[execType], fixOrdStatuses[str(tag.OrdStatus)], str(tag.ExecID), possResend == "Y", cum, now)
		}
	}
	return nil
}

// fixExecTypes and fixOrdStatuses name ExecType (150) and OrdStatus (39)
// values as docs/PROTOCOL.md does.
var (
	fixExecTypes = map[string]string{"0": "new", "F": "trade", "1": "trade", "2": "trade", "4": "canceled",
		"5": "replaced", "8": "rejected", "C": "expired", "I": "status"}
	fixOrdStatuses = map[string]string{"A": "pending_new", "0": "new", "1": "partially_filled", "2": "filled",
		"4": "canceled", "8": "rejected", "C": "expired", "6": "pending_cancel", "E": "pending_replace"}
)

// fixRelay forwards the initiator's loopback connections to the broker
// acceptor and counts the frames the initiator writes.
type fixRelay struct {
	ln     net.Listener
	target string
	frames atomic.Int64  // frames seen leaving (fix.FrameCounter)
	wake   chan struct{} // a frame left

	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
}

func newFIXRelay(target string) (*fixRelay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &fixRelay{ln: ln, target: target, wake: make(chan struct{}, 1), conns: map[net.Conn]bool{}}
	go r.serve()
	return r, nil
}

func (r *fixRelay) serve() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		go r.pipe(c)
	}
}

// track remembers c for close; false when the relay is closed.
func (r *fixRelay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.conns[c] = true
	return true
}

func (r *fixRelay) pipe(local net.Conn) {
	remote, err := net.DialTimeout("tcp", r.target, 5*time.Second)
	if err != nil || !r.track(local) || !r.track(remote) {
		local.Close()
		if remote != nil {
			remote.Close()
		}
		return
	}
	defer func() {
		local.Close()
		remote.Close()
		r.mu.Lock()
		delete(r.conns, local)
		delete(r.conns, remote)
		r.mu.Unlock()
	}()
	go func() {
		_, _ = io.Copy(local, remote)
		local.Close()
	}()
	frames := fix.NewFrameCounter()
	buf := make([]byte, 64<<10)
	for {
		n, err := local.Read(buf)
		if n > 0 {
			if _, werr := remote.Write(buf[:n]); werr != nil {
				return
			}
			if k := frames.Count(buf[:n]); k > 0 {
				r.frames.Add(int64(k))
				select {
				case r.wake <- struct{}{}:
				default:
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// waitPast waits until more than before frames have left, or for at most
// d.
func (r *fixRelay) waitPast(before int64, d time.Duration) {
	if r.frames.Load() > before {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for r.frames.Load() <= before {
		select {
		case <-r.wake:
		case <-timer.C:
			return
		}
	}
}

func (r *fixRelay) close() {
	r.ln.Close()
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
}

// isAcked reports whether the order id was accepted.
func (t *orderTracker) isAcked(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.orders[id]
	return o != nil && o.acked
}
