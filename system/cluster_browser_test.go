package system

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sgw/gateway/web/browsertest"
)

// pageBound bounds every wait for the page to show something; only a
// broken test reaches it.
const pageBound = time.Minute

// placeOnPage fills the page's order ticket (a buy of 100 for A1 at
// price), submits it with a click and returns the clOrdId the page sent.
func placeOnPage(t *testing.T, b *browsertest.Browser, price string) string {
	t.Helper()
	var before string
	b.Eval(t, "gw.orders.lastClOrdId", &before)
	b.Run(t, "place a buy at "+price,
		chromedp.SetValue("#ticket-account", "A1", chromedp.ByQuery),
		chromedp.SetValue("#ticket-side", "buy", chromedp.ByQuery),
		chromedp.SetValue("#ticket-price", price, chromedp.ByQuery),
		chromedp.SetValue("#ticket-qty", "100", chromedp.ByQuery),
		chromedp.Click("#ticket-submit", chromedp.ByQuery),
	)
	b.WaitFor(t, "gw.orders.lastClOrdId !== "+jsString(before), pageBound)
	var id string
	b.Eval(t, "gw.orders.lastClOrdId", &id)
	return id
}

// waitOnPage waits until the page's orders (window.gw.orders and the
// #orders-table rows) show order clOrdID with status, or the page shows
// an error for it, which fails t.
func waitOnPage(t *testing.T, b *browsertest.Browser, clOrdID, status string) {
	t.Helper()
	args := jsString(clOrdID) + ", " + jsString(status)
	b.WaitFor(t, `((id, st) => gw.orders.errors.some((e) => e.ref === id) ||
		gw.orders.list.some((o) => o.clOrdId === id && o.status === st) &&
		[...document.querySelectorAll('#orders-table tbody tr')].some((r) => r.dataset.clordid === id && r.dataset.status === st))(`+
		args+`)`, pageBound)
	var refused string
	b.Eval(t, `((id) => gw.orders.errors.filter((e) => e.ref === id).map((e) => e.code + ': ' + e.msg).join('; '))(`+jsString(clOrdID)+`)`, &refused)
	if refused != "" {
		b.Logs(t)
		t.Fatalf("the page shows %s refused: %s", clOrdID, refused)
	}
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// signedIn is the page's condition for a usable order ticket on
// 601318.SH.
const signedIn = "gw.symbol === '601318.SH' && gw.orders.signedIn && document.getElementById('ticket-fields').disabled === false"

// TestClusterPageThroughFollower loads the trading page in headless
// Chromium from a follower of a 3-node cluster: the page's WebSocket (a
// browser's, with its Origin header) is relayed to the leader, and an
// order placed with the ticket is accepted and shows in the page's orders
// as working at the venue. Then the leader is killed: the page's
// connection ends, the page reconnects through the same node to the new
// leader, lists the first order again and a second order goes through.
// Each order is journaled once and reached the venue once.
func TestClusterPageThroughFollower(t *testing.T) {
	b := browsertest.New(t)
	v := startVenue(t)
	nodes := startCluster(t, v)
	tok := token(t, v.cfg)
	leader := waitClusterLeader(t, v, nodes)
	var entry *clusterNode
	for _, n := range nodes {
		if n != leader {
			entry = n
		}
	}
	b.Run(t, "open the page on follower "+entry.cfg.Cluster.NodeID, chromedp.Navigate(entry.child.base+"/?symbol=601318.SH&token="+url.QueryEscape(tok)))
	b.WaitFor(t, signedIn, pageBound)
	first := placeOnPage(t, b, "41.10") // far below the market: it rests
	waitOnPage(t, b, first, "new")
	if got := b.GW(t).Connects; got != 1 {
		t.Errorf("the page opened %d connections before the kill, want 1", got)
	}

	// The leader dies; the page reconnects through the same node.
	leader.child.kill(t)
	leader.child = nil
	b.WaitFor(t, "gw.connects >= 2 && "+signedIn, pageBound)
	next := waitClusterLeader(t, v, nodes)
	waitOnPage(t, b, first, "new") // listed by the new leader (orders.list)
	second := placeOnPage(t, b, "41.10")
	waitOnPage(t, b, second, "new")

	// Both orders are the new leader's; stopped, its journal holds each
	// once, and each reached the venue once and rests there.
	probe := newTrader(t, next.child.base, tok)
	for _, id := range []string{first, second} {
		if st := probe.statusOf(id); st != "new" {
			t.Errorf("%s on the new leader %s: %q, want new", id, next.cfg.Cluster.NodeID, st)
		}
	}
	state := b.GW(t)
	b.Logs(t)
	stopCluster(t, nodes, next)
	uids, count := journaledIn(t, clusterJournal(next, nil))
	checkExactlyOnceIn(t, v, uids, count, []string{first, second}, nil)
	t.Logf("the page entered through %s; leader %s killed, %s took over; window.gw: %+v",
		entry.cfg.Cluster.NodeID, leader.cfg.Cluster.NodeID, next.cfg.Cluster.NodeID, state)
}
