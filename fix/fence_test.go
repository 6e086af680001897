package fix

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestFenceStopsSending: once the fence refuses (the node lost the
// cluster's leadership), the connection is cut without a Logout and not
// one more byte reaches the upstream: orders queued after the flip never
// arrive, and the session does not come back.
func TestFenceStopsSending(t *testing.T) {
	var fence atomic.Pointer[error]
	r := newRigWith(t, acceptorOpts{paced: true}, func(c *UpstreamConfig) {
		c.Fence = func() error {
			if err := fence.Load(); err != nil {
				return *err
			}
			return nil
		}
	})
	rec := r.rec
	rec.waitUp(t, 10*time.Second)
	for i := range 10 {
		if err := r.upstream().Send(orderN(i)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "ten orders at the upstream", func() bool { o, _, _ := r.acc.received(); return o == 10 })

	deposed := errors.New("deposed")
	fence.Store(&deposed)
	for i := 10; i < 20; i++ {
		if err := r.upstream().Send(orderN(i)); err != nil && !errors.Is(err, ErrNotLoggedOn) {
			t.Fatal(err)
		}
	}
	if err := rec.waitDown(t, 10*time.Second); !errors.Is(err, ErrFenced) {
		t.Fatalf("session down with %v; want ErrFenced", err)
	}
	eventually(t, 10*time.Second, "the upstream sees the connection end", func() bool { return r.acc.logouts.Load() > 0 })
	if o, _, _ := r.acc.received(); o != 10 {
		t.Fatalf("the upstream received %d orders; want the 10 sent before the fence closed", o)
	}
	if n := r.acc.logons.Load(); n != 1 {
		t.Fatalf("the upstream saw %d logons; want 1 (a fenced node never dials again)", n)
	}
}
