package web_test

import (
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sgw/gateway/web/browsertest"
	"sgw/refdata"
)

// pageOrders is the page's window.gw.orders.
type pageOrders struct {
	SignedIn    bool        `json:"signedIn"`
	Sub         string      `json:"sub"`
	Accounts    []string    `json:"accounts"`
	List        []pageOrder `json:"list"`
	Errors      []pageError `json:"errors"`
	LastError   *pageError  `json:"lastError"`
	LastClOrdID string      `json:"lastClOrdId"`
}

// pageOrder is one row of the page's orders table.
type pageOrder struct {
	ClOrdID     string `json:"clOrdId"`
	OrigClOrdID string `json:"origClOrdId"`
	Account     string `json:"account"`
	Symbol      string `json:"symbol"`
	Side        string `json:"side"`
	Price       string `json:"price"`
	Qty         int64  `json:"qty"`
	CumQty      int64  `json:"cumQty"`
	LeavesQty   int64  `json:"leavesQty"`
	AvgPx       string `json:"avgPx"`
	Status      string `json:"status"`
}

// pageError is an order error the page showed next to the ticket.
type pageError struct {
	Code  string `json:"code"`
	Msg   string `json:"msg"`
	Ref   string `json:"ref"`
	Local bool   `json:"local"`
}

// shownRow is a row of #orders-table as the page draws it.
type shownRow struct {
	ClOrdID string   `json:"clOrdId"`
	Status  string   `json:"status"`
	Class   string   `json:"class"`
	Cells   []string `json:"cells"`
	Cancel  bool     `json:"cancel"` // the row has a Cancel button
}

const shownRowsJS = `[...document.querySelectorAll('#orders-table tbody tr')].map((r) => ({
  clOrdId: r.dataset.clordid, status: r.dataset.status, class: r.className,
  cells: [...r.cells].map((c) => c.textContent), cancel: r.querySelector('button') !== null}))`

// placeOrder fills the ticket with chromedp.SetValue, submits it with a
// click and returns the clOrdId the page sent.
func placeOrder(t *testing.T, b *browsertest.Browser, account, side string, price refdata.Price, qty int64) string {
	t.Helper()
	var before string
	b.Eval(t, "gw.orders.lastClOrdId", &before)
	b.Run(t, fmt.Sprintf("place %s %s %d at %s", account, side, qty, price),
		chromedp.SetValue("#ticket-account", account, chromedp.ByQuery),
		chromedp.SetValue("#ticket-side", side, chromedp.ByQuery),
		chromedp.SetValue("#ticket-price", price.String(), chromedp.ByQuery),
		chromedp.SetValue("#ticket-qty", fmt.Sprint(qty), chromedp.ByQuery),
		chromedp.Click("#ticket-submit", chromedp.ByQuery),
	)
	b.WaitFor(t, "gw.orders.lastClOrdId !== "+mustJSON(before), pageBound)
	var id string
	b.Eval(t, "gw.orders.lastClOrdId", &id)
	return id
}

// signedInPage opens the page on a fresh fake gateway, signed in as u1
// for accounts, and waits until it is live with the ticket enabled.
func signedInPage(t *testing.T, accounts ...string) (*fakeGateway, *browsertest.Browser) {
	t.Helper()
	g, srv := serveFake(t)
	b := browsertest.New(t)
	b.Run(t, "open the page", chromedp.Navigate(srv.URL+"/?token="+url.QueryEscape(g.Token(t, "u1", accounts...))))
	b.WaitFor(t, "gw.state === 'live' && gw.orders.signedIn && document.getElementById('ticket-fields').disabled === false", pageBound)
	return g, b
}

// restingBuy is a buy price of sym three ticks below the bid: the fake
// never fills it on its own.
func restingBuy(g *fakeGateway, sym string) refdata.Price {
	bids, _ := g.Top(sym, 1)
	return bids[0].Price - 3*g.instruments[0].Tick
}

// waitStatus waits until window.gw.orders and #orders-table both show the
// order clOrdID with status.
func waitStatus(t *testing.T, b *browsertest.Browser, clOrdID, status string) {
	t.Helper()
	b.WaitFor(t, fmt.Sprintf(`((id, st) => gw.orders.list.some((o) => o.clOrdId === id && o.status === st) &&
		[...document.querySelectorAll('#orders-table tbody tr')].some((r) => r.dataset.clordid === id && r.dataset.status === st))(%s, %s)`,
		mustJSON(clOrdID), mustJSON(status)), pageBound)
}

func hasPrefix(list []string, prefix string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

// TestOrderTicket drives the order ticket and the orders table in headless
// Chromium against fakeGateway, signed in with a token for two accounts:
// an order at the ask fills, a resting sell is canceled with its row's
// Cancel button, a resting buy stays working, and an order above the
// day's band is refused by the gateway with risk.price_band, shown next to
// the ticket. A reload rebuilds the table from orders.list.
func TestOrderTicket(t *testing.T) {
	const sym = "600519.SH"
	g, srv := serveFake(t)
	token := g.Token(t, "u1", "A1", "A2")
	inst := g.instruments[0]
	bids, asks := g.Top(sym, 1)
	bid, ask := bids[0].Price, asks[0].Price
	b := browsertest.New(t)

	page := srv.URL + "/?token=" + url.QueryEscape(token)
	b.Run(t, "open the page", chromedp.Navigate(page))
	b.WaitFor(t, "gw.state === 'live' && gw.orders.signedIn && document.getElementById('ticket-fields').disabled === false && "+
		"document.getElementById('ticket-price').value !== ''", pageBound)

	// Signed in: the accounts of the auth reply, the symbol's band, and a
	// buy prefilled at the ask.
	var ticket struct {
		Accounts []string `json:"accounts"`
		Price    string   `json:"price"`
		Band     string   `json:"band"`
		Note     bool     `json:"note"` // #ticket-note visible
		Symbol   string   `json:"symbol"`
	}
	b.Eval(t, `({accounts: [...document.querySelectorAll('#ticket-account option')].map((o) => o.value),
		price: document.getElementById('ticket-price').value, band: document.getElementById('ticket-band').textContent,
		note: !document.getElementById('ticket-note').hidden, symbol: document.getElementById('ticket-symbol').textContent})`, &ticket)
	if !slices.Equal(ticket.Accounts, []string{"A1", "A2"}) || ticket.Price != ask.String() || ticket.Note || ticket.Symbol != sym ||
		ticket.Band != inst.LimitDown.String()+" – "+inst.LimitUp.String() {
		t.Errorf("ticket = %+v, want accounts [A1 A2], price %s (the ask), band %s – %s, symbol %s, no note",
			ticket, ask, inst.LimitDown, inst.LimitUp, sym)
	}
	for _, op := range []string{"auth", "subscribe orders A1,A2", "orders.list A1", "orders.list A2"} {
		if !slices.Contains(g.Ops(), op) {
			t.Errorf("the page did not send %q; ops:\n%s", op, strings.Join(g.Ops(), "\n"))
		}
	}

	// A buy at the ask fills a moment after exec new.
	filled := placeOrder(t, b, "A2", "buy", ask, 300)
	waitStatus(t, b, filled, "filled")
	if want := fmt.Sprintf("order.new %s A2 %s buy %s 300", filled, sym, ask); !slices.Contains(g.Ops(), want) {
		t.Errorf("no %q; ops:\n%s", want, strings.Join(g.Ops(), "\n"))
	}

	// A sell above the bid rests; its Cancel button cancels it.
	tick := inst.Tick
	canceled := placeOrder(t, b, "A1", "sell", ask+5*tick, 200)
	waitStatus(t, b, canceled, "new")
	// The row's button is clicked through the DOM, not at its coordinates:
	// "my orders" sits below the account panel, which redraws (and may
	// grow) on its own after every order event.
	var clicked bool
	b.Eval(t, `((btn) => { if (!btn || btn.disabled) return false; btn.click(); return true; })(document.querySelector('#orders-table tr[data-clordid="`+canceled+`"] button'))`, &clicked)
	if !clicked {
		t.Fatalf("no enabled Cancel button in the row of %s", canceled)
	}
	waitStatus(t, b, canceled, "canceled")
	if !hasPrefix(g.Ops(), "order.cancel ") || !slices.ContainsFunc(g.Ops(), func(op string) bool {
		f := strings.Fields(op)
		return len(f) == 4 && f[0] == "order.cancel" && f[1] != canceled && f[2] == canceled && f[3] == "A1"
	}) {
		t.Errorf("no order.cancel with a fresh clOrdId, origClOrdId %s, account A1; ops:\n%s", canceled, strings.Join(g.Ops(), "\n"))
	}

	// A buy below the bid stays working.
	working := placeOrder(t, b, "A1", "buy", bid-3*tick, 100)
	waitStatus(t, b, working, "new")

	// Above the day's band: typing the price warns at once; the gateway
	// refuses the order and the page shows its error next to the ticket.
	outside := inst.LimitUp + 100*tick
	b.Eval(t, "document.getElementById('ticket-price').value = ''", new(string))
	b.Run(t, "type a price outside the band", chromedp.SendKeys("#ticket-price", outside.String(), chromedp.ByQuery))
	b.WaitFor(t, "!document.getElementById('ticket-warn').hidden && "+
		"document.getElementById('ticket-warn').textContent.includes('band')", pageBound)
	refused := placeOrder(t, b, "A1", "buy", outside, 100)
	b.WaitFor(t, "gw.orders.lastError !== null && gw.orders.lastError.code === 'risk.price_band' && "+
		"!document.getElementById('ticket-error').hidden", pageBound)
	var shownError string
	b.Eval(t, "document.getElementById('ticket-error').textContent", &shownError)
	wantMsg := fmt.Sprintf("price %s outside limit band %s-%s", outside, inst.LimitDown, inst.LimitUp)
	if !strings.Contains(shownError, "risk.price_band") || !strings.Contains(shownError, wantMsg) || !strings.Contains(shownError, refused) {
		t.Errorf("#ticket-error = %q, want the code risk.price_band, %q and the clOrdId %s", shownError, wantMsg, refused)
	}

	// window.gw.orders: four rows (the refused order stays, rejected), one
	// error.
	var o pageOrders
	b.Eval(t, "gw.orders", &o)
	if !o.SignedIn || o.Sub != "u1" || !slices.Equal(o.Accounts, []string{"A1", "A2"}) {
		t.Errorf("gw.orders signedIn %v, sub %q, accounts %v; want true, u1, [A1 A2]", o.SignedIn, o.Sub, o.Accounts)
	}
	wantList := []pageOrder{
		{ClOrdID: filled, OrigClOrdID: filled, Account: "A2", Symbol: sym, Side: "buy", Price: ask.String(), Qty: 300,
			CumQty: 300, LeavesQty: 0, AvgPx: ask.String(), Status: "filled"},
		{ClOrdID: canceled, OrigClOrdID: canceled, Account: "A1", Symbol: sym, Side: "sell", Price: (ask + 5*tick).String(), Qty: 200,
			CumQty: 0, LeavesQty: 0, AvgPx: "0.00", Status: "canceled"},
		{ClOrdID: working, OrigClOrdID: working, Account: "A1", Symbol: sym, Side: "buy", Price: (bid - 3*tick).String(), Qty: 100,
			CumQty: 0, LeavesQty: 100, AvgPx: "0.00", Status: "new"},
		{ClOrdID: refused, OrigClOrdID: refused, Account: "A1", Symbol: sym, Side: "buy", Price: outside.String(), Qty: 100,
			Status: "rejected"},
	}
	if !slices.Equal(o.List, wantList) {
		t.Errorf("gw.orders.list =\n%+v\nwant\n%+v", o.List, wantList)
	}
	wantErr := pageError{Code: "risk.price_band", Msg: wantMsg, Ref: refused}
	if len(o.Errors) != 1 || o.Errors[0] != wantErr || o.LastError == nil || *o.LastError != wantErr {
		t.Errorf("gw.orders errors %+v, lastError %+v; want one: %+v", o.Errors, o.LastError, wantErr)
	}

	// The table, newest first, coloured by status; only the working row
	// has a Cancel button; the rejected row shows its reason.
	var rows []shownRow
	b.Eval(t, shownRowsJS, &rows)
	want := []struct {
		id, status, class string
		cancel            bool
	}{
		{refused, "rejected", "st-rejected", false},
		{working, "new", "st-working", true},
		{canceled, "canceled", "st-canceled", false},
		{filled, "filled", "st-filled", false},
	}
	if len(rows) != len(want) {
		t.Fatalf("#orders-table shows %d rows, want %d: %+v", len(rows), len(want), rows)
	}
	for i, w := range want {
		r := rows[i]
		if r.ClOrdID != w.id || r.Status != w.status || r.Class != w.class || r.Cancel != w.cancel {
			t.Errorf("row %d = %+v, want clOrdId %s, status %s, class %s, cancel button %v", i, r, w.id, w.status, w.class, w.cancel)
		}
	}
	if r := rows[0]; len(r.Cells) < 12 || r.Cells[11] != "risk.price_band: "+wantMsg {
		t.Errorf("rejected row cells %q, want the reason %q", r.Cells, "risk.price_band: "+wantMsg)
	}
	if r := rows[3]; len(r.Cells) < 11 || r.Cells[1] != filled || r.Cells[2] != "A2" || r.Cells[7] != "300" || r.Cells[9] != ask.String() {
		t.Errorf("filled row cells %q, want clOrdId %s, account A2, cumQty 300, avgPx %s", r.Cells, filled, ask)
	}

	path := filepath.Join(browsertest.ScreenshotDir(t), "order-ticket.png") // $SGW_WEB_SCREENSHOT_DIR keeps it
	b.Screenshot(t, path)
	t.Logf("screenshot: %s", path)

	// A fresh page load gets the gateway's rows from orders.list (a
	// refused order is not among them: the gateway keeps no record of it).
	b.Run(t, "reload the page", chromedp.Navigate(page))
	b.WaitFor(t, "gw.orders.signedIn && gw.orders.list.length === 3 && document.querySelectorAll('#orders-table tbody tr').length === 3", pageBound)
	var reloaded pageOrders
	b.Eval(t, "gw.orders", &reloaded)
	got := map[string]string{}
	for _, r := range reloaded.List {
		got[r.ClOrdID] = r.Status
	}
	if got[filled] != "filled" || got[canceled] != "canceled" || got[working] != "new" {
		t.Errorf("after a reload the statuses are %v, want %s filled, %s canceled, %s new", got, filled, canceled, working)
	}
	b.Logs(t)
}

// TestOrderTicketSignedOut checks that without a usable token the ticket
// is disabled with a note, while market data works.
func TestOrderTicketSignedOut(t *testing.T) {
	tests := []struct {
		name  string
		query string
		note  string
		auth  bool // the page sends an auth request
	}{
		{name: "no token", query: "", note: "sign in to trade"},
		{name: "bad token", query: "?token=not.valid", note: "token refused, prices only: bad token: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, srv := serveFake(t)
			b := browsertest.New(t)

			b.Run(t, "open the page", chromedp.Navigate(srv.URL+"/"+tc.query))
			b.WaitFor(t, "gw.state === 'live' && gw.verified > 0 && document.getElementById('ticket-note').textContent.startsWith("+
				mustJSON(tc.note)+")", pageBound)
			var st struct {
				Disabled bool   `json:"disabled"`
				Note     string `json:"note"`
				Hidden   bool   `json:"hidden"`
			}
			b.Eval(t, `({disabled: document.getElementById('ticket-fields').disabled,
				note: document.getElementById('ticket-note').textContent, hidden: document.getElementById('ticket-note').hidden})`, &st)
			if !st.Disabled || st.Hidden {
				t.Errorf("ticket %+v, want disabled with the note %q shown", st, tc.note)
			}
			var o pageOrders
			b.Eval(t, "gw.orders", &o)
			if o.SignedIn || len(o.Accounts) != 0 {
				t.Errorf("gw.orders signedIn %v, accounts %v; want signed out", o.SignedIn, o.Accounts)
			}
			ops := g.Ops()
			if slices.Contains(ops, "auth") != tc.auth || hasPrefix(ops, "subscribe orders") || hasPrefix(ops, "orders.list") {
				t.Errorf("ops:\n%s\nwant auth sent %v and no orders requests", strings.Join(ops, "\n"), tc.auth)
			}
			b.Logs(t)
		})
	}
}

// TestOrdersListPages signs in for two accounts, one with more orders than
// two orders.list pages hold: the page follows each answer's next cursor,
// once, until the last page, and shows every order exactly once.
func TestOrdersListPages(t *testing.T) {
	g, srv := serveFake(t)
	const n = 2*listLimit + 37
	g.SeedOrders("A1", n)
	g.SeedOrders("A2", 3)
	b := browsertest.New(t)

	b.Run(t, "open the page", chromedp.Navigate(srv.URL+"/?token="+url.QueryEscape(g.Token(t, "u1", "A1", "A2"))))
	b.WaitFor(t, fmt.Sprintf("gw.orders.signedIn && gw.orders.list.length === %d && document.querySelectorAll('#orders-table tbody tr').length === %d",
		n+3, n+3), pageBound)
	var ids []string
	b.Eval(t, "gw.orders.list.map((o) => o.account + ' ' + o.clOrdId)", &ids)
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("order %s listed twice", id)
		}
		seen[id] = true
	}
	for _, acc := range []struct {
		name string
		n    int
	}{{"A1", n}, {"A2", 3}} {
		for i := range acc.n {
			if id := fmt.Sprintf("%s o%s-%d", acc.name, acc.name, i); !seen[id] {
				t.Fatalf("order %s missing", id)
			}
		}
	}
	ops := g.Ops()
	want := []string{"orders.list A1", fmt.Sprintf("orders.list A1 cursor=%d", listLimit),
		fmt.Sprintf("orders.list A1 cursor=%d", 2*listLimit), "orders.list A2"}
	for _, w := range want {
		if count(ops, w) != 1 {
			t.Errorf("%q sent %d times, want once; ops:\n%s", w, count(ops, w), strings.Join(ops, "\n"))
		}
	}
	if got := countPrefix(ops, "orders.list "); got != len(want) {
		t.Errorf("%d orders.list requests, want %d; ops:\n%s", got, len(want), strings.Join(ops, "\n"))
	}
	b.Logs(t)
}

// TestOrderTradeBustAndCorrection drives "my orders" in headless Chromium
// through a venue's trade cancel (a bust) and correction of a filled
// order: the row follows the gateway's word back to working, with the
// fills as they now stand, says what the venue did, and its Cancel button
// cancels the order; an event older than the row (one an orders.list page
// already held may follow the page) never takes it back, finished or not.
// Before, a filled row stayed filled forever, with the old fills and no
// Cancel button, although the order worked again.
func TestOrderTradeBustAndCorrection(t *testing.T) {
	const sym = "600519.SH"
	g, b := signedInPage(t, "A1")
	tick := g.instruments[0].Tick
	px := restingBuy(g, sym)

	id := placeOrder(t, b, "A1", "buy", px, 300)
	waitStatus(t, b, id, "new")
	// marker is a second working order; a share of it filled after an
	// event of id and seen by the page shows the page has handled that
	// event (a connection's events arrive in order).
	marker := placeOrder(t, b, "A1", "buy", px-tick, 100)
	waitStatus(t, b, marker, "new")
	markerFills := int64(0)
	sync := func() {
		t.Helper()
		markerFills++
		g.Fill(t, "A1", marker, 1, px-tick)
		b.WaitFor(t, fmt.Sprintf(`((id, n) => gw.orders.list.some((o) => o.clOrdId === id && o.cumQty === n) &&
			[...document.querySelectorAll('#orders-table tbody tr')].some((r) => r.dataset.clordid === id && r.cells[7].textContent === String(n)))(%s, %d)`,
			mustJSON(marker), markerFills), pageBound)
	}
	type want struct {
		status         string
		cumQty, leaves int64
		avgPx          refdata.Price
		reason         string
		cancel         bool
	}
	check := func(step string, w want) {
		t.Helper()
		var list []pageOrder
		b.Eval(t, "gw.orders.list", &list)
		i := slices.IndexFunc(list, func(o pageOrder) bool { return o.ClOrdID == id })
		if i < 0 || list[i].Status != w.status || list[i].CumQty != w.cumQty || list[i].LeavesQty != w.leaves || list[i].AvgPx != w.avgPx.String() {
			t.Errorf("%s: gw.orders.list has %+v; want status %s, cumQty %d, leavesQty %d, avgPx %s", step, list, w.status, w.cumQty, w.leaves, w.avgPx)
		}
		var rows []shownRow
		b.Eval(t, shownRowsJS, &rows)
		k := slices.IndexFunc(rows, func(r shownRow) bool { return r.ClOrdID == id })
		if k < 0 || len(rows[k].Cells) < 12 {
			t.Fatalf("%s: no row of %s in #orders-table: %+v", step, id, rows)
		}
		r := rows[k]
		wantCells := []string{fmt.Sprint(w.cumQty), fmt.Sprint(w.leaves), w.avgPx.String(), strings.Replace(w.status, "_", " ", 1), w.reason}
		if got := r.Cells[7:12]; r.Status != w.status || r.Cancel != w.cancel || !slices.Equal(got, wantCells) {
			t.Errorf("%s: row status %s, cancel button %v, cells CumQty..Reason %q; want %s, %v, %q", step, r.Status, r.Cancel, got, w.status, w.cancel, wantCells)
		}
	}

	// Two fills: 100 at px, 200 at a tick better.
	first := g.Fill(t, "A1", id, 100, px)
	second := g.Fill(t, "A1", id, 200, px-tick)
	waitStatus(t, b, id, "filled")
	sync()
	avg := refdata.Price((int64(px)*100 + int64(px-tick)*200) / 300)
	check("filled", want{status: "filled", cumQty: 300, avgPx: avg})

	// The first fill's event again, after the order filled: older, it
	// does not take the filled row back.
	g.Resend(first)
	sync()
	check("an older event after filled", want{status: "filled", cumQty: 300, avgPx: avg})

	// The venue busts the first trade: the order works again with 200
	// filled, and says so.
	g.AmendTrade(t, "A1", id, first.ExecID, 0, 0)
	sync()
	check("trade canceled", want{status: "partially_filled", cumQty: 200, leaves: 100, avgPx: px - tick,
		reason: "the exchange canceled trade " + first.ExecID, cancel: true})
	var notice string
	b.Eval(t, "gw.notice", &notice)
	if wantNotice := id + ": the exchange canceled trade " + first.ExecID; !strings.HasPrefix(notice, wantNotice) ||
		!strings.Contains(notice, "200 of 300 filled, partially filled") {
		t.Errorf("notice %q, want %q... 200 of 300 filled, partially filled", notice, wantNotice)
	}

	// It corrects the second to 150 at two ticks better.
	corrected := g.AmendTrade(t, "A1", id, second.ExecID, 150, px-2*tick)
	sync()
	check("trade corrected", want{status: "partially_filled", cumQty: 150, leaves: 150, avgPx: px - 2*tick,
		reason: "the exchange corrected trade " + second.ExecID, cancel: true})
	// The account panel follows: 150 shares of the order bought, and
	// those of the marker.
	b.WaitFor(t, fmt.Sprintf("((st) => st !== undefined && st.positions.some((p) => p.symbol === %s && p.boughtToday === %d))(gw.accounts.A1)",
		mustJSON(sym), 150+markerFills), pageBound)

	// The row's Cancel button cancels what is left.
	var clicked bool
	b.Eval(t, `((btn) => { if (!btn || btn.disabled) return false; btn.click(); return true; })(document.querySelector('#orders-table tr[data-clordid="`+id+`"] button'))`, &clicked)
	if !clicked {
		t.Fatalf("no enabled Cancel button in the row of %s", id)
	}
	waitStatus(t, b, id, "canceled")
	if !slices.ContainsFunc(g.Ops(), func(op string) bool {
		f := strings.Fields(op)
		return len(f) == 4 && f[0] == "order.cancel" && f[2] == id && f[3] == "A1"
	}) {
		t.Errorf("no order.cancel of %s; ops:\n%s", id, strings.Join(g.Ops(), "\n"))
	}
	sync()
	check("canceled", want{status: "canceled", cumQty: 150, avgPx: px - 2*tick})

	// The correction's event again, after the cancel: older, it does not
	// take the canceled row back to working.
	g.Resend(corrected)
	sync()
	check("an older event after canceled", want{status: "canceled", cumQty: 150, avgPx: px - 2*tick})
	// Its notice tells the order as it is.
	b.Eval(t, "gw.notice", &notice)
	if wantNotice := id + ": the exchange corrected trade " + second.ExecID; !strings.HasPrefix(notice, wantNotice) ||
		!strings.HasSuffix(notice, "150 of 300 filled, canceled") {
		t.Errorf("notice %q, want %q... 150 of 300 filled, canceled", notice, wantNotice)
	}
	b.Logs(t)
}

// TestRefusedRowGivesWayToGateway: a row the page made itself for a new
// order the gateway refused (rejectedRow, timed by the browser's clock)
// gives way to a view of the same order from the gateway, however the two
// clocks stand: a gateway that refused a repeat of an order it holds
// (risk.duplicate_clordid, the page not yet told of the order) goes on
// reporting it. Before, a gateway clock behind the browser's left the
// order shown rejected while it worked.
func TestRefusedRowGivesWayToGateway(t *testing.T) {
	const sym = "600519.SH"
	g, b := signedInPage(t, "A1")
	inst := g.instruments[0]

	refused := placeOrder(t, b, "A1", "buy", inst.LimitUp+100*inst.Tick, 100)
	waitStatus(t, b, refused, "rejected")

	// The gateway's view of an order under that clOrdId, its clock an
	// hour behind the browser's.
	g.mu.Lock()
	o := &fakeOrder{ClOrdID: refused, OrigClOrdID: refused, Account: "A1", Symbol: sym, Side: "buy",
		Price: inst.LimitUp, Qty: 100, LeavesQty: 100, Status: "new", OrderID: "FAKE-X", Updated: time.Now().Add(-time.Hour)}
	g.orders[orderKey(o.Account, o.ClOrdID)] = o
	g.orderList = append(g.orderList, o)
	v := o.view("exec")
	v.ExecType = "new"
	g.publishTo(nil, o, v)
	g.mu.Unlock()
	waitStatus(t, b, refused, "new")
}

// TestOrdersRelistedAfterReconnectWhateverTheClock: after a reconnect the
// page takes the gateway's orders.list as the orders now stand even when
// their times are earlier than the rows it shows: the gateway reached (a
// cluster node after a takeover) stamps changes by its own clock, which
// may be behind the last one's. Before, a fill or cancel missed while
// disconnected stayed unseen until the order changed again.
func TestOrdersRelistedAfterReconnectWhateverTheClock(t *testing.T) {
	const sym = "600519.SH"
	g, b := signedInPage(t, "A1")
	px := restingBuy(g, sym)

	id := placeOrder(t, b, "A1", "buy", px, 300)
	waitStatus(t, b, id, "new")
	g.Fill(t, "A1", id, 100, px)
	waitStatus(t, b, id, "partially_filled")

	// While the page is away, the order is canceled by a gateway whose
	// clock is an hour behind; the page learns it from orders.list only.
	g.mu.Lock()
	o := g.orders[orderKey("A1", id)]
	o.Status, o.LeavesQty, o.Updated = "canceled", 0, o.Updated.Add(-time.Hour)
	g.mu.Unlock()
	g.Disconnect()
	b.WaitFor(t, "gw.connects === 2", pageBound)
	waitStatus(t, b, id, "canceled")
}

// TestOthersCancelRejectKeepsOursInFlight: while the page's cancel of an
// order is in flight, the venue refuses another client's cancel of the
// same order (another tab, a broker over FIX on the account): the page's
// cancel is still in flight, its button still "canceling…" and disabled.
// Before, any cancel_reject of the order cleared it, and the Cancel button
// came back while the page's cancel was under way.
func TestOthersCancelRejectKeepsOursInFlight(t *testing.T) {
	const sym = "600519.SH"
	g, b := signedInPage(t, "A1")
	id := placeOrder(t, b, "A1", "buy", restingBuy(g, sym), 100)
	waitStatus(t, b, id, "new")
	g.HoldCancels()
	button := `document.querySelector('#orders-table tr[data-clordid="` + id + `"] button')`
	var clicked bool
	b.Eval(t, `((btn) => { if (!btn || btn.disabled) return false; btn.click(); return true; })(`+button+`)`, &clicked)
	if !clicked {
		t.Fatalf("no enabled Cancel button in the row of %s", id)
	}
	// The page's cancel is accepted and left in flight.
	b.WaitFor(t, `((btn) => btn && btn.disabled && btn.textContent === 'canceling…')(`+button+`)`, pageBound)
	b.WaitFor(t, `gw.orders.list.some((o) => o.clOrdId === `+mustJSON(id)+`)`, pageBound)

	g.CancelReject(t, "A1", id, "elsewhere1", "too late to cancel")
	b.WaitFor(t, "gw.orders.lastError !== null && gw.orders.lastError.code === 'cancel_reject' && gw.orders.lastError.ref === 'elsewhere1'", pageBound)
	var shown struct {
		Disabled bool   `json:"disabled"`
		Text     string `json:"text"`
	}
	b.Eval(t, `((btn) => ({disabled: btn.disabled, text: btn.textContent}))(`+button+`)`, &shown)
	if !shown.Disabled || shown.Text != "canceling…" {
		t.Errorf("the row's button after another client's cancel was refused: %+v, want disabled, \"canceling…\" (the page's cancel is in flight)", shown)
	}
}
