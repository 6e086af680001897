package feedpeer

import (
	"context"
	"sync"
	"time"
)

// Record is one published message of a feed and the event it carries.
type Record struct {
	// Seq is, for ITCH, the SoupBinTCP sequence number; for SZSE, the
	// ApplSeqNum within Channel (0 for a snapshot, which has none).
	Seq uint64
	// Channel is the SZSE ChannelNo; 0 for ITCH.
	Channel uint16
	// Event is what the message says.
	Event Event
	// Flow is the 1-based number of the flow event the message carries
	// (Flow.Next's count); 0 for a message the feed added itself (system
	// events, directory, snapshots).
	Flow int
}

// tapeEntry is one message of the day's stream as sessions send it.
type tapeEntry struct {
	at     time.Time
	packet []byte // the bytes written to a session, framing included
	rec    Record
}

// tape is a feed's append-only record of messages, shared by every server
// of the feed. Its methods are safe for concurrent use; mu guards
// everything. changed is closed (and replaced) on every append and at the
// end, so a session can wait for news without polling.
type tape struct {
	mu      sync.Mutex
	entries []tapeEntry
	ended   bool
	changed chan struct{}
}

func newTape() *tape { return &tape{changed: make(chan struct{})} }

// appendLocked adds one entry; signalLocked tells waiting sessions. mu must
// be held.
func (t *tape) appendLocked(e tapeEntry) { t.entries = append(t.entries, e) }

func (t *tape) signalLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// endLocked marks the end of the day. mu must be held.
func (t *tape) endLocked() {
	t.ended = true
	t.signalLocked()
}

// view returns how many entries there are, whether the day has ended, and
// a channel closed at the next change.
func (t *tape) view() (int, bool, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries), t.ended, t.changed
}

// slice returns entries [from, to); the entries themselves never change.
func (t *tape) slice(from, to int) []tapeEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.entries[from:to:to]
}

// records returns a copy of every record.
func (t *tape) records() []Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Record, len(t.entries))
	for i, e := range t.entries {
		out[i] = e.rec
	}
	return out
}

// stream calls publish every 10 ms with the number of flow events due at
// perSecond, until ctx ends or publish fails.
func stream(ctx context.Context, perSecond int, publish func(int) error) error {
	if perSecond <= 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	done := 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tick.C:
			due := int(now.Sub(start).Seconds()*float64(perSecond)) - done
			if due <= 0 {
				continue
			}
			if err := publish(due); err != nil {
				return err
			}
			done += due
		}
	}
}
