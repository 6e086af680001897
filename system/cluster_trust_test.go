package system

import (
	"net/url"
	"slices"
	"testing"

	"sgw/configs"
)

// TestTrustMembersByName: cluster.nodes[].http takes http(s)://host:port,
// and a name is what an https member's certificate is normally issued
// for. The members' HTTP listeners must read the PROXY v2 header a
// follower sends with each relayed client (the forwarder always sends
// one), so the members must be trusted PROXY peers whatever form their
// address takes. trustHosts keeps IP literals only: with names, the
// members are not trusted (and with no proxy_protocol section no header
// is read at all), and every relayed upgrade reaches net/http as garbage
// (400) or is refused as an untrusted PROXY header: no follower can
// relay order entry.
func TestTrustMembersByName(t *testing.T) {
	cc := &configs.Cluster{NodeID: "gw1", DataDir: t.TempDir(), Nodes: []configs.ClusterNode{
		{ID: "gw1", Raft: "127.0.0.1:7001", HTTP: "http://localhost:8080"},
		{ID: "gw2", Raft: "127.0.0.1:7002", HTTP: "http://localhost:8081"},
		{ID: "gw3", Raft: "127.0.0.1:7003", HTTP: "http://localhost:8082"},
	}}
	members := map[string]*url.URL{}
	for _, n := range cc.Nodes {
		u, err := url.Parse(n.HTTP)
		if err != nil {
			t.Fatal(err)
		}
		members[n.ID] = u
	}
	pc := trustMembers(nil, members)
	if pc == nil {
		t.Fatalf("members named by host name (%v): no PROXY peer trusted, no header read; a follower's relayed upgrades fail", members)
	}
	if !slices.Contains(pc.Trusted, "127.0.0.1") && !slices.Contains(pc.Trusted, "::1") {
		t.Fatalf("members named by host name: the trusted peers %v leave out the members' address 127.0.0.1", pc.Trusted)
	}
}
