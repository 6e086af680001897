package fix

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric directions.
const (
	dirIn  = "in"  // from the upstream to the gateway
	dirOut = "out" // from the gateway to the upstream
)

// metrics holds the per-line series of one Registry. Several Upstreams
// share one metrics value: the collectors are registered once per registry
// and distinguished by the session label.
type metrics struct {
	lineUp   *prometheus.GaugeVec
	messages *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	rtt      *prometheus.HistogramVec
	// resets counts the session's store resets (a new session period);
	// tooLow its Logouts for a MsgSeqNum below the expected one.
	resets *prometheus.CounterVec
	tooLow *prometheus.CounterVec
	// storeReads counts the failed reads of the session's stored
	// messages: resends not made (see OnReadError).
	storeReads *prometheus.CounterVec
}

// lineMetrics are the resolved series of one session's line.
type lineMetrics struct {
	up                  prometheus.Gauge
	msgIn, msgOut       prometheus.Counter
	bytesIn, bytesOut   prometheus.Counter
	heartbeatRTTSeconds prometheus.Observer
}

// newMetrics creates the collectors and registers them on reg, reusing the
// ones already registered there by another Upstream.
func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		lineUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gateway_fix_line_up",
			Help: "1 while the upstream FIX session is logged on over this line, else 0.",
		}, []string{"session", "line"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_fix_messages_total",
			Help: "FIX messages carried over the line, by direction (in: from the upstream).",
		}, []string{"session", "line", "direction"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_fix_bytes_total",
			Help: "Bytes carried over the line, by direction (in: from the upstream).",
		}, []string{"session", "line", "direction"}),
		rtt: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_fix_heartbeat_rtt_seconds",
			Help:    "Time from sending a TestRequest to receiving the Heartbeat that answers it.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12), // 100us .. ~6s
		}, []string{"session", "line"}),
		resets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_fix_session_resets_total",
			Help: "Resets of the session's sequence numbers to 1: a new period of its schedule (or reset_on_logon).",
		}, []string{"session"}),
		tooLow: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_fix_sequence_too_low_total",
			Help: "Logouts the gateway sent because the upstream's MsgSeqNum was below the expected one: the upstream started again from 1 (a schedule the gateway does not share) or lost messages; the session stays down until the schedule or the store is fixed.",
		}, []string{"session"}),
		storeReads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_fix_store_read_errors_total",
			Help: "Reads of the session's stored messages that failed (a message failing its CheckSum, a sealed record tampered with, an I/O error): each is a resend the upstream asked for that was not made, and the session dropped; it stays down until the store is restored or the sequence numbers are agreed with the upstream.",
		}, []string{"session"}),
	}
	var err error
	if m.lineUp, err = register(reg, m.lineUp); err != nil {
		return nil, err
	}
	if m.messages, err = register(reg, m.messages); err != nil {
		return nil, err
	}
	if m.bytes, err = register(reg, m.bytes); err != nil {
		return nil, err
	}
	if m.rtt, err = register(reg, m.rtt); err != nil {
		return nil, err
	}
	if m.resets, err = register(reg, m.resets); err != nil {
		return nil, err
	}
	if m.tooLow, err = register(reg, m.tooLow); err != nil {
		return nil, err
	}
	if m.storeReads, err = register(reg, m.storeReads); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c on reg or returns the equal collector already there.
func register[C prometheus.Collector](reg *prometheus.Registry, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("fix: register metrics: %w", err)
	}
	return c, nil
}

func (m *metrics) line(session, line string) *lineMetrics {
	return &lineMetrics{
		up:                  m.lineUp.WithLabelValues(session, line),
		msgIn:               m.messages.WithLabelValues(session, line, dirIn),
		msgOut:              m.messages.WithLabelValues(session, line, dirOut),
		bytesIn:             m.bytes.WithLabelValues(session, line, dirIn),
		bytesOut:            m.bytes.WithLabelValues(session, line, dirOut),
		heartbeatRTTSeconds: m.rtt.WithLabelValues(session, line),
	}
}
