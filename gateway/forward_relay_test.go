package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"sgw/auth"
	"sgw/netsec"
	"sgw/netsec/netsectest"
)

// startLeader runs a gateway taking orders (entry) behind a listener on
// 127.0.0.1 that reads the members' PROXY headers, as a cluster's leader
// does, over TLS with tlsCfg when it is not nil, and returns its base URL.
func startLeader(t *testing.T, v *auth.Verifier, entry OrderEntry, tlsCfg *tls.Config) (*url.URL, *Server) {
	t.Helper()
	return startLeaderWith(t, Config{}, Deps{Tokens: v, Orders: entry}, tlsCfg)
}

// startLeaderWith is startLeader with cfg and deps (its books and
// registry filled in).
func startLeaderWith(t *testing.T, cfg Config, deps Deps, tlsCfg *tls.Config) (*url.URL, *Server) {
	t.Helper()
	deps.Market, deps.PublishedDepth, deps.Registry = newTestBooks(t, testSymbols...), 20, prometheus.NewRegistry()
	lsrv, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	lctx, lcancel := context.WithCancel(context.Background())
	ldone := make(chan struct{})
	go func() { defer close(ldone); lsrv.ws.run(lctx) }()
	<-lsrv.ws.started
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := netsec.NewProxyListener(raw, netsec.ProxyConfig{Trusted: []string{"127.0.0.1"}, Optional: true}, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	lhs := httptest.NewUnstartedServer(lsrv.Handler())
	lhs.Listener = pl
	if tlsCfg != nil {
		lhs.TLS = tlsCfg
		lhs.StartTLS()
	} else {
		lhs.Start()
	}
	t.Cleanup(func() { lhs.CloseClientConnections(); lcancel(); <-ldone; lhs.Close() })
	u, err := url.Parse(lhs.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u, lsrv
}

// newFollower returns a gateway that relays its trading clients where fw
// says, over forwardTLS (Deps.ForwardTLS), with its books and registry.
func newFollower(t *testing.T, v *auth.Verifier, fw Forwarder, forwardTLS *tls.Config) (*Server, *testBooks, *prometheus.Registry) {
	t.Helper()
	return newFollowerWS(t, v, fw, forwardTLS, WSConfig{})
}

// newFollowerWS is newFollower with the WebSocket configuration ws.
func newFollowerWS(t *testing.T, v *auth.Verifier, fw Forwarder, forwardTLS *tls.Config, ws WSConfig) (*Server, *testBooks, *prometheus.Registry) {
	t.Helper()
	fbooks := newTestBooks(t, testSymbols...)
	freg := prometheus.NewRegistry()
	fsrv, err := New(Config{WS: ws}, Deps{Market: fbooks, PublishedDepth: 20, Registry: freg, Tokens: v, Orders: newFakeEntry(),
		Forward: fw, ForwardTLS: forwardTLS})
	if err != nil {
		t.Fatal(err)
	}
	return fsrv, fbooks, freg
}

// startFollower is newFollower serving on 127.0.0.1.
func startFollower(t *testing.T, v *auth.Verifier, fw Forwarder, forwardTLS *tls.Config) (*wsEnv, *Server) {
	t.Helper()
	fsrv, fbooks, freg := newFollower(t, v, fw, forwardTLS)
	return startEnv(t, fsrv, fbooks, freg, v), fsrv
}

// traderToken returns a verifier whose anonymous viewers see level 2 and
// a token of u1 that may trade A1.
func traderToken(t *testing.T) (*auth.Verifier, string) {
	t.Helper()
	v, err := auth.New(auth.Config{Secret: strings.Repeat("k", 32), Anonymous: auth.FullEntitlements()})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := v.IssueFor("u1", []string{"A1"}, time.Hour, time.Now())
	return v, tok
}

// TestForwardIPv6ClientToIPv4Leader: a trading client that reaches a
// follower over IPv6 (dual-stack public address, or a balancer's PROXY
// header naming an IPv6 client) while the members reach each other over
// IPv4 is relayed to the leader like any other. The broker front handles
// the mixed families (brokerFront.relay); the WebSocket forwarder fed both
// addresses to AppendProxyHeader, which refuses mixed families, so every
// such client was refused 502 leader_unreachable and could never trade on
// a follower.
func TestForwardIPv6ClientToIPv4Leader(t *testing.T) {
	ln6, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	v, tok := traderToken(t)
	leader, _ := startLeader(t, v, newFakeEntry(), nil)
	fw := &movingForwarder{}
	fw.at.Store(leader)
	fsrv, _, _ := newFollower(t, v, fw, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); fsrv.ws.run(ctx) }()
	<-fsrv.ws.started
	hs := httptest.NewUnstartedServer(fsrv.Handler())
	hs.Listener.Close()
	hs.Listener = ln6
	hs.Start()
	t.Cleanup(func() { hs.CloseClientConnections(); cancel(); <-done; hs.Close() })

	c := dialRaw(t, "ws"+strings.TrimPrefix(hs.URL, "http")+"/ws", tok)
	got := c.ask(`{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","type":"limit","price":"1700.00","qty":100}`, "accepted", "error")
	if got["type"] != "accepted" {
		t.Fatalf("through the relay: %v", got)
	}
}

// TestForwardToTLSLeader: members reach each other's HTTP listeners over
// https (configs/cluster.example.yaml: http: https://10.0.1.11:8443, with
// gateway.tls set), each serving a certificate for its member address
// issued by the firm's own CA, and a follower relays its trading clients
// to the leader there. Before, the forwarder verified the leader with the
// system's roots only, and nothing let the firm's CA be given (nor a
// client certificate, for a leader whose listener asks for one): every
// relay failed 502. Deps.ForwardTLS (cluster.http_tls) gives both.
func TestForwardToTLSLeader(t *testing.T) {
	v, tok := traderToken(t)
	pki := netsectest.NewPKI(t, "firm CA")
	pair := pki.Issue("leader", netsec.Leaf{CommonName: "gw1", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	member := pki.Client("gw2", "gw2")
	withCA, err := netsec.ClientTLS(netsec.ClientTLSConfig{CAFile: pki.CAFile}, "", "cluster.http_tls")
	if err != nil {
		t.Fatal(err)
	}
	withCert, err := netsec.ClientTLS(netsec.ClientTLSConfig{CAFile: pki.CAFile, CertFile: member.CertFile, KeyFile: member.KeyFile}, "", "cluster.http_tls")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		mutual  bool        // the leader's listener asks for client certificates
		forward *tls.Config // Deps.ForwardTLS
		want    string      // "" to be relayed, or what the refusal says
	}{
		{"system roots", false, nil, "certificate signed by unknown authority"},
		{"the firm's CA", false, withCA, ""},
		{"mutual TLS, no certificate", true, withCA, "leader_unreachable"},
		{"mutual TLS", true, withCert, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ltls := &tls.Config{Certificates: []tls.Certificate{pair.Certificate}, NextProtos: []string{"http/1.1"}}
			if tc.mutual {
				ltls.ClientAuth, ltls.ClientCAs = tls.RequireAndVerifyClientCert, pki.Pool()
			}
			leader, _ := startLeader(t, v, newFakeEntry(), ltls)
			fw := &movingForwarder{}
			fw.at.Store(leader)
			fe, _ := startFollower(t, v, fw, tc.forward)
			ctx, cancel := context.WithTimeout(context.Background(), testBound)
			defer cancel()
			conn, resp, err := websocket.Dial(ctx, fe.url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}}})
			var body []byte
			if resp != nil && resp.Body != nil {
				body, _ = io.ReadAll(resp.Body)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("relay to a TLS leader: %v: %s", err, body)
			case tc.want == "":
				conn.CloseNow()
			case err == nil:
				conn.CloseNow()
				t.Fatalf("relayed, want refused (%s)", tc.want)
			case resp == nil || resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), tc.want):
				t.Fatalf("refused with %v: %s, want 502 %s", err, body, tc.want)
			}
		})
	}
}

// TestForwardReleasedAfterLeaderCloses: once the leader has closed a
// relayed client (its term ended: CloseTraders), the follower's relay
// ends even if the client never closes its side, as a client served
// directly is closed within ws.close_timeout, and as the broker front
// frees a relay once one side has closed (brokerRelayDrain). Before, the
// reverse proxy passed the leader's end on as a half-close and waited for
// the client's: a client that never sends again (hung, or hostile) held
// the follower's goroutines, its connection and its per-IP slot for good,
// even after the follower saw order entry move and cut the relay.
func TestForwardReleasedAfterLeaderCloses(t *testing.T) {
	v, tok := traderToken(t)
	leader, lsrv := startLeader(t, v, newFakeEntry(), nil)
	fw := &movingForwarder{}
	fw.at.Store(leader)
	fe, fsrv := startFollower(t, v, fw, nil)
	c := dialRaw(t, fe.url, tok)
	if got := c.ask(`{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","type":"limit","price":"1700.00","qty":100}`, "accepted", "error"); got["type"] != "accepted" {
		t.Fatalf("through the relay: %v", got)
	}
	// The client stops reading (hung). The leader's term ends: it closes
	// its traders, after ws.close_timeout for this one.
	if n := lsrv.CloseTraders(); n != 1 {
		t.Fatalf("the leader closed %d traders, want 1", n)
	}
	waitUntil(t, func() bool { return len(lsrv.ws.snapshotClients()) == 0 })
	// And the follower learns that another node leads.
	other, _ := url.Parse("http://127.0.0.1:1")
	fw.at.Store(other)
	perIP := func() int { return fsrv.ws.limits.OpenFrom(clientAddr("127.0.0.1")) }
	// Before, the relay held it for good: only a broken relay waits out
	// waitUntil's bound.
	waitUntil(t, func() bool { return perIP() == 0 })
}

// TestForwardCountsTowardMaxConnections: the connections a follower
// relays to the leader count toward its WebSocket caps, ws.max_connections
// and ws.max_connections_per_ip, with those it serves itself, until the
// relays end. Past a cap, a client is refused as one served here would be
// (429 and the cap's code), whether it trades or reads market data. Before,
// the total cap counted only the clients served on the node, so a
// follower held relayed connections up to the listener's far larger cap.
func TestForwardCountsTowardMaxConnections(t *testing.T) {
	v, tok := traderToken(t)
	leader, _ := startLeader(t, v, newFakeEntry(), nil)
	for _, tc := range []struct {
		name   string
		ws     WSConfig
		reason string
	}{
		{"in total", WSConfig{MaxConnections: 2}, "too_many_connections"},
		{"by address", WSConfig{MaxConnectionsPerIP: 2}, "too_many_connections_per_ip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fw := &movingForwarder{}
			fw.at.Store(leader)
			fsrv, fbooks, freg := newFollowerWS(t, v, fw, nil, tc.ws)
			fe := startEnv(t, fsrv, fbooks, freg, v)
			var relayed []*rawConn
			for i := range 2 {
				c := dialRaw(t, fe.url, tok)
				id := fmt.Sprintf("%s%d", tc.name[:2], i)
				if got := c.ask(`{"op":"order.new","clOrdId":"`+id+`","account":"A1","symbol":"600519.SH","side":"buy","type":"limit","price":"1700.00","qty":100}`, "accepted", "error"); got["type"] != "accepted" {
					t.Fatalf("through the relay: %v", got)
				}
				relayed = append(relayed, c)
			}
			if n := len(fsrv.ws.snapshotClients()); n != 0 {
				t.Fatalf("the follower serves %d clients itself, want none", n)
			}
			if n := metricValue(t, freg, "gateway_ws_relayed_clients", ""); n != 2 {
				t.Errorf("gateway_ws_relayed_clients = %v, want 2", n)
			}
			for _, token := range []string{tok, ""} {
				ctx, cancel := context.WithTimeout(context.Background(), testBound)
				h := http.Header{}
				if token != "" {
					h.Set("Authorization", "Bearer "+token)
				}
				conn, resp, err := websocket.Dial(ctx, fe.url, &websocket.DialOptions{HTTPHeader: h})
				cancel()
				var body []byte
				if resp != nil && resp.Body != nil {
					body, _ = io.ReadAll(resp.Body)
				}
				if err == nil {
					conn.CloseNow()
					t.Fatalf("a third connection (token %v) was taken past the cap", token != "")
				}
				if resp == nil || resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), `"`+tc.reason+`"`) {
					t.Fatalf("a third connection (token %v): %v, %s; want 429 %s", token != "", err, body, tc.reason)
				}
			}
			if n := metricValue(t, freg, "gateway_ws_rejected_total", `reason="`+tc.reason+`"`); n != 2 {
				t.Errorf("gateway_ws_rejected_total{reason=%s} = %v, want 2", tc.reason, n)
			}

			// The relays end: the counts return to zero, and a client is
			// taken again.
			for _, c := range relayed {
				c.conn.CloseNow()
			}
			counted := fsrv.ws.limits.Open
			waitUntil(t, func() bool { n, ips := counted(); return n == 0 && ips == 0 })
			if n := metricValue(t, freg, "gateway_ws_relayed_clients", ""); n != 0 {
				t.Errorf("gateway_ws_relayed_clients = %v after the relays ended, want 0", n)
			}
			c := dialRaw(t, fe.url, tok)
			if got := c.ask(`{"op":"order.new","clOrdId":"`+tc.name[:2]+`9","account":"A1","symbol":"600519.SH","side":"buy","type":"limit","price":"1700.00","qty":100}`, "accepted", "error"); got["type"] != "accepted" {
				t.Fatalf("after the relays ended: %v", got)
			}
		})
	}
}

// relayAdmin is an Admin counting its calls, failing each with err when
// set (a follower's: it leads nothing). Safe for concurrent use.
type relayAdmin struct {
	calls atomic.Int64
	err   error
}

func (a *relayAdmin) Kill(string, bool) (int, error) { a.calls.Add(1); return 0, a.err }

// TestKillRelayedToLeader: an operator's kill switch request that reaches
// a cluster follower (any node behind the load balancer) is relayed to
// the leader and turned there, as a trading client is; while no node
// leads it is refused 503 no_leader with Retry-After. Before, the
// follower answered 400 orders.not_leader: two times in three an operator
// (or a script, which takes a 400 for final) could not turn the switch.
func TestKillRelayedToLeader(t *testing.T) {
	v, err := auth.New(auth.Config{Secret: strings.Repeat("k", 32), Anonymous: auth.FullEntitlements()})
	if err != nil {
		t.Fatal(err)
	}
	ops := operatorToken(t, v, "ops")
	cfg := Config{Admins: []string{"ops"}}
	leaderAdmin := &relayAdmin{}
	leader, _ := startLeaderWith(t, cfg, Deps{Tokens: v, Orders: newFakeEntry(), Admin: leaderAdmin}, nil)
	fw := &movingForwarder{}
	fw.at.Store(leader)
	followerAdmin := &relayAdmin{err: errors.New("orders: orders.not_leader: this gateway does not lead the cluster")}
	fsrv, err := New(cfg, Deps{Market: newTestBooks(t, testSymbols...), PublishedDepth: 20, Registry: prometheus.NewRegistry(),
		Tokens: v, Orders: newFakeEntry(), Admin: followerAdmin, Forward: fw})
	if err != nil {
		t.Fatal(err)
	}
	follower := httptest.NewServer(fsrv.Handler())
	t.Cleanup(follower.Close)

	kill := func() (int, string, http.Header) {
		t.Helper()
		req, err := http.NewRequest("POST", follower.URL+"/api/v1/admin/kill", strings.NewReader(`{"account":"A1","on":true}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+ops)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), resp.Header
	}
	if code, body, _ := kill(); code != http.StatusOK || !strings.Contains(body, `"on":true`) {
		t.Fatalf("kill on a follower: %d %s; want 200 from the leader", code, body)
	}
	if l, f := leaderAdmin.calls.Load(), followerAdmin.calls.Load(); l != 1 || f != 0 {
		t.Fatalf("kill switch turned %d times on the leader, %d on the follower; want 1, 0", l, f)
	}

	fw.at.Store(nil) // an election: no node leads
	if code, body, h := kill(); code != http.StatusServiceUnavailable || !strings.Contains(body, codeNoLeader) || h.Get("Retry-After") == "" {
		t.Fatalf("kill while no node leads: %d %s (Retry-After %q); want 503 %s with Retry-After", code, body, h.Get("Retry-After"), codeNoLeader)
	}
	if l, f := leaderAdmin.calls.Load(), followerAdmin.calls.Load(); l != 1 || f != 0 {
		t.Fatalf("kill switch turned %d times on the leader, %d on the follower; want 1, 0", l, f)
	}
}
