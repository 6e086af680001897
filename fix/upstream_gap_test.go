package fix

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

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

// TestUpstreamResendOfDamagedMessageIsCounted: the venue asks for a
// message whose bytes changed in the store after the start (a bit
// flipped on disk). The changed message is never sent (quickfix would
// rebuild its CheckSum: an order with another ClOrdID, quantity or
// price); quickfix drops the session instead, and the venue asks again at
// every logon, so the session stays down. That is counted
// (gateway_fix_store_read_errors_total, alert FIXStoreReadFailed) and
// logged as an error naming the store. Before, quickfix only logged it at
// Info ("error retrieving messages from store"): a session flapping at
// every logon with nothing to say why.
func TestUpstreamResendOfDamagedMessageIsCounted(t *testing.T) {
	gw, up := newCompIDs()
	v := newRawVenue(t, gw, up)
	dir := t.TempDir()
	rec := newRecorder()
	u := newTestUpstream(t, UpstreamConfig{Name: "core", SenderCompID: gw, TargetCompID: up, HeartBtInt: time.Minute,
		Lines: []LineConfig{{Name: "a", Addr: v.ln.Addr().String()}}, StoreDir: dir}, rec)
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
	rec.waitUp(t, 20*time.Second)
	order := orderN(1)
	if err := u.Send(order); err != nil {
		t.Fatal(err)
	}
	var seq string
	for seq == "" {
		m, err := v.Read()
		if err != nil {
			t.Fatalf("venue read: %v", err)
		}
		if m.Type() == "D" {
			seq = m.Get(34)
		}
	}
	body := filepath.Join(dir, storePrefix(u.sid)+".body")
	b, err := os.ReadFile(body)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("11="+order.ClOrdID))
	if i < 0 {
		t.Fatalf("order %s not in the store's message file", order.ClOrdID)
	}
	b[i+len("11=")+len(order.ClOrdID)-1] ^= 0x01 // c000001 -> c000000
	if err := os.WriteFile(body, b, 0o600); err != nil {
		t.Fatal(err)
	}
	v.Send("2", "7="+seq, "16=0")
	for {
		m, err := v.Read()
		if err != nil {
			break // the session dropped
		}
		if m.Type() == "D" {
			t.Fatalf("resent %s (ClOrdID %s); want nothing resent of a changed message", m.Get(34), m.Get(11))
		}
	}
	if n := testutil.ToFloat64(u.storeReads); n < 1 {
		t.Fatalf("gateway_fix_store_read_errors_total = %v after a resend that met a changed message; want it counted", n)
	}
}
