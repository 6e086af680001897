package configs

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"

	"sgw/cluster"
	"sgw/netsec"
	"sgw/refdata"
)

// Cluster makes the gateway one node of a Raft cluster (normally three):
// order state (the journal's records and the upstream FIX sessions'
// stores) is replicated, an order is acknowledged only once a quorum
// holds it, and only the leader runs the upstream sessions
// (docs/ARCHITECTURE.md, "Cluster"). Nil means a single gateway with a
// local journal.
type Cluster struct {
	// NodeID is this node's stable name, one of Nodes. Required.
	NodeID string `yaml:"node_id"`
	// DataDir holds the Raft log, its stable store and snapshots. It
	// replaces orders.journal and the upstreams' store_dir. Required
	// (the demo: empty means a fresh temporary directory).
	DataDir string `yaml:"data_dir"`
	// Nodes are every member, this one included, the same list on each.
	// The Raft address must be a specific IP and port the other members
	// reach; a node restarts on its address.
	Nodes []ClusterNode `yaml:"nodes"`
	// Dial maps a member's id to the address this node dials to reach
	// its Raft transport, for NAT or a relay between the members, such as
	// {n2: "10.1.0.2:7001"}: a specific IP and port, like a raft address.
	// The member is still known by its raft address (in the Raft
	// configuration, and as the leader it names). A member not listed
	// (this node included) is dialled at its raft address. Empty means
	// every member is dialled at its raft address.
	Dial map[string]string `yaml:"dial"`
	// HTTPTLS is how this node's followers verify a member whose http is
	// https:// when they forward order entry to it: ca_file (the firm's
	// CA; zero means the system's roots), server_name (zero means the
	// member's host), and cert_file and key_file for a member whose
	// listener asks for client certificates (gateway.tls.client_ca_file):
	// the follower presents its own. Nil means the system's roots and no
	// client certificate.
	HTTPTLS *netsec.ClientTLSConfig `yaml:"http_tls"`
	// JournalGroups lets this node, when it leads, write the order
	// journal's records that arrive while the previous ones are being
	// committed as one Raft log entry (cluster.Config.JournalGroups): a
	// shorter wait for an acknowledgement under load. Set it on a member
	// only once every member runs a version that reads groups (this one
	// or later): docs/OPERATIONS.md, "Upgrading ... journal groups".
	// False (the default) writes one entry per record, as earlier
	// versions do.
	JournalGroups bool `yaml:"journal_groups"`
}

// ClusterNode is one member of the cluster.
type ClusterNode struct {
	// ID is the member's node_id.
	ID string `yaml:"id"`
	// Raft is the member's Raft address (host:port).
	Raft string `yaml:"raft"`
	// HTTP is the member's HTTP listener as the other members reach it
	// (http://host:port or https://host:port): a follower forwards
	// order-entry WebSocket connections to the leader's. Empty: this
	// member's followers refuse order entry (orders.not_leader) instead.
	HTTP string `yaml:"http"`
	// Brokers is the member's broker FIX listener as the other members
	// reach it (a specific IP and port, like raft): a follower relays a
	// broker's connection to the leader's, which alone serves the broker
	// sessions. Empty: this member's followers close broker connections
	// instead (a broker's engine then tries its next address).
	Brokers string `yaml:"brokers"`
}

// validate checks the section; it is called only when the section is set.
func (c *Cluster) validate() error {
	if !refdata.ValidID(c.NodeID, 32) {
		return fmt.Errorf("cluster.node_id %q: want 1 to 32 letters, digits, '.', '-' or '_'", c.NodeID)
	}
	if len(c.Nodes) == 0 {
		return errors.New("cluster.nodes: at least one member is required (three for a cluster that survives the loss of one)")
	}
	seen := map[string]bool{}
	raftAt := map[string]string{} // a Raft address, normalized -> its member
	self := false
	for i, n := range c.Nodes {
		if !refdata.ValidID(n.ID, 32) {
			return fmt.Errorf("cluster.nodes[%d].id %q: want 1 to 32 letters, digits, '.', '-' or '_'", i, n.ID)
		}
		if seen[n.ID] {
			return fmt.Errorf("cluster.nodes[%d].id %q: listed twice", i, n.ID)
		}
		seen[n.ID] = true
		if !specificAddr(n.Raft) {
			return fmt.Errorf("cluster.nodes[%d].raft %q: want a specific IP and port, such as 10.0.0.1:7001", i, n.Raft)
		}
		// Raft refuses a configuration naming one address twice: the
		// node would stop at its first start ("found duplicate address").
		if ap, err := netip.ParseAddrPort(n.Raft); err == nil {
			key := netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
			if other, ok := raftAt[key]; ok {
				return fmt.Errorf("cluster.nodes[%d].raft %q: also member %s's: each member listens on its own address", i, n.Raft, other)
			}
			raftAt[key] = n.ID
		}
		if n.HTTP != "" {
			if u, err := url.Parse(n.HTTP); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
				return fmt.Errorf("cluster.nodes[%d].http %q: want http://host:port or https://host:port", i, n.HTTP)
			}
		}
		if n.Brokers != "" && !specificAddr(n.Brokers) {
			return fmt.Errorf("cluster.nodes[%d].brokers %q: want a specific IP and port, such as 10.0.0.1:9878", i, n.Brokers)
		}
		self = self || n.ID == c.NodeID
	}
	if !self {
		return fmt.Errorf("cluster.node_id %q is not one of cluster.nodes", c.NodeID)
	}
	if c.HTTPTLS != nil {
		if err := c.HTTPTLS.Validate("cluster.http_tls"); err != nil {
			return err
		}
	}
	for id, addr := range c.Dial {
		if !seen[id] {
			return fmt.Errorf("cluster.dial.%s: not one of cluster.nodes", id)
		}
		if !specificAddr(addr) {
			return fmt.Errorf("cluster.dial.%s %q: want a specific IP and port, such as 10.0.0.1:7001", id, addr)
		}
	}
	return nil
}

// specificAddr reports whether addr is a specific IP (not 0.0.0.0 or ::)
// and a port other than 0.
func specificAddr(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return err == nil && port != "" && port != "0" && ip != nil && !ip.IsUnspecified()
}

// Node returns the cluster.Config of this node: its Raft address, the
// bootstrap peers from Nodes and the dial addresses from Dial.
func (c *Cluster) Node() cluster.Config {
	cfg := cluster.Config{NodeID: c.NodeID, DataDir: c.DataDir, Peers: map[string]string{}, DialAddrs: maps.Clone(c.Dial),
		JournalGroups: c.JournalGroups}
	for _, n := range c.Nodes {
		cfg.Peers[n.ID] = n.Raft
		if n.ID == c.NodeID {
			cfg.BindAddr = n.Raft
		}
	}
	return cfg
}
