package broker

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
)

// TestOrderAheadOfLogonGapFill logs a broker on with a MsgSeqNum above the
// one the session expects (its first Logon was refused) and has it send an
// order at once, ahead of its answer to the session's ResendRequest, an
// answer that does not cover the order: QuickFIX/Go's initiator does this
// when the order is queued while it handles the ResendRequest (the rare
// failure of TestRefusedLogonKeepsSequenceNumbers). The order must reach
// the order manager without waiting for the broker's next heartbeat.
// quickfix v0.9.11 drops every message that arrives ahead of the gap fill
// in a resend begun by the Logon (the resend state it enters then stashes
// such messages in a copy it discards), so the gap showed only at the
// broker's next message, up to HeartBtInt (here 30 s) later.
func TestOrderAheadOfLogonGapFill(t *testing.T) {
	r := runAcceptor(t, nil)
	p := dialRawEngine(t, r, 2) // 1 was the refused Logon
	p.send("A", "98=0", "108=30", "554=right")
	if m := p.nextSession(); !m.IsMsgTypeOf("A") {
		t.Fatalf("got %s; want the Logon", m)
	}
	if m := p.nextSession(); !m.IsMsgTypeOf("2") || field(m, tag.BeginSeqNo) != "1" {
		t.Fatalf("got %s; want a ResendRequest from 1", m)
	}
	p.send("D", "11=c1", "1=A1", "55=600519", "207=XSHG", "54=1", "40=2", "44=1700.00", "38=100",
		"60="+time.Now().UTC().Format("20060102-15:04:05.000"))
	p.gapFill(1, 3) // the two Logons; not the order, sent as 3
	go p.serve()
	if o := r.nextNew(t); o.ClOrdID != "c1" {
		t.Fatalf("order manager got %+v; want c1", o)
	}
	if m := p.report(); field(m, tag.ClOrdID) != "c1" || field(m, tag.ExecType) != "A" {
		t.Fatalf("report %s; want Pending New of c1", m)
	}
}

// rawEngine is a broker's FIX 4.4 engine written by hand, for orderings a
// real engine produces only by chance. It numbers what send sends, keeps
// it, and once serve runs answers the session as an engine must: a
// TestRequest with a Heartbeat, a ResendRequest with its application
// messages again (PossDupFlag) and gap fills for the rest. Application
// messages it receives go to report.
type rawEngine struct {
	t      *testing.T
	c      net.Conn
	sender string // the broker's CompID
	target string // the gateway's

	mu    sync.Mutex
	next  int                       // MsgSeqNum of the next message sent
	quiet bool                      // the test is over: write nothing
	sent  map[int]*quickfix.Message // by MsgSeqNum
	in    []byte                    // unread input; read by one goroutine at a time

	app chan *quickfix.Message
}

// dialRawEngine connects to the acceptor; the engine's first message gets
// MsgSeqNum seq.
func dialRawEngine(t *testing.T, r *running, seq int) *rawEngine {
	t.Helper()
	c, err := net.Dial("tcp", r.a.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &rawEngine{t: t, c: c, sender: r.broker, target: r.gateway, next: seq,
		sent: map[int]*quickfix.Message{}, app: make(chan *quickfix.Message, 16)}
	// Before the connection closes (cleanups run last first), serve stops
	// writing: an answer it is still sending must not fail the test.
	t.Cleanup(func() {
		p.mu.Lock()
		p.quiet = true
		p.mu.Unlock()
	})
	return p
}

// send sends a message of the given type, fields "tag=value", with the
// next MsgSeqNum. Any goroutine.
func (p *rawEngine) send(msgType string, fields ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.message(msgType, p.next, fields...)
	p.sent[p.next] = m
	p.next++
	p.write(m)
}

// gapFill sends a SequenceReset-GapFill numbered from, to newSeqNo.
func (p *rawEngine) gapFill(from, newSeqNo int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.writeGapFill(from, newSeqNo)
}

// writeGapFill is gapFill with p.mu held.
func (p *rawEngine) writeGapFill(from, newSeqNo int) {
	m := p.message("4", from, "123=Y", "36="+strconv.Itoa(newSeqNo))
	m.Header.SetString(tag.PossDupFlag, "Y")
	m.Header.SetString(tag.OrigSendingTime, field(m, tag.SendingTime))
	p.write(m)
}

// message builds a message; p.mu is held.
func (p *rawEngine) message(msgType string, seq int, fields ...string) *quickfix.Message {
	m := quickfix.NewMessage()
	m.Header.SetString(tag.BeginString, "FIX.4.4")
	m.Header.SetString(tag.MsgType, msgType)
	m.Header.SetString(tag.SenderCompID, p.sender)
	m.Header.SetString(tag.TargetCompID, p.target)
	m.Header.SetInt(tag.MsgSeqNum, seq)
	m.Header.SetString(tag.SendingTime, time.Now().UTC().Format("20060102-15:04:05.000"))
	for _, f := range fields {
		k, v := splitField(p.t, f)
		m.Body.SetString(k, v)
	}
	return m
}

// write writes m; p.mu is held.
func (p *rawEngine) write(m *quickfix.Message) {
	if p.quiet {
		return
	}
	if _, err := p.c.Write(m.Bytes()); err != nil {
		p.t.Errorf("write: %v", err)
	}
}

// read returns the acceptor's next message, or an error when the
// connection ends or nothing comes within await.
func (p *rawEngine) read() (*quickfix.Message, error) {
	_ = p.c.SetReadDeadline(time.Now().Add(await))
	buf := make([]byte, 4<<10)
	for {
		n, garbled, err := fix.CheckFrame(p.in, fix.DefaultMaxFrameBytes)
		switch {
		case err != nil:
			return nil, err
		case garbled != "":
			return nil, errors.New("garbled frame from the acceptor: " + garbled)
		case n > 0:
			m := quickfix.NewMessage()
			err := quickfix.ParseMessage(m, bytes.NewBuffer(append([]byte(nil), p.in[:n]...)))
			p.in = p.in[n:]
			return m, err
		}
		k, err := p.c.Read(buf)
		p.in = append(p.in, buf[:k]...)
		if err != nil {
			return nil, err
		}
	}
}

// nextSession returns the acceptor's next message, before serve runs.
func (p *rawEngine) nextSession() *quickfix.Message {
	p.t.Helper()
	m, err := p.read()
	if err != nil {
		p.t.Fatal(err)
	}
	return m
}

// serve answers the session until the connection ends.
func (p *rawEngine) serve() {
	for {
		m, err := p.read()
		if err != nil {
			return
		}
		switch mt, _ := m.MsgType(); mt {
		case "1":
			p.send("0", "112="+field(m, tag.TestReqID))
		case "2":
			begin, _ := strconv.Atoi(field(m, tag.BeginSeqNo))
			end, _ := strconv.Atoi(field(m, tag.EndSeqNo))
			p.resend(begin, end)
		case "0", "4", "5", "3", "A":
		default:
			p.app <- m
		}
	}
}

// resend answers a ResendRequest for begin through end (0: all).
func (p *rawEngine) resend(begin, end int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if end == 0 || end >= p.next {
		end = p.next - 1
	}
	gap := 0 // the first number of a run to gap fill, or 0
	for seq := begin; seq <= end; seq++ {
		m := p.sent[seq]
		if m == nil || isAdmin(m) {
			if gap == 0 {
				gap = seq
			}
			continue
		}
		if gap != 0 {
			p.writeGapFill(gap, seq)
			gap = 0
		}
		again := quickfix.NewMessage()
		m.CopyInto(again)
		again.Header.SetString(tag.PossDupFlag, "Y")
		again.Header.SetString(tag.OrigSendingTime, field(m, tag.SendingTime))
		again.Header.SetString(tag.SendingTime, time.Now().UTC().Format("20060102-15:04:05.000"))
		p.write(again)
	}
	if gap != 0 {
		p.writeGapFill(gap, end+1)
	}
}

func isAdmin(m *quickfix.Message) bool {
	mt, _ := m.MsgType()
	return len(mt) == 1 && strings.Contains("0A12345", mt)
}

// report waits for the next ExecutionReport.
func (p *rawEngine) report() *quickfix.Message {
	p.t.Helper()
	for {
		select {
		case m := <-p.app:
			if m.IsMsgTypeOf("8") {
				return m
			}
		case <-time.After(await):
			p.t.Fatal("no ExecutionReport")
			return nil
		}
	}
}

// TestGapBeforeResendRequest: a broker's order is lost on the way (a
// frame the acceptor discarded as garbled, see doc.go), and the broker's
// next message is a ResendRequest of its own (it missed one of the
// gateway's reports). quickfix v0.9.11 serves that ResendRequest and
// keeps the number it expects, but asks for nothing: the order stayed
// lost until the broker's next message, up to HeartBtInt (here 30 s)
// later. The acceptor now follows such a ResendRequest with a
// TestRequest, whose Heartbeat shows the gap at once. Found by
// TestBrokerAgainstModel.
func TestGapBeforeResendRequest(t *testing.T) {
	r := runAcceptor(t, nil)
	p := dialRawEngine(t, r, 1)
	p.send("A", "98=0", "108=30", "554=right")
	if m := p.nextSession(); !m.IsMsgTypeOf("A") {
		t.Fatalf("got %s; want the Logon", m)
	}
	go p.serve()
	// The order, numbered 2, never arrives.
	p.mu.Lock()
	p.sent[p.next] = p.message("D", p.next, "11=c1", "1=A1", "55=600519", "207=XSHG", "54=1", "40=2", "44=1700.00", "38=100",
		"60="+time.Now().UTC().Format("20060102-15:04:05.000"))
	p.next++
	p.mu.Unlock()
	p.send("2", "7=1", "16=0")
	if o := r.nextNew(t); o.ClOrdID != "c1" {
		t.Fatalf("order manager got %+v; want c1", o)
	}
}
