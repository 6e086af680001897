package broker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/fix"
	"sgw/fix/qfcpp"
	"sgw/orders"
)

// interopWait bounds the whole of a test's exchanges with a QuickFIX C++
// peer: generous, for a loaded two-core machine running the race
// detector.
const interopWait = 5 * time.Minute

// logoutEntry is the real manager whose SessionEnded runs the function
// stored in during, once, as it returns: the acceptor calls it in
// OnLogout, so the function lands an event in the acceptor's handling of
// a broker's logout, after quickfix answered the broker's Logout.
type logoutEntry struct {
	*orders.Manager
	during atomic.Pointer[func()]
}

func (e *logoutEntry) SessionEnded(src orders.Source) int {
	n := e.Manager.SessionEnded(src)
	if f := e.during.Swap(nil); f != nil {
		(*f)()
	}
	return n
}

// logHook is a slog.Handler that runs the function stored in hook, once,
// when a record with message msg is logged, before handling it; the
// loggers derived from it share hook.
type logHook struct {
	slog.Handler
	msg  string
	hook *atomic.Pointer[func()]
}

func newLogHook(msg string) *logHook {
	return &logHook{Handler: slog.NewTextHandler(io.Discard, nil), msg: msg, hook: new(atomic.Pointer[func()])}
}

func (h *logHook) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		if f := h.hook.Swap(nil); f != nil {
			(*f)()
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h *logHook) WithAttrs(as []slog.Attr) slog.Handler {
	return &logHook{Handler: h.Handler.WithAttrs(as), msg: h.msg, hook: h.hook}
}

func (h *logHook) WithGroup(name string) slog.Handler {
	return &logHook{Handler: h.Handler.WithGroup(name), msg: h.msg, hook: h.hook}
}

// TestInteropFillDuringLogout: a broker on QuickFIX C++ (package qfcpp's
// initiator) logs out while the venue fills its order. The broker's
// engine logs on again, with the sequence numbers it kept, and gets the
// fill exactly once, whether the acceptor sent it as a fresh report at
// the logon or the engine asked for it again (a ResendRequest for the
// gap). The fill lands
//
//   - after: as the acceptor handles the end of the session (in
//     OnLogout, once quickfix answered the broker's Logout). Before, the
//     acceptor unregistered the session's sink for the logout and
//     registered it again only afterwards: the fill, applied in between,
//     reached no one, the broker's engine saw no gap and never learnt of
//     it (TestFillDuringLogoutReachesBroker is the same against the
//     manager alone);
//   - before: as the broker's Logout arrives, before the acceptor
//     answers it, the session still logged on.
func TestInteropFillDuringLogout(t *testing.T) {
	for _, at := range []string{"after", "before"} {
		t.Run(at, func(t *testing.T) {
			kit := qfcpp.Build(t)
			ctx, cancel := context.WithTimeout(context.Background(), interopWait)
			defer cancel()
			m, up := newRigManager(t, nil)
			ent := &logoutEntry{Manager: m}
			logs := newLogHook("broker: logout received")
			n := compSeq.Add(1)
			gw, bk := fmt.Sprintf("SGW%d", n), fmt.Sprintf("BROKER%d", n)
			a, err := New(Config{StoreDir: t.TempDir(), Sessions: []SessionConfig{
				{SenderCompID: gw, TargetCompID: bk, Password: "pw", Accounts: []string{"A1"}}}}, ent, prometheus.NewRegistry(), slog.New(logs))
			if err != nil {
				t.Fatal(err)
			}
			runCtx, stop := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- a.Run(runCtx) }()
			t.Cleanup(func() {
				stop()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			})

			store := t.TempDir() // the broker's sequence numbers, kept across its logons
			broker := qfcpp.Broker{Addr: a.Addr(), SenderCompID: bk, TargetCompID: gw, Password: "pw", StoreDir: store}
			b1 := kit.StartInitiator(t, broker)
			if err := b1.AwaitLogon(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := b1.Send(ctx, qfcpp.Request{MsgType: "D", ClOrdID: "o1", Account: "A1", Symbol: "600519", SecurityExchange: "XSHG",
				Side: '1', OrderQty: 100, Price: "1700.00"}); err != nil {
				t.Fatal(err)
			}
			nos := up.Wait(t, 1)[0].(fix.NewOrder)
			m.OnExecReport("core", fix.ExecReport{ClOrdID: nos.ClOrdID, OrderID: "V1", ExecID: "E0", ExecType: '0', OrdStatus: '0',
				Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LeavesQty: 100})
			if _, err := b1.AwaitApp(ctx, func(m qfcpp.Message) bool { return m.Type() == "8" && m.Get(11) == "o1" && m.Get(150) == "0" }); err != nil {
				t.Fatalf("the broker waiting for o1's New: %v", err)
			}

			// The venue fills o1 as the broker's logout is handled. A
			// watcher of the account is handed each event after the
			// order's own sink, on the same goroutine: once it has the
			// fill, the session's sink has had it too, if registered.
			w := watcher(make(chan orders.Event, 16))
			m.Watch("A1", w)
			filled := make(chan struct{})
			fill := func() {
				m.OnExecReport("core", fix.ExecReport{ClOrdID: nos.ClOrdID, OrderID: "V1", ExecID: "F1", ExecType: 'F', OrdStatus: '2',
					Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LastQty: 100, LastPx: 17000000,
					CumQty: 100, AvgPx: 17000000})
				for ev := range w {
					if ev.Kind == orders.EventExec && ev.ExecType == 'F' {
						break
					}
				}
				close(filled)
			}
			if at == "after" {
				ent.during.Store(&fill)
			} else {
				logs.hook.Store(&fill)
			}
			if err := b1.Quit(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case <-filled:
			case <-ctx.Done():
				t.Fatal("the fill never landed in the broker's logout")
			}

			// The broker back: the fill, once, before the answer to its
			// status request (the engine delivers in sequence, asking for
			// any gap first).
			b2 := kit.StartInitiator(t, broker)
			if err := b2.AwaitLogon(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := b2.Send(ctx, qfcpp.Request{MsgType: "H", ClOrdID: "o1", Account: "A1", Symbol: "600519", SecurityExchange: "XSHG", Side: '1'}); err != nil {
				t.Fatal(err)
			}
			st, err := b2.AwaitApp(ctx, func(m qfcpp.Message) bool { return m.Type() == "8" && m.Get(11) == "o1" && m.Get(150) == "I" })
			if err != nil {
				t.Fatalf("the broker waiting for o1's status: %v", err)
			}
			if st.Get(39) != "2" || st.Get(14) != "100" {
				t.Errorf("o1's status %v, want filled (39=2, 14=100)", st)
			}
			var fills []qfcpp.Message
			for _, b := range []*qfcpp.Initiator{b1, b2} {
				for _, e := range b.Events() {
					if e.Kind == qfcpp.EventApp && e.Msg.Type() == "8" && e.Msg.Get(150) == "F" {
						fills = append(fills, e.Msg)
					}
				}
			}
			if len(fills) != 1 {
				t.Fatalf("the broker got %d fills of o1, want 1: %v", len(fills), fills)
			}
			t.Logf("the fill reached the broker at its MsgSeqNum %s, PossDupFlag %q", fills[0].Get(34), fills[0].Get(43))
			if f := fills[0]; f.Get(11) != "o1" || f.Get(17) != "core:F1" || f.Get(32) != "100" || f.Get(39) != "2" {
				t.Errorf("the fill %v, want o1's (ExecID core:F1, LastQty 100, OrdStatus 2)", f)
			}
		})
	}
}
