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

// BenchmarkDecodeOrderRequest decodes and checks a client's order.new, as
// the connection's reader does for each order request (with its check
// for fields the protocol does not define).
func BenchmarkDecodeOrderRequest(b *testing.B) {
	msg := []byte(`{"op":"order.new","id":17,"clOrdId":"c0000001","account":"A1","symbol":"600519.SH","side":"buy","type":"limit","price":"1700.00","qty":100}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeRequest(msg); err != nil {
			b.Fatal(err)
		}
	}
}
