package fix

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"
)

// silentLine is a carrier's line to target that can go silent: once
// silenced it passes nothing more either way, reads nothing more from
// the gateway and does not pass on the far end's close (a carrier that
// drops every frame: nothing comes back, not even a reset). Connections
// made while it is silent are accepted and carry nothing.
type silentLine struct {
	ln       net.Listener
	target   string
	silenced chan struct{}
	done     chan struct{}
	accepted atomic.Int64
	once     sync.Once
	mu       sync.Mutex
	conns    []net.Conn
	wg       sync.WaitGroup
}

func newSilentLine(t *testing.T, target string) *silentLine {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &silentLine{ln: ln, target: target, silenced: make(chan struct{}), done: make(chan struct{})}
	l.wg.Add(1)
	go l.accept()
	return l
}

func (l *silentLine) addr() string { return l.ln.Addr().String() }
func (l *silentLine) silence()     { l.once.Do(func() { close(l.silenced) }) }
func (l *silentLine) isSilent() bool {
	select {
	case <-l.silenced:
		return true
	default:
		return false
	}
}

func (l *silentLine) close() {
	close(l.done)
	l.ln.Close()
	l.mu.Lock()
	for _, c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

func (l *silentLine) accept() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.accepted.Add(1)
		up, err := net.Dial("tcp", l.target)
		if err != nil {
			c.Close()
			continue
		}
		l.mu.Lock()
		l.conns = append(l.conns, c, up)
		l.mu.Unlock()
		l.wg.Add(2)
		go l.pipe(up, c)
		go l.pipe(c, up)
	}
}

func (l *silentLine) pipe(dst, src net.Conn) {
	defer l.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		if l.isSilent() {
			<-l.done // read nothing more, pass nothing on, close nothing
			return
		}
		n, err := src.Read(buf)
		if l.isSilent() {
			<-l.done
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			if l.isSilent() {
				<-l.done
				return
			}
			dst.Close()
			src.Close()
			return
		}
	}
}

// TestSilentLineWithFullBufferFailsOver: a line that goes silent while
// the session is busy (the carrier stops taking bytes, so the relay's
// write to it blocks once the socket buffers are full) is dropped by
// quickfix's heartbeat like any silent line, and the session must resume
// over the other line at once. Before, the relay, blocked in its write to
// the carrier, never noticed that quickfix had closed its side: the
// connection was never reported ended (it stayed open, with what it held,
// until Run ended), the line choice stayed on the silent line, and the
// next connection dialed it again; the session came back over the other
// line only after a LogonTimeout more.
func TestSilentLineWithFullBufferFailsOver(t *testing.T) {
	var a *silentLine
	r := newRigWith(t, acceptorOpts{paced: true}, func(c *UpstreamConfig) {
		a = newSilentLine(t, c.Lines[0].Addr)
		t.Cleanup(a.close)
		c.Lines[0].Addr = a.addr()
		c.HeartBtInt = 4 * time.Second // time to fill the buffers before the silence is detected
	})
	rec := r.rec
	if line := rec.waitUp(t, 10*time.Second); line != "carrierA" {
		t.Fatalf("first logon over %q, want carrierA", line)
	}
	a.silence()
	// Orders keep coming while the line is silent, until the session
	// drops: enough to fill the carrier socket's buffers.
	u := r.upstream()
	sent := 0
	for i := 0; ; i++ {
		err := u.Send(orderN(i))
		if errors.Is(err, ErrNotLoggedOn) {
			break
		}
		if errors.Is(err, ErrQueueFull) {
			time.Sleep(time.Millisecond) // back-pressure, not synchronization
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sent++
	}
	t.Logf("at the down: queued %d, left %d, seen on the wire up to %d", u.Queued(), u.Left(), u.pacer.written.Load())
	err := rec.waitDown(t, 30*time.Second)
	if !errors.Is(err, ErrLineSilent) {
		t.Errorf("down reason %v, want ErrLineSilent", err)
	}
	down := time.Now()
	line := rec.waitUp(t, 60*time.Second)
	t.Logf("%d orders sent during the silence; the silent line accepted %d connections, carrierB %d; resumed over %s %v after the down",
		sent, a.accepted.Load(), r.b.Accepted(), line, time.Since(down).Round(time.Millisecond))
	if line != "carrierB" {
		t.Errorf("resumed over %q, want carrierB", line)
	}
	if n := a.accepted.Load(); n != 1 {
		t.Errorf("the silent line was dialed %d times, want once: the session went back to it after it went silent", n)
	}
}

// TestFillWithOddTransactTimeReachesHandler: a venue's fill whose
// TransactTime (60), optional and used by nothing but the journal's copy,
// has a precision quickfix does not parse (centiseconds here) still
// reaches the Handler. Before, the whole ExecutionReport was refused with
// a session-level Reject: its MsgSeqNum consumed, never resent, the fill
// lost to the order manager and to risk (the order shown working until
// a status request happened to reconcile it).
func TestFillWithOddTransactTimeReachesHandler(t *testing.T) {
	gw, up := newCompIDs()
	rec := newRecorder()
	u := newTestUpstream(t, UpstreamConfig{Name: "core", SenderCompID: gw, TargetCompID: up,
		Lines: []LineConfig{{Name: "a", Addr: "127.0.0.1:1"}}, StoreDir: t.TempDir()}, rec)
	for _, ts := range []string{"20260105-01:30:00.12", "20260105-01:30:00.1234", "20260105-01:30"} {
		m := quickfix.NewMessage()
		m.Header.SetField(tag.MsgType, quickfix.FIXString("8"))
		m.Header.SetField(tag.MsgSeqNum, quickfix.FIXInt(7))
		id := "c-" + ts
		for tg, v := range map[quickfix.Tag]string{
			tag.ClOrdID: id, tag.OrderID: "O1", tag.ExecID: "E-" + ts, tag.ExecType: "F", tag.OrdStatus: "2",
			tag.Side: "1", tag.Symbol: "600519", tag.SecurityExchange: "XSHG", tag.LastPx: "1700", tag.LastQty: "100",
			tag.CumQty: "100", tag.LeavesQty: "0", tag.AvgPx: "1700", tag.TransactTime: ts,
		} {
			m.Body.SetField(tg, quickfix.FIXString(v))
		}
		if rej := (app{u}).FromApp(m, u.sid); rej != nil {
			t.Errorf("TransactTime %q: the fill was refused (%v) and never reached the order manager", ts, rej)
			continue
		}
		rec.mu.Lock()
		got := rec.acks[id]
		rec.mu.Unlock()
		if len(got) != 1 || got[0].LastQty != 100 || got[0].ExecType != 'F' {
			t.Errorf("TransactTime %q: handler got %+v", ts, got)
		}
	}
}
