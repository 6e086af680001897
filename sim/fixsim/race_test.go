package fixsim

import (
	"net"
	"strings"
	"testing"

	"github.com/quickfixgo/quickfix"

	"sgw/refdata"
	"sgw/sim"
	"sgw/sim/match"
)

// racingSim is a Sim whose next cancel or replace is preceded by before:
// a stand-in for the synthetic flow taking the Sim's mutex between the
// venue's last look at the change log and its request.
type racingSim struct {
	*sim.Sim
	before func()
}

func (r *racingSim) race() {
	if f := r.before; f != nil {
		r.before = nil
		f()
	}
}

func (r *racingSim) CancelAt(ref uint64) (match.CancelResult, uint64, error) {
	r.race()
	return r.Sim.CancelAt(ref)
}

func (r *racingSim) Amend(ref uint64, price refdata.Price, open, qty int64) (match.Result, uint64, error) {
	r.race()
	return r.Sim.Amend(ref, price, open, qty)
}

// TestRequestRacingFill: an execution of a resting FIX order that the
// engine makes just before the order's cancel or replace is reported (and
// counted in CumQty) before the answer, and a replace leaves OrderQty less
// the whole CumQty open.
func TestRequestRacingFill(t *testing.T) {
	for _, tc := range []struct {
		name    string
		request *quickfix.Message
		want    [][]string // messages to CORE after b1's New
		resting int64      // b1's open quantity in the engine afterwards
	}{
		{
			name:    "cancel",
			request: fixMsg("35=F", "11=b1c", "41=b1", "54=1", "55=600519"),
			want: [][]string{
				{"35=8", "11=b1", "150=F", "39=1", "32=200", "14=200", "151=300"},
				{"35=8", "11=b1c", "41=b1", "150=4", "39=4", "14=200", "151=0", "6=1700.00"},
			},
		},
		{
			name:    "replace new price",
			request: fixMsg("35=G", "11=b1r", "41=b1", "54=1", "38=400", "44=1699.00"),
			want: [][]string{
				{"35=8", "11=b1", "150=F", "39=1", "32=200", "14=200", "151=300"},
				{"35=8", "11=b1r", "41=b1", "150=5", "39=1", "38=400", "14=200", "151=200"},
			},
			resting: 200,
		},
		{
			name:    "replace smaller",
			request: fixMsg("35=G", "11=b1r", "41=b1", "54=1", "38=400", "44=1700.00"),
			want: [][]string{
				{"35=8", "11=b1", "150=F", "39=1", "32=200", "14=200", "151=300"},
				{"35=8", "11=b1r", "41=b1", "150=5", "39=1", "38=400", "14=200", "151=200"},
			},
			resting: 200,
		},
		{
			name:    "replace larger",
			request: fixMsg("35=G", "11=b1r", "41=b1", "54=1", "38=600", "44=1700.00"),
			want: [][]string{
				{"35=8", "11=b1", "150=F", "39=1", "32=200", "14=200", "151=300"},
				{"35=8", "11=b1r", "41=b1", "150=5", "39=1", "38=600", "14=200", "151=400"},
			},
			resting: 400,
		},
		{
			name:    "replace below the fills",
			request: fixMsg("35=G", "11=b1r", "41=b1", "54=1", "38=200", "44=1699.00"),
			want: [][]string{
				{"35=8", "11=b1", "150=F", "39=1", "32=200", "14=200", "151=300"},
				{"35=9", "11=b1r", "41=b1", "434=2", "39=1"},
			},
			resting: 300,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := &racingSim{Sim: newSim(t)}
			cfg, err := Config{TargetCompIDs: []string{"CORE"}}.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			v := newVenue(rs, cfg, testLogger())
			var out []*quickfix.Message
			v.send = func(_ *party, m *quickfix.Message) error {
				out = append(out, m)
				return nil
			}
			p := v.parties["CORE"]
			if rej := v.handle(p, nos("b1", "1", 500, "1700.00")); rej != nil {
				t.Fatal(rej)
			}
			if len(out) != 1 || matchFields(out[0], []string{"150=0", "151=500"}) != nil {
				t.Fatalf("no New report: %v", out)
			}
			out = nil
			rs.before = func() {
				if _, err := rs.Submit(match.Order{Symbol: "600519.SH", Side: match.Sell, Price: 17000000, Qty: 200, Owner: "SIM"}); err != nil {
					t.Fatal(err)
				}
			}
			if rej := v.handle(p, tc.request); rej != nil {
				t.Fatal(rej)
			}
			for i, want := range tc.want {
				if i >= len(out) {
					t.Fatalf("report %d missing, want %v", i, want)
				}
				if err := matchFields(out[i], want); err != nil {
					t.Fatalf("report %d: %v\n got %s", i, err, show(out[i]))
				}
			}
			if len(out) > len(tc.want) {
				t.Fatalf("unexpected report %s", show(out[len(tc.want)]))
			}
			bids, _ := rs.Orders("600519.SH")
			var open int64
			for _, b := range bids {
				open += b.Qty
			}
			if open != tc.resting {
				t.Fatalf("engine has %d open, want %d", open, tc.resting)
			}
			o := p.orders["b1"]
			if o.leaves != tc.resting || o.cum+o.leaves > o.qty {
				t.Fatalf("venue: leaves %d cum %d qty %d, engine open %d", o.leaves, o.cum, o.qty, open)
			}
		})
	}
}

// flushers counts the goroutines running fixConn.flush.
func flushers() int {
	n := 0
	for _, g := range liveGoroutines() {
		if strings.Contains(g, "(*fixConn).flush") {
			n++
		}
	}
	return n
}

// TestOfferWhileStoppingLeavesNoFlusher: a connection handed to a
// generation that is stopping (a Restart or Close racing the accept loop)
// is closed and its flusher goroutine ends.
func TestOfferWhileStoppingLeavesNoFlusher(t *testing.T) {
	before := flushers()
	g := newGeneration(&Acceptor{})
	g.stopping = true
	local, remote := net.Pipe()
	defer remote.Close()
	if g.offer(local) {
		t.Fatal("a stopping generation took a connection")
	}
	if _, err := remote.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection not closed")
	}
	eventually(t, "the flusher to end", func() bool { return flushers() <= before })
}
