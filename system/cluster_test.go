package system

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sgw/atrest"
	"sgw/cluster"
	"sgw/configs"
	"sgw/gateway/mdclient"
	"sgw/internal/freeport"
	"sgw/journal"
	"sgw/refdata"
)

// clusterNode is one gateway process of a test cluster.
type clusterNode struct {
	cfg   *configs.File // its own copy: the cluster section names it
	http  string        // its HTTP address
	child *child        // nil while killed
}

// start starts (or restarts) the node's process.
func (n *clusterNode) start(t *testing.T) { n.child = startChildAt(t, n.cfg, n.http) }

// stopCluster stops every live node with SIGTERM, the leader last.
func stopCluster(t *testing.T, nodes []*clusterNode, leader *clusterNode) {
	t.Helper()
	for _, n := range nodes {
		if n != leader && n.child != nil {
			n.child.term(t)
		}
	}
	leader.child.term(t)
}

// clusterJournal reads the replicated journal n holds (n stopped), opened
// with keys when its storage is sealed.
func clusterJournal(n *clusterNode, keys *atrest.KeyRing) readJournal {
	return func(fn func(journal.Record) error) error { return cluster.ReadJournal(n.cfg.Cluster.DataDir, keys, fn) }
}

// startCluster starts three gateway processes as one cluster on the
// venue.
func startCluster(t *testing.T, v *venue) []*clusterNode { return startClusterOn(t, v.cfg) }

// startClusterOn starts three gateway processes as one cluster whose
// upstream lines, and the rest of each node's configuration, are cfg's.
func startClusterOn(t *testing.T, cfg *configs.File) []*clusterNode {
	t.Helper()
	nodes := clusterNodes(t, cfg)
	for _, n := range nodes {
		n.start(t)
	}
	return nodes
}

// clusterNodes configures three gateway processes as one cluster from cfg
// (a venue's configuration), without starting them. Each node's
// configuration is its own copy down to its upstream lines, so a test may
// change one node's.
func clusterNodes(t *testing.T, base *configs.File) []*clusterNode {
	t.Helper()
	addrs := freeport.Take(t, 6) // Raft, then HTTP: known to every member before the first start
	var members []configs.ClusterNode
	for i := range 3 {
		members = append(members, configs.ClusterNode{ID: fmt.Sprintf("n%d", i+1), Raft: addrs[i], HTTP: "http://" + addrs[3+i]})
	}
	var nodes []*clusterNode
	for i := range 3 {
		cfg := *base
		ord := *base.Orders
		ord.Upstreams = slices.Clone(ord.Upstreams)
		for j := range ord.Upstreams {
			ord.Upstreams[j].Lines = slices.Clone(ord.Upstreams[j].Lines)
		}
		cfg.Orders = &ord
		cfg.Cluster = &configs.Cluster{NodeID: members[i].ID, DataDir: t.TempDir(), Nodes: members, JournalGroups: true}
		nodes = append(nodes, &clusterNode{cfg: &cfg, http: addrs[3+i]})
	}
	return nodes
}

// role asks a node's /readyz for its role.
func role(base string) string {
	r, _ := readyRole(base)
	return r
}

// readyRole asks a node's /readyz for its role and the leader it names
// ("" when it does not answer). A node without quorum answers 503, whose
// error message names its role ("cluster: node candidate sees no
// quorum"); the leader is then "".
func readyRole(base string) (role, leader string) {
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return "", ""
	}
	defer resp.Body.Close()
	var body struct {
		Role   string `json:"role"`
		Leader string `json:"leader"`
		Error  struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.NewDecoder(resp.Body).Decode(&body) != nil {
		return "", ""
	}
	if body.Role == "" {
		if _, rest, ok := strings.Cut(body.Error.Message, "cluster: node "); ok {
			body.Role, _, _ = strings.Cut(rest, " ")
		}
	}
	return body.Role, body.Leader
}

// waitClusterLeader waits until a live node reports itself leader and
// the venue has the core session logged on (the leader's term is open),
// and returns it.
func waitClusterLeader(t *testing.T, v *venue, nodes []*clusterNode) *clusterNode {
	t.Helper()
	return waitLeaderLoggedOn(t, nodes, func() bool { return v.fix.LoggedOn("SGW-CORE") })
}

// waitLeaderLoggedOn waits until a live node reports itself leader and
// loggedOn (the venue's view of the leader's core session) holds, and
// returns it.
func waitLeaderLoggedOn(t *testing.T, nodes []*clusterNode, loggedOn func() bool) *clusterNode {
	t.Helper()
	var leader *clusterNode
	waitUntil(t, "a cluster leader with its upstream session", 60*time.Second, func() bool {
		leader = nil
		for _, n := range nodes {
			if n.child != nil && role(n.child.base) == "leader" {
				leader = n
			}
		}
		return leader != nil && loggedOn()
	})
	return leader
}

// TestClusterKill9Leader kills the leader with SIGKILL mid-stream of
// orders again and again (a different moment each time), restarting the
// killed node as a follower: after every takeover the new leader resumes
// the upstream session from the replicated store and journal. At the end
// every order a client heard accepted is in the replicated journal, and
// every journaled order reached the venue exactly once.
func TestClusterKill9Leader(t *testing.T) {
	kills := 20
	if testing.Short() {
		kills = 3
	}
	v := startVenue(t)
	nodes := startCluster(t, v)
	tok := token(t, v.cfg)
	var traders []*trader
	var ids []string
	var takeovers []time.Duration
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	for k := range kills {
		leader := waitClusterLeader(t, v, nodes)
		// Every other round the client connects to a follower, which
		// relays its connection to the leader.
		entry := leader
		if k%2 == 1 {
			for _, n := range nodes {
				if n != leader && n.child != nil {
					entry = n
				}
			}
		}
		tr := newTrader(t, entry.child.base, tok)
		traders = append(traders, tr)
		n := 40 + rng.IntN(120) // the kill comes after n/2 orders, at 400/s
		var killed time.Time
		ids = append(ids, tr.stream(fmt.Sprintf("k%d", k), n, 400, func() {
			killed = time.Now()
			leader.child.kill(t)
			leader.child = nil
		})...)
		<-tr.done
		if killed.IsZero() {
			// The client's connection ended before the kill: leadership
			// moved on its own (an overloaded leader missed its lease).
			// Its orders are checked like the others; nothing to time.
			t.Logf("round %d: the connection ended after %d orders, before the kill (leadership moved on its own)", k, len(ids))
			continue
		}
		next := waitClusterLeader(t, v, nodes)
		takeovers = append(takeovers, time.Since(killed))
		if next == leader {
			t.Fatal("the killed node leads")
		}
		leader.start(t)
	}
	// A last stream on the last leader, left to finish: its orders work.
	leader := waitClusterLeader(t, v, nodes)
	tr := newTrader(t, leader.child.base, tok)
	traders = append(traders, tr)
	more := tr.stream("last", 20, 100, nil)
	tr.waitFor("the last orders working", func() bool {
		for _, id := range more {
			if tr.final[id] != "new" {
				return false
			}
		}
		return true
	})
	ids = append(ids, more...)
	// Orders the killed leaders left unanswered are resolved by the last
	// leader's recovery (status request, then PossResend): wait until none
	// is pending on it before stopping the cluster.
	status := waitResolved(t, leader, tok, ids)
	// Stop every node cleanly, the leader last, and read the journal the
	// last leader holds.
	stopCluster(t, nodes, leader)
	uids, count := journaledIn(t, clusterJournal(leader, nil))
	for _, id := range ids {
		if uid, ok := uids[id]; ok {
			if fresh, dup := v.fix.Seen(uid); fresh+dup == 0 {
				t.Logf("%s (%s): journaled, status on the last leader %q, not at the venue", id, uid, status[id])
				cluster.ReadJournal(leader.cfg.Cluster.DataDir, nil, func(r journal.Record) error {
					if strings.Contains(string(r.Body), uid) {
						t.Logf("  journal %d %c %q", r.Seq, r.Type, r.Body)
					}
					return nil
				})
			}
		}
	}
	// A follower that has not yet heard of a new leader serves the client
	// itself and refuses its orders (orders.not_leader), journaling
	// nothing.
	checkExactlyOnceIn(t, v, uids, count, ids, []string{"orders.not_leader"}, traders...)
	if len(takeovers) == 0 {
		t.Fatal("leadership moved on its own before every kill: no takeover after a kill was tested")
	}
	slices.Sort(takeovers)
	t.Logf("%d kills of the leader; takeover (kill to a new leader with its upstream session logged on): min %v, median %v, max %v",
		len(takeovers), takeovers[0], takeovers[len(takeovers)/2], takeovers[len(takeovers)-1])
}

// waitResolved waits until no order of ids is pending_new on the leader
// (orders a deposed leader left unanswered are resolved by the next
// leader's recovery: status request, then PossResend) and returns their
// statuses there.
func waitResolved(t *testing.T, leader *clusterNode, tok string, ids []string) map[string]string {
	t.Helper()
	probe := newTrader(t, leader.child.base, tok) // its status answers are not the orders' outcomes
	deadline := time.Now().Add(2 * time.Minute)
	status := map[string]string{}
	for _, id := range ids {
		for status[id] = probe.statusOf(id); status[id] == "pending_new"; status[id] = probe.statusOf(id) {
			if time.Now().After(deadline) {
				t.Fatalf("%s still pending_new on the last leader", id)
			}
			time.Sleep(50 * time.Millisecond) // the gateway has no "resolved" notification for another client's order; poll its status
		}
	}
	return status
}

// TestClusterFollowerForwards: a trading client that connects to a
// follower is relayed to the leader, whose orders it enters (a browser's
// upgrade, with its page's Origin, too); when the leader dies the relayed
// connection ends, and the client, connecting to the same node again, is
// served by the new leader.
func TestClusterFollowerForwards(t *testing.T) {
	v := startVenue(t)
	nodes := startCluster(t, v)
	tok := token(t, v.cfg)
	leader := waitClusterLeader(t, v, nodes)
	var follower *clusterNode
	for _, n := range nodes {
		if n != leader {
			follower = n
		}
	}
	// A browser's upgrade carries the Origin of the page, which the
	// follower served: relayed, it passes the leader's same-origin check;
	// a foreign page's does not.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dialFrom := func(origin string) (*mdclient.Client, *http.Response, error) {
		return mdclient.Dial(ctx, "ws"+strings.TrimPrefix(follower.child.base, "http")+"/ws",
			mdclient.Options{Token: tok, Header: http.Header{"Origin": {origin}}})
	}
	page, _, err := dialFrom(follower.child.base)
	if err != nil {
		t.Fatalf("a browser's upgrade through the follower: %v", err)
	}
	page.Close()
	if _, resp, err := dialFrom("http://foreign.example"); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a foreign page's upgrade through the follower: %v, want 403", err)
	}
	tr := newTrader(t, follower.child.base, tok)
	tr.send("f1")
	tr.waitFor("f1 working", func() bool { return tr.final["f1"] == "new" || tr.errors["f1"] != "" })
	if e := tr.errors["f1"]; e != "" {
		t.Fatalf("f1 refused through the follower: %s", e)
	}
	leader.child.kill(t)
	leader.child = nil
	select {
	case <-tr.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the relayed connection outlived the leader by 30s")
	}
	next := waitClusterLeader(t, v, nodes)
	tr2 := newTrader(t, follower.child.base, tok)
	tr2.send("f2")
	tr2.waitFor("f2 working", func() bool { return tr2.final["f2"] == "new" || tr2.errors["f2"] != "" })
	if e := tr2.errors["f2"]; e != "" {
		t.Fatalf("f2 refused (new leader %s, entered at %s): %s", next.cfg.Cluster.NodeID, follower.cfg.Cluster.NodeID, e)
	}
}

// TestClusterTakeoverAtVolume measures a takeover late in a large day: it
// enters SGW_VOLUME_ORDERS resting buys through the leader at 1,000/s,
// waits until each is working at the venue, then kills the leader with
// SIGKILL and times the takeover as TestClusterKill9Leader does (kill to a
// new leader with its upstream session logged on). The new leader's
// journal, session stores and the venue's resting orders then hold the
// day's volume. Then a new order is timed from its entry to the venue's
// acknowledgement, and the recovery's status checks of the day's orders
// until all are sent. It takes minutes, so it runs only when the variable is
// set:
//
//	SGW_VOLUME_ORDERS=100000 go test -count=1 -v -run TestClusterTakeoverAtVolume -timeout 30m ./system/
func TestClusterTakeoverAtVolume(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SGW_VOLUME_ORDERS"))
	if n <= 0 {
		t.Skip("set SGW_VOLUME_ORDERS (e.g. 100000) to measure a takeover at the day's volume")
	}
	v := startVenue(t)
	for i := range v.cfg.Orders.Risk.Accounts {
		if v.cfg.Orders.Risk.Accounts[i].ID == "A1" {
			v.cfg.Orders.Risk.Accounts[i].Cash = refdata.Price(1e9 * refdata.PriceScale) // 1e9 CNY: every order of the day rests
		}
	}
	nodes := startCluster(t, v)
	tok := token(t, v.cfg)
	leader := waitClusterLeader(t, v, nodes)
	tr := newTrader(t, leader.child.base, tok)
	start := time.Now()
	ids := tr.stream("v", n, 1000, nil)
	if len(ids) != n {
		t.Fatalf("the stream ended after %d orders: %v", len(ids), tr.closeErr)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		tr.mu.Lock()
		working, refused, ch := len(tr.final), maps.Clone(tr.errors), tr.notify
		tr.mu.Unlock()
		if working == n {
			break
		}
		for id, e := range refused {
			t.Fatalf("%d orders refused, %s among them: %s", len(refused), id, e)
		}
		select {
		case <-ch:
		case <-time.After(time.Until(deadline)):
			t.Fatalf("%d of %d orders working at the venue after 10 minutes", working, n)
		}
	}
	t.Logf("%d orders working at the venue after %v", n, time.Since(start).Round(time.Millisecond))

	killed := time.Now()
	leader.child.kill(t)
	leader.child = nil
	next := waitClusterLeader(t, v, nodes)
	took := time.Since(killed)
	if next == leader {
		t.Fatal("the killed node leads")
	}
	t.Logf("takeover after %d orders (kill to a new leader with its upstream session logged on): %v", n, took)

	// The new leader's recovery checks the day's open orders at the venue;
	// a client's new order must not wait behind those checks.
	after := newTrader(t, next.child.base, tok)
	sent := time.Now()
	after.send("after")
	after.waitFor("the order after the takeover working at the venue", func() bool { return after.final["after"] == "new" })
	t.Logf("an order entered after the takeover: working at the venue %v after it was sent", time.Since(sent).Round(time.Millisecond))
	rg := &runningGateway{base: next.child.base, ops: operatorToken(t, v.cfg)}
	waitUntil(t, "the recovery's status checks all sent", 10*time.Minute, func() bool {
		return metricValue(t, rg, `gateway_orders_status_checks_queued{upstream="core"}`) == 0
	})
	t.Logf("the recovery's status checks of the %d orders all sent %v after the kill", n, time.Since(killed).Round(time.Millisecond))
	stopCluster(t, nodes, next)
}
