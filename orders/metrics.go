package orders

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the manager's series. With a nil Config.Registry they are
// created but not registered.
type metrics struct {
	journalFailed   prometheus.Gauge
	journalStalled  prometheus.Gauge
	riskErrors      *prometheus.CounterVec
	held            *prometheus.GaugeVec
	checks          *prometheus.GaugeVec
	expired         *prometheus.CounterVec
	upstreamRejects *prometheus.CounterVec
	noStatus        *prometheus.GaugeVec
	unknownReports  *prometheus.CounterVec
	duplicates      *prometheus.CounterVec
	recovered       *prometheus.CounterVec
	unanswered      *prometheus.CounterVec
	expiredOwn      *prometheus.CounterVec
	staleUnknown    *prometheus.CounterVec
	ackLatency      *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		journalFailed: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gateway_orders_journal_failed",
			Help: "1 once the order journal failed: the gateway accepts no orders until restarted (alert)."}),
		journalStalled: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gateway_orders_journal_stalled",
			Help: "1 while records wait in the order journal and it has completed none for the journal stall time (a disk that hangs): new orders are refused (alert)."}),
		riskErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_orders_risk_errors_total",
			Help: "Updates the risk ledger refused (op: fill, done, replaced, replace_rejected, trade_amend): cash or positions may be off (alert)."}, []string{"op"}),
		held: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gateway_orders_held",
			Help: "Requests held while the upstream session is down."}, []string{"upstream"}),
		checks: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gateway_orders_status_checks_queued",
			Help: "Open orders whose status the recovery after a restart or takeover has yet to ask the venue, behind the live requests."}, []string{"upstream"}),
		expired: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_orders_hold_expired_total",
			Help: "Requests ended because the upstream session stayed down beyond the hold time."}, []string{"upstream"}),
		upstreamRejects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_orders_upstream_rejects_total",
			Help: "Messages the upstream refused as messages (BusinessMessageReject, Reject), by refused MsgType (D, F, G, H; any other RefMsgType is \"other\")."}, []string{"upstream", "msg_type"}),
		noStatus: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gateway_orders_status_unsupported",
			Help: "1 once the upstream refused an OrderStatusRequest."}, []string{"upstream"}),
		unknownReports: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_orders_unknown_reports_total",
			Help: "Execution reports naming no order of the gateway."}, []string{"upstream"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_orders_duplicate_reports_total",
			Help: "Resent execution reports (PossDup, PossResend) whose execution was applied before."}, []string{"upstream"}),
		recovered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_orders_recovered_total",
			Help: "Open orders resolved at the first logon after a restart, by action (handed, sent, probed, possresend, status, ended: never sent, and its trading day over)."}, []string{"upstream", "action"}),
		unanswered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_orders_unanswered_total",
			Help: "Requests the upstream answered neither directly nor with a status (alert)."}, []string{"upstream"}),
		expiredOwn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_orders_expired_unreported_total",
			Help: "Orders the gateway expired itself after their trading day's close, the venue silent about them (orders.expired_unreported; alert)."}, []string{"upstream"}),
		staleUnknown: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_orders_stale_unknown_answers_total",
			Help: "Status answers saying the venue does not know an order that were not taken as final: resent, or answering a request older than the order's last NewOrderSingle."}, []string{"upstream"}),
		ackLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gateway_order_ack_latency_seconds",
			Help:    "Time from a new order's hand-over to the upstream session to the venue's first answer (execution report or reject).",
			Buckets: prometheus.ExponentialBuckets(100e-6, 2, 17)}, []string{"upstream"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	reuse := func(c prometheus.Collector) prometheus.Collector {
		if err != nil {
			return c
		}
		if rerr := reg.Register(c); rerr != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(rerr, &are) {
				return are.ExistingCollector // another Manager on the same registry
			}
			err = rerr
		}
		return c
	}
	m.journalFailed = reuse(m.journalFailed).(prometheus.Gauge)
	m.journalStalled = reuse(m.journalStalled).(prometheus.Gauge)
	m.riskErrors = reuse(m.riskErrors).(*prometheus.CounterVec)
	m.held = reuse(m.held).(*prometheus.GaugeVec)
	m.checks = reuse(m.checks).(*prometheus.GaugeVec)
	m.expired = reuse(m.expired).(*prometheus.CounterVec)
	m.upstreamRejects = reuse(m.upstreamRejects).(*prometheus.CounterVec)
	m.noStatus = reuse(m.noStatus).(*prometheus.GaugeVec)
	m.unknownReports = reuse(m.unknownReports).(*prometheus.CounterVec)
	m.duplicates = reuse(m.duplicates).(*prometheus.CounterVec)
	m.recovered = reuse(m.recovered).(*prometheus.CounterVec)
	m.unanswered = reuse(m.unanswered).(*prometheus.CounterVec)
	m.expiredOwn = reuse(m.expiredOwn).(*prometheus.CounterVec)
	m.staleUnknown = reuse(m.staleUnknown).(*prometheus.CounterVec)
	m.ackLatency = reuse(m.ackLatency).(*prometheus.HistogramVec)
	if err != nil {
		return nil, err
	}
	for _, op := range []string{"fill", "done", "replaced", "replace_rejected", "trade_amend"} {
		m.riskErrors.WithLabelValues(op)
	}
	return m, nil
}
