package mdbus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// connCheck is how often an Edge's and a Publisher's Run, and WaitClosed,
// look whether their NATS connection was closed for good (closedErr); the Edge also
// reads its subscriptions' drop counts and checks its epoch's and its
// publisher's liveness at this pace.
const connCheck = 100 * time.Millisecond

// closedErr returns an error wrapping ErrConnClosed, with the
// connection's last error, once nc is closed for good: nats.go gave up
// on it (MaxReconnects reached, an -ERR from the server it does not
// retry) or it was closed under its user. It returns nil while nc is
// connected or reconnecting. Safe from any goroutine.
//
// The Edge and the Publisher poll it (every connCheck) rather than set
// nats.go's closed handler: the connection is their caller's, whose
// handler it would replace.
func closedErr(nc *nats.Conn) error {
	if !nc.IsClosed() {
		return nil
	}
	return fmt.Errorf("%w (last error: %v)", ErrConnClosed, nc.LastError())
}

// WaitClosed returns nil once ctx ends, or an error wrapping
// ErrConnClosed once nc is closed for good (closedErr, within connCheck),
// whichever comes first. It watches a connection that no Edge or
// Publisher runs on all the time: a cluster node's, whose Publisher runs
// only while the node leads (RunEpoch), so that a node whose connection
// nats.go gave up on stops and is restarted, rather than failing each
// term it wins. Safe from any goroutine.
func WaitClosed(ctx context.Context, nc *nats.Conn) error {
	check := time.NewTicker(connCheck)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-check.C:
			if err := closedErr(nc); err != nil {
				return err
			}
		}
	}
}
