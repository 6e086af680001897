package fix

import (
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
)

// TestUpstreamResetAtLogonKeepsOrdersInDoubt runs a reset of the store
// within the session's period through Run: each Logon carries
// ResetSeqNumFlag=Y (reset_on_logon; a venue's 141=Y in the middle of the
// day resets the store the same way). An order handed before the reset
// can no longer be resent by FIX resend recovery: Handed must not answer
// HandedYes for it at the logon that reset the store, and never HandedNo
// at a later start. Before, the second start answered HandedYes (the
// order manager awaited an answer to a message the reset discarded) and
// the third HandedNo: the order manager sent the order again as a new
// one, and the venue had it twice.
func TestUpstreamResetAtLogonKeepsOrdersInDoubt(t *testing.T) {
	r := newRigWith(t, acceptorOpts{paced: true}, func(c *UpstreamConfig) { c.ResetOnLogon = true })
	r.rec.waitUp(t, 15*time.Second)
	if err := r.upstream().Send(orderN(1)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the venue has c000001", func() bool { return r.acc.hasOrder("c000001") })
	r.stop() // before the order manager journaled its ack, say

	// The third start's logon resets a store that holds no order, only
	// the mark: the mark stays.
	for _, run := range []string{"the start whose logon reset the store", "the start after it", "the third start"} {
		r.start(t)
		r.rec.waitUp(t, 15*time.Second)
		if got := r.upstream().Handed("c000001"); got != HandedUnknown {
			t.Errorf("%s: Handed(c000001) = %s, want HandedUnknown", run, handedNames[got])
		}
		r.stop()
	}
}

// TestUpstreamScheduleEndsOrdersInDoubt: the Upstream's store keeps the
// orders handed before a Reset in doubt only within the period of its
// schedule (UpstreamConfig.Schedule). Reset outside the session's hours
// (a new period: the order manager sends no order of a past day again)
// it forgets them; without a schedule the period never ends.
func TestUpstreamScheduleEndsOrdersInDoubt(t *testing.T) {
	now := time.Now().UTC()
	away := &SessionSchedule{Start: now.Add(time.Hour).Format(time.TimeOnly), End: now.Add(2 * time.Hour).Format(time.TimeOnly)}
	for _, tc := range []struct {
		name     string
		schedule *SessionSchedule
		want     Handed
	}{
		{name: "no schedule", want: HandedUnknown},
		{name: "reset outside the session's hours", schedule: away, want: HandedNo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := UpstreamConfig{Name: "core", SenderCompID: "G", TargetCompID: "V",
				Lines: []LineConfig{{Name: "a", Addr: "127.0.0.1:1"}}, StoreDir: t.TempDir(), Schedule: tc.schedule}
			// open opens the store as Run does, for a new Upstream.
			open := func() (*Upstream, *storeFactory, quickfix.MessageStore) {
				t.Helper()
				u := newTestUpstream(t, cfg, newRecorder())
				settings, err := u.cfg.settings("127.0.0.1:1")
				if err != nil {
					t.Fatal(err)
				}
				f := u.newStores(settings)
				st, err := f.Create(u.sid)
				if err != nil {
					t.Fatal(err)
				}
				return u, f, st
			}
			_, f, st := open()
			if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(1, orderMsg(1)); err != nil {
				t.Fatal(err)
			}
			if err := st.Reset(); err != nil {
				t.Fatal(err)
			}
			if err := f.close(); err != nil {
				t.Fatal(err)
			}
			u, f, _ := open()
			defer f.close()
			if got := u.Handed("ord1"); got != tc.want {
				t.Errorf("Handed(ord1) after the reset = %s, want %s", handedNames[got], handedNames[tc.want])
			}
		})
	}
}
