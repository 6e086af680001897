package fix

import (
	"errors"
	"testing"
	"time"
)

// TestLineChoice drives the line policy with connection outcomes.
func TestLineChoice(t *testing.T) {
	broken := errors.New("reset")
	type step struct {
		loggedOn   bool  // the connection logged on before ending
		err        error // carrier failure; nil: quickfix closed it
		dialFailed bool
		logout     bool          // the upstream sent Logout
		after      time.Duration // time since the first refusal in a run
		want       int           // line picked next
	}
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"session lost after logon moves on", []step{{loggedOn: true, err: broken, want: 1}, {loggedOn: true, want: 0}}},
		{"dial failure moves on", []step{{dialFailed: true, err: broken, want: 1}, {dialFailed: true, err: broken, want: 0}}},
		{"logon timeout moves on", []step{{want: 1}}},
		{"refused logon stays, then moves on", []step{
			{err: broken, want: 0},
			{err: broken, after: time.Second, want: 0},
			{err: broken, after: 4 * time.Second, want: 1},
		}},
		{"logout before logon counts as refusal", []step{{logout: true, want: 0}}},
		{"not dialed for its store's period: the line stays", []step{
			{err: broken, want: 0},
			{err: errPastPeriod, after: 4 * time.Second, want: 0},
			{err: errPastPeriod, after: 4 * time.Second, want: 0},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := &Upstream{cfg: UpstreamConfig{LogonTimeout: 3 * time.Second}, lines: []*line{{index: 0}, {index: 1}}, current: -1}
			for i, s := range c.steps {
				l := u.pickLine()
				u.connStarted(l)
				if s.loggedOn {
					u.connLoggedOn = true
				}
				if s.logout {
					u.onUpstreamLogout("bye")
				}
				if !u.rejectedFrom.IsZero() {
					u.rejectedFrom = time.Now().Add(-s.after)
				}
				u.connEnded(l, s.err, s.dialFailed)
				if got := u.pickLine(); got != s.want {
					t.Fatalf("step %d: next line %d, want %d", i, got, s.want)
				}
			}
		})
	}
}
