package cluster

import (
	"fmt"
	"maps"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// dialer is the TCP transport's raft.ServerAddressProvider: the address
// this node dials to reach a member (Config.DialAddrs), which may differ
// from the member's Raft address (NAT, a relay, a test's fault proxy).
//
// Its fields are written by newNode and Start before Raft starts and only
// read afterwards, by the transport's goroutines (ServerAddr is called
// before every dial and by EncodePeer); it holds no lock.
type dialer struct {
	self  string            // this node's ID
	local string            // this node's Raft address (the bound one)
	dial  map[string]string // Config.DialAddrs, cloned
	peers map[string]string // the bootstrap peers' Raft addresses
}

var _ raft.ServerAddressProvider = (*dialer)(nil)

// ServerAddr returns the address to dial member id at. This node's own ID
// maps to its Raft address, so that what it advertises (the RPC header's
// address, a candidate's address) stays its identity; a member without a
// dial address maps to its Raft address as the bootstrap peers give it.
// An unknown ID is an error: the transport then dials the address of the
// Raft configuration (and logs a warning).
func (d *dialer) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	if string(id) == d.self {
		return raft.ServerAddress(d.local), nil
	}
	if a, ok := d.dial[string(id)]; ok {
		return raft.ServerAddress(a), nil
	}
	if a, ok := d.peers[string(id)]; ok {
		return raft.ServerAddress(a), nil
	}
	return "", fmt.Errorf("cluster: no address known for member %q", id)
}

// newTCPTransport binds the Raft TCP transport of cfg (or takes
// cfg.Listener), dialling members through d (filled with cfg's maps and the
// bound address).
func newTCPTransport(cfg Config, d *dialer) (*raft.NetworkTransport, error) {
	d.self, d.dial, d.peers = cfg.NodeID, maps.Clone(cfg.DialAddrs), maps.Clone(cfg.Peers)
	tcfg := &raft.NetworkTransportConfig{
		ServerAddressProvider: d,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: "raft-net", Output: cfg.LogOutput, Level: hclog.LevelFromString(cfg.LogLevel),
		}),
		MaxPool: cfg.MaxPool,
		Timeout: cfg.TransportTimeout,
	}
	if cfg.Listener != nil {
		addr, ok := cfg.Listener.Addr().(*net.TCPAddr)
		if !ok || addr.IP.IsUnspecified() {
			return nil, fmt.Errorf("cluster: listener %s: want a TCP listener on a specific IP", cfg.Listener.Addr())
		}
		tcfg.Stream = streamLayer{cfg.Listener}
		tcp := raft.NewNetworkTransportWithConfig(tcfg)
		d.local = string(tcp.LocalAddr())
		return tcp, nil
	}
	tcp, err := raft.NewTCPTransportWithConfig(cfg.BindAddr, nil, tcfg)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen on %s: %w", cfg.BindAddr, err)
	}
	d.local = string(tcp.LocalAddr())
	return tcp, nil
}

// streamLayer is the Raft transport's raft.StreamLayer over a listener
// bound by someone else (Config.Listener): it accepts there and dials plain
// TCP. Safe for concurrent use, as its listener is.
type streamLayer struct{ net.Listener }

// Dial connects to a member's Raft address within timeout.
func (s streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	return d.Dial("tcp", string(addr))
}
