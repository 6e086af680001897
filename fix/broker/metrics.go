package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/fix"
	"sgw/orders"
)

// codeMalformed counts new orders answered with a session-level Reject (a
// missing or malformed field) in gateway_broker_rejects_total.
const codeMalformed = "broker.malformed"

// RejectCounter is implemented by an OrderEntry that also counts the new
// orders the acceptor refuses before they reach it (an account the session
// may not trade, an unsupported side, a malformed field), so that its
// gateway_orders_total{source="fix",result="rejected"} covers every
// refused FIX order. The order manager counts, under source "fix", every
// order that reaches it, and every risk reject by code
// (gateway_orders_total, gateway_orders_rejects_total); the acceptor does
// not register those names again. Optional: without it, the acceptor's own
// refusals are in gateway_broker_rejects_total only.
type RejectCounter interface {
	CountRejected(src orders.Source, code string)
}

// metrics are the acceptor's series on the registry passed to New.
type metrics struct {
	rejects      *prometheus.CounterVec // gateway_broker_rejects_total{code}
	logonRejects *prometheus.CounterVec // gateway_broker_logon_rejects_total{reason}
	garbled      *prometheus.CounterVec // gateway_broker_garbled_total{reason}
	sessionUp    *prometheus.GaugeVec   // gateway_broker_session_up{session}
	storeReads   *prometheus.CounterVec // gateway_broker_store_read_errors_total{session}
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		rejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_broker_rejects_total",
			Help: "New FIX orders refused by the broker acceptor before the order manager, by code.",
		}, []string{"code"}),
		garbled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_broker_garbled_total",
			Help: "Broker FIX frames discarded unprocessed, by reason (checksum, body_length, framing, too_large: the connection is closed).",
		}, []string{"reason"}),
		sessionUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gateway_broker_session_up",
			Help: "1 while the broker FIX session is logged on, else 0.",
		}, []string{"session"}),
		storeReads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_broker_store_read_errors_total",
			Help: "Reads of the broker FIX session's stored messages that failed (a message failing its CheckSum, a sealed record tampered with, an I/O error): each is a resend the broker asked for that was not made, and the session dropped; it stays down until the store is restored or the sequence numbers are agreed with the broker.",
		}, []string{"session"}),
	}
	var err error
	if m.rejects, err = register(reg, m.rejects); err != nil {
		return nil, err
	}
	if m.logonRejects, err = logonRejects(reg); err != nil {
		return nil, err
	}
	if m.garbled, err = register(reg, m.garbled); err != nil {
		return nil, err
	}
	if m.sessionUp, err = register(reg, m.sessionUp); err != nil {
		return nil, err
	}
	if m.storeReads, err = register(reg, m.storeReads); err != nil {
		return nil, err
	}
	for _, c := range []string{codeAccount, codeExchange, codeSide, codeOrdType, codeTimeInForce, codeMalformed} {
		m.rejects.WithLabelValues(c)
	}
	for _, r := range []string{fix.GarbledChecksum, fix.GarbledBodyLength, fix.GarbledFraming, fix.ReasonTooLarge} {
		m.garbled.WithLabelValues(r)
	}
	return m, nil
}

// logonRejects registers gateway_broker_logon_rejects_total on reg, or
// returns the one registered there, with every reason's series.
func logonRejects(reg *prometheus.Registry) (*prometheus.CounterVec, error) {
	c, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gateway_broker_logon_rejects_total",
		Help: "Broker FIX connections or logons refused, by reason (address, session, password, not_logon, timeout, tls, certificate, sequence, proxy, max_connections, max_waiting).",
	}, []string{"reason"}))
	if err != nil {
		return nil, err
	}
	for _, r := range []string{ReasonAddress, reasonSession, reasonPassword, reasonNotLogon, reasonTimeout, reasonTLS, reasonCertificate, reasonSequence, reasonHeartBtInt, ReasonProxy, ReasonMaxConnections, ReasonMaxWaiting} {
		c.WithLabelValues(r)
	}
	return c, nil
}

// Refusals counts (gateway_broker_logon_rejects_total) and logs (Warn)
// the broker connections refused: the acceptor's, and those a clustered
// gateway's front refuses before they reach an acceptor, so that every
// refusal is in one series. Safe for concurrent use.
type Refusals struct {
	rejects *prometheus.CounterVec
	log     *slog.Logger
}

// NewRefusals returns the refusals counted on reg (the acceptors' series,
// registered there or found) and logged on log, which may be nil.
func NewRefusals(reg *prometheus.Registry, log *slog.Logger) (*Refusals, error) {
	c, err := logonRejects(reg)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Refusals{rejects: c, log: log}, nil
}

// Refuse counts and logs a refused connection: reason is the series'
// label (a Reason constant), remote the broker's address (nil when not
// known), broker the session's TargetCompID ("" when not known), detail
// what the log line adds. The caller closes the connection.
func (r *Refusals) Refuse(reason string, remote net.Addr, broker, detail string) {
	r.rejects.WithLabelValues(reason).Inc()
	args := []any{"reason", reason, "detail", detail}
	if remote != nil {
		args = append(args, "remote", remote.String())
	}
	if broker != "" {
		args = append(args, "broker", broker)
	}
	r.log.Warn("broker: connection refused", args...)
}

// register registers c on reg, or returns the equal collector already
// registered there (a second Acceptor on the same registry).
func register[C prometheus.Collector](reg *prometheus.Registry, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("broker: register metrics: %w", err)
	}
	return c, nil
}

// refusedNew counts a new order refused by the acceptor itself.
func (a *Acceptor) refusedNew(s *session, code string) {
	a.m.rejects.WithLabelValues(code).Inc()
	if rc, ok := a.entry.(RejectCounter); ok {
		rc.CountRejected(s.src, code)
	}
}
