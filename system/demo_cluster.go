package system

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"golang.org/x/sync/errgroup"

	"sgw/auth"
	"sgw/configs"
)

// DemoCluster is the demo as a cluster, in one process: the simulator
// (feeds and FIX acceptor), a NATS server on a free loopback port, n
// gateway nodes of one Raft cluster (each running the feeds and books,
// the leader publishing them on the bus and running the upstream FIX
// sessions) and one edge gateway serving the books mirrored from the bus.
//
// Quickfix keeps a process-wide registry of sessions, which works here
// because only the leader's term runs the upstream sessions and a term
// starts after the previous one ended; the brokers' FIX acceptor (one
// per node, the same sessions) is left out for the same reason.
//
// NewDemoCluster constructs; Run runs once, by one goroutine; the fields
// are read-only after NewDemoCluster.
type DemoCluster struct {
	*Venue // nil until NewDemoCluster built it
	NATS   *server.Server
	// Nodes are the cluster's nodes, n1 first, then the edge.
	Nodes []*DemoNode
	// Token and OperatorToken are as the Demo's.
	Token, OperatorToken string
	// Dir holds the nodes' Raft data (a temporary directory, removed
	// when Run returns or by Close).
	Dir string
}

// DemoNode is one gateway of a DemoCluster.
type DemoNode struct {
	// ID is the node's cluster ID (n1, n2, ...), or "edge".
	ID string
	// Role is configs.RoleIngest (a cluster node) or configs.RoleEdge.
	Role    string
	BaseURL string
	Gateway *Gateway
	ln      net.Listener
}

// NewDemoCluster builds a DemoCluster of n nodes (1 to 9) and an edge.
// load returns a fresh copy of the demo configuration (which must have a
// sim section) each time it is called: each node gets its own.
func NewDemoCluster(load func() (*configs.File, error), n int, log *slog.Logger) (dc *DemoCluster, err error) {
	if n < 1 || n > 9 {
		return nil, fmt.Errorf("%w: a demo cluster has 1 to 9 nodes, not %d", configs.ErrConfig, n)
	}
	base, err := load()
	if err != nil {
		return nil, err
	}
	if base.Orders == nil {
		return nil, fmt.Errorf("%w: a demo cluster needs an orders section: the cluster replicates order entry", configs.ErrConfig)
	}
	dc = &DemoCluster{}
	built := dc // dc is nil once an error is returned
	defer func() {
		if err != nil {
			built.Close()
		}
	}()
	if dc.Venue, err = NewVenue(base, log); err != nil {
		return nil, err
	}
	if dc.NATS, err = StartNATS("127.0.0.1:0"); err != nil {
		return nil, err
	}
	if dc.Dir, err = os.MkdirTemp("", "sgw-demo-cluster-"); err != nil {
		return nil, fmt.Errorf("system: demo cluster directory: %w", err)
	}
	// Every node's HTTP and Raft listeners are bound first (their
	// addresses are in every node's cluster section); each node then takes
	// its own.
	members := make([]configs.ClusterNode, n)
	raftLns := make([]net.Listener, n)
	defer func() {
		for _, ln := range raftLns {
			if ln != nil { // not taken by a node
				ln.Close()
			}
		}
	}()
	for i := range members {
		if raftLns[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("system: demo node raft listen: %w", err)
		}
		nd, err := dc.listen(fmt.Sprintf("n%d", i+1), configs.RoleIngest, base)
		if err != nil {
			return nil, err
		}
		members[i] = configs.ClusterNode{ID: nd.ID, Raft: raftLns[i].Addr().String(), HTTP: nd.BaseURL}
	}
	if _, err := dc.listen("edge", configs.RoleEdge, base); err != nil {
		return nil, err
	}
	for _, nd := range dc.Nodes {
		cfg, err := load()
		if err != nil {
			return nil, err
		}
		cfg.MarketBus = &configs.MarketBus{URL: dc.NATS.ClientURL(), Role: nd.Role}
		if nd.Role == configs.RoleEdge {
			cfg.Feeds, cfg.Orders, cfg.Brokers, cfg.Cluster = nil, nil, nil, nil
		} else {
			cfg.Brokers = nil
			WireSimFeeds(cfg, dc.Sim)
			if dc.FIX != nil {
				if err := wireSimFIX(cfg, dc.FIX); err != nil {
					return nil, err
				}
			}
			// Every node runs this build: journal groups are safe.
			cfg.Cluster = &configs.Cluster{NodeID: nd.ID, DataDir: filepath.Join(dc.Dir, nd.ID), Nodes: members, JournalGroups: true}
		}
		var raftLn net.Listener
		for i, m := range members {
			if m.ID == nd.ID {
				raftLn, raftLns[i] = raftLns[i], nil
			}
		}
		if nd.Gateway, err = newGateway(cfg, log.With("node", nd.ID), raftLn); err != nil {
			return nil, fmt.Errorf("system: demo node %s: %w", nd.ID, err)
		}
		nd.Gateway.SetStartReason(fmt.Sprintf("demo cluster: node %s of %d", nd.ID, n))
	}
	if tokens := dc.Nodes[0].Gateway.tokens; tokens != nil {
		if dc.Token, err = tokens.IssueFor("demo", DemoAccounts, 12*time.Hour, time.Now()); err != nil {
			return nil, err
		}
		if len(base.Gateway.Admins) > 0 {
			if dc.OperatorToken, err = tokens.Issue(auth.Claims{Subject: base.Gateway.Admins[0], Admin: true,
				Expires: time.Now().Add(12 * time.Hour).Unix()}); err != nil {
				return nil, err
			}
		}
	}
	return dc, nil
}

// listen binds a node's HTTP listener on a free loopback port and adds
// the node.
func (dc *DemoCluster) listen(id, role string, cfg *configs.File) (*DemoNode, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("system: demo node %s: http listen: %w", id, err)
	}
	scheme := "http"
	if cfg.Gateway.TLS != nil {
		scheme = "https"
	}
	nd := &DemoNode{ID: id, Role: role, BaseURL: scheme + "://" + ln.Addr().String(), ln: ln}
	dc.Nodes = append(dc.Nodes, nd)
	return nd, nil
}

// Run runs the simulator and every node until ctx ends or one fails, then
// shuts the NATS server down.
func (dc *DemoCluster) Run(ctx context.Context) error {
	eg, ctx := errgroup.WithContext(ctx)
	eg.Go(func() error { return dc.Venue.Run(ctx) })
	for _, nd := range dc.Nodes {
		eg.Go(func() error {
			if err := nd.Gateway.Run(ctx, nd.ln); err != nil {
				return fmt.Errorf("node %s: %w", nd.ID, err)
			}
			return nil
		})
	}
	err := eg.Wait()
	dc.NATS.Shutdown()
	dc.NATS.WaitForShutdown()
	if rerr := os.RemoveAll(dc.Dir); rerr != nil && err == nil {
		err = fmt.Errorf("system: demo cluster directory: %w", rerr)
	}
	return err
}

// Close releases a DemoCluster that will not be run.
func (dc *DemoCluster) Close() {
	for _, nd := range dc.Nodes {
		if nd.Gateway != nil {
			nd.Gateway.close()
		}
		nd.ln.Close() // never served: nothing to report
	}
	if dc.Venue != nil {
		dc.Venue.Close()
	}
	if dc.NATS != nil {
		dc.NATS.Shutdown()
	}
	if dc.Dir != "" {
		os.RemoveAll(dc.Dir)
	}
}
