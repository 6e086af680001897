package cluster

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"sgw/internal/dirsync"
)

// Node is one member of the Raft cluster: a *raft.Raft with a TCP transport,
// a raft-wal log and stable store (logStore) and a file snapshot store in
// Config.DataDir, driving a StateMachine.
//
// Start must return before other methods are called; after that all methods
// may be called from any goroutine. The Node holds no lock of its own while
// calling the StateMachine or publishing on LeaderCh (see LeaderCh).
type Node struct {
	cfg   Config
	fsm   *fsm
	trans raft.Transport
	dial  *dialer // the TCP transport's address provider; unused with another transport
	store *logStore
	snaps raft.SnapshotStore

	raft *raft.Raft // set by Start; read-only afterwards

	// epoch is the Raft term in which this node became leader and has
	// applied every entry committed before it; 0 while not leader.
	epoch atomic.Uint64

	pipe pipeline // ApplyAsync's queue; see pipeline.go

	leaderCh chan Leadership // capacity 1, latest value wins
	done     chan struct{}   // closed by Close
	watchers sync.WaitGroup
	closed   atomic.Bool
}

// New validates cfg, fills its defaults, opens the stores in cfg.DataDir and
// binds the TCP transport (so Addr is known before Start). It does not start
// Raft. On error nothing is left open.
func New(cfg Config, sm StateMachine) (*Node, error) {
	return newNode(cfg, sm, nil)
}

// newNode is New with an optional transport in place of TCP (tests use
// raft's in-memory transport to cut links).
func newNode(cfg Config, sm StateMachine, trans raft.Transport) (_ *Node, err error) {
	if ln := cfg.Listener; ln != nil {
		defer func() {
			if err != nil {
				ln.Close()
			}
		}()
	}
	if sm == nil {
		return nil, errors.New("cluster: nil StateMachine")
	}
	if cfg, err = cfg.withDefaults(); err != nil {
		return nil, err
	}
	// A node that forgets its vote or its log breaks Raft's safety: each
	// directory made on the way to what raft-wal and the snapshot store
	// fsync is fsynced into its parent first.
	if err := dirsync.MkdirAll(cfg.DataDir, cfg.syncDir); err != nil {
		return nil, fmt.Errorf("cluster: data dir: %w", err)
	}
	store, err := openLogStore(cfg.DataDir, hclog.New(&hclog.LoggerOptions{
		Name: "raft-wal", Output: cfg.LogOutput, Level: hclog.LevelFromString(cfg.LogLevel),
	}), cfg.syncDir)
	if err != nil {
		return nil, err
	}
	// raft.NewFileSnapshotStore makes snapshots/ with os.MkdirAll; made
	// here first, its entry is fsynced into DataDir.
	if err := dirsync.MkdirAll(filepath.Join(cfg.DataDir, snapDir), cfg.syncDir); err != nil {
		store.Close()
		return nil, fmt.Errorf("cluster: snapshot store: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStore(cfg.DataDir, cfg.SnapshotRetain, cfg.LogOutput)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("cluster: open snapshot store: %w", err)
	}
	dial := &dialer{}
	if trans == nil {
		tcp, err := newTCPTransport(cfg, dial)
		if err != nil {
			store.Close()
			return nil, err
		}
		trans = tcp
	}
	return &Node{
		cfg:      cfg,
		dial:     dial,
		fsm:      &fsm{sm: sm},
		trans:    trans,
		store:    store,
		snaps:    snaps,
		leaderCh: make(chan Leadership, 1),
		done:     make(chan struct{}),
	}, nil
}

// Addr returns the address the transport is bound to and advertises, with
// the real port when Config.BindAddr asked for port 0.
func (n *Node) Addr() string { return string(n.trans.LocalAddr()) }

// ID returns the node's ID.
func (n *Node) ID() string { return n.cfg.NodeID }

// Start starts Raft. peers, when non-nil, replaces Config.Peers (tests and
// deployments that learn addresses only after New bound them). The cluster
// is bootstrapped with the peers only if DataDir holds no Raft state; a
// restarted node restores its latest snapshot, then replays its log as the
// leader tells it the commit index. Start returns without waiting for an
// election; watch LeaderCh.
func (n *Node) Start(peers map[string]string) error {
	if n.raft != nil {
		return errors.New("cluster: node already started")
	}
	if n.closed.Load() {
		return ErrClosed
	}
	if peers == nil {
		peers = n.cfg.Peers
	} else {
		n.dial.peers = maps.Clone(peers) // before Raft starts: the transport dials only for Raft
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.cfg.NodeID)
	rc.HeartbeatTimeout = n.cfg.HeartbeatTimeout
	rc.ElectionTimeout = n.cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = n.cfg.LeaderLeaseTimeout
	rc.CommitTimeout = n.cfg.CommitTimeout
	rc.SnapshotInterval = n.cfg.SnapshotInterval
	rc.SnapshotThreshold = n.cfg.SnapshotThreshold
	rc.TrailingLogs = n.cfg.TrailingLogs
	rc.MaxAppendEntries = n.cfg.MaxAppendEntries
	rc.BatchApplyCh = true
	rc.LogOutput = n.cfg.LogOutput
	rc.LogLevel = n.cfg.LogLevel
	if err := raft.ValidateConfig(rc); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	logs, err := raft.NewLogCache(512, n.store)
	if err != nil {
		return fmt.Errorf("cluster: log cache: %w", err)
	}
	hasState, err := raft.HasExistingState(logs, n.store, n.snaps)
	if err != nil {
		return fmt.Errorf("cluster: read raft state: %w", err)
	}
	r, err := raft.NewRaft(rc, n.fsm, logs, n.store, n.snaps, n.trans)
	if err != nil {
		return fmt.Errorf("cluster: start raft: %w", err)
	}
	n.raft = r
	n.startPipeline()
	if !hasState && len(peers) > 0 {
		if err := r.BootstrapCluster(n.bootstrapConfig(peers)).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return fmt.Errorf("cluster: bootstrap: %w", err)
		}
	}
	n.watchers.Add(1)
	go n.watchLeadership(r.LeaderCh())
	return nil
}

// bootstrapConfig builds the initial configuration from peers, adding this
// node with its bound address if missing. Servers are sorted by ID so that
// every member bootstraps the identical configuration.
func (n *Node) bootstrapConfig(peers map[string]string) raft.Configuration {
	ids := make([]string, 0, len(peers)+1)
	for id := range peers {
		ids = append(ids, id)
	}
	if _, ok := peers[n.cfg.NodeID]; !ok {
		ids = append(ids, n.cfg.NodeID)
	}
	sort.Strings(ids)
	var c raft.Configuration
	for _, id := range ids {
		addr, ok := peers[id]
		if !ok {
			addr = n.Addr()
		}
		c.Servers = append(c.Servers, raft.Server{
			Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(addr),
		})
	}
	return c
}

// Close shuts the node down without handing leadership over: Raft stops,
// pending Applies fail with ErrClosed, the transport and stores close. The
// other members elect a new leader after their heartbeat timeout. Close is
// idempotent.
func (n *Node) Close() error {
	if !n.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(n.done)
	var errs []error
	if n.raft != nil {
		if err := n.raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("cluster: raft shutdown: %w", err))
		}
	}
	n.stopPipeline()
	n.watchers.Wait()
	n.epoch.Store(0)
	// The pooled connections to the peers are closed too: each peer's
	// reader of one would otherwise block for the life of the process.
	if c, ok := n.trans.(interface{ CloseStreams() }); ok {
		c.CloseStreams()
	}
	if c, ok := n.trans.(raft.WithClose); ok {
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("cluster: close transport: %w", err))
		}
	}
	if err := n.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("cluster: close log store: %w", err))
	}
	return errors.Join(errs...)
}

// IsLeader reports whether Raft currently considers this node the leader.
// It is a local view; use StillLeader to fence an external action.
func (n *Node) IsLeader() bool {
	return n.raft != nil && n.raft.State() == raft.Leader
}

// Leader returns the ID and address of the leader as this node knows it, or
// empty strings when no leader is known.
func (n *Node) Leader() (id, addr string) {
	if n.raft == nil {
		return "", ""
	}
	a, i := n.raft.LeaderWithID()
	return string(i), string(a)
}

// Apply appends record to the replicated log and returns its index once it
// is committed on a quorum and applied to the local StateMachine. Only the
// leader may apply; timeout 0 means Config.ApplyTimeout.
//
// Errors: *NotLeaderError (errors.Is ErrNotLeader) when this node is not the
// leader, nothing appended; ErrNoQuorum when leadership was lost with the
// record in flight (a leader that cannot reach a quorum steps down after
// LeaderLeaseTimeout); ErrTimeout when the timeout passed first; ErrClosed;
// ErrRejected wrapping the StateMachine's error, with the index. After
// ErrNoQuorum or ErrTimeout the record may or may not be committed: the
// caller resolves it by reading the state the new leader rebuilt. Apply
// never blocks longer than the timeout.
func (n *Node) Apply(record []byte, timeout time.Duration) (uint64, error) {
	return n.apply(record, nil, timeout)
}

// apply is Apply. With seal (State.seal, or BeginTerm's step), what is
// appended is seal(record), made in one step with raft.Apply under the
// pipeline's mu, as applyAsync does; waiting for mu counts against the
// timeout. An error from seal is returned and nothing is appended.
func (n *Node) apply(record []byte, seal func([]byte) ([]byte, error), timeout time.Duration) (uint64, error) {
	if n.raft == nil {
		return 0, ErrNotStarted
	}
	if timeout <= 0 {
		timeout = n.cfg.ApplyTimeout
	}
	deadline := time.Now().Add(timeout) // the enqueue counts against it too
	var f raft.ApplyFuture
	if seal == nil {
		f = n.raft.Apply(record, timeout)
	} else {
		p := &n.pipe
		p.mu.Lock()
		left := time.Until(deadline)
		var err error
		if left <= 0 {
			err = ErrTimeout
		} else if record, err = seal(record); err == nil {
			f = n.raft.Apply(record, left)
		}
		p.mu.Unlock()
		if err != nil {
			return 0, err
		}
	}
	if err := awaitFuture(f, deadline, nil); err != nil {
		return 0, n.applyError(err)
	}
	return f.Index(), rejected(f)
}

// awaitFuture waits for Raft's answer to f and returns its error, or
// ErrTimeout once deadline has passed (zero: no limit), or ErrClosed
// once stop is closed (nil: never). Raft answers every future, at the
// latest on step-down or shutdown, except one queued as it shuts down: the
// goroutine that waits for the answer ends when Raft answers, or is dropped
// with the Node.
func awaitFuture(f raft.Future, deadline time.Time, stop <-chan struct{}) error {
	res := make(chan error, 1)
	go func() { res <- f.Error() }()
	var expired <-chan time.Time
	if !deadline.IsZero() {
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		expired = timer.C
	}
	select {
	case err := <-res:
		return err
	case <-expired:
		return ErrTimeout
	case <-stop:
		return ErrClosed
	}
}

// rejected returns the StateMachine's error for the applied future f,
// wrapped in ErrRejected with the index, or nil.
func rejected(f raft.ApplyFuture) error {
	if err, ok := f.Response().(error); ok && err != nil {
		return fmt.Errorf("%w at index %d: %w", ErrRejected, f.Index(), err)
	}
	return nil
}

// Barrier waits until every entry appended before it is committed and
// applied to the local StateMachine, at most timeout (0 means
// Config.ApplyTimeout). Only the leader may call it; errors are mapped as
// Apply's.
func (n *Node) Barrier(timeout time.Duration) error {
	if n.raft == nil {
		return ErrNotStarted
	}
	if timeout <= 0 {
		timeout = n.cfg.ApplyTimeout
	}
	deadline := time.Now().Add(timeout)
	if err := awaitFuture(n.raft.Barrier(timeout), deadline, nil); err != nil {
		return n.applyError(err)
	}
	return nil
}

// applyError maps Raft's future errors to this package's errors.
func (n *Node) applyError(err error) error {
	switch {
	case errors.Is(err, ErrTimeout), errors.Is(err, ErrClosed):
		return err // awaitFuture's own
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return n.notLeader()
	case errors.Is(err, raft.ErrLeadershipLost) && n.closed.Load():
		return ErrClosed // Close stepped the leader down
	case errors.Is(err, raft.ErrLeadershipLost):
		return ErrNoQuorum
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return ErrTimeout
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrClosed
	default:
		return fmt.Errorf("cluster: apply: %w", err)
	}
}

// notLeader returns the *NotLeaderError naming the leader as this node
// knows it.
func (n *Node) notLeader() error {
	id, addr := n.Leader()
	if id == n.cfg.NodeID {
		id, addr = "", ""
	}
	return &NotLeaderError{LeaderID: id, LeaderAddr: addr}
}

// Snapshot asks Raft to snapshot the StateMachine now and compact the log,
// and waits for it. ErrNothingNewToSnapshot from Raft is not an error.
func (n *Node) Snapshot() error {
	if n.raft == nil {
		return ErrNotStarted
	}
	if err := n.raft.Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return fmt.Errorf("cluster: snapshot: %w", err)
	}
	return nil
}

// AppliedIndex returns the index of the last entry applied to the local
// StateMachine.
func (n *Node) AppliedIndex() uint64 {
	if n.raft == nil {
		return 0
	}
	return n.raft.AppliedIndex()
}
