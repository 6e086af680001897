package risk

import (
	"math"
	"slices"
	"strings"
	"time"
)

// Comparing the Checker with the model, and replaying its journal.

// propState is what a Checker shows of all accounts.
type propState struct {
	accts []AccountState
	open  []OpenOrder
}

// capture returns the checker's state, or nil when !want.
func (s *propSim) capture(want bool) *propState {
	if !want {
		return nil
	}
	st := &propState{open: s.c.OpenOrders("")}
	for _, id := range s.acctIDs {
		a, err := s.c.Snapshot(id)
		if err != nil {
			s.t.Fatal(err)
		}
		st.accts = append(st.accts, a)
	}
	return st
}

func (st *propState) equal(o *propState) bool {
	if len(st.accts) != len(o.accts) || !slices.Equal(st.open, o.open) {
		return false
	}
	for i := range st.accts {
		a, b := st.accts[i], o.accts[i]
		if a.ID != b.ID || a.Cash != b.Cash || a.Reserved != b.Reserved || a.OpenOrders != b.OpenOrders || a.Killed != b.Killed ||
			!slices.Equal(a.Positions, b.Positions) {
			return false
		}
	}
	return true
}

// unchanged fails if the checker's state differs from before (nil: not
// captured).
func (s *propSim) unchanged(before *propState, what string) {
	if before == nil {
		return
	}
	if after := s.capture(true); !before.equal(after) {
		s.t.Errorf("%s changed the state:\nbefore %+v\nafter  %+v", what, *before, *after)
	}
}

// openOrders is the model's list of working orders of an account ("":
// all), in acceptance order.
func (s *propSim) openOrders(acct string) []OpenOrder {
	var out []OpenOrder
	for _, o := range s.orders {
		if o.done || acct != "" && o.acct.id != acct {
			continue
		}
		out = append(out, s.openOrder(o))
	}
	return out
}

// openOrder describes a working model order as OpenOrders does: its
// current terms.
func (s *propSim) openOrder(o *mOrder) OpenOrder {
	return OpenOrder{Account: o.acct.id, Session: o.session, ClOrdID: o.cur, Symbol: s.instr[o.in].sym,
		Side: o.side, Price: o.price, LeavesQty: max(o.qty-o.cum, 0)}
}

// compare checks the invariants and the whole state against the model.
func (s *propSim) compare() {
	if s.c.DayDate() != s.day {
		s.t.Errorf("day %d, model %d", s.c.DayDate(), s.day)
	}
	for _, id := range s.acctIDs {
		a := s.accts[id]
		st, err := s.c.Snapshot(id)
		if err != nil {
			s.t.Fatal(err)
		}
		reserved := s.reservedCash(a)
		switch {
		case !a.huge:
			if got := int64(st.Cash) + int64(st.Reserved); got != a.cash {
				s.t.Errorf("%s: available %s + reserved %s = %d, but start + proceeds - costs = %d", id, st.Cash, st.Reserved, got, a.cash)
			}
		case a.cash < 0 && st.Cash >= 0 || a.cash > 0 && st.Cash <= 0:
			// Beyond int64: it must saturate, not wrap.
			s.t.Errorf("%s: available cash %d wrapped; start + proceeds - costs is beyond int64 (%d)", id, st.Cash, a.cash)
		}
		if int64(st.Reserved) != reserved {
			s.t.Errorf("%s: reserved %s, working buys hold %d", id, st.Reserved, reserved)
		}
		open := len(s.openOrders(id))
		if st.OpenOrders != open {
			s.t.Errorf("%s: %d open orders, model %d", id, st.OpenOrders, open)
		}
		if k := s.killAll || a.killed; st.Killed != k {
			s.t.Errorf("%s: killed %v, model %v", id, st.Killed, k)
		}
		var want []PositionState
		for i := range s.instr {
			p := a.pos[i]
			if p == nil {
				continue
			}
			held := s.reservedShares(a, i)
			if total := p.overnight + p.today; total != a.shares[i] {
				s.t.Fatalf("model: %s %s: %d shares, flows %d", id, s.instr[i].sym, total, a.shares[i])
			}
			if p.overnight == 0 && p.today == 0 && held == 0 {
				continue
			}
			want = append(want, PositionState{Symbol: s.instr[i].sym, Sellable: p.overnight - held, Reserved: held, BoughtToday: p.today})
		}
		slices.SortFunc(want, func(x, y PositionState) int { return strings.Compare(x.Symbol, y.Symbol) })
		for _, p := range st.Positions {
			if got := p.Sellable + p.Reserved + p.BoughtToday; got != a.shares[s.sym(p.Symbol)] {
				s.t.Errorf("%s %s: sellable %d + held %d + bought today %d = %d, but start + buys - sells = %d",
					id, p.Symbol, p.Sellable, p.Reserved, p.BoughtToday, got, a.shares[s.sym(p.Symbol)])
			}
		}
		if !slices.Equal(st.Positions, want) {
			s.t.Errorf("%s: positions %+v, model %+v", id, st.Positions, want)
		}
		if !a.huge && int64(st.Cash) != s.avail(a) {
			s.t.Errorf("%s: available %s, model %d", id, st.Cash, s.avail(a))
		}
	}
	if got, want := s.c.OpenOrders(""), s.openOrders(""); !slices.Equal(got, want) {
		s.t.Errorf("open orders %+v, model %+v", got, want)
	}
}

// replay runs the journal through the Restore methods and the callbacks
// on a fresh Checker, whose clock is years later, changing day where the
// live one did, and compares the states. Two runs in three the replaying
// Checker has another day's reference data (every previous close lower,
// or higher where limit-up times the board maximum still fits), as a
// gateway restarted the morning after the stocks moved: its replay must
// end as the live run did all the same.
func (s *propSim) replay() {
	cfg := s.cfg
	if move := s.r.IntN(3); move > 0 {
		cfg.Instruments = slices.Clone(cfg.Instruments)
		for i := range cfg.Instruments {
			in, pi := &cfg.Instruments[i], s.instr[i]
			prev := in.PrevClose * 7 / 10 / pi.tick * pi.tick
			if up := in.PrevClose * 13 / 10 / pi.tick * pi.tick; move == 2 && int64(up)*(100+int64(pi.board.BandPercent()))/100 < math.MaxInt64/2/pi.maxQty {
				prev = up
			}
			in.PrevClose = prev
		}
	}
	rc, err := New(cfg, NewManualClock(at("2031-03-02 20:00")))
	if err != nil {
		s.t.Fatal(err)
	}
	if s.r.IntN(2) == 0 {
		rc.ReplayFromDate(s.startDay)
	} else {
		rc.ReplayFrom(at(monday + " 08:00"))
	}
	resv := map[*Reservation]*Reservation{}
	for n, e := range s.journal {
		var err error
		switch e.kind {
		case "day":
			if e.expire {
				d := time.Date(int(e.date/10000), time.Month(e.date/100%100), int(e.date%100), 9, 0, 0, 0, cst)
				rc.RolloverExpiring(d)
			} else {
				rc.RolloverTo(e.date)
			}
			continue
		case "new":
			r, rej := rc.RestoreNew(e.o)
			if rej != nil {
				s.t.Fatalf("replay %d: RestoreNew %+v: %v", n, e.o, rej)
			}
			resv[e.r] = r
			continue
		case "replace":
			r, rej := rc.RestoreReplace(e.orig, e.o)
			if rej != nil {
				s.t.Fatalf("replay %d: RestoreReplace %s %+v: %v", n, e.orig, e.o, rej)
			}
			resv[e.r] = r
			continue
		case "cancel":
			if rej := rc.RestoreCancel(e.x); rej != nil {
				s.t.Fatalf("replay %d: RestoreCancel %+v: %v", n, e.x, rej)
			}
			continue
		case "onfill":
			err = rc.OnFill(resv[e.r], e.price, e.qty)
		case "onlatefill":
			err = rc.OnLateFill(resv[e.r], e.price, e.qty)
		case "done":
			err = rc.OnDone(resv[e.r], e.qty)
		case "amend":
			err = rc.OnTradeAmended(resv[e.r], e.amend)
		case "replaced":
			err = rc.OnReplaced(resv[e.r])
		case "replace_rejected":
			err = rc.OnReplaceRejected(resv[e.r])
		}
		if errString(err) != e.err {
			s.t.Fatalf("replay %d: %s: %v, live %s", n, e.kind, err, e.err)
		}
	}
	for _, id := range s.acctIDs {
		live, _ := s.c.Snapshot(id)
		got, _ := rc.Snapshot(id)
		live.Killed, got.Killed = false, false // not restored
		if !(&propState{accts: []AccountState{live}}).equal(&propState{accts: []AccountState{got}}) {
			s.t.Errorf("replay: %s: %+v, live %+v", id, got, live)
		}
	}
	if got, live := rc.OpenOrders(""), s.c.OpenOrders(""); !slices.Equal(got, live) {
		s.t.Errorf("replay: open orders %+v, live %+v", got, live)
	}
	if rc.DayDate() != s.c.DayDate() {
		s.t.Errorf("replay: day %d, live %d", rc.DayDate(), s.c.DayDate())
	}
}

func rejCode(rej *Reject) string {
	if rej == nil {
		return ""
	}
	return rej.Code
}

func orAccepted(code string) string {
	if code == "" {
		return "accepted"
	}
	return code
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
