package orders

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"sgw/fix"
	"sgw/journal"
	"sgw/refdata"
	"sgw/risk"
)

// memJournal is a Journal whose records are a slice: Replay only.
type memJournal []journal.Record

func (j memJournal) AppendAsync(byte, []byte, func(uint64, error)) error {
	return fmt.Errorf("memJournal: read only")
}

func (j memJournal) Replay(fn func(journal.Record) error) error {
	for _, r := range j {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// dayJournal returns the journal of a day of n orders, each accepted,
// acknowledged and filled: three records an order.
func dayJournal(b testing.TB, n int) memJournal {
	b.Helper()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	j := make(memJournal, 0, 3*n)
	add := func(typ byte, v bodyRecord) {
		body := encodeRecord(v)
		j = append(j, journal.Record{Seq: uint64(len(j)) + 1, Type: typ, Time: t0.UnixNano(), Body: body})
	}
	const px = 17000000
	for i := range n {
		id := fmt.Sprintf("c%07d", i)
		uid := fmt.Sprintf("g%07d", i)
		add(recNew, &newRec{Account: "A1", ClOrdID: id, Symbol: "600519.SH", Side: risk.Buy, Type: risk.Limit,
			Price: px, Qty: 100, Upstream: "core", Source: src, Time: t0, UID: uid})
		er := fix.ExecReport{ClOrdID: uid, OrderID: "v" + uid, ExecID: "n" + uid, ExecType: '0', OrdStatus: '0',
			Symbol: "600519.SH", Side: fix.Side(risk.Buy), Price: px, OrderQty: 100, LeavesQty: 100, SeqNum: 2*i + 2}
		add(recExec, &execRec{Account: "A1", Upstream: "core", ER: er})
		er.ExecID, er.ExecType, er.OrdStatus = "f"+uid, 'F', '2'
		er.LastPx, er.LastQty, er.CumQty, er.LeavesQty, er.AvgPx, er.SeqNum = px, 100, 100, 0, px, 2*i+3
		add(recExec, &execRec{Account: "A1", Upstream: "core", ER: er})
	}
	return j
}

// dayManager returns a new Manager on j, the journal dayJournal made for
// orders, with a fake core upstream and account A1 able to pay for every
// order; the caller recovers it and closes it. opts change the risk
// configuration.
func dayManager(tb testing.TB, j Journal, orders int, opts ...func(*risk.Config)) *Manager {
	tb.Helper()
	m := dayManagerNoUpstream(tb, j, orders, opts...)
	m.AddUpstream("core", newFakeUpstream())
	return m
}

// dayManagerNoUpstream is dayManager before its upstream is added: a
// standby manager (CatchUp) as a cluster follower keeps one.
func dayManagerNoUpstream(tb testing.TB, j Journal, orders int, opts ...func(*risk.Config)) *Manager {
	tb.Helper()
	cfg := riskConfig()
	cfg.Accounts[0].Cash = refdata.Price(orders) * 100 * 17000000 * 2
	for _, o := range opts {
		o(&cfg)
	}
	rc, err := risk.New(cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := New(Config{}, rc, j, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// BenchmarkRecover measures what a new leader (or a restarted gateway)
// spends replaying the day's journal before order entry opens: a Manager
// and its risk Checker built anew, then Recover over orders×3 records.
func BenchmarkRecover(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("orders=%d", n), func(b *testing.B) {
			j := dayJournal(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				m := dayManager(b, j, n)
				got, err := m.Recover()
				if err != nil || got != len(j) {
					b.Fatalf("Recover = %d, %v; want %d records", got, err, len(j))
				}
				m.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(j)), "ns/record")
		})
		// warm: a standby manager (CatchUp) has applied all but the last
		// 100 orders' records; Recover replays that tail only.
		b.Run(fmt.Sprintf("orders=%d/warm", n), func(b *testing.B) {
			day := dayJournal(b, n)
			const tail = 300
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				g := &growingJournal{recs: day, n: len(day) - tail}
				m := dayManagerNoUpstream(b, g, n)
				if got, err := m.CatchUp(b.Context()); err != nil || got != len(day)-tail {
					b.Fatalf("CatchUp = %d, %v", got, err)
				}
				g.commit(len(day))
				m.AddUpstream("core", newFakeUpstream())
				runtime.GC() // the set-up's garbage is not the tail's to collect
				b.StartTimer()
				if got, err := m.Recover(); err != nil || got != tail {
					b.Fatalf("Recover = %d, %v; want the %d records of the tail", got, err, tail)
				}
				b.StopTimer()
				m.Close()
			}
		})
	}
}
