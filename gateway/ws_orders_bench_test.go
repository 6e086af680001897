package gateway

import (
	"testing"
	"time"

	"sgw/orders"
	"sgw/risk"
)

// BenchmarkEncodeOrderEvent encodes a trade's exec event as a connection
// that placed the order gets it (once per event and connection).
func BenchmarkEncodeOrderEvent(b *testing.B) {
	o := orders.Order{ClOrdID: "c1", OrigClOrdID: "c1", Account: "A1", Symbol: "600519.SH", Side: risk.Buy,
		Price: 17000000, Qty: 300, CumQty: 100, LeavesQty: 200, AvgPx: 17000000, Status: orders.StatusPartiallyFilled,
		OrderID: "SIM-17", Upstream: "core", Updated: time.Unix(1700000000, 0)}
	ev := orders.Event{Kind: orders.EventExec, Order: o, ExecType: 'F', ExecID: "V12", LastPx: 17000000, LastQty: 100, Ref: "c1"}
	b.ReportAllocs()
	for b.Loop() {
		encodeOrderEvent(ev, nil)
	}
}
