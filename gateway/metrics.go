package gateway

import (
	"github.com/prometheus/client_golang/prometheus"

	"sgw/orderbook"
	"sgw/orders"
)

// BookStats is what the books collector reads. *orderbook.Engine
// implements it.
type BookStats interface {
	Stats() orderbook.Stats
}

// BooksCollector exports the order books' counters to Prometheus, reading
// them on each scrape.
type BooksCollector struct {
	books                               BookStats
	updates, messages, rejected, lapped *prometheus.Desc
	backpressure                        *prometheus.Desc
}

var _ prometheus.Collector = (*BooksCollector)(nil)

// NewBooksCollector returns a collector for books.
func NewBooksCollector(books BookStats) *BooksCollector {
	return &BooksCollector{
		books:        books,
		updates:      prometheus.NewDesc("gateway_book_updates_total", "Book updates published by the order books.", nil, nil),
		messages:     prometheus.NewDesc("gateway_book_messages_total", "Feed messages processed by the book writers.", nil, nil),
		rejected:     prometheus.NewDesc("gateway_book_rejected_messages_total", "Feed events the books could not apply, by reason.", []string{"reason"}, nil),
		lapped:       prometheus.NewDesc("gateway_book_readers_lapped_total", "Times a delta reader fell a whole ring behind.", nil, nil),
		backpressure: prometheus.NewDesc("gateway_book_backpressure_total", "Times a feed waited for a full book queue.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *BooksCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.updates, c.messages, c.rejected, c.lapped, c.backpressure} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *BooksCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.books.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.updates, st.Updates)
	counter(c.messages, st.Messages)
	counter(c.lapped, st.Lapped)
	counter(c.backpressure, st.Backpressure)
	for reason, v := range map[string]uint64{
		"unknown_order":     st.UnknownOrder,
		"duplicate":         st.DuplicateOrder,
		"over_execution":    st.OverExecution,
		"bad_message":       st.BadMessage,
		"snapshot_mismatch": st.Mismatch,
		"repeated":          st.Repeated,
	} {
		counter(c.rejected, v, reason)
	}
}

// OrderStats is what the orders collector reads. *orders.Manager
// implements it.
type OrderStats interface {
	Stats() orders.Stats
}

// OrdersCollector exports the order manager's counters and the state of
// the risk checks' kill switches.
type OrdersCollector struct {
	src                 OrderStats
	orders, risks, kill *prometheus.Desc
}

var _ prometheus.Collector = (*OrdersCollector)(nil)

// NewOrdersCollector returns a collector for src.
func NewOrdersCollector(src OrderStats) *OrdersCollector {
	return &OrdersCollector{src: src,
		orders: prometheus.NewDesc("gateway_orders_total", "New orders by source (ws, fix) and result (accepted, rejected).", []string{"source", "result"}, nil),
		risks: prometheus.NewDesc("gateway_orders_rejects_total",
			"Rejected order requests (new, cancel, replace) by reject code (risk.*, orders.*, broker.*).", []string{"code"}, nil),
		kill: prometheus.NewDesc("gateway_risk_kill_switch",
			"1 while a kill switch blocks new orders: account=\"*\" is the global switch, else the account's own (absent while this node runs no order entry).",
			[]string{"account"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *OrdersCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.orders
	ch <- c.risks
	ch <- c.kill
}

// Collect implements prometheus.Collector.
func (c *OrdersCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Stats()
	for k, v := range st.Orders {
		ch <- prometheus.MustNewConstMetric(c.orders, prometheus.CounterValue, float64(v), k[0], k[1])
	}
	for code, v := range st.RiskRejects {
		ch <- prometheus.MustNewConstMetric(c.risks, prometheus.CounterValue, float64(v), code)
	}
	for account, on := range st.KillSwitches {
		if account == "" {
			account = "*"
		}
		v := 0.0
		if on {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.kill, prometheus.GaugeValue, v, account)
	}
}
