package cluster

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"sgw/internal/dirsync"
)

// Default timings (hashicorp/raft's own). On loopback (or a LAN) they
// detect a lost leader and elect a new one in about 1 to 2 s: a follower
// notices the silence after HeartbeatTimeout, randomized in [1 s, 2 s),
// then stands for election; a split vote costs one more ElectionTimeout
// round. A leader cut off from its quorum steps down after
// LeaderLeaseTimeout (500 ms), which bounds how long Apply and StillLeader
// can keep believing in a stale leadership. Shorter timeouts (400/400/200
// ms were tried) take over faster but depose a healthy leader on a loaded
// 2-core machine (a GC pause or a slow fsync outlasts the lease), and each
// such step-down leaves its in-flight orders in doubt.
const (
	DefaultHeartbeatTimeout   = 1000 * time.Millisecond
	DefaultElectionTimeout    = 1000 * time.Millisecond
	DefaultLeaderLeaseTimeout = 500 * time.Millisecond
	DefaultCommitTimeout      = 20 * time.Millisecond
	DefaultApplyTimeout       = 2 * time.Second
	DefaultSnapshotInterval   = 30 * time.Second
	DefaultSnapshotThreshold  = 8192
	DefaultTrailingLogs       = 10240
	DefaultSnapshotRetain     = 2
	DefaultMaxPool            = 3
	DefaultTransportTimeout   = 2 * time.Second
	DefaultBindAddr           = "127.0.0.1:0"
	DefaultMaxAppendEntries   = 1024
	DefaultMaxInFlight        = 4096
	defaultCoalesceWindow     = 1
)

// DefaultGroupsMaxAppendEntries is MaxAppendEntries's default with
// JournalGroups: few entries wait at once then (one journal group and
// at most two batches per FIX session), and hashicorp/raft allocates
// a slice of MaxAppendEntries pointers (8 KiB at 1024) on every
// node at each commit it sees and for each AppendEntries RPC, whatever
// the entries: at 1024 that was 56 % of the bytes allocated per
// journal record, twice the garbage collections.
const DefaultGroupsMaxAppendEntries = 64

// Config configures one node of the cluster. New copies it and fills the
// defaults; the zero value of each field is documented.
type Config struct {
	// NodeID is this node's stable Raft server ID. Required.
	NodeID string

	// BindAddr is the TCP address the Raft transport listens on and
	// advertises. It must be a specific IP (not 0.0.0.0). Zero value means
	// "127.0.0.1:0": an ephemeral port, reported by Node.Addr. A node that
	// restarts must come back on the address its peers know it by.
	BindAddr string

	// Listener, when set, is the Raft transport's listener, already bound
	// (by a process that must know every member's port before any node
	// exists, such as the one-process demo cluster); BindAddr is then
	// ignored and the listener's address is advertised. The Node owns it
	// from New on and closes it. Zero value: the transport binds BindAddr.
	Listener net.Listener

	// DataDir holds wal/ (the Raft log and stable store, raft-wal), LOCK
	// (held while a process has it open) and snapshots/; an older
	// version's raft.db (raft-boltdb) is migrated into wal/ at the first
	// start.
	// Required; created if missing (0700), as are the directories above
	// it, each fsynced into its parent, and wal/ and snapshots/ in it.
	DataDir string

	// Peers maps every member's NodeID to its Raft address, this node
	// included, for bootstrapping a fixed cluster (normally 3 nodes). It is
	// used only when DataDir holds no Raft state yet; every member must be
	// given the same map. Zero value means no bootstrap: the node waits to
	// be contacted by an existing cluster. If this node's own ID is missing
	// it is added with its bound address.
	Peers map[string]string

	// DialAddrs maps a member's NodeID to the address this node dials to
	// reach it, for NAT or a relay between the members. A member missing
	// here is dialled at its Raft address (its address in Peers, else in
	// the Raft configuration). Identity is unchanged: every member still
	// knows this node, and names the leader, by its Raft address; this
	// node's own ID is ignored. Zero value means every member is dialled
	// at its Raft address.
	DialAddrs map[string]string

	// HeartbeatTimeout is how long a follower waits without contact from
	// the leader before it stands for election. Zero means 1 s.
	HeartbeatTimeout time.Duration
	// ElectionTimeout is how long a candidate waits for votes before
	// starting a new round. Zero means 1 s. Must be >= HeartbeatTimeout.
	ElectionTimeout time.Duration
	// LeaderLeaseTimeout is how long a leader keeps leading without contact
	// from a quorum. Zero means 500 ms. Must be <= HeartbeatTimeout.
	LeaderLeaseTimeout time.Duration
	// CommitTimeout bounds how long a follower may lag behind on the commit
	// index when there is no new entry. Zero means 20 ms.
	CommitTimeout time.Duration
	// ApplyTimeout is the timeout Apply uses when its caller passes 0.
	// Zero means 2 s.
	ApplyTimeout time.Duration

	// MaxAppendEntries is how many log entries the leader sends to a
	// follower in one AppendEntries RPC, and how many Applies may wait in
	// Raft's queue to be appended as one batch (one fsync of the log).
	// Zero means 1024, Raft's maximum, or with JournalGroups 64, Raft's
	// own default (DefaultGroupsMaxAppendEntries).
	MaxAppendEntries int
	// MaxInFlight bounds the ApplyAsync records whose completion has not
	// been delivered yet; ApplyAsync waits for a slot (at most ApplyTimeout)
	// when all are taken. Zero means 4096.
	MaxInFlight int
	// JournalGroups lets this node, while it leads, append the journal
	// records that arrive while its previous journal entry is uncommitted
	// as one log entry, a journal group ('G', pipeline.go): fewer, larger
	// entries, a shorter wait for a record under load. A version before
	// the first that reads groups skips them (before 6628a3a, quietly)
	// or stops at them, so set it only once every member runs a version
	// that reads them; a member of such a version, with or without it
	// set, reads the groups a leader writes. False means one entry per
	// record, as earlier versions write.
	JournalGroups bool
	// coalesceWindow bounds the journal entries submitted to Raft and not
	// yet seen answered while JournalGroups is set; journal records
	// appended meanwhile gather into one group. Zero means
	// defaultCoalesceWindow (tests set others); it is negative, no
	// gathering, without JournalGroups.
	coalesceWindow int

	// SnapshotInterval is how often Raft checks whether to snapshot. Zero
	// means 30 s.
	SnapshotInterval time.Duration
	// SnapshotThreshold is how many new log entries trigger a snapshot.
	// Zero means 8192.
	SnapshotThreshold uint64
	// TrailingLogs is how many entries are kept after a snapshot so a slow
	// follower can catch up without installing a snapshot. Zero means 10240.
	TrailingLogs uint64
	// SnapshotRetain is how many snapshots are kept on disk. Zero means 2.
	SnapshotRetain int

	// MaxPool is the number of pooled TCP connections per peer. Zero means 3.
	MaxPool int
	// TransportTimeout bounds one transport I/O. Zero means 2 s.
	TransportTimeout time.Duration

	// LogOutput receives Raft's log lines. Nil means they are discarded.
	LogOutput io.Writer
	// LogLevel is Raft's log level ("DEBUG", "INFO", "WARN", "ERROR").
	// Empty means "WARN".
	LogLevel string

	// syncDir fsyncs a directory (tests count the calls); nil means
	// dirsync.Sync.
	syncDir func(dir string) error
}

// Check validates c as New would, without listening or opening the data
// directory: what `gateway check-config` asks of a cluster node.
func (c Config) Check() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults returns a copy of c with zero fields set to their defaults,
// or an error naming the invalid field.
func (c Config) withDefaults() (Config, error) {
	if c.NodeID == "" {
		return c, errors.New("cluster: Config.NodeID is required")
	}
	if c.DataDir == "" {
		return c, errors.New("cluster: Config.DataDir is required")
	}
	if c.BindAddr == "" {
		c.BindAddr = DefaultBindAddr
	}
	if c.syncDir == nil {
		c.syncDir = dirsync.Sync
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	setDur(&c.HeartbeatTimeout, DefaultHeartbeatTimeout)
	setDur(&c.ElectionTimeout, DefaultElectionTimeout)
	setDur(&c.LeaderLeaseTimeout, DefaultLeaderLeaseTimeout)
	setDur(&c.CommitTimeout, DefaultCommitTimeout)
	setDur(&c.ApplyTimeout, DefaultApplyTimeout)
	setDur(&c.SnapshotInterval, DefaultSnapshotInterval)
	setDur(&c.TransportTimeout, DefaultTransportTimeout)
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = DefaultTrailingLogs
	}
	if c.MaxAppendEntries == 0 {
		c.MaxAppendEntries = DefaultMaxAppendEntries
		if c.JournalGroups {
			c.MaxAppendEntries = DefaultGroupsMaxAppendEntries
		}
	}
	switch {
	case !c.JournalGroups:
		c.coalesceWindow = -1
	case c.coalesceWindow == 0:
		c.coalesceWindow = defaultCoalesceWindow
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.SnapshotRetain == 0 {
		c.SnapshotRetain = DefaultSnapshotRetain
	}
	if c.MaxPool == 0 {
		c.MaxPool = DefaultMaxPool
	}
	if c.LogLevel == "" {
		c.LogLevel = "WARN"
	}
	if c.LogOutput == nil {
		c.LogOutput = io.Discard
	}
	for name, d := range map[string]time.Duration{
		"HeartbeatTimeout": c.HeartbeatTimeout, "ElectionTimeout": c.ElectionTimeout,
		"LeaderLeaseTimeout": c.LeaderLeaseTimeout, "CommitTimeout": c.CommitTimeout,
		"ApplyTimeout": c.ApplyTimeout, "SnapshotInterval": c.SnapshotInterval,
		"TransportTimeout": c.TransportTimeout,
	} {
		if d < 0 {
			return c, fmt.Errorf("cluster: Config.%s is negative (%v)", name, d)
		}
	}
	if c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		return c, fmt.Errorf("cluster: Config.LeaderLeaseTimeout (%v) exceeds HeartbeatTimeout (%v)", c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		return c, fmt.Errorf("cluster: Config.ElectionTimeout (%v) is below HeartbeatTimeout (%v)", c.ElectionTimeout, c.HeartbeatTimeout)
	}
	if c.MaxAppendEntries < 0 || c.MaxAppendEntries > DefaultMaxAppendEntries {
		return c, fmt.Errorf("cluster: Config.MaxAppendEntries %d is outside 1..%d", c.MaxAppendEntries, DefaultMaxAppendEntries)
	}
	if c.MaxInFlight < 0 {
		return c, fmt.Errorf("cluster: Config.MaxInFlight %d is negative", c.MaxInFlight)
	}
	if c.SnapshotRetain < 0 || c.MaxPool < 0 {
		return c, errors.New("cluster: Config.SnapshotRetain and MaxPool must not be negative")
	}
	for id, addr := range c.Peers {
		if id == "" || addr == "" {
			return c, fmt.Errorf("cluster: Config.Peers has an empty ID or address (%q: %q)", id, addr)
		}
	}
	for id, addr := range c.DialAddrs {
		if id == "" || addr == "" {
			return c, fmt.Errorf("cluster: Config.DialAddrs has an empty ID or address (%q: %q)", id, addr)
		}
	}
	return c, nil
}
