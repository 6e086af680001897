package feedpeer

import (
	"context"
	"testing"
	"time"

	"sgw/refdata"
)

func refPrice(p int64) refdata.Price { return refdata.Price(p) }

// testCtx returns a context ended with the test (and bounded, so that a
// broken wait fails instead of hanging).
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// runServer runs srv until the test ends.
func runServer(t *testing.T, srv interface{ Run(context.Context) error }) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}
