package fix

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMayDialWaitsForThePeriodsStore: a session with a schedule is dialed
// only once its store belongs to the period now, as quickfix decides it;
// a store created in End's second (quickfix resets it at its next check)
// is of the past period.
func TestMayDialWaitsForThePeriodsStore(t *testing.T) {
	now := time.Now()
	// The period began 23 hours ago and ends in an hour, one second
	// before the next begins.
	start := now.Add(time.Hour).Truncate(time.Second)
	wrap := &SessionSchedule{Start: start.UTC().Format(time.TimeOnly), End: start.Add(-time.Second).UTC().Format(time.TimeOnly)}
	for _, c := range []struct {
		name   string
		sc     *SessionSchedule
		period time.Time
		want   error
	}{
		{"no schedule", nil, now.Add(-48 * time.Hour), nil},
		{"a store of this period", wrap, now.Add(-time.Hour), nil},
		{"a store of the period's first second", wrap, start.Add(-24*time.Hour + 100*time.Millisecond), nil},
		{"a store of the past period", wrap, now.Add(-23*time.Hour - 30*time.Minute), errPastPeriod},
		{"a store created in End's second", wrap, start.Add(-24*time.Hour - time.Second + 200*time.Millisecond), errPastPeriod},
		{"no period known", wrap, time.Time{}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := &Upstream{cfg: UpstreamConfig{Schedule: c.sc}}
			if !c.period.IsZero() {
				u.period.Store(c.period.UnixNano())
			}
			if err := u.mayDial(); !errors.Is(err, c.want) || (err == nil) != (c.want == nil) {
				t.Fatalf("mayDial() = %v, want %v", err, c.want)
			}
		})
	}
}

// relayOwnerFunc is a relayOwner on one line whose mayDial answers what
// the test queued in may.
type relayOwnerFunc struct {
	may   chan error
	ended chan error
}

func (o *relayOwnerFunc) pickLine() int   { return 0 }
func (o *relayOwnerFunc) connStarted(int) {}
func (o *relayOwnerFunc) mayDial() error {
	select {
	case err := <-o.may:
		return err
	default:
		return errors.New("asked with no answer queued")
	}
}
func (o *relayOwnerFunc) connEnded(_ int, err error, dialFailed bool) {
	if dialFailed {
		err = errors.Join(err, errors.New("reported as a dial failure"))
	}
	o.ended <- err
}

// testFrame is a whole FIX message for the relay's frame scanner, which
// does not check checksums; it has no MsgSeqNum (no pacer to tell).
func testFrame(body string) []byte {
	return fmt.Appendf(nil, "8=FIX.4.4\x019=%d\x01%s10=000\x01", len(body), body)
}

// relayRig is a relay on one line to a test carrier, with a
// relayOwnerFunc; accepted receives the carrier's connections.
type relayRig struct {
	r        *relay
	o        *relayOwnerFunc
	accepted chan net.Conn
}

// newRelayRig starts the rig's relay, asking fence (nil: none).
func newRelayRig(t *testing.T, fence func() error) *relayRig {
	t.Helper()
	carrier, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { carrier.Close() })
	rr := &relayRig{accepted: make(chan net.Conn, 3), o: &relayOwnerFunc{may: make(chan error, 1), ended: make(chan error, 3)}}
	go func() {
		for {
			c, err := carrier.Accept()
			if err != nil {
				return
			}
			rr.accepted <- c
		}
	}()
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	l := &line{cfg: LineConfig{Name: "carrierA", Addr: carrier.Addr().String()}, m: m.line("core", "carrierA")}
	if rr.r, err = newRelay([]*line{l}, nil, 5*time.Second, rr.o, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	rr.r.fence = fence
	rr.r.serve()
	t.Cleanup(rr.r.close)
	return rr
}

// connect connects to the relay as quickfix does and writes first.
func (rr *relayRig) connect(t *testing.T, first []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", rr.r.addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if len(first) > 0 {
		if _, err := c.Write(first); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// notDialed checks that the relay reported its connection ended with
// want, as a line not tried (dial failure: as a line that could not be
// dialed), before any connection to the carrier.
func (rr *relayRig) notDialed(t *testing.T, want error, dialFailure bool) {
	t.Helper()
	select {
	case err := <-rr.o.ended:
		if !errors.Is(err, want) || strings.Contains(err.Error(), "dial failure") != dialFailure {
			t.Fatalf("reported with %v, want %v (as a dial failure: %v)", err, want, dialFailure)
		}
	case c := <-rr.accepted:
		c.Close()
		t.Fatal("the relay dialed the carrier")
	}
}

// TestRelayDialsOnlyWhenAllowed: the relay asks whether it may dial once
// quickfix's Logon is whole. A connection it may not dial yet, or that
// closes before its Logon, is closed without touching the carrier's line
// and reported as not dialed, not as a dial failure; the next one,
// allowed, is relayed, its Logon first.
func TestRelayDialsOnlyWhenAllowed(t *testing.T) {
	rr := newRelayRig(t, nil)
	closed := func(c net.Conn) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a failure, not a wait
		if _, err := bufio.NewReader(c).ReadByte(); !errors.Is(err, io.EOF) {
			t.Fatalf("quickfix's connection was kept open (%v)", err)
		}
	}

	// Closed before its Logon is whole: never asked, not dialed.
	half := testFrame("35=A\x01108=30\x01")
	c := rr.connect(t, half[:len(half)/2])
	c.(*net.TCPConn).CloseWrite()
	rr.notDialed(t, errNoLogon, false)
	closed(c)

	// Refused once the Logon is here: the relay closes it.
	rr.o.may <- errPastPeriod
	c = rr.connect(t, testFrame("35=A\x01553=refused\x01"))
	rr.notDialed(t, errPastPeriod, false)
	closed(c)

	// Allowed: relayed, the Logon first, then what follows. The carrier's
	// first connection must be this one.
	rr.o.may <- nil
	logon := testFrame("35=A\x01553=allowed\x01")
	c = rr.connect(t, logon[:10])
	next := testFrame("35=0\x01")
	if _, err := c.Write(append(logon[10:], next...)); err != nil {
		t.Fatal(err)
	}
	remote := <-rr.accepted
	defer remote.Close()
	want := append(append([]byte(nil), logon...), next...)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(remote, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the carrier's first connection carried %q (%v), want %q", got, err, want)
	}
}

// TestRelayAsksTheFenceBeforeDialing: the fence is asked again once the
// Logon is here, just before the dial (the wait for the Logon may be
// long): a node deposed meanwhile opens no connection to the venue, and
// the connection is reported as a line that could not be dialed.
func TestRelayAsksTheFenceBeforeDialing(t *testing.T) {
	// Leading when the connection comes, deposed from the next question on.
	firstAsked := make(chan struct{})
	var asked atomic.Int32
	rr := newRelayRig(t, func() error {
		if asked.Add(1) == 1 {
			close(firstAsked)
			return nil
		}
		return errors.New("deposed")
	})
	rr.o.may <- nil
	c := rr.connect(t, nil)
	<-firstAsked
	if _, err := c.Write(testFrame("35=A\x01")); err != nil {
		t.Fatal(err)
	}
	rr.notDialed(t, ErrFenced, true)
}
