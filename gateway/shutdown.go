package gateway

import (
	"context"
	"fmt"
	"net/http"
)

// StopOrders makes the WebSocket endpoint refuse order.new, order.cancel
// and order.replace from now on, with the error orders.stopping, and waits
// until the requests of those kinds already handed to the order entry
// (OrderEntry.New, Cancel, Replace) have returned, or until ctx ends: then
// it returns ctx's error, wrapped, and the requests still in flight will
// return later. Once it has returned nil, the server calls none of New,
// Cancel and Replace again, so the composition root may drain the order
// manager.
//
// order.status, orders.list and the orders channel keep working until the
// connections close (Serve closes them when its context ends), and events
// of orders still reach their clients. A closing connection still calls
// OrderEntry.Disconnected: cancel-on-disconnect is the order manager's
// policy. Serve calls StopOrders itself when its context ends. Safe from
// any goroutine, any number of times.
func (s *Server) StopOrders(ctx context.Context) error {
	select {
	case <-s.ws.gate.stop():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gateway: order requests still in flight: %w", ctx.Err())
	}
}

// shutdown ends serving, within a bound:
//
//  1. The listener closes, and HTTP requests in flight get ShutdownTimeout
//     to finish (their context, derived from Serve's, has already ended);
//     then their connections are cut. This runs beside the steps below.
//  2. Order requests stop (StopOrders); those in flight get
//     ws.close_timeout to return, so that their answers are queued before
//     the close.
//  3. Every WebSocket connection is closed with 1001 "server shutting
//     down" after what was queued for it; a client that has not completed
//     the close within ws.close_timeout (one that does not read) has its
//     TCP connection closed. New upgrades are refused.
//
// It returns when all of that is done: after at most twice
// ws.close_timeout or ShutdownTimeout, whichever is longer, plus
// scheduling. Called once, from Serve's goroutine.
func (s *Server) shutdown(srv *http.Server) {
	httpDone := make(chan struct{})
	go func() {
		defer close(httpDone)
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			s.log.Warn("cutting http requests still running at shutdown", "after", s.cfg.ShutdownTimeout, "err", err)
			if err := srv.Close(); err != nil {
				s.log.Warn("closing http connections", "err", err)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), s.ws.cfg.CloseTimeout)
	if err := s.StopOrders(ctx); err != nil {
		s.log.Warn("closing connections with order requests in flight", "err", err)
	}
	cancel()
	s.ws.shutdown()
	<-httpDone
	s.log.Info("http server stopped")
}
