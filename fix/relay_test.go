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

// TestRelayDialsOnlyWhenAllowed: the relay asks whether it may dial once
// quickfix's Logon is whole. A connection it may not dial yet, or that
// closes before its Logon, is closed without touching the carrier's line
// and reported as not dialed, not as a dial failure; the next one,
// allowed, is relayed, its Logon first.
func TestRelayDialsOnlyWhenAllowed(t *testing.T) {
	carrier, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer carrier.Close()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := carrier.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	l := &line{cfg: LineConfig{Name: "carrierA", Addr: carrier.Addr().String()}, m: m.line("core", "carrierA")}
	o := &relayOwnerFunc{may: make(chan error, 1), ended: make(chan error, 3)}
	r, err := newRelay([]*line{l}, nil, 5*time.Second, o, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	r.serve()
	defer r.close()
	notDialed := func(c net.Conn, want error) {
		t.Helper()
		select {
		case err := <-o.ended:
			if !errors.Is(err, want) || !errors.Is(err, errNotDialed) || strings.Contains(err.Error(), "dial failure") {
				t.Fatalf("reported with %v, want %v", err, want)
			}
		case c := <-accepted:
			c.Close()
			t.Fatal("dialed")
		}
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a failure, not a wait
		if _, err := bufio.NewReader(c).ReadByte(); !errors.Is(err, io.EOF) {
			t.Fatalf("quickfix's connection was kept open (%v)", err)
		}
	}
	connect := func(first []byte) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", r.addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Write(first); err != nil {
			t.Fatal(err)
		}
		return c
	}

	// Closed before its Logon is whole: never asked, not dialed.
	half := testFrame("35=A\x01108=30\x01")
	c := connect(half[:len(half)/2])
	c.(*net.TCPConn).CloseWrite()
	notDialed(c, errNoLogon)

	// Refused once the Logon is here: the relay closes it.
	o.may <- errPastPeriod
	notDialed(connect(testFrame("35=A\x01553=refused\x01")), errPastPeriod)

	// Allowed: relayed, the Logon first, then what follows. The carrier's
	// first connection must be this one.
	o.may <- nil
	logon := testFrame("35=A\x01553=allowed\x01")
	c = connect(logon[:10])
	if _, err := c.Write(logon[10:]); err != nil {
		t.Fatal(err)
	}
	next := testFrame("35=0\x01")
	if _, err := c.Write(next); err != nil {
		t.Fatal(err)
	}
	remote := <-accepted
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
// the connection is reported as not dialed.
func TestRelayAsksTheFenceBeforeDialing(t *testing.T) {
	carrier, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer carrier.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := carrier.Accept(); err == nil {
			accepted <- c
		}
	}()
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	l := &line{cfg: LineConfig{Name: "carrierA", Addr: carrier.Addr().String()}, m: m.line("core", "carrierA")}
	o := &relayOwnerFunc{may: make(chan error, 1), ended: make(chan error, 1)}
	r, err := newRelay([]*line{l}, nil, 5*time.Second, o, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	// Leading when the connection comes, deposed from the next question on.
	firstAsked := make(chan struct{})
	var asked atomic.Int32
	r.fence = func() error {
		if asked.Add(1) == 1 {
			close(firstAsked)
			return nil
		}
		return errors.New("deposed")
	}
	r.serve()
	defer r.close()
	o.may <- nil
	c, err := net.Dial("tcp", r.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-firstAsked
	if _, err := c.Write(testFrame("35=A\x01")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-o.ended:
		if !errors.Is(err, ErrFenced) || !strings.Contains(err.Error(), "dial failure") {
			t.Fatalf("reported with %v, want ErrFenced as a line not dialed", err)
		}
	case rc := <-accepted:
		rc.Close()
		t.Fatal("the relay dialed the venue after its fence failed")
	}
}
