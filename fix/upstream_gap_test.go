package fix

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"
)

// rawVenue is a venue's FIX 4.4 acceptor written by hand, for orderings a
// real engine produces only by chance: it accepts one connection, numbers
// what send sends and keeps it, and once serve runs answers the session as
// an engine must: a TestRequest with a Heartbeat, a ResendRequest with its
// application messages again (PossDupFlag) and gap fills for the rest, a
// Logout with a Logout. send and the serve goroutine may run at once.
type rawVenue struct {
	t      *testing.T
	ln     net.Listener
	sender string // the venue's CompID
	target string // the gateway's

	mu    sync.Mutex
	c     net.Conn
	next  int                       // MsgSeqNum of the next message sent
	quiet bool                      // the test is over: write nothing
	sent  map[int]*quickfix.Message // by MsgSeqNum
	in    []byte                    // unread input; read by one goroutine at a time
}

// newRawVenue listens on port 0. Its cleanup (registered before the
// Upstream's, so it runs after it) silences it and closes its connection.
func newRawVenue(t *testing.T, gateway, venue string) *rawVenue {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	v := &rawVenue{t: t, ln: ln, sender: venue, target: gateway, next: 1, sent: map[int]*quickfix.Message{}}
	t.Cleanup(func() {
		v.mu.Lock()
		v.quiet = true
		c := v.c
		v.mu.Unlock()
		ln.Close()
		if c != nil {
			c.Close()
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
	v.mu.Lock()
	v.c = c
	v.mu.Unlock()
	m, err := v.read()
	if err != nil || !m.IsMsgTypeOf("A") {
		v.t.Fatalf("got %v, %v; want the gateway's Logon", m, err)
	}
	v.send("A", "98=0", "108="+rawField(m, tag.HeartBtInt))
}

// send sends a message of the given type, fields "tag=value", with the
// next MsgSeqNum.
func (v *rawVenue) send(msgType string, fields ...string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := v.message(msgType, v.next, fields...)
	v.sent[v.next] = m
	v.next++
	v.write(m)
}

// lose numbers and keeps a message as send does, but does not write it:
// a frame lost on the way (the relay discards a garbled one).
func (v *rawVenue) lose(msgType string, fields ...string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.sent[v.next] = v.message(msgType, v.next, fields...)
	v.next++
}

// message builds a message; v.mu is held.
func (v *rawVenue) message(msgType string, seq int, fields ...string) *quickfix.Message {
	m := quickfix.NewMessage()
	m.Header.SetString(tag.BeginString, "FIX.4.4")
	m.Header.SetString(tag.MsgType, msgType)
	m.Header.SetString(tag.SenderCompID, v.sender)
	m.Header.SetString(tag.TargetCompID, v.target)
	m.Header.SetInt(tag.MsgSeqNum, seq)
	m.Header.SetString(tag.SendingTime, time.Now().UTC().Format("20060102-15:04:05.000"))
	for _, f := range fields {
		k, val, ok := strings.Cut(f, "=")
		n, err := strconv.Atoi(k)
		if !ok || err != nil {
			v.t.Fatalf("bad field %q", f)
		}
		m.Body.SetString(quickfix.Tag(n), val)
	}
	return m
}

// write writes m; v.mu is held.
func (v *rawVenue) write(m *quickfix.Message) {
	if v.quiet {
		return
	}
	if _, err := v.c.Write(m.Bytes()); err != nil {
		v.t.Errorf("venue write: %v", err)
	}
}

// read returns the gateway's next message, or an error when the
// connection ends.
func (v *rawVenue) read() (*quickfix.Message, error) {
	buf := make([]byte, 4<<10)
	for {
		n, garbled, err := CheckFrame(v.in, DefaultMaxFrameBytes)
		switch {
		case err != nil:
			return nil, err
		case garbled != "":
			return nil, errors.New("garbled frame from the gateway: " + garbled)
		case n > 0:
			m := quickfix.NewMessage()
			err := quickfix.ParseMessage(m, bytes.NewBuffer(append([]byte(nil), v.in[:n]...)))
			v.in = v.in[n:]
			return m, err
		}
		k, err := v.c.Read(buf)
		v.in = append(v.in, buf[:k]...)
		if err != nil {
			return nil, err
		}
	}
}

// serve answers the session until the connection ends.
func (v *rawVenue) serve() {
	for {
		m, err := v.read()
		if err != nil {
			return
		}
		switch mt, _ := m.MsgType(); mt {
		case "1":
			v.send("0", "112="+rawField(m, tag.TestReqID))
		case "2":
			begin, _ := strconv.Atoi(rawField(m, tag.BeginSeqNo))
			end, _ := strconv.Atoi(rawField(m, tag.EndSeqNo))
			v.resend(begin, end)
		case "5":
			v.send("5")
			return
		}
	}
}

// resend answers a ResendRequest for begin through end (0: all).
func (v *rawVenue) resend(begin, end int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if end == 0 || end >= v.next {
		end = v.next - 1
	}
	gap := 0 // the first number of a run to gap fill, or 0
	fill := func(to int) {
		m := v.message("4", gap, "123=Y", "36="+strconv.Itoa(to))
		m.Header.SetString(tag.PossDupFlag, "Y")
		m.Header.SetString(tag.OrigSendingTime, rawField(m, tag.SendingTime))
		v.write(m)
		gap = 0
	}
	for seq := begin; seq <= end; seq++ {
		m := v.sent[seq]
		if m == nil || isAdminMsg(m) {
			if gap == 0 {
				gap = seq
			}
			continue
		}
		if gap != 0 {
			fill(seq)
		}
		again := quickfix.NewMessage()
		m.CopyInto(again)
		again.Header.SetString(tag.PossDupFlag, "Y")
		again.Header.SetString(tag.OrigSendingTime, rawField(m, tag.SendingTime))
		again.Header.SetString(tag.SendingTime, time.Now().UTC().Format("20060102-15:04:05.000"))
		v.write(again)
	}
	if gap != 0 {
		fill(end + 1)
	}
}

func isAdminMsg(m *quickfix.Message) bool {
	mt, _ := m.MsgType()
	return len(mt) == 1 && strings.Contains("0A12345", mt)
}

func rawField(m *quickfix.Message, t quickfix.Tag) string {
	if s, err := m.Header.GetString(t); err == nil {
		return s
	}
	s, _ := m.Body.GetString(t)
	return s
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
	v.lose("8", "11=c1", "37=O1", "17=E1", "150=F", "39=2", "54=1", "55=600519", "207=XSHG", "31=1700", "32=100",
		"14=100", "151=0", "6=1700", "60="+time.Now().UTC().Format("20060102-15:04:05.000"))
	v.send("2", "7=1", "16=0")
	select {
	case er := <-got:
		if er.ClOrdID != "c1" || er.ExecType != 'F' || er.LastQty != 100 {
			t.Fatalf("handler got %+v; want the fill of c1", er)
		}
	case <-time.After(20 * time.Second): // well under HeartBtInt
		t.Fatal("the fill lost before the venue's ResendRequest did not reach the handler: nothing asked for it")
	}
}
