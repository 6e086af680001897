// Package gateway is where clients and operators meet the gateway: its HTTP
// listener serves the REST market-data API (/api/v1/...), health and
// readiness (/healthz, /readyz) and Prometheus metrics (/metrics) from the
// gateway's own registry.
//
// Handlers read order books through the lock-free views of package
// orderbook and never block the feed or the book writers. Handlers run
// concurrently on net/http's goroutines; Server's methods are safe from any
// goroutine.
//
// The same listener serves /ws: WebSocket market data fanned out by one
// hub per book shard, and order entry into an OrderEntry (the order
// manager). Server.Serve runs until its context ends, then shuts down
// within a bound: order requests stop (Server.StopOrders, which the
// composition root may call earlier, before draining the order manager),
// every WebSocket connection is closed with 1001, clients that do not
// complete the close are cut after ws.close_timeout, and HTTP requests
// still running after ShutdownTimeout are cut.
package gateway
