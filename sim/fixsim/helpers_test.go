package fixsim

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/config"
	"github.com/quickfixgo/tag"

	"sgw/refdata"
	"sgw/sim"
)

// waitTimeout only keeps a broken test from hanging.
const waitTimeout = 10 * time.Second

func testInstruments() []refdata.Instrument {
	return []refdata.Instrument{
		{Symbol: "600519.SH", Board: refdata.BoardMain, PrevClose: 17000000},
		{Symbol: "300750.SZ", Board: refdata.BoardChiNext, PrevClose: 2000000},
		{Symbol: "600001.SH", FeedSymbol: "ST0001", Board: refdata.BoardST, PrevClose: 33300},
	}
}

// newSim returns a Sim without synthetic flow; its listeners are not
// served (the tests read its record directly).
func newSim(t testing.TB) *sim.Sim {
	t.Helper()
	s, err := sim.New(sim.Config{Instruments: testInstruments(), Rate: -1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// testLogger discards unless FIXSIM_LOG is set, then writes to stderr
// (quickfix goroutines may log after a test ends, so not to t.Log).
func testLogger() *slog.Logger {
	if os.Getenv("FIXSIM_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// compSeq makes session identities unique across tests: quickfix's
// session registry is process-wide.
var compSeq atomic.Int64

func uniqueCompID(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, compSeq.Add(1))
}

// testConfig returns a config with a unique SenderCompID.
func testConfig(targets ...string) Config {
	return Config{SenderCompID: uniqueCompID("SIMEX"), TargetCompIDs: targets}
}

// startAcceptor creates an Acceptor and runs it until the test ends.
func startAcceptor(t testing.TB, cfg Config, s *sim.Sim) *Acceptor {
	t.Helper()
	a, err := New(cfg, s, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return a
}

// client is a quickfix initiator with one session per target, connecting
// over the acceptor's lines in turn (line 0 first).
type client struct {
	t      testing.TB
	ini    *quickfix.Initiator
	sids   map[string]quickfix.SessionID
	in     map[string]chan *quickfix.Message
	logons map[string]chan struct{}
	store  quickfix.MessageStoreFactory

	mu      sync.Mutex
	lastSeq map[string]int // MsgSeqNum of the last message received
}

type clientOpts struct {
	beginString string
	storeDir    string // file store; "" memory
	lines       []int  // line order; nil means 0, 1
	plain       bool   // stores without the spin mitigation (fix.YieldOnSpin)
}

func newClient(t testing.TB, a *Acceptor, targets []string, o clientOpts) *client {
	t.Helper()
	if o.beginString == "" {
		o.beginString = quickfix.BeginStringFIX44
	}
	if o.lines == nil {
		o.lines = []int{0, 1}
	}
	c := &client{
		t:       t,
		sids:    map[string]quickfix.SessionID{},
		in:      map[string]chan *quickfix.Message{},
		logons:  map[string]chan struct{}{},
		lastSeq: map[string]int{},
	}
	st := quickfix.NewSettings()
	for _, target := range targets {
		ss := quickfix.NewSessionSettings()
		ss.Set(config.BeginString, o.beginString)
		ss.Set(config.SenderCompID, target)
		ss.Set(config.TargetCompID, a.cfg.SenderCompID)
		ss.Set(config.HeartBtInt, "1")
		ss.Set(config.ReconnectInterval, "100ms")
		ss.Set(config.ResetOnLogon, "N")
		for i, li := range o.lines {
			host, port, err := net.SplitHostPort(a.LineAddr(li))
			if err != nil {
				t.Fatal(err)
			}
			suffix := ""
			if i > 0 {
				suffix = fmt.Sprint(i)
			}
			ss.Set(config.SocketConnectHost+suffix, host)
			ss.Set(config.SocketConnectPort+suffix, port)
		}
		if o.storeDir != "" {
			ss.Set(config.FileStorePath, o.storeDir)
			ss.Set(config.FileStoreSync, "N")
		}
		sid, err := st.AddSession(ss)
		if err != nil {
			t.Fatal(err)
		}
		c.sids[target] = sid
		c.in[target] = make(chan *quickfix.Message, 1<<16)
		c.logons[target] = make(chan struct{}, 16)
	}
	// The initiator's stores need the same lock as the acceptor's: the
	// tests call SendToTarget from their own goroutine.
	c.store = newStores(st, o.storeDir, !o.plain)
	ini, err := quickfix.NewInitiator(c, c.store, st, quickfix.NewNullLogFactory())
	if err != nil {
		t.Fatal(err)
	}
	c.ini = ini
	if err := ini.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ini.Stop)
	return c
}

// quickfix.Application of the test initiator.
func (c *client) OnCreate(quickfix.SessionID) {}
func (c *client) OnLogon(sid quickfix.SessionID) {
	c.logons[sid.SenderCompID] <- struct{}{}
}
func (c *client) OnLogout(quickfix.SessionID)                   {}
func (c *client) ToAdmin(*quickfix.Message, quickfix.SessionID) {}
func (c *client) ToApp(*quickfix.Message, quickfix.SessionID) error {
	return nil
}
func (c *client) FromAdmin(*quickfix.Message, quickfix.SessionID) quickfix.MessageRejectError {
	return nil
}
func (c *client) FromApp(m *quickfix.Message, sid quickfix.SessionID) quickfix.MessageRejectError {
	if seq, err := m.Header.GetInt(tag.MsgSeqNum); err == nil {
		c.mu.Lock()
		c.lastSeq[sid.SenderCompID] = seq
		c.mu.Unlock()
	}
	c.in[sid.SenderCompID] <- m
	return nil
}

// waitLogon waits for the next logon of target's session.
func (c *client) waitLogon(target string) {
	c.t.Helper()
	select {
	case <-c.logons[target]:
	case <-time.After(waitTimeout):
		c.t.Fatalf("%s: no logon", target)
	}
}

func (c *client) send(target string, m *quickfix.Message) {
	c.t.Helper()
	if err := quickfix.SendToTarget(m, c.sids[target]); err != nil {
		c.t.Fatal(err)
	}
}

// next returns the next application message target's session received.
func (c *client) next(target string) *quickfix.Message {
	c.t.Helper()
	select {
	case m := <-c.in[target]:
		return m
	case <-time.After(waitTimeout):
		c.t.Fatalf("%s: no message", target)
		return nil
	}
}

// none checks that target's session received nothing for a while.
func (c *client) none(target string, d time.Duration) {
	c.t.Helper()
	select {
	case m := <-c.in[target]:
		c.t.Fatalf("%s: unexpected %s", target, show(m))
	case <-time.After(d):
	}
}

// expect receives the next message of target and checks fields given as
// "tag=value" ("58~text" for a substring, "!tag" for absent).
func (c *client) expect(target string, want ...string) *quickfix.Message {
	c.t.Helper()
	m := c.next(target)
	if err := matchFields(m, want); err != nil {
		c.t.Fatalf("%s: %v\n got %s", target, err, show(m))
	}
	return m
}

// fixMsg builds a message from "tag=value" fields; 35, 43, 97 and 122 go in
// the header.
func fixMsg(fields ...string) *quickfix.Message {
	m := quickfix.NewMessage()
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		var t int
		fmt.Sscan(k, &t)
		switch quickfix.Tag(t) {
		case tag.MsgType, tag.PossDupFlag, tag.PossResend, tag.OrigSendingTime:
			m.Header.SetString(quickfix.Tag(t), v)
		default:
			m.Body.SetString(quickfix.Tag(t), v)
		}
	}
	return m
}

// nos builds a limit NewOrderSingle for 600519 on XSHG.
func nos(id, side string, qty int, px string, extra ...string) *quickfix.Message {
	f := []string{"35=D", "11=" + id, "55=600519", "207=XSHG", "54=" + side, fmt.Sprintf("38=%d", qty), "40=2", "44=" + px, "1=ACC1"}
	return fixMsg(append(f, extra...)...)
}

// field returns a body or header field ("" when absent).
func field(m *quickfix.Message, t quickfix.Tag) string {
	if s, err := m.Body.GetString(t); err == nil {
		return s
	}
	s, _ := m.Header.GetString(t)
	return s
}

func matchFields(m *quickfix.Message, want []string) error {
	for _, w := range want {
		switch {
		case strings.HasPrefix(w, "!"):
			var t int
			fmt.Sscan(w[1:], &t)
			if v := field(m, quickfix.Tag(t)); v != "" {
				return fmt.Errorf("tag %d = %q, want absent", t, v)
			}
		case strings.Contains(w, "~"):
			k, sub, _ := strings.Cut(w, "~")
			var t int
			fmt.Sscan(k, &t)
			if v := field(m, quickfix.Tag(t)); !strings.Contains(v, sub) {
				return fmt.Errorf("tag %d = %q, want it to contain %q", t, v, sub)
			}
		default:
			k, val, _ := strings.Cut(w, "=")
			var t int
			fmt.Sscan(k, &t)
			if v := field(m, quickfix.Tag(t)); v != val {
				return fmt.Errorf("tag %d = %q, want %q", t, v, val)
			}
		}
	}
	return nil
}

func show(m *quickfix.Message) string {
	if m == nil {
		return "<nil>"
	}
	return strings.ReplaceAll(m.String(), "\x01", "|")
}

// eventually polls cond until it holds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
