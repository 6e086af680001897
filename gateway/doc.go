// Package gateway is where clients and operators meet the gateway: its HTTP
// listener serves the REST market-data API (/api/v1/...), health and
// readiness (/healthz, /readyz) and Prometheus metrics (/metrics) from the
// gateway's own registry.
//
// Handlers read order books through the lock-free views of package
// orderbook and never block the feed or the book writers. Handlers run
// concurrently on net/http's goroutines; Server's methods are safe from any
// goroutine.
package gateway
