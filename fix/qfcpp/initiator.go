package qfcpp

import (
	"context"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Broker configures the initiator: one session to an acceptor (the
// gateway's broker acceptor, a venue, a test's own).
type Broker struct {
	// Addr is the acceptor's host:port. Required.
	Addr string
	// BeginString is FIX.4.2 or FIX.4.4. Zero means FIX.4.4.
	BeginString string
	// SenderCompID (the broker's) and TargetCompID (the acceptor's).
	// Required.
	SenderCompID, TargetCompID string
	// Password is sent as Password (554) in the Logon, in FIX 4.2 as in
	// 4.4. Empty sends none.
	Password string
	// Username is sent as Username (553) in the Logon. Empty sends none.
	Username string
	// HeartBtInt is the heartbeat interval, a whole number of seconds.
	// Zero means 1s.
	HeartBtInt time.Duration
	// StoreDir is the directory of the session's file store. Zero means a
	// new temporary directory, so sequence numbers start at 1; the StoreDir
	// of an earlier Initiator continues its sequence numbers.
	StoreDir string
	// Settings are added to the [DEFAULT] section of the QuickFIX settings
	// and override the kit's, such as {"ResetOnLogon": "Y"}, or
	// {"UseDataDictionary": "N"} for a broker that validates nothing. Nil
	// adds nothing.
	Settings map[string]string
	// AllowRejects lets the initiator's session refuse messages it
	// receives (a Reject 3 or j it sends: Initiator.Rejects) without
	// failing the test. By default the test fails when it ends if the
	// session refused any: with a data dictionary, a message of the
	// acceptor's that a broker's engine would refuse.
	AllowRejects bool
}

// EventKind says what a line of the initiator's output reports.
type EventKind string

// Event kinds, as the initiator prints them.
const (
	EventLogon  EventKind = "LOGON"  // the session logged on; Text is its id
	EventLogout EventKind = "LOGOUT" // the session ended, also after a refused logon
	EventApp    EventKind = "APP"    // an application message received
	EventAdmin  EventKind = "ADMIN"  // a session message received (not Heartbeat or TestRequest)
	EventSent   EventKind = "SENT"   // a request handed to the session (with its MsgSeqNum)
	EventError  EventKind = "ERROR"  // a request the initiator refused; Text says why
	EventBye    EventKind = "BYE"    // it logged out after Quit

	// EventReject is a Reject (3) or BusinessMessageReject (j) the
	// initiator's session sent: it refused a message it received, one
	// that failed the data dictionary's validation, say (the message is
	// not handed to the application: no App or Admin event).
	EventReject EventKind = "REJECT"
)

// Event is one line of the initiator's output.
type Event struct {
	Kind EventKind
	Text string  // the rest of the line
	Msg  Message // the message of an App, Admin, Sent or Reject event
}

func parseEvent(line string) Event {
	kind, text, _ := strings.Cut(line, " ")
	e := Event{Kind: EventKind(kind), Text: text}
	switch e.Kind {
	case EventApp, EventAdmin, EventSent, EventReject:
		e.Msg, _ = ParseMessage(text, '|') // a '|' inside a value spoils it; Text keeps the line
	}
	return e
}

// Request is a message for the initiator to send. Fields left zero are
// left out; the initiator adds HandlInst 1, OrdType 2 (limit) and
// TransactTime to D and G, and TransactTime to F, unless Extra sets them.
// Values may not contain spaces.
type Request struct {
	// MsgType is D (NewOrderSingle), F (OrderCancelRequest), G
	// (OrderCancelReplaceRequest) or H (OrderStatusRequest).
	MsgType                       string
	ClOrdID, OrigClOrdID, OrderID string
	Account                       string
	Symbol, SecurityExchange      string
	Side                          byte  // '1' buy, '2' sell
	OrderQty                      int64 // OrderQty (38)
	Price                         string
	// Extra are further fields, such as {Tag: 59, Value: "0"}. A header
	// field goes into the header: {Tag: 97, Value: "Y"} resends a request
	// flagged PossResend. PossDupFlag (43) is the session's, set on its
	// resends only: QuickFIX drops it from a request.
	Extra []Field
}

// line is the command line of r.
func (r Request) line() (string, error) {
	switch r.MsgType {
	case "D", "F", "G", "H":
	default:
		return "", fmt.Errorf("qfcpp: request type %q is none of D, F, G, H", r.MsgType)
	}
	var b strings.Builder
	b.WriteString(r.MsgType)
	var bad error
	add := func(name, v string) {
		if v == "" {
			return
		}
		if strings.ContainsAny(v, " \t\r\n\x01") && bad == nil {
			bad = fmt.Errorf("qfcpp: request field %s %q contains a space or control character", name, v)
		}
		fmt.Fprintf(&b, " %s=%s", name, v)
	}
	add("ClOrdID", r.ClOrdID)
	add("OrigClOrdID", r.OrigClOrdID)
	add("OrderID", r.OrderID)
	add("Account", r.Account)
	add("Symbol", r.Symbol)
	add("SecurityExchange", r.SecurityExchange)
	if r.Side != 0 {
		add("Side", string(rune(r.Side)))
	}
	if r.OrderQty != 0 {
		add("OrderQty", strconv.FormatInt(r.OrderQty, 10))
	}
	add("Price", r.Price)
	for _, f := range r.Extra {
		if f.Tag <= 0 || f.Value == "" {
			return "", fmt.Errorf("qfcpp: request field %d=%q: tag or value missing", f.Tag, f.Value)
		}
		add(strconv.Itoa(f.Tag), f.Value)
	}
	return b.String(), bad
}

// Initiator is a running broker initiator. Its methods are safe for
// concurrent use; Send calls are served one at a time.
type Initiator struct {
	p *process
	r *run // its only run

	dict string // the data dictionary its session validates with; "" none

	mu   sync.Mutex // serializes Send
	sent int        // requests written; guarded by mu
}

// StartInitiator starts the broker initiator, which connects to b.Addr and
// logs on (reconnecting every second until it can). It returns at once:
// wait with AwaitLogon. It is killed when tb ends; a failed tb logs its
// output and its QuickFIX file logs.
//
// The initiator validates every message it receives with QuickFIX's data
// dictionary for its BeginString when DataDictionary finds it, as a broker's
// engine does (a message that fails is refused with a Reject: an
// EventReject), and validates nothing otherwise; b.Settings may override
// either (UseDataDictionary, DataDictionary). Initiator.DataDictionary says
// which. Unless b.AllowRejects, tb fails when it ends if the session
// refused any message.
func (k *Kit) StartInitiator(tb testing.TB, b Broker) *Initiator {
	tb.Helper()
	s, err := Session{BeginString: b.BeginString, SenderCompID: b.SenderCompID, TargetCompID: b.TargetCompID}.check(FIX44)
	if err != nil {
		tb.Fatal(err)
	}
	host, port, err := net.SplitHostPort(b.Addr)
	if err != nil {
		tb.Fatalf("qfcpp: broker address %q: %v", b.Addr, err)
	}
	hb := b.HeartBtInt
	if hb == 0 {
		hb = time.Second
	}
	if hb < time.Second || hb%time.Second != 0 {
		tb.Fatalf("qfcpp: broker HeartBtInt %v is not a whole number of seconds", hb)
	}
	dir := tb.TempDir()
	store := b.StoreDir
	if store == "" {
		store = filepath.Join(dir, "store")
	}
	defaults := commonSettings(time.Now())
	defaults["ConnectionType"] = "initiator"
	defaults["SocketConnectHost"] = host
	defaults["SocketConnectPort"] = port
	defaults["HeartBtInt"] = strconv.Itoa(int(hb / time.Second))
	defaults["ReconnectInterval"] = "1"
	defaults["FileStorePath"] = store
	defaults["FileLogPath"] = filepath.Join(dir, "log")
	if dd, err := DataDictionary(s.BeginString); err == nil {
		defaults["UseDataDictionary"] = "Y"
		defaults["DataDictionary"] = dd
	} else {
		tb.Logf("qfcpp: the broker validates no messages: %v", err)
	}
	maps.Copy(defaults, b.Settings)
	session := s.settings()
	if b.Password != "" {
		session["LogonPassword"] = b.Password
	}
	if b.Username != "" {
		session["LogonUsername"] = b.Username
	}
	cfg := filepath.Join(dir, "initiator.cfg")
	if err := (settingsFile{defaults: defaults, sessions: []map[string]string{session}}).write(cfg); err != nil {
		tb.Fatal(err)
	}
	dict := ""
	if defaults["UseDataDictionary"] == "Y" {
		dict = defaults["DataDictionary"]
	}
	i := &Initiator{dict: dict, p: &process{
		name: "initiator",
		bin:  k.path("initiator"),
		args: []string{cfg},
		dir:  dir,
		logs: []string{"log/*.log"},
	}}
	i.p.cleanup(tb)
	if !b.AllowRejects {
		tb.Cleanup(func() {
			if rej := i.Rejects(); len(rej) > 0 {
				tb.Errorf("qfcpp: the broker %s refused %d messages it received (data dictionary %q); the first: %s",
					b.SenderCompID, len(rej), i.dict, rej[0].Text)
			}
		})
	}
	i.p.mu.Lock()
	i.r, err = i.p.start()
	i.p.mu.Unlock()
	if err != nil {
		tb.Fatal(err)
	}
	return i
}

// Send sends a request and returns the message as the initiator handed it
// to its session, with header and MsgSeqNum. It waits for the initiator's
// answer (SENT or ERROR) until ctx ends. A message sent while the session
// is down is stored and goes out through resend recovery after the next
// logon, as QuickFIX does.
func (i *Initiator) Send(ctx context.Context, r Request) (Message, error) {
	line, err := r.line()
	if err != nil {
		return Message{}, err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if err := i.p.write(line); err != nil {
		return Message{}, err
	}
	i.sent++
	acks := 0
	ev, err := i.Await(ctx, func(e Event) bool {
		if e.Kind == EventSent || e.Kind == EventError {
			acks++
			return acks == i.sent
		}
		return false
	})
	switch {
	case err != nil:
		return Message{}, err
	case ev.Kind == EventError:
		return Message{}, fmt.Errorf("qfcpp: initiator refused %q: %s", line, ev.Text)
	}
	return ev.Msg, nil
}

// Await returns the first event for which match returns true, waiting for
// it until ctx ends or the initiator exits (ErrExited). match sees each
// event once, in order, from the first the initiator printed; it runs on
// the caller's goroutine.
func (i *Initiator) Await(ctx context.Context, match func(Event) bool) (Event, error) {
	var found Event
	err := i.p.await(ctx, i.r, "an initiator event", func(line string) bool {
		e := parseEvent(line)
		if match(e) {
			found = e
			return true
		}
		return false
	})
	return found, err
}

// AwaitLogon waits for the session's first logon.
func (i *Initiator) AwaitLogon(ctx context.Context) error {
	_, err := i.Await(ctx, func(e Event) bool { return e.Kind == EventLogon })
	return err
}

// AwaitApp returns the first application message received for which
// match returns true, waiting for it as Await does. It fails with
// ErrRefused, at once, if the initiator's session refused a message
// before that one (an EventReject): the message waited for may be the one
// refused, never to be seen.
func (i *Initiator) AwaitApp(ctx context.Context, match func(Message) bool) (Message, error) {
	e, err := i.Await(ctx, func(e Event) bool { return e.Kind == EventReject || e.Kind == EventApp && match(e.Msg) })
	if err == nil && e.Kind == EventReject {
		return Message{}, fmt.Errorf("%w: it sent %s", ErrRefused, e.Text)
	}
	return e.Msg, err
}

// Events returns the events printed so far: none if the initiator never
// started (StartInitiator failed tb).
func (i *Initiator) Events() []Event {
	if i.r == nil {
		return nil
	}
	lines, _ := i.p.out.since(i.r.from)
	out := make([]Event, 0, len(lines))
	for _, l := range lines {
		out = append(out, parseEvent(l))
	}
	return out
}

// Rejects returns the Reject and BusinessMessageReject messages the
// initiator's session sent so far: the messages it refused.
func (i *Initiator) Rejects() []Event {
	var out []Event
	for _, e := range i.Events() {
		if e.Kind == EventReject {
			out = append(out, e)
		}
	}
	return out
}

// DataDictionary returns the path of the data dictionary the initiator's
// session validates received messages with, or "" if it validates none.
func (i *Initiator) DataDictionary() string { return i.dict }

// Quit asks the initiator to log out and waits until it has exited.
func (i *Initiator) Quit(ctx context.Context) error {
	if err := i.p.write("quit"); err != nil {
		return err
	}
	select {
	case <-i.r.done:
	case <-ctx.Done():
		return fmt.Errorf("qfcpp: waiting for the initiator to quit: %w", ctx.Err())
	}
	if i.r.err != nil {
		return i.p.exitErr(i.r)
	}
	return nil
}

// Kill kills the initiator abruptly (SIGKILL) and waits until it has
// exited.
func (i *Initiator) Kill() { i.p.kill() }
