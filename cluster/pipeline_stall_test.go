package cluster

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// stallTransport is an in-memory transport whose AppendEntries carrying
// entries wait while stalled (a follower whose disk stalls: it still
// answers heartbeats, so the leader keeps leading, but nothing commits).
// Heartbeats (no entries) pass.
type stallTransport struct {
	*raft.InmemTransport
	stalled *atomic.Bool
	release <-chan struct{}
}

func (s *stallTransport) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

func (s *stallTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	if len(args.Entries) > 0 && s.stalled.Load() {
		<-s.release
	}
	return s.InmemTransport.AppendEntries(id, target, args, resp)
}

// TestApplyAsyncBoundedWhileCommitsStall: while commits stall on a leader
// that keeps leading, records time out (ErrTimeout) and free their slots,
// but the waiter still holds them in its queue; ApplyAsync must still
// return within about ApplyTimeout (ErrBusy at worst), as documented,
// and never block holding the pipeline's lock until Raft answers.
func TestApplyAsyncBoundedWhileCommitsStall(t *testing.T) {
	const applyTimeout = 300 * time.Millisecond
	var stalled atomic.Bool
	release := make(chan struct{})
	var releaseOnce sync.Once
	unstall := func() { releaseOnce.Do(func() { close(release) }) }
	c := startCluster(&testCluster{t: t, events: make(chan leaderEvent, 64),
		config: func(cfg *Config) { cfg.MaxInFlight, cfg.ApplyTimeout = 2, applyTimeout },
		wrap: func(tr *raft.InmemTransport) raft.Transport {
			return &stallTransport{InmemTransport: tr, stalled: &stalled, release: release}
		},
	}, true)
	t.Cleanup(unstall) // before the nodes are killed
	leader := c.waitLeader("")

	stalled.Store(true)
	// Fill the pipeline; both records time out while nothing commits.
	done := make(chan error, 8)
	for i := range 2 {
		if err := leader.node.ApplyAsync([]byte(fmt.Sprintf("stalled-%d", i)), func(_ uint64, err error) { done <- err }); err != nil {
			t.Fatalf("ApplyAsync %d: %v", i, err)
		}
	}
	for i := range 2 {
		select {
		case err := <-done:
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("record %d: %v, want ErrTimeout", i, err)
			}
		case <-time.After(waitDeadline):
			t.Fatal("no completion for a stalled record")
		}
	}
	if !leader.node.IsLeader() {
		t.Skip("the leader stepped down (loaded machine): nothing stalls")
	}
	// Slots are free again: more records are accepted, or refused with
	// ErrBusy, within about ApplyTimeout each.
	returned := make(chan error, 1)
	go func() {
		var err error
		for i := range 3 {
			if err = leader.node.ApplyAsync([]byte(fmt.Sprintf("after-%d", i)), func(_ uint64, err error) { done <- err }); err != nil {
				break
			}
		}
		returned <- err
	}()
	// Before, the third call blocked on the waiter's full queue for as
	// long as the stall lasted: only a broken pipeline waits out
	// waitDeadline.
	select {
	case err := <-returned:
		if !errors.Is(err, ErrBusy) {
			t.Fatalf("ApplyAsync while commits stall: %v, want ErrBusy", err)
		}
	case <-time.After(waitDeadline):
		stillLeader := leader.node.IsLeader()
		unstall()
		<-returned
		t.Fatalf("ApplyAsync blocked for %v while commits stalled (leader throughout: %v): the waiter's queue is full of timed-out records whose slots were freed", waitDeadline, stillLeader)
	}
}
