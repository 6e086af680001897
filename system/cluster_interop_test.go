package system

import (
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"sgw/fix/qfcpp"
	"sgw/internal/freeport"
)

// TestInteropClusterKill9Leader runs a 3-node cluster in front of QuickFIX
// C++'s executor (FIX 4.4), which fills every order at once and knows
// nothing of PossDup or PossResend beyond what its session layer does: an
// order it gets twice as an application message it fills twice. A trader
// streams orders, through the leader or (every other round) through a
// follower that relays it; the leader is killed with SIGKILL mid-stream,
// a few times, and restarted as a follower. Each takeover reads as a
// machine restart to the new leader's session (the sequence number skips
// to the replicated reservation, the venue's resend request is gap
// filled, orders the replicated store lacks are probed, refused with 35=j
// by the executor, and sent again flagged PossResend unless the venue's
// own resent report showed them). At the end every order a client heard
// accepted is in the replicated journal, every journaled order reached the
// executor once and was filled there once, the last leader holds each one
// filled, and the executor got no order the journal lacks.
func TestInteropClusterKill9Leader(t *testing.T) {
	const kills = 4
	v := startQFVenue(t, qfOpts{begin: qfcpp.FIX44, shared: true})
	nodes := startClusterOn(t, v.cfg)
	tok := token(t, v.cfg)
	logons := 0 // the venue's Logons to the core session before the last kill
	loggedOn := func() bool { return v.logons("core") > logons }
	var traders []*trader
	var ids []string
	var takeovers []time.Duration
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	for k := range kills {
		leader := waitLeaderLoggedOn(t, nodes, loggedOn)
		logons = v.logons("core")
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
		n := 40 + rng.IntN(80) // the kill comes after n/2 orders, at 300/s
		var killed time.Time
		ids = append(ids, tr.streamAt(fmt.Sprintf("k%d", k), n, 300, "45.60", map[int]func(){n / 2: func() {
			killed = time.Now()
			leader.child.kill(t)
			leader.child = nil
		}})...)
		<-tr.done
		next := waitLeaderLoggedOn(t, nodes, loggedOn)
		takeovers = append(takeovers, time.Since(killed))
		if next == leader {
			t.Fatal("the killed node leads")
		}
		leader.start(t)
	}
	// A last stream on the last leader, left to finish: its orders fill.
	leader := waitLeaderLoggedOn(t, nodes, loggedOn)
	tr := newTrader(t, leader.child.base, tok)
	traders = append(traders, tr)
	more := tr.streamAt("last", 20, 100, "45.60", nil)
	tr.waitFor("the last orders filled", func() bool {
		for _, id := range more {
			if tr.final[id] != "filled" {
				return false
			}
		}
		return true
	})
	ids = append(ids, more...)
	// Orders the killed leaders left unanswered are resolved by the last
	// leader's recovery; their statuses there are their outcomes.
	status := waitResolved(t, leader, tok, ids)
	stopCluster(t, nodes, leader)
	uids, count := journaledIn(t, clusterJournal(leader, nil))
	// A follower that has not yet heard of a new leader serves the client
	// itself and refuses its orders (orders.not_leader), journaling
	// nothing.
	heard, _, refused := checkHeard(t, uids, ids, []string{"orders.not_leader"}, nil, traders...)
	checkFilledOnceIn(t, v, "core", uids, count, ids, func(id string) string { return status[id] })
	// Orders whose one fresh NewOrderSingle (PossDup resends apart) was a
	// new leader's PossResend: the replicated store lacked them, and the
	// venue did too.
	possResent, _ := v.count("core", qfcpp.Incoming, func(m qfcpp.Message) bool { return m.Type() == "D" && m.Get(97) == "Y" })
	// Each new leader's sequence numbers skipped to the replicated
	// reservation: the venue asked for the numbers it never saw and the
	// new leader filled the gap.
	resendReqs, _ := v.count("core", qfcpp.Outgoing, func(m qfcpp.Message) bool { return m.Type() == "2" && m.Get(56) == "SGW-CORE" })
	fills, possDupFills := v.count("core", qfcpp.Incoming, func(m qfcpp.Message) bool {
		return m.Type() == "4" && m.Get(123) == "Y" && m.Get(49) == "SGW-CORE"
	})
	gapFills := fills + possDupFills
	if resendReqs < kills || gapFills < kills {
		t.Errorf("after %d takeovers the venue sent %d resend requests and got %d gap fills, want at least %d each", kills, resendReqs, gapFills, kills)
	}
	slices.Sort(takeovers)
	t.Logf("%d orders sent, %d acknowledged to the client, %d journaled, %d refused; %d reached the venue first as a new leader's PossResend",
		len(ids), len(heard), len(uids), refused, possResent)
	t.Logf("%d kills of the leader; takeover (kill to the venue's Logon of the new leader's session): min %v, median %v, max %v",
		kills, takeovers[0], takeovers[len(takeovers)/2], takeovers[len(takeovers)-1])
}

// TestInteropClusterBrokerKill9 runs a broker on QuickFIX C++ (our
// initiator, given every member's broker address as its alternates)
// against a 3-node cluster in front of QuickFIX C++'s executor. Only the
// leader serves the broker session (a follower the broker reaches relays
// its connection there, with a PROXY v2 header), on the replicated session
// store. The leader is killed with SIGKILL while the broker streams
// orders, a few times: the broker's engine reconnects, the new leader
// resumes the session where the replicated store left it (the sequence
// numbers skip to its reservation; the broker's orders it lacks come back
// by resend recovery, PossDup, and are entered once), resends the trades
// the store lacks (PossResend) and restates every order whose last stored
// report is behind. At the end every order the gateway journaled reached
// the executor once and was filled there once, and the broker got its
// trade without asking, unflagged once at most; every other order is
// unknown to the gateway, and the broker's status request says so.
func TestInteropClusterBrokerKill9(t *testing.T) {
	const kills, perRound = 3, 30
	v := startQFVenue(t, qfOpts{begin: qfcpp.FIX44, shared: true})
	nodes := clusterNodes(t, v.cfg)
	baddrs := freeport.Take(t, len(nodes))
	members := nodes[0].cfg.Cluster.Nodes // one list, shared by the nodes' configurations
	for i := range members {
		members[i].Brokers = baddrs[i]
	}
	for _, n := range nodes {
		n.start(t)
	}
	tok := token(t, v.cfg)
	logons := 0 // the venue's Logons to the core session before the last kill
	loggedOn := func() bool { return v.logons("core") > logons }
	waitLeaderLoggedOn(t, nodes, loggedOn)
	settings := map[string]string{}
	for i, a := range baddrs[1:] {
		host, port, _ := net.SplitHostPort(a)
		settings[fmt.Sprintf("SocketConnectHost%d", i+1)] = host
		settings[fmt.Sprintf("SocketConnectPort%d", i+1)] = port
	}
	b := v.kit.StartInitiator(t, qfcpp.Broker{Addr: baddrs[0], SenderCompID: "BROKER1", TargetCompID: "SGW", Password: "demo", Settings: settings})
	if err := b.AwaitLogon(v.ctx); err != nil {
		t.Fatal(err)
	}
	var ids []string
	var takeovers []time.Duration
	for k := range kills {
		leader := waitLeaderLoggedOn(t, nodes, loggedOn)
		logons = v.logons("core")
		var killed time.Time
		for i := range perRound {
			if i == perRound/2 {
				killed = time.Now()
				leader.child.kill(t)
				leader.child = nil
			}
			id := fmt.Sprintf("bk%d-%d", k, i)
			ids = append(ids, id)
			// A request sent while the session is down is stored by the
			// engine and goes out by resend recovery after its next logon.
			if _, err := b.Send(v.ctx, qfcpp.Request{MsgType: "D", ClOrdID: id, Account: "A1", Symbol: "601318",
				SecurityExchange: "XSHG", Side: '1', OrderQty: 100, Price: "45.60"}); err != nil {
				t.Fatal(err)
			}
		}
		next := waitLeaderLoggedOn(t, nodes, loggedOn)
		takeovers = append(takeovers, time.Since(killed))
		if next == leader {
			t.Fatal("the killed node leads")
		}
		leader.start(t)
	}
	leader := waitLeaderLoggedOn(t, nodes, loggedOn)
	probe := newTrader(t, leader.child.base, tok)
	// The broker's engine resends what the last leader never recorded
	// after its logon there, which may follow the venue's logon. A last
	// order sent now comes after all of it in the broker's session, which
	// the gateway processes in order: once the gateway knows it, it knows
	// every order it will ever know, and "unknown" is final.
	const last = "bk-last"
	ids = append(ids, last)
	if _, err := b.Send(v.ctx, qfcpp.Request{MsgType: "D", ClOrdID: last, Account: "A1", Symbol: "601318",
		SecurityExchange: "XSHG", Side: '1', OrderQty: 100, Price: "45.60"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the broker's last order known to the gateway", 60*time.Second, func() bool {
		return !strings.HasPrefix(probe.statusOf(last), "error: ")
	})
	status := map[string]string{}
	deadline := time.Now().Add(2 * time.Minute) // a bound on a failure
	for _, id := range ids {
		for status[id] = probe.statusOf(id); status[id] == "pending_new" || status[id] == "new"; status[id] = probe.statusOf(id) {
			if time.Now().After(deadline) {
				t.Fatalf("%s still %s on the last leader", id, status[id])
			}
			time.Sleep(20 * time.Millisecond) // no change notification for another client's order; poll
		}
	}
	// Every order the gateway has is filled, and the broker heard of its
	// trade without asking: the report of the venue's execution (150=F),
	// first sent, or resent by a new leader flagged PossResend because the
	// replicated store lacked it; any other copy is flagged PossDup or
	// PossResend (a broker books a trade once, by its ExecID).
	told, resentTrades := 0, 0
	for _, id := range ids {
		if status[id] != "filled" {
			continue
		}
		if _, err := b.AwaitApp(v.ctx, func(m qfcpp.Message) bool {
			return m.Type() == "8" && m.Get(11) == id && m.Get(150) == "F"
		}); err != nil {
			t.Errorf("%s is filled at the gateway; the broker never got its trade: %v", id, err)
			continue
		}
		plain := map[string]int{} // each trade's copies flagged neither PossDup nor PossResend
		for _, e := range b.Events() {
			m := e.Msg
			if e.Kind != qfcpp.EventApp || m.Type() != "8" || m.Get(11) != id || m.Get(150) != "F" {
				continue
			}
			if !strings.HasPrefix(m.Get(17), "core:") || m.Get(32) != "100" || m.Get(14) != "100" {
				t.Errorf("%s: trade %s; want ExecID core:<the venue's>, LastQty 100, CumQty 100", id, e.Text)
			}
			switch {
			case m.Get(97) == "Y":
				resentTrades++
			case m.Get(43) != "Y":
				plain[m.Get(17)]++
			}
		}
		for execID, n := range plain {
			if n > 1 {
				t.Errorf("%s: the trade %s came %d times unflagged", id, execID, n)
			}
		}
		told++
	}
	// The others the gateway does not know, and says so when asked.
	for _, id := range ids {
		if status[id] == "filled" {
			continue
		}
		if !strings.HasPrefix(status[id], "error: ") {
			t.Errorf("%s: status %q at the gateway; want filled or unknown", id, status[id])
			continue
		}
		if _, err := b.Send(v.ctx, qfcpp.Request{MsgType: "H", ClOrdID: id, Account: "A1", Side: '1'}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.AwaitApp(v.ctx, func(m qfcpp.Message) bool {
			return m.Type() == "8" && m.Get(11) == id && m.Get(39) == "8"
		}); err != nil {
			t.Errorf("%s: unknown to the gateway; the broker's status request got no reject: %v", id, err)
		}
	}
	stopCluster(t, nodes, leader)
	uids, count := journaledIn(t, clusterJournal(leader, nil))
	for _, id := range ids {
		if _, ok := uids[id]; ok != (status[id] == "filled") {
			t.Errorf("%s: journaled %v, status %q at the last leader", id, ok, status[id])
		}
	}
	checkFilledOnceIn(t, v, "core", uids, count, ids, func(id string) string { return status[id] })
	slices.Sort(takeovers)
	t.Logf("%d broker orders sent, %d journaled and filled (the broker told of each trade; %d trade reports resent PossResend by a new leader), %d unknown to the gateway",
		len(ids), told, resentTrades, len(ids)-told)
	t.Logf("%d kills of the leader; takeover (kill to the venue's Logon of the new leader's session): min %v, median %v, max %v",
		kills, takeovers[0], takeovers[len(takeovers)/2], takeovers[len(takeovers)-1])
}
