package system

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"sgw/cluster"
	"sgw/orders"
	"sgw/risk"
)

// standbyEvery is how often a follower's standby order manager applies
// what the replicated journal committed since it last looked: at a
// takeover the new term replays at most about this much of the journal.
const standbyEvery = 100 * time.Millisecond

// standby is the order manager a follower keeps warm: it applies the
// replicated journal's records as they commit (orders.Manager.CatchUp),
// so that when this node leads, the term's Recover replays only the tail
// and a takeover does not grow with the day's journal. The manager serves
// nothing meanwhile: no upstream, no client, no Run.
//
// Its goroutine (run) owns the manager until take or close stops it (a
// catch-up under way stops at its next batch of records; a manager taken
// then is consistent up to what it applied, and the term's Recover
// replays the rest); take and close are called once, by the node's run
// loop.
// applied and failed may be read from any goroutine.
type standby struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns
	// applied is the journal seq the manager has applied up to; failed
	// is set once it cannot go on.
	applied atomic.Uint64
	failed  atomic.Bool

	// Set by run before done is closed.
	m   *orders.Manager
	j   *termJournal
	err error
}

// startStandby builds a standby manager on a goroutine of its own: its
// first catch-up replays the whole journal, which the node's run loop
// must not wait for.
func (c *clustered) startStandby() *standby {
	ctx, cancel := context.WithCancel(context.Background())
	s := &standby{cancel: cancel, done: make(chan struct{})}
	go s.run(ctx, c)
	return s
}

func (s *standby) run(ctx context.Context, c *clustered) {
	defer close(s.done)
	defer func() { s.failed.Store(s.err != nil) }()
	m, tj, err := c.newManager()
	if err != nil {
		s.err = err
		return
	}
	s.m, s.j = m, tj
	start := time.Now()
	tick := time.NewTicker(standbyEvery)
	defer tick.Stop()
	for first := true; ; first = false {
		n, err := m.CatchUp(ctx)
		s.applied.Store(m.Replayed())
		if err != nil && !(ctx.Err() != nil && errors.Is(err, ctx.Err())) {
			s.fail(c, err)
			return
		}
		if ctx.Err() != nil {
			// Stopped, perhaps part way through a catch-up: the manager
			// is consistent up to what it applied, and a term that takes
			// it replays the rest.
			return
		}
		if first {
			c.log.Info("cluster: standby order manager caught up with the replicated journal", "records", n, "took", time.Since(start))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// fail keeps err and closes the manager, which is unusable now: a term
// builds its own. run's goroutine.
func (s *standby) fail(c *clustered, err error) {
	c.log.Error("cluster: the standby order manager failed; a takeover here would replay the whole journal", "err", err)
	s.err = err
	s.m.Close()
	s.m, s.j = nil, nil
}

// take stops the standby and hands its manager and journal over to a
// term, caught up to what was applied when it stopped: the term's
// Recover replays the rest. It returns nil if the standby failed (the
// error is logged); the term then builds a manager of its own.
func (s *standby) take(c *clustered) (*orders.Manager, *termJournal) {
	s.cancel()
	<-s.done
	if s.err != nil {
		c.log.Warn("cluster: the standby order manager failed; the term replays the whole journal", "err", s.err)
		return nil, nil
	}
	return s.m, s.j
}

// close stops the standby and closes its manager.
func (s *standby) close() {
	s.cancel()
	<-s.done
	if s.m != nil {
		s.m.Close()
	}
}

// newManager builds an order manager on the replicated journal, with
// its own risk checker, as each term and each standby starts from.
func (c *clustered) newManager() (*orders.Manager, *termJournal, error) {
	j, err := cluster.NewJournal(cluster.JournalConfig{Node: c.node, State: c.state})
	if err != nil {
		return nil, nil, err
	}
	rc, err := risk.New(c.terms.risk, nil)
	if err != nil {
		return nil, nil, err
	}
	tj := &termJournal{replicatedJournal: j}
	m, err := orders.New(c.terms.orders, rc, tj, c.log.With("component", "orders"))
	if err != nil {
		return nil, nil, fmt.Errorf("system: order manager: %w", err)
	}
	return m, tj, nil
}
