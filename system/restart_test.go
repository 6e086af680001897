package system

import (
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestKill9MidStream kills the gateway process (SIGKILL: no shutdown at
// all) while orders stream in at 500/s, restarts it on the same journal
// and FIX stores, and checks that every order the client heard accepted —
// and every other order the journal holds — reached the venue exactly
// once, with nothing refused.
func TestKill9MidStream(t *testing.T) {
	v := startVenue(t)
	gw := startChild(t, v)
	tok := token(t, v.cfg)
	tr := newTrader(t, gw.base, tok)
	waitUntil(t, "the core session up", 30*time.Second, func() bool { return v.fix.LoggedOn("SGW-CORE") })
	ids := tr.stream("k", 400, 500, func() { gw.kill(t) })
	<-tr.done

	tr2, more := tradeAgain(t, v, tok, "k2", 20)
	checkExactlyOnce(t, v, append(ids, more...), nil, tr, tr2)
}

// tradeAgain starts a new gateway process on the venue's journal and
// stores, sends n more orders through it and waits until they work.
func tradeAgain(t *testing.T, v *venue, tok, prefix string, n int) (*trader, []string) {
	t.Helper()
	gw := startChild(t, v)
	tr := newTrader(t, gw.base, tok)
	ids := tr.stream(prefix, n, 50, nil)
	tr.waitFor("the new orders working", func() bool {
		for _, id := range ids {
			if tr.final[id] != "new" {
				return false
			}
		}
		return true
	})
	return tr, ids
}

// TestKill9AfterTwoLineOutage: both carrier lines are cut, orders keep
// coming and are accepted (held for the session), the gateway is killed,
// the lines come back, and a new gateway sends every one of them once.
func TestKill9AfterTwoLineOutage(t *testing.T) {
	v := startVenue(t)
	gw := startChild(t, v)
	tok := token(t, v.cfg)
	tr := newTrader(t, gw.base, tok)
	waitUntil(t, "the core session up", 30*time.Second, func() bool { return v.fix.LoggedOn("SGW-CORE") })
	v.fix.CutLine(0)
	v.fix.CutLine(1)
	ids := tr.stream("o", 50, 200, nil)
	tr.waitFor("the 50 orders accepted during the outage", func() bool {
		for _, id := range ids {
			if tr.accepted[id] == 0 {
				return false
			}
		}
		return true
	})
	gw.kill(t)
	for _, id := range ids {
		if fresh, _ := v.fix.Seen(id); fresh != 0 {
			t.Fatalf("%s reached the venue during the outage", id)
		}
	}
	v.fix.RestoreLine(0)
	v.fix.RestoreLine(1)
	gw2 := startChild(t, v)
	tr2 := newTrader(t, gw2.base, tok)
	tr2.waitFor("the held orders working", func() bool {
		n := 0
		for _, id := range ids {
			if tr2.final[id] == "new" {
				n++
			}
		}
		return n == len(ids)
	})
	checkExactlyOnce(t, v, ids, nil, tr, tr2)
}

// TestSIGTERMMidStream stops the gateway with SIGTERM while orders stream
// in: it stops taking orders, sends what it accepted, waits for the
// answers, exits 0; a new gateway finds nothing stranded.
func TestSIGTERMMidStream(t *testing.T) {
	v := startVenue(t)
	gw := startChild(t, v)
	tok := token(t, v.cfg)
	tr := newTrader(t, gw.base, tok)
	waitUntil(t, "the core session up", 30*time.Second, func() bool { return v.fix.LoggedOn("SGW-CORE") })
	var exit error
	ids := tr.stream("s", 400, 500, func() { exit = gw.term(t) })
	if exit != nil {
		t.Fatalf("the gateway exited with %v after SIGTERM\n%s", exit, clip(gw.stderr.String()))
	}
	<-tr.done
	if st := websocket.CloseStatus(tr.closeErr); st != websocket.StatusGoingAway {
		t.Errorf("the client's connection ended with %v (status %d), want 1001 going away", tr.closeErr, st)
	}
	// Everything accepted was sent before the gateway stopped.
	uids, _ := journaled(t, v.cfg)
	for _, id := range ids {
		if uid, ok := uids[id]; ok {
			if fresh, _ := v.fix.Seen(uid); fresh != 1 {
				t.Errorf("%s: accepted but reached the venue %d times before the gateway stopped", id, fresh)
			}
		}
	}
	tr2, more := tradeAgain(t, v, tok, "s2", 10)
	checkExactlyOnce(t, v, append(ids, more...), []string{"orders.stopping"}, tr, tr2)
}
