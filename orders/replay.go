package orders

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"sgw/journal"
)

// replayBatch is how many journal records a replay worker decodes at a
// time.
const replayBatch = 512

// maxReplayWorkers bounds the goroutines that decode journal records.
const maxReplayWorkers = 8

// journalAfter is a Journal that can replay the records after a seq
// without reading those before (cluster.Journal): CatchUp then costs what
// was appended since the last one.
type journalAfter interface {
	ReplayAfter(seq uint64, fn func(journal.Record) error) error
}

// replayJournal replays the journal's records after m.replayed into the
// Manager and returns how many it read (after an error, possibly more
// than it applied: the workers read ahead). Decoding the records' bodies
// is a share of a replay's cost (most of it while they were JSON, a sixth
// in the binary form), which a new leader pays before order entry opens,
// and reads nothing of the Manager, so workers decode batches of records
// in parallel while this goroutine applies them in journal order. A record that
// does not decode, or that the Manager refuses, stops the replay with its
// journal seq; the first such record in journal order is the one reported,
// as a one-at-a-time replay would, even when the journal then fails to
// read (the records read before the failure are applied first). When ctx
// ends it stops reading at the next batch: what it read is applied and
// it returns ctx's error, the Manager consistent up to m.replayed. mu
// held.
func (m *Manager) replayJournal(ctx context.Context) (int, error) {
	m.replaying, m.replayRiskErrs = true, 0
	defer func() {
		m.replaying = false
		if m.replayRiskErrs > 0 {
			m.log.Warn("orders: the replay met risk ledger refusals, each counted and logged when it happened (gateway_orders_risk_errors_total)",
				"refusals", m.replayRiskErrs)
		}
	}()
	workers := min(runtime.GOMAXPROCS(0), maxReplayWorkers)
	jobs := make(chan *replayChunk)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for c := range jobs {
				c.decode()
			}
		})
	}
	defer func() {
		close(jobs)
		wg.Wait()
	}()

	// pending holds the chunks handed to the workers, in journal order;
	// at most 2×workers are in flight, so memory stays bounded.
	var pending []*replayChunk
	apply := func() error {
		c := pending[0]
		pending = pending[1:]
		<-c.done
		for i := range c.recs {
			if err := c.errs[i]; err != nil {
				return fmt.Errorf("orders: journal record %d: %w", c.recs[i].Seq, err)
			}
			// Risk runs through the journal's trading days as they
			// happened: an order of an earlier day is not today's (its
			// client order id may be used again, its shares bought are
			// sellable now). The days change at the journal's day
			// records (dayRec), or by the records' times in a journal
			// written before them, where every working order expires as
			// those versions did (even with risk's AlwaysOpen schedule,
			// whose orders now carry on). A day record names its day, which
			// may be earlier than its time's (Recover journals the day
			// its run starts on: the last one's, until the first
			// request after midnight).
			d, isDay := c.vals[i].(*dayRec)
			switch t := time.Unix(0, c.recs[i].Time); {
			case isDay && m.replayed == 0:
				m.risk.ReplayFromDate(int32(d.Date))
			case isDay:
				// replay applies it
			case m.replayed == 0:
				m.risk.ReplayFrom(t)
			case !m.dayRecs:
				m.risk.RolloverExpiring(t)
			}
			m.replayAt = time.Unix(0, c.recs[i].Time)
			if err := m.replay(c.recs[i].Type, c.vals[i]); err != nil {
				return fmt.Errorf("orders: journal record %d: %w", c.recs[i].Seq, err)
			}
			m.replayed = c.recs[i].Seq
		}
		return nil
	}
	// applyErr is the first record refused, in journal order; once set,
	// nothing more is applied.
	var applyErr error
	submit := func(c *replayChunk) error {
		jobs <- c
		pending = append(pending, c)
		for applyErr == nil && len(pending) > 2*workers {
			applyErr = apply()
		}
		return applyErr
	}
	n := 0
	cur := newReplayChunk()
	after := m.replayed
	each := func(r journal.Record) error {
		if r.Seq <= after {
			return nil // applied by an earlier CatchUp
		}
		if len(cur.recs) == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		n++
		cur.add(r)
		if len(cur.recs) < replayBatch {
			return nil
		}
		c := cur
		cur = newReplayChunk()
		return submit(c)
	}
	var readErr error
	if ja, ok := m.jrnl.(journalAfter); ok {
		readErr = ja.ReplayAfter(after, each)
	} else {
		readErr = m.jrnl.Replay(each)
	}
	// The records read before the journal ended, or failed to read, are
	// applied first: a bad one among them is the first error in journal
	// order, and the one reported.
	if applyErr == nil && len(cur.recs) > 0 {
		submit(cur)
	}
	for applyErr == nil && len(pending) > 0 {
		applyErr = apply()
	}
	if applyErr != nil {
		return n, applyErr
	}
	return n, readErr
}

// replayChunk is a batch of journal records, their bodies copied (the
// journal's are valid only during its callback), and once done is closed,
// what decodeRecord made of each.
type replayChunk struct {
	recs  []journal.Record // without their bodies
	ends  []int            // the end of each body in arena
	arena []byte           // the bodies, back to back
	vals  []any            // set by decode
	errs  []error          // set by decode
	done  chan struct{}
}

func newReplayChunk() *replayChunk {
	return &replayChunk{
		recs: make([]journal.Record, 0, replayBatch), ends: make([]int, 0, replayBatch),
		arena: make([]byte, 0, replayBatch*256),
		done:  make(chan struct{}),
	}
}

// add appends r, with a copy of its body.
func (c *replayChunk) add(r journal.Record) {
	c.arena = append(c.arena, r.Body...)
	c.ends = append(c.ends, len(c.arena))
	r.Body = nil
	c.recs = append(c.recs, r)
}

// decode decodes every record and closes done. A worker goroutine.
func (c *replayChunk) decode() {
	c.vals, c.errs = make([]any, len(c.recs)), make([]error, len(c.recs))
	start := 0
	for i, r := range c.recs {
		end := c.ends[i]
		r.Body = c.arena[start:end:end]
		c.vals[i], c.errs[i] = decodeRecord(r)
		start = end
	}
	close(c.done)
}
