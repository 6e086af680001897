package broker

import (
	"slices"
	"testing"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
	"sgw/refdata"
)

// TestRestateCanceledTradesStandingTotals: trades of one order (buy 100
// at 1710.00), some canceled by the venue, whose reports the store lacks
// (but those of stored) with their cancels, are resent at the restart's
// first logon: each trade with the order's totals after it as the broker
// has them then, the canceled trades (resent, or told) standing until
// their cancels, which follow, LeavesQty 0 once the order was filled;
// then the cancels and the status, with the order's totals as they are.
// Before, a trade resent after a canceled trade the broker was told of,
// whose cancel the restatement resends after it, went with the totals
// without that trade: CumQty 10 where the broker had 40 (the told
// trade's 30 and its own 10), or 40 where it had 60 (two trades of 30 and
// 10 resent, one of 20 told), which no state of the broker's matched.
func TestRestateCanceledTradesStandingTotals(t *testing.T) {
	type exec struct {
		id, ref     string
		execType    byte
		status      byte
		qty         int64
		px          int64 // in units of 1/10000
		cum, leaves int64
		avgPx       int64
	}
	for _, tc := range []struct {
		name   string
		execs  []exec
		stored []string // ExecIDs the store holds
		queued []exec   // applied in the new run, before the logon: queued
		want   []string // ExecType/ExecID/LastQty/CumQty/LeavesQty/AvgPx/OrdStatus resent, then the status's
	}{
		{
			name: "two canceled, one standing",
			execs: []exec{
				{id: "E1", execType: 'F', status: '1', qty: 30, px: 16990000, cum: 30, leaves: 70, avgPx: 16990000},
				{id: "E2", execType: 'F', status: '1', qty: 20, px: 17000000, cum: 50, leaves: 50, avgPx: 16994000},
				{id: "E3", execType: 'F', status: '1', qty: 10, px: 17020000, cum: 60, leaves: 40, avgPx: 16998333},
				{id: "X1", ref: "E1", execType: 'H', status: '1', cum: 30, leaves: 70, avgPx: 17006666},
				{id: "X2", ref: "E2", execType: 'H', status: '1', cum: 10, leaves: 90, avgPx: 17020000},
			},
			want: []string{
				"F/core:E1/30/30/70/1699.00/1", "F/core:E2/20/50/50/1699.40/1", "F/core:E3/10/60/40/1699.8333/1",
				"H/core:X1//10/90/1702.00/1", "H/core:X2//10/90/1702.00/1", "I///10/90/1702.00/1",
			},
		},
		{
			name: "corrected, then canceled",
			execs: []exec{
				{id: "E1", execType: 'F', status: '1', qty: 40, px: 17000000, cum: 40, leaves: 60, avgPx: 17000000},
				{id: "E2", execType: 'F', status: '1', qty: 10, px: 17000000, cum: 50, leaves: 50, avgPx: 17000000},
				{id: "X1", ref: "E1", execType: 'G', status: '1', qty: 30, px: 17010000, cum: 40, leaves: 60, avgPx: 17007500},
				{id: "X2", ref: "X1", execType: 'H', status: '1', cum: 10, leaves: 90, avgPx: 17000000},
			},
			want: []string{
				"F/core:E1/30/30/70/1701.00/1", "F/core:E2/10/40/60/1700.75/1", "H/core:X2//10/90/1700.00/1", "I///10/90/1700.00/1",
			},
		},
		{
			name: "filled, then a trade canceled",
			execs: []exec{
				{id: "E1", execType: 'F', status: '1', qty: 60, px: 17000000, cum: 60, leaves: 40, avgPx: 17000000},
				{id: "E2", execType: 'F', status: '2', qty: 40, px: 17010000, cum: 100, leaves: 0, avgPx: 17004000},
				{id: "X1", ref: "E1", execType: 'H', status: '1', cum: 40, leaves: 60, avgPx: 17010000},
			},
			want: []string{
				"F/core:E1/60/60/40/1700.00/1", "F/core:E2/40/100/0/1700.40/2", "H/core:X1//40/60/1701.00/1", "I///40/60/1701.00/1",
			},
		},
		{
			name: "told, its cancel lost, a trade after it resent",
			execs: []exec{
				{id: "E1", execType: 'F', status: '1', qty: 30, px: 16990000, cum: 30, leaves: 70, avgPx: 16990000},
				{id: "E2", execType: 'F', status: '1', qty: 10, px: 17000000, cum: 40, leaves: 60, avgPx: 16992500},
				{id: "X1", ref: "E1", execType: 'H', status: '1', cum: 10, leaves: 90, avgPx: 17000000},
			},
			stored: []string{"core:E1"},
			want: []string{
				"F/core:E2/10/40/60/1699.25/1", "H/core:X1//10/90/1700.00/1", "I///10/90/1700.00/1",
			},
		},
		{
			name: "a canceled trade resent before a told one canceled, its cancel lost",
			execs: []exec{
				{id: "E1", execType: 'F', status: '1', qty: 30, px: 16990000, cum: 30, leaves: 70, avgPx: 16990000},
				{id: "E2", execType: 'F', status: '1', qty: 20, px: 17000000, cum: 50, leaves: 50, avgPx: 16994000},
				{id: "E3", execType: 'F', status: '1', qty: 10, px: 17020000, cum: 60, leaves: 40, avgPx: 16998333},
				{id: "X2", ref: "E2", execType: 'H', status: '1', cum: 40, leaves: 60, avgPx: 16997500},
				{id: "X1", ref: "E1", execType: 'H', status: '1', cum: 10, leaves: 90, avgPx: 17020000},
			},
			stored: []string{"core:E2"},
			want: []string{
				"F/core:E1/30/30/70/1699.00/1", "F/core:E3/10/60/40/1699.8333/1",
				"H/core:X1//10/90/1702.00/1", "H/core:X2//10/90/1702.00/1", "I///10/90/1702.00/1",
			},
		},
		{
			// The broker has E1 at 30; E2 goes with the totals after E1
			// as corrected (20): the correction goes before it.
			name: "told, its correction lost, a trade after it resent",
			execs: []exec{
				{id: "E1", execType: 'F', status: '1', qty: 30, px: 16990000, cum: 30, leaves: 70, avgPx: 16990000},
				{id: "E2", execType: 'F', status: '1', qty: 10, px: 17000000, cum: 40, leaves: 60, avgPx: 16992500},
				{id: "X1", ref: "E1", execType: 'G', status: '1', qty: 20, px: 16990000, cum: 30, leaves: 70, avgPx: 16993333},
			},
			stored: []string{"core:E1"},
			want: []string{
				"G/core:X1/20/20/80/1699.00/1", "F/core:E2/10/30/70/1699.3333/1", "I///30/70/1699.3333/1",
			},
		},
		{
			name: "told, its correction lost, a told trade, then one resent",
			execs: []exec{
				{id: "E1", execType: 'F', status: '1', qty: 30, px: 16990000, cum: 30, leaves: 70, avgPx: 16990000},
				{id: "E2", execType: 'F', status: '1', qty: 10, px: 17000000, cum: 40, leaves: 60, avgPx: 16992500},
				{id: "E3", execType: 'F', status: '1', qty: 10, px: 17010000, cum: 50, leaves: 50, avgPx: 16996000},
				{id: "X1", ref: "E1", execType: 'G', status: '1', qty: 20, px: 16990000, cum: 40, leaves: 60, avgPx: 16997500},
			},
			stored: []string{"core:E1", "core:E2"},
			want: []string{
				"G/core:X1/20/30/70/1699.3333/1", "F/core:E3/10/40/60/1699.75/1", "I///40/60/1699.75/1",
			},
		},
		{
			// A correction that goes before the restatement needs no
			// resend: E2 goes with the totals after E1 as corrected.
			name: "told, its correction queued, a trade after it resent",
			execs: []exec{
				{id: "E1", execType: 'F', status: '1', qty: 30, px: 16990000, cum: 30, leaves: 70, avgPx: 16990000},
				{id: "E2", execType: 'F', status: '1', qty: 10, px: 17000000, cum: 40, leaves: 60, avgPx: 16992500},
			},
			queued: []exec{{id: "X1", ref: "E1", execType: 'G', status: '1', qty: 20, px: 16990000, cum: 30, leaves: 70, avgPx: 16993333}},
			stored: []string{"core:E1"},
			want:   []string{"F/core:E2/10/30/70/1699.3333/1", "I///30/70/1699.3333/1"},
		},
		{
			name: "told, its cancel queued, a trade after it resent",
			execs: []exec{
				{id: "E1", execType: 'F', status: '1', qty: 30, px: 16990000, cum: 30, leaves: 70, avgPx: 16990000},
				{id: "E2", execType: 'F', status: '1', qty: 10, px: 17000000, cum: 40, leaves: 60, avgPx: 16992500},
			},
			queued: []exec{{id: "X1", ref: "E1", execType: 'H', status: '1', cum: 10, leaves: 90, avgPx: 17000000}},
			stored: []string{"core:E1"},
			want:   []string{"F/core:E2/10/10/90/1700.00/1", "I///10/90/1700.00/1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newDayRig(t)
			nos := r.newOrder("o")
			apply := func(e exec) {
				t.Helper()
				r.m.OnExecReport("core", fix.ExecReport{ClOrdID: nos.ClOrdID, OrderID: "V-o", ExecID: e.id, ExecRefID: e.ref,
					ExecType: e.execType, OrdStatus: e.status, Symbol: "600519.SH", Side: fix.Buy, Price: 17100000, OrderQty: 100,
					LastQty: e.qty, LastPx: refdata.Price(e.px), CumQty: e.cum, LeavesQty: e.leaves, AvgPx: refdata.Price(e.avgPx)})
				r.h.waitFor(t, "the report of "+e.id, func(m *quickfix.Message) bool { return field(m, tag.ExecID) == "core:"+e.id })
			}
			for _, e := range tc.execs {
				apply(e)
			}
			st := periodStore(t, r.s, r.clk.Now())
			for _, m := range r.h.all() {
				if et := field(m, tag.ExecType); !slices.Contains([]string{"F", "H", "G"}, et) || slices.Contains(tc.stored, field(m, tag.ExecID)) {
					if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(st.NextSenderMsgSeqNum(), []byte(m.String())); err != nil {
						t.Fatal(err)
					}
				}
			}
			r.h.restarting(t, r.s, st)
			for _, e := range tc.queued {
				apply(e)
			}
			before := len(r.h.all())
			r.s.restate()
			got := reportLines(r.h.all()[before:], tag.ExecType, tag.ExecID, tag.LastQty, tag.CumQty, tag.LeavesQty, tag.AvgPx, tag.OrdStatus)
			if !slices.Equal(got, tc.want) {
				t.Errorf("resent\n%v\nwant\n%v", got, tc.want)
			}
		})
	}
}
