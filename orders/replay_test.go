package orders

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"sgw/fix"
	"sgw/journal"
	"sgw/risk"
)

// recoverDay builds a Manager on j (dayManager) and recovers it.
func recoverDay(t *testing.T, j Journal, orders int) (*Manager, int, error) {
	t.Helper()
	m := dayManager(t, j, orders)
	t.Cleanup(m.Close)
	n, err := m.Recover()
	return m, n, err
}

// TestReplayJournalInOrder replays a journal of many batches (the
// decoding runs on several goroutines) and checks every order ends as the
// journal says, in journal order: each fill is applied after its order's
// acceptance and acknowledgement.
func TestReplayJournalInOrder(t *testing.T) {
	const orders = 3 * maxReplayWorkers * replayBatch
	j := dayJournal(t, orders)
	m, n, err := recoverDay(t, j, orders)
	if err != nil || n != len(j) {
		t.Fatalf("Recover = %d, %v; want %d records", n, err, len(j))
	}
	got := m.OrdersFrom(src)
	if len(got) != orders {
		t.Fatalf("%d orders recovered, want %d", len(got), orders)
	}
	for i, o := range got {
		if want := fmt.Sprintf("c%07d", i); o.ClOrdID != want || o.Status != StatusFilled || o.CumQty != 100 {
			t.Fatalf("order %d = %s %s cum %d, want %s filled 100", i, o.ClOrdID, o.Status, o.CumQty, want)
		}
	}
}

// TestReplayJournalFirstError damages records in several batches: the
// error reported is the first damaged record's in journal order, whichever
// worker decoded it, and names its seq.
func TestReplayJournalFirstError(t *testing.T) {
	const orders = 4 * replayBatch
	tests := []struct {
		name    string
		damage  map[int]func(*memJournal, int) // by record index
		wantSeq int
		want    error
	}{
		{name: "bad JSON, later batches bad too", wantSeq: 3*replayBatch + 8, damage: map[int]func(*memJournal, int){
			3*replayBatch + 7: badJSON, 3*replayBatch + 9: badJSON, 10*replayBatch + 1: badJSON,
		}},
		{name: "unknown type before bad JSON", wantSeq: replayBatch + 2, damage: map[int]func(*memJournal, int){
			replayBatch + 1: func(j *memJournal, i int) { (*j)[i].Type = '?' }, 2 * replayBatch: badJSON,
		}},
		{name: "binary body cut short, a bad JSON one later", wantSeq: 2*replayBatch + 3, want: errBody, damage: map[int]func(*memJournal, int){
			2*replayBatch + 2: func(j *memJournal, i int) { (*j)[i].Body = (*j)[i].Body[:len((*j)[i].Body)-3] },
			5 * replayBatch:   badJSON,
		}},
		{name: "refused by the manager before bad JSON", wantSeq: 6, want: ErrUnknownOrder, damage: map[int]func(*memJournal, int){
			5: func(j *memJournal, i int) {
				(*j)[i].Type, (*j)[i].Body = recCancel, []byte(`{"a":"A1","c":"x","g":"nope"}`)
			},
			9: badJSON,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := dayJournal(t, orders)
			for i, f := range tt.damage {
				f(&j, i)
			}
			_, n, err := recoverDay(t, j, orders)
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("journal record %d:", tt.wantSeq)) {
				t.Fatalf("Recover = %v, want an error at journal record %d", err, tt.wantSeq)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Recover = %v, want %v", err, tt.want)
			}
			if n < tt.wantSeq {
				t.Errorf("Recover read %d records, stopping before the damaged one (%d)", n, tt.wantSeq)
			}
		})
	}
}

func badJSON(j *memJournal, i int) { (*j)[i].Body = []byte(`{"a":`) }

// readFailJournal delivers the first at records of its memJournal, then
// fails as a journal whose file cannot be read further.
type readFailJournal struct {
	memJournal
	at int
}

var errRead = errors.New("disk read failed")

func (j readFailJournal) Replay(fn func(journal.Record) error) error {
	for _, r := range j.memJournal[:j.at] {
		if err := fn(r); err != nil {
			return err
		}
	}
	return errRead
}

// TestReplayJournalReadError fails the journal's read after some batches
// were handed to the workers: a damaged record read before the failure is
// still the error reported (it is first in journal order), and with none,
// the read error is.
func TestReplayJournalReadError(t *testing.T) {
	const orders = 4 * replayBatch
	tests := []struct {
		name    string
		bad     int // index of a record with bad JSON, -1 for none
		at      int // records read before the failure
		wantSeq int
	}{
		{name: "bad record in a batch the workers hold", bad: 5, at: replayBatch + 10, wantSeq: 6},
		{name: "bad record in the batch being filled", bad: replayBatch + 3, at: replayBatch + 10, wantSeq: replayBatch + 4},
		{name: "no bad record", bad: -1, at: 2*replayBatch + 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := dayJournal(t, orders)
			if tt.bad >= 0 {
				badJSON(&j, tt.bad)
			}
			_, n, err := recoverDay(t, readFailJournal{j, tt.at}, orders)
			if n != tt.at {
				t.Errorf("Recover read %d records, want %d", n, tt.at)
			}
			if tt.bad < 0 {
				if !errors.Is(err, errRead) {
					t.Fatalf("Recover = %v, want the read error", err)
				}
				return
			}
			if err == nil || errors.Is(err, errRead) || !strings.Contains(err.Error(), fmt.Sprintf("journal record %d:", tt.wantSeq)) {
				t.Fatalf("Recover = %v, want the error of journal record %d", err, tt.wantSeq)
			}
		})
	}
}

// TestReplaySpansDays replays a journal of two trading days into a
// manager built on a third: risk runs through the journal's days as they
// happened, so a client order id used on both days is no duplicate, the
// shares bought on the first day are sellable on the second (T+1), and
// the first day's working order no longer holds cash. A standby that
// applied the first day before the second began (CatchUp) ends the same.
func TestReplaySpansDays(t *testing.T) {
	day1 := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC) // 10:00 in Shanghai
	day2 := day1.Add(24 * time.Hour)
	var j memJournal
	add := func(at time.Time, typ byte, v bodyRecord) {
		body := encodeRecord(v)
		j = append(j, journal.Record{Seq: uint64(len(j)) + 1, Type: typ, Time: at.UnixNano(), Body: body})
	}
	const px = 17000000
	order := func(at time.Time, id, uid string, filled bool) {
		add(at, recNew, &newRec{Account: "A1", ClOrdID: id, Symbol: "600519.SH", Side: risk.Buy, Type: risk.Limit,
			Price: px, Qty: 100, Upstream: "core", Source: src, Time: at, UID: uid})
		er := fix.ExecReport{ClOrdID: uid, OrderID: "v" + uid, ExecID: "n" + uid, ExecType: '0', OrdStatus: '0',
			Symbol: "600519.SH", Side: fix.Side(risk.Buy), Price: px, OrderQty: 100, LeavesQty: 100, SeqNum: len(j) + 1}
		add(at, recExec, &execRec{Account: "A1", Upstream: "core", ER: er})
		if filled {
			er.ExecID, er.ExecType, er.OrdStatus = "f"+uid, 'F', '2'
			er.LastPx, er.LastQty, er.CumQty, er.LeavesQty, er.AvgPx, er.SeqNum = px, 100, 100, 0, px, len(j)+1
			add(at, recExec, &execRec{Account: "A1", Upstream: "core", ER: er})
		}
	}
	order(day1, "c1", "u1", true)                   // bought 100 on day 1
	order(day1.Add(time.Minute), "c2", "u2", false) // working at day 1's close
	firstDay := len(j)
	order(day2, "c1", "u3", false) // c1 again on day 2: working

	check := func(name string, m *Manager) {
		t.Helper()
		a, err := m.Account("A1")
		if err != nil {
			t.Fatal(err)
		}
		var pos risk.PositionState
		for _, p := range a.Positions {
			if p.Symbol == "600519.SH" {
				pos = p
			}
		}
		// 1,000 held from the start and the 100 bought on day 1 are
		// sellable; only day 2's order holds cash.
		if pos.Sellable != 1100 || pos.BoughtToday != 0 || a.OpenOrders != 1 || a.Reserved != 100*px {
			t.Errorf("%s: A1 %+v, position %+v; want 1,100 sellable, none bought today, one working order holding %d", name, a, pos, 100*px)
		}
		if o, ok := m.Get("A1", "c1"); !ok || o.UpstreamID != "u3" || o.Status != StatusNew {
			t.Errorf("%s: c1 = %+v (found %v), want day 2's order, new", name, o, ok)
		}
	}
	cold, _, err := recoverDay(t, j, 3)
	if err != nil {
		t.Fatalf("Recover of two days: %v", err)
	}
	check("full replay", cold)

	g := &growingJournal{recs: j, n: firstDay}
	warm := dayManagerNoUpstream(t, g, 3)
	t.Cleanup(warm.Close)
	if _, err := warm.CatchUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	g.commit(len(j))
	warm.AddUpstream("core", newFakeUpstream())
	if _, err := warm.Recover(); err != nil {
		t.Fatalf("Recover of the standby: %v", err)
	}
	check("standby", warm)
}

// TestRecoverIDsAfterJournalEpoch: the journal holds an upstream id of a
// leader whose clock was an hour ahead of this node's; the ids this
// manager gives after Recover start after that one's epoch, never in it.
func TestRecoverIDsAfterJournalEpoch(t *testing.T) {
	ahead := time.Now().Add(time.Hour)
	uid := "GW" + strconv.FormatInt(ahead.UnixMilli(), 36) + ".7"
	body, err := json.Marshal(newRec{Account: "A1", ClOrdID: "c1", Symbol: "600519.SH", Side: risk.Buy, Type: risk.Limit,
		Price: 17000000, Qty: 100, Upstream: "core", Source: src, Time: ahead, UID: uid})
	if err != nil {
		t.Fatal(err)
	}
	j := memJournal{{Seq: 1, Type: recNew, Time: ahead.UnixNano(), Body: body}}
	m, _, err := recoverDay(t, j, 1)
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	next := m.newUID() // the id New would give the next order
	m.mu.Unlock()
	ep, _, _ := strings.Cut(strings.TrimPrefix(next, "GW"), ".")
	got, err := strconv.ParseInt(ep, 36, 64)
	if err != nil || got <= ahead.UnixMilli() {
		t.Errorf("next upstream id %s (epoch %d, %v); want an epoch after the journal's %d", next, got, err, ahead.UnixMilli())
	}
}
