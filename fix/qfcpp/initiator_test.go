package qfcpp

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/config"
	"github.com/quickfixgo/tag"
)

// goAcceptor is a tiny QuickFIX/Go acceptor for the initiator to talk to:
// it checks the Logon's Password, records what arrives and answers D with
// an ExecutionReport (new), G with one (replaced), H with one (status) and
// F with an OrderCancelReject.
type goAcceptor struct {
	t        *testing.T
	ln       net.Listener
	acc      *quickfix.Acceptor
	begin    string
	password string
	execID   atomic.Int64
	omit     atomic.Int64  // a tag left out of its ExecutionReports; 0 none
	got      feed[Message] // every message received but Heartbeats
}

var _ quickfix.Application = (*goAcceptor)(nil)

func startGoAcceptor(t *testing.T, begin, self, broker, password string) *goAcceptor {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &goAcceptor{t: t, ln: ln, begin: begin, password: password}
	s := quickfix.NewSettings()
	ss := quickfix.NewSessionSettings()
	ss.Set(config.BeginString, begin)
	ss.Set(config.SenderCompID, self)
	ss.Set(config.TargetCompID, broker)
	ss.Set(config.SocketAcceptPort, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	if _, err := s.AddSession(ss); err != nil {
		t.Fatal(err)
	}
	a.acc, err = quickfix.NewAcceptor(a, quickfix.NewMemoryStoreFactory(), s, quickfix.NewNullLogFactory())
	if err != nil {
		t.Fatal(err)
	}
	a.acc.SetNewListenerCallback(func(string, *tls.Config) (net.Listener, error) { return ln, nil })
	if err := a.acc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.acc.Stop)
	return a
}

func (a *goAcceptor) addr() string { return a.ln.Addr().String() }

func (a *goAcceptor) record(m *quickfix.Message) {
	if got, err := ParseMessage(m.String(), 0x01); err == nil {
		a.got.add(got)
	}
}

func (a *goAcceptor) OnCreate(quickfix.SessionID)                   {}
func (a *goAcceptor) OnLogon(quickfix.SessionID)                    {}
func (a *goAcceptor) OnLogout(quickfix.SessionID)                   {}
func (a *goAcceptor) ToAdmin(*quickfix.Message, quickfix.SessionID) {}
func (a *goAcceptor) ToApp(*quickfix.Message, quickfix.SessionID) error {
	return nil
}

func (a *goAcceptor) FromAdmin(m *quickfix.Message, _ quickfix.SessionID) quickfix.MessageRejectError {
	a.record(m)
	if t, _ := m.Header.GetString(tag.MsgType); t == "A" {
		if pw, _ := m.Body.GetString(tag.Password); pw != a.password {
			return quickfix.RejectLogon{Text: "bad password"}
		}
	}
	return nil
}

func (a *goAcceptor) FromApp(m *quickfix.Message, sid quickfix.SessionID) quickfix.MessageRejectError {
	a.record(m)
	t, _ := m.Header.GetString(tag.MsgType)
	reply := quickfix.NewMessage()
	echo := func(tags ...quickfix.Tag) {
		for _, tg := range tags {
			if v, err := m.Body.GetString(tg); err == nil {
				reply.Body.SetString(tg, v)
			}
		}
	}
	switch t {
	case "F":
		reply.Header.SetString(tag.MsgType, "9")
		echo(tag.ClOrdID, tag.OrigClOrdID)
		reply.Body.SetString(tag.OrderID, "NONE")
		reply.Body.SetString(tag.OrdStatus, "8")
		reply.Body.SetString(tag.CxlRejResponseTo, "1")
		reply.Body.SetString(tag.CxlRejReason, "1")
	case "D", "G", "H":
		execType := map[string]string{"D": "0", "G": "5", "H": "I"}[t]
		if a.begin == FIX42 && t == "H" {
			execType = "0" // FIX 4.2 has no ExecType I: the order's status
		}
		reply.Header.SetString(tag.MsgType, "8")
		echo(tag.ClOrdID, tag.OrigClOrdID, tag.Account, tag.Symbol, tag.SecurityExchange, tag.Side, tag.OrderQty, tag.Price)
		id, _ := m.Body.GetString(tag.ClOrdID)
		reply.Body.SetString(tag.OrderID, "O-"+id)
		reply.Body.SetString(tag.ExecID, "E"+strconv.FormatInt(a.execID.Add(1), 10))
		if a.begin == FIX42 {
			reply.Body.SetString(tag.ExecTransType, map[bool]string{true: "3", false: "0"}[t == "H"])
		}
		reply.Body.SetString(tag.ExecType, execType)
		reply.Body.SetString(tag.OrdStatus, "0")
		reply.Body.SetString(tag.LeavesQty, "100")
		reply.Body.SetString(tag.CumQty, "0")
		reply.Body.SetString(tag.AvgPx, "0")
		if omit := a.omit.Load(); omit != 0 {
			reply.Body.Remove(quickfix.Tag(omit))
		}
	default:
		return quickfix.UnsupportedMessageType()
	}
	if err := quickfix.SendToTarget(reply, sid); err != nil {
		a.t.Errorf("acceptor: %v", err)
	}
	return nil
}

// awaitGot waits for the first message of msgType with ClOrdID clOrdID
// received by the acceptor.
func (a *goAcceptor) awaitGot(t *testing.T, ctx context.Context, msgType, clOrdID string) Message {
	t.Helper()
	m, err := a.got.await(ctx, 0, nil, func(m Message) bool { return m.Type() == msgType && m.Get(11) == clOrdID })
	if err != nil {
		t.Fatalf("acceptor waiting for %s %s: %v", msgType, clOrdID, err)
	}
	return m
}

// TestInitiatorCommands drives the initiator against a QuickFIX/Go
// acceptor: the Logon carries the password, each command arrives with the
// fields it named and the ones the initiator adds, and every answer is
// printed and parsed back.
func TestInitiatorCommands(t *testing.T) {
	for _, begin := range []string{FIX42, FIX44} {
		t.Run(begin, func(t *testing.T) {
			kit := Build(t)
			ctx := testContext(t)
			broker, acceptor := compIDs()
			acc := startGoAcceptor(t, begin, acceptor, broker, "s3cret")
			ini := kit.StartInitiator(t, Broker{Addr: acc.addr(), BeginString: begin, SenderCompID: broker, TargetCompID: acceptor,
				Password: "s3cret", Username: "trader1"})
			if err := ini.AwaitLogon(ctx); err != nil {
				t.Fatal(err)
			}
			logon, err := acc.got.await(ctx, 0, nil, func(m Message) bool { return m.Type() == "A" })
			if err != nil {
				t.Fatal(err)
			}
			checkFields(t, "logon", logon, map[int]string{8: begin, 49: broker, 56: acceptor, 554: "s3cret", 553: "trader1", 108: "1", 141: ""})

			for _, c := range []struct {
				req    Request
				want   map[int]string // fields the acceptor must get
				answer map[int]string // fields of the answer
			}{
				{
					req: Request{MsgType: "D", ClOrdID: "c1", Account: "A1", Symbol: "600519", SecurityExchange: "XSHG", Side: '1', OrderQty: 100, Price: "17.00",
						Extra: []Field{{Tag: 59, Value: "0"}}},
					want:   map[int]string{1: "A1", 55: "600519", 207: "XSHG", 54: "1", 38: "100", 44: "17.00", 21: "1", 40: "2", 59: "0"},
					answer: map[int]string{35: "8", 150: "0", 37: "O-c1", 1: "A1", 207: "XSHG"},
				},
				{
					req:    Request{MsgType: "F", ClOrdID: "x1", OrigClOrdID: "c1", Symbol: "600519", Side: '1', OrderQty: 100},
					want:   map[int]string{41: "c1", 55: "600519", 54: "1", 38: "100", 21: "", 40: "", 44: ""},
					answer: map[int]string{35: "9", 41: "c1", 434: "1", 102: "1"},
				},
				{
					req:    Request{MsgType: "G", ClOrdID: "r1", OrigClOrdID: "c1", Account: "A1", Symbol: "600519", Side: '1', OrderQty: 200, Price: "17.10"},
					want:   map[int]string{41: "c1", 1: "A1", 38: "200", 44: "17.10", 21: "1", 40: "2"},
					answer: map[int]string{35: "8", 150: "5", 41: "c1", 38: "200"},
				},
				{
					req:    Request{MsgType: "H", ClOrdID: "c1", OrderID: "O-c1", Symbol: "600519", Side: '1'},
					want:   map[int]string{37: "O-c1", 55: "600519", 54: "1", 60: "", 38: ""},
					answer: map[int]string{35: "8", 37: "O-c1"},
				},
			} {
				sent, err := ini.Send(ctx, c.req)
				if err != nil {
					t.Fatal(err)
				}
				got := acc.awaitGot(t, ctx, c.req.MsgType, c.req.ClOrdID)
				checkFields(t, c.req.MsgType+" received", got, c.want)
				if (c.req.MsgType == "H") == got.Has(60) {
					t.Errorf("%s: TransactTime present: %v", c.req.MsgType, got.Has(60))
				}
				if sent.Get(34) != got.Get(34) {
					t.Errorf("Send returned MsgSeqNum %s, the acceptor got %s", sent.Get(34), got.Get(34))
				}
				answer := awaitApp(t, ctx, ini, c.answer[35], map[int]string{11: c.req.ClOrdID})
				checkFields(t, c.req.MsgType+" answer", answer, c.answer)
			}

			// A header field goes into the header: the replace resent
			// flagged PossResend.
			sent, err := ini.Send(ctx, Request{MsgType: "G", ClOrdID: "r1", OrigClOrdID: "c1", Account: "A1", Symbol: "600519", Side: '1',
				OrderQty: 200, Price: "17.10", Extra: []Field{{Tag: 97, Value: "Y"}}})
			if err != nil {
				t.Fatal(err)
			}
			if at := fieldIndex(sent, 97); at < 0 || at > fieldIndex(sent, 1) || at > fieldIndex(sent, 11) { // before the body (1, 11, ...)
				t.Errorf("the initiator sent PossResend outside the header: %v", sent)
			}
			if _, err := acc.got.await(ctx, 0, nil, func(m Message) bool {
				return m.Type() == "G" && m.Get(11) == "r1" && m.Get(97) == "Y"
			}); err != nil {
				t.Fatalf("acceptor waiting for the replace resent PossResend: %v", err)
			}

			// A request the initiator cannot make is refused, and the next
			// one still gets its own answer.
			if _, err := ini.Send(ctx, Request{MsgType: "D", ClOrdID: "c2", Extra: []Field{{Tag: 1234567, Value: "x"}}}); err == nil ||
				!strings.Contains(err.Error(), "unknown field 1234567") {
				t.Errorf("Send with tag 1234567: %v, want the initiator's refusal", err)
			}
			if _, err := ini.Send(ctx, Request{MsgType: "H", ClOrdID: "c9", Symbol: "600519", Side: '1'}); err != nil {
				t.Error(err)
			}

			if err := ini.Quit(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := acc.got.await(ctx, 0, nil, func(m Message) bool { return m.Type() == "5" }); err != nil {
				t.Fatal(err)
			}
			evs := ini.Events()
			if last := evs[len(evs)-1]; last.Kind != EventBye {
				t.Errorf("last event %+v, want BYE", last)
			}
		})
	}
}

// TestInitiatorRefusesInvalid: with QuickFIX's data dictionary (the
// default when DataDictionary finds it), the initiator refuses an
// ExecutionReport without Side (54), required in FIX 4.2 and 4.4: its
// session sends a Reject (3, reason 1, RefTagID 54), printed as an
// EventReject, and AwaitApp fails with ErrRefused instead of waiting for a
// message the application never sees. Without the dictionary the same
// report reaches the application.
func TestInitiatorRefusesInvalid(t *testing.T) {
	for _, begin := range []string{FIX42, FIX44} {
		t.Run(begin, func(t *testing.T) {
			kit := Build(t)
			dict := RequireDataDictionary(t, begin)
			ctx := testContext(t)
			order := Request{MsgType: "D", ClOrdID: "c1", Account: "A1", Symbol: "600519", Side: '1', OrderQty: 100, Price: "17.00"}
			for _, validate := range []bool{true, false} {
				broker, acceptor := compIDs()
				acc := startGoAcceptor(t, begin, acceptor, broker, "pw")
				acc.omit.Store(int64(tag.Side))
				b := Broker{Addr: acc.addr(), BeginString: begin, SenderCompID: broker, TargetCompID: acceptor, Password: "pw",
					AllowRejects: true}
				if !validate {
					b.Settings = map[string]string{"UseDataDictionary": "N"}
				}
				ini := kit.StartInitiator(t, b)
				if want := map[bool]string{true: dict}[validate]; ini.DataDictionary() != want {
					t.Fatalf("validate %v: DataDictionary() = %q, want %q", validate, ini.DataDictionary(), want)
				}
				if err := ini.AwaitLogon(ctx); err != nil {
					t.Fatal(err)
				}
				if _, err := ini.Send(ctx, order); err != nil {
					t.Fatal(err)
				}
				got, err := ini.AwaitApp(ctx, func(m Message) bool { return m.Type() == "8" && m.Get(11) == "c1" })
				if !validate {
					if err != nil || got.Has(54) {
						t.Errorf("without a dictionary: %v (%v), want the report without Side", got, err)
					}
					if n := len(ini.Rejects()); n != 0 {
						t.Errorf("without a dictionary: %d rejects", n)
					}
					continue
				}
				if !errors.Is(err, ErrRefused) {
					t.Fatalf("AwaitApp: %v (%v), want ErrRefused", got, err)
				}
				rej := ini.Rejects()
				if len(rej) != 1 {
					t.Fatalf("rejects %v, want one", rej)
				}
				checkFields(t, "the initiator's Reject", rej[0].Msg, map[int]string{35: "3", 371: "54", 373: "1", 372: "8"})
				if _, err := acc.got.await(ctx, 0, nil, func(m Message) bool { return m.Type() == "3" && m.Get(371) == "54" }); err != nil {
					t.Fatalf("the acceptor waiting for the Reject: %v", err)
				}
			}
		})
	}
}

// TestInitiatorBadPassword: a refused logon shows as the acceptor's Logout
// and a LOGOUT event.
func TestInitiatorBadPassword(t *testing.T) {
	kit := Build(t)
	ctx := testContext(t)
	broker, acceptor := compIDs()
	acc := startGoAcceptor(t, FIX44, acceptor, broker, "s3cret")
	ini := kit.StartInitiator(t, Broker{Addr: acc.addr(), SenderCompID: broker, TargetCompID: acceptor, Password: "guess"})
	logout, err := ini.Await(ctx, func(e Event) bool { return e.Kind == EventAdmin && e.Msg.Type() == "5" })
	if err != nil {
		t.Fatal(err)
	}
	if logout.Msg.Get(58) != "bad password" {
		t.Errorf("logout %v, want Text bad password", logout.Msg)
	}
	if _, err := ini.Await(ctx, func(e Event) bool { return e.Kind == EventLogout }); err != nil {
		t.Fatal(err)
	}
	for _, e := range ini.Events() {
		if e.Kind == EventLogon {
			t.Errorf("logged on with a bad password: %+v", e)
		}
	}
	// A killed initiator ends every wait at once.
	ini.Kill()
	short, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := ini.Await(short, func(e Event) bool { return e.Kind == EventLogon }); !errors.Is(err, ErrExited) {
		t.Errorf("Await after Kill: %v, want ErrExited", err)
	}
}

// fieldIndex is the position of tag's first occurrence in m, or -1.
func fieldIndex(m Message, tag int) int {
	for i, f := range m.Fields() {
		if f.Tag == tag {
			return i
		}
	}
	return -1
}

// TestInitiatorStartFailsCleanly: an initiator whose program cannot be
// started fails the test with the reason, and its cleanups (the check of
// the Rejects its session sent among them) run without a panic. Before,
// that check read the events of a run that never began: a nil pointer
// dereference in the cleanup, which ends the whole test binary and hides
// the reason.
func TestInitiatorStartFailsCleanly(t *testing.T) {
	kit := &Kit{paths: map[string]string{"initiator": filepath.Join(t.TempDir(), "no-such-initiator")}}
	tb := &stubTB{TB: t}
	tb.runTB(func(tb testing.TB) {
		kit.StartInitiator(tb, Broker{Addr: "127.0.0.1:1", SenderCompID: "B", TargetCompID: "G"})
	})
	if tb.fatal == "" {
		t.Fatal("StartInitiator of a program that does not exist did not fail the test")
	}
	if p := tb.runCleanups(); p != nil {
		t.Fatalf("a cleanup of the initiator that never started panicked: %v (the test had failed with %q)", p, tb.fatal)
	}
}

// TestRequireDataDictionary: a test that needs QuickFIX's data dictionary
// to validate with is skipped without it, but fails under CI=true: a CI
// run must not pass a validation test that validated nothing.
func TestRequireDataDictionary(t *testing.T) {
	missing := func(string) (string, error) { return "", errors.New("qfcpp: not in the module cache") }
	for _, c := range []struct {
		ci        string
		wantFatal bool
	}{{"", false}, {"true", true}} {
		t.Run("CI="+c.ci, func(t *testing.T) {
			t.Setenv("CI", c.ci)
			tb := &stubTB{TB: t}
			tb.runTB(func(tb testing.TB) { requireDictionary(tb, FIX44, missing) })
			if c.wantFatal && (tb.fatal == "" || tb.skipped != "") || !c.wantFatal && (tb.skipped == "" || tb.fatal != "") {
				t.Errorf("without a dictionary: fatal %q, skipped %q; want a fatal %v", tb.fatal, tb.skipped, c.wantFatal)
			}
			if p := tb.runCleanups(); p != nil {
				t.Fatal(p)
			}
		})
	}
	if got := requireDictionary(t, FIX42, func(string) (string, error) { return "/x/FIX42.xml", nil }); got != "/x/FIX42.xml" {
		t.Errorf("with a dictionary: %q", got)
	}
}
