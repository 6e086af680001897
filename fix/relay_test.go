package fix

import (
	"bufio"
	"errors"
	"net"
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

// relayOwnerFunc is a relayOwner on one line whose mayDial answers may.
type relayOwnerFunc struct {
	may   chan error
	ended chan error
}

func (o *relayOwnerFunc) pickLine() int   { return 0 }
func (o *relayOwnerFunc) connStarted(int) {}
func (o *relayOwnerFunc) mayDial() error  { return <-o.may }
func (o *relayOwnerFunc) connEnded(_ int, err error, dialFailed bool) {
	if dialFailed {
		err = errors.Join(err, errors.New("reported as a dial failure"))
	}
	o.ended <- err
}

// TestRelayDialsOnlyWhenAllowed: a connection the owner may not dial yet
// is closed without touching the carrier's line and reported with the
// owner's reason, not as a dial failure; the next one, allowed, is
// relayed.
func TestRelayDialsOnlyWhenAllowed(t *testing.T) {
	carrier, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer carrier.Close()
	accepted := make(chan net.Conn, 2)
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
	o := &relayOwnerFunc{may: make(chan error, 1), ended: make(chan error, 2)}
	r, err := newRelay([]*line{l}, nil, 5*time.Second, o, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	r.serve()
	defer r.close()

	// Refused: the relay closes quickfix's connection.
	o.may <- errPastPeriod
	refused, err := net.Dial("tcp", r.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer refused.Close()
	if _, err := refused.Write([]byte("1")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-o.ended:
		if !errors.Is(err, errPastPeriod) || err.Error() != errPastPeriod.Error() {
			t.Fatalf("the refused connection was reported with %v, want %v alone", err, errPastPeriod)
		}
	case c := <-accepted:
		c.Close()
		t.Fatal("the refused connection was dialed")
	}
	if _, err := bufio.NewReader(refused).ReadByte(); err == nil {
		t.Fatal("the refused connection was kept open")
	}

	// Allowed: relayed. The carrier's first connection must be this one.
	o.may <- nil
	allowed, err := net.Dial("tcp", r.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer allowed.Close()
	if _, err := allowed.Write([]byte("2")); err != nil {
		t.Fatal(err)
	}
	remote := <-accepted
	defer remote.Close()
	b, err := bufio.NewReader(remote).ReadByte()
	if err != nil || b != '2' {
		t.Fatalf("the carrier's first connection carried %q (%v), want the allowed one's 2", b, err)
	}
}
