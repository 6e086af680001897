package fix

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"
)

// TestSendRacingLogoutIsRefusedOrReclaimed: a Send that checks that the
// session is logged on just before the session ends, and queues its
// request just after the logout's reclaim, must not leave the request in
// the queue: the order manager, told by OnSessionDown what came back,
// would count it as in the session's hands through the whole outage,
// with no answer and no time bound, and it would go out after the next
// logon ahead of the requests reclaimed before it. The Send must fail
// with ErrNotLoggedOn or its request come back. The logout runs inside
// Send, between its check and its enqueue (the pacer's enqueuing hook).
func TestSendRacingLogoutIsRefusedOrReclaimed(t *testing.T) {
	gw, up := newCompIDs()
	rec := newRecorder()
	u := newTestUpstream(t, UpstreamConfig{Name: "core", SenderCompID: gw, TargetCompID: up,
		Lines: []LineConfig{{Name: "a", Addr: "127.0.0.1:1"}}, StoreDir: t.TempDir()}, rec)
	rec.resend = u.Send
	u.onLogon()
	if err := u.Send(orderN(1)); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	u.pacer.enqueuing = func() { once.Do(u.onLogout) }
	err := u.Send(orderN(2))
	rec.mu.Lock()
	gave := slices.Concat(rec.gaveBack...)
	rec.mu.Unlock()
	var got []string
	for _, req := range gave {
		id, _ := RequestID(req)
		got = append(got, id)
	}
	t.Logf("Send during the logout: %v; reclaimed %v", err, got)
	switch {
	case err == nil && !slices.Contains(got, orderN(2).ClOrdID):
		t.Fatalf("Send returned nil but its request was not reclaimed (reclaimed %v): queued %d, left %d, it sits in the queue through the outage",
			got, u.Queued(), u.Left())
	case err != nil && !errors.Is(err, ErrNotLoggedOn):
		t.Fatalf("Send: %v; want nil or ErrNotLoggedOn", err)
	}
	if !slices.Contains(got, orderN(1).ClOrdID) {
		t.Fatalf("reclaimed %v; want the request queued before the logout", got)
	}
	if q, l := u.Queued(), u.Left(); q != l {
		t.Fatalf("after the logout: queued %d, left %d; every request must have left (reclaimed)", q, l)
	}
}

// TestUpstreamRefusedSubmitIsReclaimed: a request quickfix refuses when
// the pacer submits it (the session's store could not save it) never
// reaches the upstream. The Upstream ends the session (ErrSubmitFailed),
// the request comes back, reclaimed, ahead of those queued behind it,
// and once the session is up again (the order manager's part, played by
// the recorder) every order reaches the upstream exactly once, in the
// order sent. Before, the refusal was only logged: the request was
// counted as handed to the session and never sent, and the rest went on
// without it.
func TestUpstreamRefusedSubmitIsReclaimed(t *testing.T) {
	gw, up := newCompIDs()
	var mu sync.Mutex
	var arrived []string
	acc := newTestAcceptor(t, gw, up, acceptorOpts{paced: true, onOrder: func(id string) {
		mu.Lock()
		arrived = append(arrived, id)
		mu.Unlock()
	}})
	rec := newRecorder()
	u := newTestUpstream(t, UpstreamConfig{Name: "core", SenderCompID: gw, TargetCompID: up,
		Lines: []LineConfig{{Name: "carrierA", Addr: acc.addr()}}, StoreDir: t.TempDir()}, rec)
	rec.resend = u.Send
	refuse := orderN(2).ClOrdID
	var refused atomic.Bool
	submit := u.pacer.submit
	u.pacer.submit = func(m *quickfix.Message) error {
		if id, _ := m.Body.GetString(tag.ClOrdID); id == refuse && refused.CompareAndSwap(false, true) {
			return errors.New("store: no space left on device")
		}
		return submit(m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- u.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	rec.waitUp(t, 10*time.Second)

	const n = 6
	var ids, later []string
	for i := range n {
		o := orderN(i)
		ids = append(ids, o.ClOrdID)
		switch err := u.Send(o); {
		case errors.Is(err, ErrNotLoggedOn):
			later = append(later, o.ClOrdID) // the session ended meanwhile: sent after the next logon
		case err != nil:
			t.Fatal(err)
		}
	}
	err := rec.waitDown(t, 10*time.Second)
	if !errors.Is(err, ErrSubmitFailed) {
		t.Fatalf("down reason %v; want ErrSubmitFailed", err)
	}
	rec.mu.Lock()
	gave := rec.gaveBack[0]
	rec.mu.Unlock()
	if len(gave) == 0 {
		t.Fatal("nothing reclaimed; want the refused request first")
	}
	if id, _ := RequestID(gave[0]); id != refuse {
		t.Fatalf("reclaimed first %s; want the refused %s", id, refuse)
	}
	t.Logf("reclaimed %d requests; %d refused by Send while the session was down", len(gave), len(later))
	if line := rec.waitUp(t, 10*time.Second); line != "carrierA" {
		t.Errorf("resumed over %q; want carrierA (the line was not at fault)", line)
	}
	for _, id := range later {
		if err := u.Send(orderN(atoiID(t, id))); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "every order acknowledged", func() bool {
		for _, id := range ids {
			if rec.ackCount(id) == 0 {
				return false
			}
		}
		return true
	})
	orders, _, dups := acc.received()
	if orders != n || len(dups) > 0 {
		t.Errorf("the upstream received %d distinct orders, duplicates without PossDup %v; want %d, none", orders, dups, n)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(arrived, ids) {
		t.Errorf("orders arrived in the order %v; want %v", arrived, ids)
	}
	if q, l := u.Queued(), u.Left(); q != l {
		t.Errorf("queued %d, left %d; want all left", q, l)
	}
}
