package orders

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sgw/fix"
	"sgw/journal"
	"sgw/refdata"
	"sgw/risk"
)

// recoverDay builds a Manager on j (dayManager) and recovers it.
func recoverDay(t *testing.T, j Journal, orders int, opts ...func(*risk.Config)) (*Manager, int, error) {
	t.Helper()
	m := dayManager(t, j, orders, opts...)
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
// the first day's working order no longer holds cash (the exchange
// calendar) or still works and holds it (always open: that venue never
// closes; but in a journal written before day records it expires, as
// those versions did live). A standby that applied the first day before
// the second began (CatchUp) ends the same.
func TestReplaySpansDays(t *testing.T) {
	for _, tc := range []struct {
		name     string
		schedule risk.ScheduleConfig
		dayRecs  bool // the journal holds day records
		open     int  // A1's working orders after the two days
	}{
		{"calendar", risk.ScheduleConfig{}, true, 1},
		{"calendar/before day records", risk.ScheduleConfig{}, false, 1},
		{"always_open", risk.ScheduleConfig{AlwaysOpen: true}, true, 2},
		{"always_open/before day records", risk.ScheduleConfig{AlwaysOpen: true}, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) { replaySpansDays(t, tc.schedule, tc.dayRecs, tc.open) })
	}
}

func replaySpansDays(t *testing.T, schedule risk.ScheduleConfig, dayRecs bool, open int) {
	day1 := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC) // Tuesday 10:00 in Shanghai
	day2 := day1.Add(24 * time.Hour)
	calendar := func(c *risk.Config) { c.Schedule = schedule }
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
	day := func(at time.Time) {
		if dayRecs {
			y, m, d := at.In(time.FixedZone("CST", 8*3600)).Date()
			add(at, recDay, &dayRec{Date: int64(y*10000 + int(m)*100 + d)})
		}
	}
	day(day1)
	order(day1, "c1", "u1", true)                   // bought 100 on day 1
	order(day1.Add(time.Minute), "c2", "u2", false) // working at day 1's close
	firstDay := len(j)
	day(day2)
	order(day2, "c1", "u3", false) // c1 again on day 2: working

	check := func(name string, m *Manager) {
		t.Helper()
		a, pos := a1(t, m)
		// 1,000 held from the start and the 100 bought on day 1 are
		// sellable; day 2's order holds cash, and day 1's if it works on.
		if pos.Sellable != 1100 || pos.BoughtToday != 0 || a.OpenOrders != open || a.Reserved != refdata.Price(open)*100*px {
			t.Errorf("%s: A1 %+v, position %+v; want 1,100 sellable, none bought today, %d working orders holding %d",
				name, a, pos, open, refdata.Price(open)*100*px)
		}
		if o, ok := m.Get("A1", "c1"); !ok || o.UpstreamID != "u3" || o.Status != StatusNew {
			t.Errorf("%s: c1 = %+v (found %v), want day 2's order, new", name, o, ok)
		}
	}
	cold, _, err := recoverDay(t, j, 3, calendar)
	if err != nil {
		t.Fatalf("Recover of two days: %v", err)
	}
	check("full replay", cold)

	g := &growingJournal{recs: j, n: firstDay}
	warm := dayManagerNoUpstream(t, g, 3, calendar)
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

// clockJournal is an in-memory journal that stamps its records with clk's
// time (the file journal stamps the wall clock's), each durable at once.
type clockJournal struct {
	mu   sync.Mutex
	clk  *risk.ManualClock
	recs memJournal
}

func (j *clockJournal) AppendAsync(typ byte, body []byte, done func(uint64, error)) error {
	j.mu.Lock()
	seq := uint64(len(j.recs)) + 1
	j.recs = append(j.recs, journal.Record{Seq: seq, Type: typ, Time: j.clk.Now().UnixNano(), Body: slices.Clone(body)})
	j.mu.Unlock()
	done(seq, nil)
	return nil
}

func (j *clockJournal) Replay(fn func(journal.Record) error) error {
	j.mu.Lock()
	recs := slices.Clone(j.recs)
	j.mu.Unlock()
	return recs.Replay(fn)
}

// calendarRuns returns a function that starts a run (an env, recovered,
// with opts applied) on journal j, its risk on the exchange calendar and
// both its clocks clk's: each call after the first is a restart on the
// same journal.
func calendarRuns(t *testing.T, clk *risk.ManualClock, j Journal) func(opts ...envOpt) *env {
	return scheduleRuns(t, clk, j, risk.ScheduleConfig{})
}

// scheduleRuns is calendarRuns on risk schedule sched.
func scheduleRuns(t *testing.T, clk *risk.ManualClock, j Journal, sched risk.ScheduleConfig) func(opts ...envOpt) *env {
	cfg := riskConfig()
	cfg.Schedule = sched
	return func(opts ...envOpt) *env {
		rc, err := risk.New(cfg, clk)
		if err != nil {
			t.Fatal(err)
		}
		return newEnv(t, t.TempDir(), append([]envOpt{func(e *env, c *Config) {
			e.rc, e.jrnl = rc, j
			c.Clock = clk.Now
		}}, opts...)...)
	}
}

// TestReplayChangesDayWhereLiveDid: live, risk's day changes at the first
// request after midnight, so a report that comes after midnight and before
// it (a fill the venue reports late, the morning's recovery answer) is the
// old day's; a replay changes day at the journal's day record, where live
// did, and ends the same, also over a journal written before day records.
// By the records' times it changed at the report: the order expired
// first, its fill refused, 100 shares fewer than live.
func TestReplayChangesDayWhereLiveDid(t *testing.T) {
	clk := risk.NewManualClock(time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)) // Tuesday 10:00 in Shanghai
	cj := &clockJournal{clk: clk}
	start := calendarRuns(t, clk, cj)
	position := func(m *Manager) risk.PositionState {
		_, p := a1(t, m)
		return p
	}
	live := start()
	live.working("w1", 200)
	clk.Set(time.Date(2026, 12, 1, 16, 10, 0, 0, time.UTC)) // Wednesday 00:10
	live.m.OnExecReport("core", live.er("w1", 'F', '1', 100, 100, 100, "f1"))
	clk.Set(time.Date(2026, 12, 2, 1, 30, 0, 0, time.UTC)) // Wednesday 09:30
	if _, err := live.m.New(buy("x1", 100)); err != nil {
		t.Fatal(err)
	}
	want := position(live.m)
	if want.Sellable != 1100 || want.BoughtToday != 0 {
		t.Fatalf("live: %+v, want Tuesday's 100 bought sellable on Wednesday", want)
	}
	if got := position(start().m); got != want {
		t.Errorf("replayed: %+v, live: %+v", got, want)
	}

	// A journal written before day records, restarted on Wednesday
	// morning: the run begins on the journal's Tuesday (its day record,
	// journaled at 08:00, names Tuesday), the recovery's answer brings
	// Tuesday's fill, the first order changes the day.
	clk.Set(time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC))
	cj.recs = nil
	old := start()
	old.working("w2", 200)
	cj.recs = slices.DeleteFunc(cj.recs, func(r journal.Record) bool { return r.Type == recDay })
	for i := range cj.recs {
		cj.recs[i].Seq = uint64(i) + 1
	}
	clk.Set(time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)) // Wednesday 08:00
	morning := start()
	morning.m.OnExecReport("core", fix.ExecReport{ClOrdID: morning.uid("w2"), OrderID: "Xw2", ExecType: 'I', OrdStatus: '1',
		AvgPx: 17000000, CumQty: 100, LeavesQty: 100})
	clk.Set(time.Date(2026, 12, 2, 1, 30, 0, 0, time.UTC)) // 09:30
	if _, err := morning.m.New(buy("x2", 100)); err != nil {
		t.Fatal(err)
	}
	want = position(morning.m)
	if want.Sellable != 1100 || want.BoughtToday != 0 {
		t.Fatalf("upgraded, live: %+v, want Tuesday's 100 bought sellable on Wednesday", want)
	}
	if got := position(start().m); got != want {
		t.Errorf("upgraded, replayed: %+v, live: %+v", got, want)
	}
}

// TestReplayStartsOnTheFirstDayRecord: a journal whose first record is a
// day record starts on the day it names, not on its time's (a checker
// built before midnight, recovered after, journals the day before).
func TestReplayStartsOnTheFirstDayRecord(t *testing.T) {
	wed := time.Date(2026, 12, 1, 16, 0, 1, 0, time.UTC) // Wednesday 00:00:01 in Shanghai
	j := memJournal{{Seq: 1, Type: recDay, Time: wed.UnixNano(), Body: encodeRecord(&dayRec{Date: 20261201})}}
	m, _, err := recoverDay(t, j, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d := m.risk.DayDate(); d != 20261201 {
		t.Errorf("replayed onto %d, want the record's 20261201", d)
	}
}

// TestFailedRecoverJournalsNothing: a Recover that fails (an order open on
// an upstream no longer configured) journals nothing, not even the day
// its run would have begun: a cluster term that fails it closes its
// manager at once, and a record in flight would complete into the closed
// manager.
func TestFailedRecoverJournalsNothing(t *testing.T) {
	clk := risk.NewManualClock(time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC))
	cj := &clockJournal{clk: clk}
	j := dayJournal(t, 1)
	cj.recs = slices.Clone(j[:2]) // accepted and acknowledged: open on "core"
	m := dayManagerNoUpstream(t, cj, 1)
	t.Cleanup(m.Close)
	if _, err := m.Recover(); !errors.Is(err, ErrNoUpstream) {
		t.Fatalf("Recover = %v, want ErrNoUpstream", err)
	}
	if len(cj.recs) != 2 {
		t.Fatalf("a failed Recover journaled %d records", len(cj.recs)-2)
	}
}

// dayRefusingJournal is a clockJournal that refuses day records at once
// while refuse is set, as a busy replicated journal refuses a record.
type dayRefusingJournal struct {
	*clockJournal
	refuse bool
}

func (j *dayRefusingJournal) AppendAsync(typ byte, body []byte, done func(uint64, error)) error {
	if typ == recDay && j.refuse {
		return errors.New("busy")
	}
	return j.clockJournal.AppendAsync(typ, body, done)
}

// TestRefusedDayRecordKeepsTheDay: risk's day changes only once its
// record is journaled: a day record the journal refuses (the manager then
// refuses every request, as for any record refused) leaves live risk on
// the old day, where a replay finds it, and the reports that come after
// apply to it alike.
func TestRefusedDayRecordKeepsTheDay(t *testing.T) {
	clk := risk.NewManualClock(time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)) // Tuesday 10:00 in Shanghai
	dj := &dayRefusingJournal{clockJournal: &clockJournal{clk: clk}}
	start := calendarRuns(t, clk, dj)
	live := start()
	live.working("w1", 200)
	clk.Set(time.Date(2026, 12, 2, 1, 30, 0, 0, time.UTC)) // Wednesday 09:30
	dj.refuse = true
	if _, err := live.m.New(buy("x1", 100)); err == nil {
		t.Fatal("an order was accepted with its day record refused")
	}
	if d := live.rc.DayDate(); d != 20261201 {
		t.Fatalf("live risk is on %d with its day record refused, want 20261201", d)
	}
	dj.refuse = false
	live.m.OnExecReport("core", live.er("w1", 'F', '1', 100, 100, 100, "f1")) // Tuesday's, reported late
	a, _ := live.m.Account("A1")
	b, _ := start().m.Account("A1")
	if a.Cash != b.Cash || !slices.Equal(a.Positions, b.Positions) {
		t.Errorf("replayed %+v, live %+v", b, a)
	}
}

// TestReplayOldAlwaysOpenJournal: a journal written before day records,
// under risk's AlwaysOpen schedule, in which a client used on Wednesday
// the client order id of an order still working at midnight (those
// versions expired it then, freeing its id), replays: its day changes
// expire working orders as they did. Carrying it, as this version does
// live, refused the journal (a duplicate client order id): the gateway
// could not start.
func TestReplayOldAlwaysOpenJournal(t *testing.T) {
	day1 := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC) // Tuesday 23:00 in Shanghai
	day2 := day1.Add(80 * time.Minute)                    // Wednesday 00:20
	var j memJournal
	add := func(at time.Time, typ byte, v bodyRecord) {
		j = append(j, journal.Record{Seq: uint64(len(j)) + 1, Type: typ, Time: at.UnixNano(), Body: encodeRecord(v)})
	}
	order := func(at time.Time, uid string) {
		add(at, recNew, &newRec{Account: "A1", ClOrdID: "c2", Symbol: "600519.SH", Side: risk.Buy, Type: risk.Limit,
			Price: 17000000, Qty: 100, Upstream: "core", Source: src, Time: at, UID: uid})
		add(at, recExec, &execRec{Account: "A1", Upstream: "core", ER: fix.ExecReport{ClOrdID: uid, OrderID: "v" + uid,
			ExecID: "n" + uid, ExecType: '0', OrdStatus: '0', LeavesQty: 100, SeqNum: len(j) + 1}})
	}
	order(day1, "u1") // working at midnight
	order(day2, "u2") // c2 again, accepted live once u1 expired
	always := func(c *risk.Config) { c.Schedule = risk.ScheduleConfig{AlwaysOpen: true} }
	m, _, err := recoverDay(t, j, 2, always)
	if err != nil {
		t.Fatalf("Recover of a journal written before day records: %v", err)
	}
	if a, _ := a1(t, m); a.OpenOrders != 1 {
		t.Errorf("%d orders working in risk, want Wednesday's c2", a.OpenOrders)
	}
}

// TestReplayKeepsUnsentReportChanges: a report no client hears of (a
// pending cancel or replace, ExecType 6 or E) that changes the order
// all the same, acknowledging a pending new as working or giving the
// venue's OrderID first, is journaled, so that a restart rebuilds the
// order as it was live. Before, only a report that was the venue's
// first word on the order was: after a pending new (A) the order was
// new live and pending_new after a restart, or lacked its OrderID
// (found by TestReplayEqualsLive).
func TestReplayKeepsUnsentReportChanges(t *testing.T) {
	tests := []struct {
		name      string
		first     byte   // the venue's first report: A (pending new) or 0 (new)
		ackID     string // its OrderID
		replace   bool   // a replace, else a cancel
		want      Status
		wantOrdID string
	}{
		{name: "pending cancel after pending new", first: 'A', ackID: "Xa", want: StatusNew, wantOrdID: "Xa"},
		{name: "pending replace after pending new", first: 'A', ackID: "Xa", replace: true, want: StatusNew, wantOrdID: "Xa"},
		{name: "OrderID first given with a pending cancel", first: '0', want: StatusNew, wantOrdID: "Xa"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			e := newEnv(t, dir)
			if _, err := e.m.New(buy("a", 200)); err != nil {
				t.Fatal(err)
			}
			e.core.wait(t, 1)
			er := e.er("a", tt.first, tt.first, 0, 0, 200, "e1")
			er.OrderID = tt.ackID
			e.m.OnExecReport("core", er)
			var err error
			execType := byte('6')
			if tt.replace {
				execType = 'E'
				_, err = e.m.Replace(ReplaceRequest{ClOrdID: "r", OrigClOrdID: "a", Account: "A1", Price: 17000000, Qty: 100, Source: src})
			} else {
				_, err = e.m.Cancel(CancelRequest{ClOrdID: "x", OrigClOrdID: "a", Account: "A1", Source: src})
			}
			if err != nil {
				t.Fatal(err)
			}
			uid, _ := reqID(e.core.wait(t, 2)[1])
			er = e.er("a", execType, tt.first, 0, 0, 200, "e2")
			er.ClOrdID = uid
			e.m.OnExecReport("core", er)
			live, _ := e.m.Get("A1", "a")
			if live.Status != tt.want || live.OrderID != tt.wantOrdID {
				t.Fatalf("live: %s, OrderID %q; want %s, %q", live.Status, live.OrderID, tt.want, tt.wantOrdID)
			}
			e.ev.wait(t, 2) // both requests accepted: every record durable
			e.j.Close()

			r := newEnv(t, dir, func(r *env, _ *Config) { r.noLogon = true })
			got, _ := r.m.Get("A1", "a")
			if got.Status != live.Status || got.OrderID != live.OrderID {
				t.Errorf("after a restart: %s, OrderID %q; live it was %s, %q", got.Status, got.OrderID, live.Status, live.OrderID)
			}
		})
	}
}

// TestRecoverUnderNextDaysPrevClose: the gateway restarts the morning
// after a stock rose, with that day's reference data (prev_close 1800.00,
// band 1620.00-1980.00), over a journal holding the last day's buy at
// 1550.00, within that day's band. Before, risk's replay checked it
// against the new band, and Recover failed at it: the gateway did not
// start.
func TestRecoverUnderNextDaysPrevClose(t *testing.T) {
	day1 := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC) // Tuesday 10:00 in Shanghai
	var j memJournal
	add := func(typ byte, v bodyRecord) {
		j = append(j, journal.Record{Seq: uint64(len(j)) + 1, Type: typ, Time: day1.UnixNano(), Body: encodeRecord(v)})
	}
	const px = 15500000 // 1550.00
	add(recDay, &dayRec{Date: 20261201})
	add(recNew, &newRec{Account: "A1", ClOrdID: "c1", Symbol: "600519.SH", Side: risk.Buy, Type: risk.Limit,
		Price: px, Qty: 100, Upstream: "core", Source: src, Time: day1, UID: "u1"})
	add(recExec, &execRec{Account: "A1", Upstream: "core", ER: fix.ExecReport{ClOrdID: "u1", OrderID: "v1", ExecID: "n1",
		ExecType: '0', OrdStatus: '0', Symbol: "600519.SH", Side: fix.Side(risk.Buy), Price: px, OrderQty: 100, LeavesQty: 100, SeqNum: 1}})
	rose := func(c *risk.Config) { c.Instruments[0].PrevClose = 18000000 }
	m, n, err := recoverDay(t, j, 1, rose)
	if err != nil || n != len(j) {
		t.Fatalf("Recover = %d, %v; want %d records", n, err, len(j))
	}
	if o, ok := m.Get("A1", "c1"); !ok || o.Status != StatusNew || o.Price != px {
		t.Fatalf("c1 = %+v (found %v), want the last day's buy at 1550.00, new", o, ok)
	}
}

// TestRecoverFillsUnderAnotherPrevClose: the last day's sell at 1860.00
// filled at 1865.00, then (its report missed) at the price the venue's
// status totals imply, and its buy at 1540.00 filled at 1535.00: each
// within that day's band (prev_close 1700.00). Recovered under reference
// data whose band excludes them (prev_close 1500.00, 1400.00, 1900.00),
// risk must hold what it holds under the day's own: a node or a
// restarted gateway whose reference data is another day's does not
// differ in cash or shares from one whose is the journal's.
func TestRecoverFillsUnderAnotherPrevClose(t *testing.T) {
	day1 := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC) // Tuesday 10:00 in Shanghai
	var j memJournal
	add := func(typ byte, v bodyRecord) {
		j = append(j, journal.Record{Seq: uint64(len(j)) + 1, Type: typ, Time: day1.UnixNano(), Body: encodeRecord(v)})
	}
	const sp, bp = 18600000, 15400000
	er := func(uid string, side risk.Side, price refdata.Price, qty int64, e fix.ExecReport) *execRec {
		e.ClOrdID, e.OrderID, e.Symbol, e.Side, e.Price, e.OrderQty = uid, "v"+uid, "600519.SH", fix.Side(side), price, qty
		return &execRec{Account: "A1", Upstream: "core", ER: e}
	}
	add(recDay, &dayRec{Date: 20261201})
	add(recNew, &newRec{Account: "A1", ClOrdID: "s1", Symbol: "600519.SH", Side: risk.Sell, Type: risk.Limit,
		Price: sp, Qty: 200, Upstream: "core", Source: src, Time: day1, UID: "u1"})
	add(recNew, &newRec{Account: "A1", ClOrdID: "b1", Symbol: "600519.SH", Side: risk.Buy, Type: risk.Limit,
		Price: bp, Qty: 300, Upstream: "core", Source: src, Time: day1, UID: "u2"})
	add(recExec, er("u1", risk.Sell, sp, 200, fix.ExecReport{ExecID: "n1", ExecType: '0', OrdStatus: '0', LeavesQty: 200, SeqNum: 1}))
	add(recExec, er("u1", risk.Sell, sp, 200, fix.ExecReport{ExecID: "f1", ExecType: 'F', OrdStatus: '1',
		LastPx: 18650000, LastQty: 100, CumQty: 100, AvgPx: 18650000, LeavesQty: 100, SeqNum: 2}))
	add(recExec, er("u1", risk.Sell, sp, 200, fix.ExecReport{ExecType: 'I', OrdStatus: '2', CumQty: 200, AvgPx: 18635000, SeqNum: 3}))
	add(recExec, er("u2", risk.Buy, bp, 300, fix.ExecReport{ExecID: "n2", ExecType: '0', OrdStatus: '0', LeavesQty: 300, SeqNum: 4}))
	add(recExec, er("u2", risk.Buy, bp, 300, fix.ExecReport{ExecID: "f2", ExecType: 'F', OrdStatus: '1',
		LastPx: 15350000, LastQty: 100, CumQty: 100, AvgPx: 15350000, LeavesQty: 200, SeqNum: 5}))
	state := func(prevClose refdata.Price) risk.AccountState {
		t.Helper()
		m, n, err := recoverDay(t, j, 1, func(c *risk.Config) { c.Instruments[0].PrevClose = prevClose })
		if err != nil || n != len(j) {
			t.Fatalf("prev_close %s: Recover = %d, %v; want %d records", prevClose, n, err, len(j))
		}
		st, err := m.risk.Snapshot("A1")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	want := state(17000000)
	// 340,000.00 less the buy's 100 at 1535.00 and the 200 it holds at
	// 1540.00, plus the sell's 100 at 1865.00 and 100 at 1862.00.
	if want.Cash != 251_200*refdata.PriceScale || want.Reserved != 308_000*refdata.PriceScale {
		t.Fatalf("under the day's own prev_close: %+v", want)
	}
	for _, pc := range []refdata.Price{15000000, 14000000, 19000000} {
		if got := state(pc); got.Cash != want.Cash || got.Reserved != want.Reserved || !slices.Equal(got.Positions, want.Positions) {
			t.Errorf("prev_close %s: %+v, under the day's own %+v", pc, got, want)
		}
	}
}
