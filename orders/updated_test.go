package orders

import (
	"testing"
	"time"
)

// TestUpdatedNeverGoesBack: an order's Updated, the `time` of its views
// on the WebSocket orders channel, moves forward with every change even
// when the clock stamping the change is behind the one that stamped the
// last. So it is on a cluster node that took over: an order the last
// leader took keeps that leader's stamp (its journal record's time), and
// the node's own clock may be behind it. A client drops a view of an
// earlier time than the one it shows, as older (docs/PROTOCOL.md): before,
// the web page left the order pending_new through its ack and fills,
// until the node's clock passed the last leader's stamp. The steps must
// also survive a float64 (a JS number: 256 ns apart in this century).
func TestUpdatedNeverGoesBack(t *testing.T) {
	e := newEnv(t, t.TempDir())
	if _, err := e.m.New(buy("u1", 300)); err != nil {
		t.Fatal(err)
	}
	e.core.wait(t, 1)
	o, _ := e.m.Get("A1", "u1")
	last := o.Updated
	e.advance(-time.Hour)
	for i, er := range []struct {
		execType, status  byte
		last, cum, leaves int64
	}{{'0', '0', 0, 0, 300}, {'F', '1', 100, 100, 200}, {'F', '1', 100, 200, 100}} {
		e.m.OnExecReport("core", e.er("u1", er.execType, er.status, er.last, er.cum, er.leaves, "x"+string(rune('a'+i))))
		evs := e.ev.wait(t, i+2) // the accepted event, then one per report
		got := evs[len(evs)-1].Order.Updated
		if float64(got.UnixNano()) <= float64(last.UnixNano()) {
			t.Fatalf("report %d (%c): the order's time %d is not after its last change's %d", i, er.execType, got.UnixNano(), last.UnixNano())
		}
		if o, _ := e.m.Get("A1", "u1"); !o.Updated.Equal(got) {
			t.Fatalf("report %d: the order's Updated %v, its event's %v", i, o.Updated, got)
		}
		last = got
	}
}
