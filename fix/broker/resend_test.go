package broker

import (
	"net"
	"testing"
	"time"

	"sgw/fix/qfcpp"
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
	p.Send("A", "98=0", "108=30", "554=right")
	if m := p.nextSession(); m.Type() != "A" {
		t.Fatalf("got %s; want the Logon", m)
	}
	if m := p.nextSession(); m.Type() != "2" || m.Get(7) != "1" {
		t.Fatalf("got %s; want a ResendRequest from 1", m)
	}
	p.Send("D", "11=c1", "1=A1", "55=600519", "207=XSHG", "54=1", "40=2", "44=1700.00", "38=100",
		"60="+time.Now().UTC().Format("20060102-15:04:05.000"))
	p.GapFill(1, 3) // the two Logons; not the order, sent as 3
	go p.serve()
	if o := r.nextNew(t); o.ClOrdID != "c1" {
		t.Fatalf("order manager got %+v; want c1", o)
	}
	if m := p.report(); m.Get(11) != "c1" || m.Get(150) != "A" {
		t.Fatalf("report %s; want Pending New of c1", m)
	}
}

// rawEngine is a broker's FIX 4.4 engine written by hand (qfcpp.RawEngine),
// for orderings a real engine produces only by chance; once serve runs,
// application messages it receives go to report. See qfcpp.RawEngine for
// which goroutines may call what.
type rawEngine struct {
	*qfcpp.RawEngine

	t   *testing.T
	app chan qfcpp.Message
}

// dialRawEngine connects to the acceptor; the engine's first message gets
// MsgSeqNum seq. Each read waits up to await.
func dialRawEngine(t *testing.T, r *running, seq int) *rawEngine {
	t.Helper()
	c, err := net.Dial("tcp", r.a.Addr())
	if err != nil {
		t.Fatal(err)
	}
	e := qfcpp.NewRawEngine(t, c, qfcpp.RawConfig{Sender: r.broker, Target: r.gateway, NextSeqNum: seq, ReadTimeout: await})
	t.Cleanup(e.Close)
	return &rawEngine{RawEngine: e, t: t, app: make(chan qfcpp.Message, 16)}
}

// nextSession returns the acceptor's next message, before serve runs.
func (p *rawEngine) nextSession() qfcpp.Message {
	p.t.Helper()
	m, err := p.Read()
	if err != nil {
		p.t.Fatal(err)
	}
	return m
}

// serve answers the session until the connection ends.
func (p *rawEngine) serve() {
	p.Serve(func(m qfcpp.Message) bool {
		if !m.Admin() {
			p.app <- m
		}
		return true
	})
}

// report waits for the next ExecutionReport.
func (p *rawEngine) report() qfcpp.Message {
	p.t.Helper()
	for {
		select {
		case m := <-p.app:
			if m.Type() == "8" {
				return m
			}
		case <-time.After(await):
			p.t.Fatal("no ExecutionReport")
			return qfcpp.Message{}
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
	p.Send("A", "98=0", "108=30", "554=right")
	if m := p.nextSession(); m.Type() != "A" {
		t.Fatalf("got %s; want the Logon", m)
	}
	go p.serve()
	// The order, numbered 2, never arrives.
	p.Lose("D", "11=c1", "1=A1", "55=600519", "207=XSHG", "54=1", "40=2", "44=1700.00", "38=100",
		"60="+time.Now().UTC().Format("20060102-15:04:05.000"))
	p.Send("2", "7=1", "16=0")
	if o := r.nextNew(t); o.ClOrdID != "c1" {
		t.Fatalf("order manager got %+v; want c1", o)
	}
}
