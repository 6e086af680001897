package fix

import (
	"context"
	"net"
	"testing"
	"time"

	"sgw/fix/qfcpp"
)

// rawVenue is a venue's FIX 4.4 acceptor written by hand, for orderings a
// real engine produces only by chance: it accepts one connection, answers
// the gateway's Logon, and once serve runs answers the session as its
// qfcpp.RawEngine does, and a Logout with a Logout. The test's goroutine
// calls accept before anything else; see qfcpp.RawEngine for the rest.
type rawVenue struct {
	*qfcpp.RawEngine // set by accept

	t      *testing.T
	ln     net.Listener
	sender string // the venue's CompID
	target string // the gateway's
}

// newRawVenue listens on port 0. Its cleanup (registered before the
// Upstream's, so it runs after it) silences it and closes its connection.
func newRawVenue(t *testing.T, gateway, venue string) *rawVenue {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	v := &rawVenue{t: t, ln: ln, sender: venue, target: gateway}
	t.Cleanup(func() {
		ln.Close()
		if v.RawEngine != nil {
			v.Close()
		}
	})
	return v
}

// accept takes the gateway's connection and answers its Logon.
func (v *rawVenue) accept() {
	v.t.Helper()
	_ = v.ln.(*net.TCPListener).SetDeadline(time.Now().Add(20 * time.Second))
	c, err := v.ln.Accept()
	if err != nil {
		v.t.Fatal(err)
	}
	v.RawEngine = qfcpp.NewRawEngine(v.t, c, qfcpp.RawConfig{Sender: v.sender, Target: v.target})
	m, err := v.Read()
	if err != nil || m.Type() != "A" {
		v.t.Fatalf("got %v, %v; want the gateway's Logon", m, err)
	}
	v.Send("A", "98=0", "108="+m.Get(108))
}

// serve answers the session until the connection ends or a Logout.
func (v *rawVenue) serve() {
	v.Serve(func(m qfcpp.Message) bool {
		if m.Type() == "5" {
			v.Send("5")
			return false
		}
		return true
	})
}

// TestUpstreamGapBeforeResendRequest: a venue's ExecutionReport is lost on
// the way (a frame the relay discarded as garbled, see InboundConn), and
// the venue's next message is a ResendRequest of its own. quickfix v0.9.11
// serves that ResendRequest and keeps the number it expects, but asks for
// nothing: the fill stayed lost to the order manager until the venue's
// next message, up to HeartBtInt (here 60 s) later. The Upstream now
// follows such a ResendRequest with a TestRequest, whose Heartbeat shows
// the gap at once.
func TestUpstreamGapBeforeResendRequest(t *testing.T) {
	gw, up := newCompIDs()
	v := newRawVenue(t, gw, up)
	rec := newRecorder()
	got := make(chan ExecReport, 16)
	rec.onExec = func(er ExecReport) { got <- er }
	u := newTestUpstream(t, UpstreamConfig{Name: "core", SenderCompID: gw, TargetCompID: up, HeartBtInt: time.Minute,
		Lines: []LineConfig{{Name: "a", Addr: v.ln.Addr().String()}}, StoreDir: t.TempDir()}, rec)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	v.accept()
	go v.serve()
	rec.waitUp(t, 20*time.Second)
	// The fill, numbered 2, never arrives.
	v.Lose("8", "11=c1", "37=O1", "17=E1", "150=F", "39=2", "54=1", "55=600519", "207=XSHG", "31=1700", "32=100",
		"14=100", "151=0", "6=1700", "60="+time.Now().UTC().Format("20060102-15:04:05.000"))
	v.Send("2", "7=1", "16=0")
	select {
	case er := <-got:
		if er.ClOrdID != "c1" || er.ExecType != 'F' || er.LastQty != 100 {
			t.Fatalf("handler got %+v; want the fill of c1", er)
		}
	case <-time.After(20 * time.Second): // well under HeartBtInt
		t.Fatal("the fill lost before the venue's ResendRequest did not reach the handler: nothing asked for it")
	}
}
