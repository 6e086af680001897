package gateway

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/netsec"
)

// listenerMetrics are the listener's Prometheus metrics.
type listenerMetrics struct {
	refused    *prometheus.CounterVec
	handshakes prometheus.Counter // TLS handshakes failed
}

// newListenerMetrics registers the listener's metrics: refused
// connections by reason, the connections open (read from the limiting
// listener in service, if any) and, with TLS, the expiry of the
// certificate in service.
func newListenerMetrics(reg prometheus.Registerer, open *atomic.Pointer[netsec.LimitListener], cert *netsec.ServerTLS) *listenerMetrics {
	m := &listenerMetrics{
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_http_connections_refused_total",
			Help: "Connections the HTTP listener closed at once, by reason: max_connections, max_connections_per_ip, proxy_header (a load balancer's header missing or malformed), proxy_untrusted (a header from a peer that is not a load balancer), protocol (first bytes neither TLS nor TLCP, with gateway.tls.tlcp set)."},
			[]string{"reason"}),
	}
	gauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gateway_http_connections",
		Help: "Connections open on the HTTP listener, every path (WebSocket included)."}, func() float64 {
		if l := open.Load(); l != nil {
			return float64(l.Open())
		}
		return 0
	})
	reg.MustRegister(m.refused, gauge)
	for _, r := range []string{"max_connections", "max_connections_per_ip", "proxy_header", "proxy_untrusted", "protocol"} {
		m.refused.WithLabelValues(r)
	}
	if cert != nil {
		m.handshakes = prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_tls_handshake_failures_total",
			Help:        "TLS (and TLCP) handshakes that failed on the listener (old versions, no or a wrong client certificate, scanners, health checks that only connect).",
			ConstLabels: prometheus.Labels{"listener": "http"}})
		reg.MustRegister(m.handshakes)
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gateway_tls_certificate_expiry_timestamp_seconds",
			Help:        "When the certificate the listener serves expires (Unix time); it is reloaded when its files change.",
			ConstLabels: prometheus.Labels{"listener": "http"}}, func() float64 {
			return float64(cert.Certificate().Leaf.NotAfter.Unix())
		}))
	}
	return m
}

// listener stacks the gateway's gates on ln, the bound TCP listener: the
// PROXY protocol from the load balancers (client addresses), the
// connection caps keyed by those addresses, then TLS, or TLS and TLCP
// on the same port when gateway.tls.tlcp is set. Closing the result
// closes ln.
func (s *Server) listener(ln net.Listener) (net.Listener, error) {
	if s.tls == nil {
		if err := s.cfg.checkTransport(ln.Addr().String()); err != nil {
			return nil, err
		}
	}
	if s.cfg.TLSTerminatedBy != "" {
		s.log.Info("plain-text HTTP listener: TLS is terminated in front of it", "addr", ln.Addr().String(), "by", s.cfg.TLSTerminatedBy)
		if s.cfg.ProxyProtocol == nil {
			s.log.Warn("no proxy_protocol behind a load balancer: connection caps and logs see the balancer's address, not the clients'")
		}
	}
	if pc := s.cfg.ProxyProtocol; pc != nil {
		pl, err := netsec.NewProxyListener(ln, *pc, "gateway.proxy_protocol", func(remote net.Addr, err error) {
			reason := "proxy_header"
			if errors.Is(err, netsec.ErrProxyUntrusted) {
				reason = "proxy_untrusted"
			}
			s.listenerMetrics.refused.WithLabelValues(reason).Inc()
			s.log.Warn("http: connection refused", "reason", reason, "remote", remote.String(), "err", err)
		})
		if err != nil {
			return nil, err
		}
		ln = pl
	}
	limited := netsec.NewLimitListener(ln, s.cfg.MaxConnections, s.cfg.MaxConnectionsPerIP, func(remote net.Addr, reason string) {
		s.listenerMetrics.refused.WithLabelValues(reason).Inc()
		s.log.Debug("http: connection refused", "reason", reason, "remote", remote.String())
	})
	s.limited.Store(limited)
	ln = limited
	switch {
	case s.tls != nil && s.tls.TLCPConfig() != nil:
		// TLCP beside TLS: the first record header picks the stack.
		// A failed TLCP handshake counts with TLS's.
		ln = netsec.NewProtocolListener(ln, s.tlsConfig(), s.tls.TLCPConfig(), s.cfg.ReadHeaderTimeout, func(remote net.Addr, err error) {
			if errors.Is(err, netsec.ErrTLCPHandshake) {
				s.listenerMetrics.handshakes.Inc()
				if errors.Is(err, netsec.ErrHandshakePanic) {
					// A bug, not a client: said loudly, with its stack.
					s.log.Error("http: TLCP handshake panicked; connection closed", "remote", remote.String(), "err", err)
					return
				}
				s.log.Debug("http: TLCP handshake failed", "remote", remote.String(), "err", err)
				return
			}
			s.listenerMetrics.refused.WithLabelValues("protocol").Inc()
			s.log.Debug("http: connection refused", "reason", "protocol", "remote", remote.String(), "err", err)
		})
	case s.tls != nil:
		ln = tls.NewListener(ln, s.tlsConfig())
	}
	return ln, nil
}

// tlsConfig is the listener's TLS configuration: netsec's, HTTP/1.1 only
// (WebSocket upgrades are HTTP/1.1, and HTTP/2 would multiplex requests
// past the per-connection limits). Nil without TLS.
func (s *Server) tlsConfig() *tls.Config {
	if s.tls == nil {
		return nil
	}
	c := s.tls.Config().Clone()
	c.NextProtos = []string{"http/1.1"}
	return c
}

// httpServer returns the net/http server of Serve with the configured
// limits.
func (s *Server) httpServer() *http.Server {
	return &http.Server{
		Handler:           s.handler,
		ErrorLog:          log.New(errorLog{log: s.log, handshakes: s.listenerMetrics.handshakes}, "", 0),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		// TLSNextProto non-nil and empty: no HTTP/2, even if a client
		// offered it.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
}

// errorLog is net/http's error log: a failed TLS handshake (an old
// client, a scanner, a health check that only connects) is counted and
// logged at Debug, anything else at Warn. Safe for concurrent use.
type errorLog struct {
	log        *slog.Logger
	handshakes prometheus.Counter // nil without TLS
}

func (e errorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	if e.handshakes != nil && strings.HasPrefix(msg, "http: TLS handshake error") {
		e.handshakes.Inc()
		e.log.Debug(msg)
		return len(p), nil
	}
	e.log.Warn(msg)
	return len(p), nil
}

// limitBody caps request bodies at MaxBodyBytes: a request declaring more
// is answered 413 at once, and reading past the cap fails.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.cfg.MaxBodyBytes {
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestEntityTooLarge, codeBodyTooLarge,
				fmt.Sprintf("request body of %d bytes; at most %d", r.ContentLength, s.cfg.MaxBodyBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// codeBodyTooLarge is the error code of a body over a limit.
const codeBodyTooLarge = "body_too_large"
