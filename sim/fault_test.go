package sim

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// loggedIn dials src, logs in from seq and checks the accepted sequence.
func loggedIn(t *testing.T, s *Sim, src Source, seq uint64) *client {
	t.Helper()
	c := dial(t, s.Addr(src))
	c.login("", "", "", seq)
	if got := c.accepted("SIM"); got != seq {
		t.Fatalf("%s: accepted %d, want %d", src, got, seq)
	}
	return c
}

func TestStopStartSource(t *testing.T) {
	s := startSim(t, testConfig())
	p := loggedIn(t, s, Primary, 1)
	b := loggedIn(t, s, Backup, 1)
	p.sequenced(s.Next() - 1)
	b.sequenced(s.Next() - 1)

	if err := s.StopSource(Primary); err != nil {
		t.Fatal(err)
	}
	p.closed()
	// While stopped, connections are closed before any login.
	c := dial(t, s.Addr(Primary))
	c.login("", "", "", 1)
	c.closed()
	if st := s.Stats(Primary); st.Refused == 0 {
		t.Fatalf("stats %+v", st)
	}
	// The backup carries on.
	if err := s.Step(30); err != nil {
		t.Fatal(err)
	}
	last := s.Next() - 1
	b.sequenced(last)

	if err := s.StartSource(Primary); err != nil {
		t.Fatal(err)
	}
	p2 := loggedIn(t, s, Primary, 5)
	if got, want := p2.sequenced(last), s.Messages(5, last); !reflect.DeepEqual(got, want) {
		t.Fatalf("after restart got %d messages, want %d", len(got), len(want))
	}
	if err := s.StopSource(Source(7)); !errors.Is(err, ErrBadSource) {
		t.Fatalf("bad source: %v", err)
	}
}

func TestDropRange(t *testing.T) {
	s := startSim(t, testConfig())
	p := loggedIn(t, s, Primary, 1)
	b := loggedIn(t, s, Backup, 1)
	p.sequenced(s.Next() - 1)
	b.sequenced(s.Next() - 1)

	n := s.Next()
	from, to := n+3, n+7
	if err := s.DropRange(Primary, from, to); err != nil {
		t.Fatal(err)
	}
	if err := s.Step(20); err != nil {
		t.Fatal(err)
	}
	last := s.Next() - 1
	if last < to+5 {
		t.Fatalf("only %d messages", last-n+1)
	}
	all := s.Messages(n, last)
	var want [][]byte
	for i, m := range all {
		if seq := n + uint64(i); seq < from || seq > to {
			want = append(want, m)
		}
	}
	if got := p.sequenced(last); !reflect.DeepEqual(got, want) {
		t.Fatalf("primary got %d messages, want %d (all but %d-%d)", len(got), len(want), from, to)
	}
	if got := b.sequenced(last); !reflect.DeepEqual(got, all) {
		t.Fatalf("backup got %d messages, want all %d", len(got), len(all))
	}
	// A re-login that requests the gap gets it from the record.
	r := loggedIn(t, s, Primary, from)
	if got, want := r.sequenced(last), s.Messages(from, last); !reflect.DeepEqual(got, want) {
		t.Fatalf("re-login got %d messages, want %d", len(got), len(want))
	}
	if st := s.Stats(Primary); st.Dropped != to-from+1 {
		t.Fatalf("primary dropped %d, want %d", st.Dropped, to-from+1)
	}
	if st := s.Stats(Backup); st.Dropped != 0 {
		t.Fatalf("backup dropped %d", st.Dropped)
	}
	if err := s.DropRange(Primary, 9, 3); !errors.Is(err, ErrConfig) {
		t.Fatalf("reversed range: %v", err)
	}
}

// TestDelay checks that a delayed source still delivers everything, in
// order; how late it is is not asserted.
func TestDelay(t *testing.T) {
	s := startSim(t, testConfig())
	if err := s.Delay(Backup, 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	b := loggedIn(t, s, Backup, 1)
	for range 3 {
		if err := s.Step(10); err != nil {
			t.Fatal(err)
		}
	}
	last := s.Next() - 1
	if got, want := b.sequenced(last), s.Messages(1, last); !reflect.DeepEqual(got, want) {
		t.Fatalf("delayed source got %d messages, want %d", len(got), len(want))
	}
	if err := s.Delay(Backup, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Delay(Backup, -time.Second); !errors.Is(err, ErrConfig) {
		t.Fatalf("negative delay: %v", err)
	}
}

func TestCloseEndsEverything(t *testing.T) {
	s, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Run(t.Context()) }()
	c := loggedIn(t, s, Primary, 1)
	c.sequenced(s.Next() - 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	c.closed()
	if err := s.Run(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
