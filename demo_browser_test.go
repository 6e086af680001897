package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sgw/gateway/web/browsertest"
)

// TestDemoPageInBrowser runs `gateway demo` as TestDemo does and opens the
// printed page with the printed token in headless Chromium: the page must
// go live, verify the checksum of every book message without a failure and
// show a book that moves. It saves a screenshot of the page
// ($SGW_WEB_SCREENSHOT_DIR keeps it).
func TestDemoPageInBrowser(t *testing.T) {
	base, token := startDemo(t)

	b := browsertest.New(t)
	b.Run(t, "open the page", chromedp.Navigate(base+"/?token="+url.QueryEscape(token)))
	b.WaitFor(t, "gw.state === 'live' && gw.verified > 20", 20*time.Second)
	first := b.GW(t)
	b.WaitFor(t, fmt.Sprintf("gw.state === 'live' && gw.seq > %d", first.Seq), 15*time.Second)
	s := b.GW(t)
	t.Logf("window.gw: %+v, then %+v", first, s)
	if s.Failures != 0 {
		t.Errorf("failures %d, want 0: the page and the gateway disagree on a checksum", s.Failures)
	}

	// The page renders once per animation frame, after window.gw moved:
	// wait for the ladder and the state to be drawn.
	b.WaitFor(t, "document.querySelectorAll('#bids tr[data-price]').length > 0 && "+
		"document.querySelectorAll('#asks tr[data-price]').length > 0 && "+
		"document.getElementById('conn-state').textContent.includes('live')", 20*time.Second)
	var bids, asks int
	b.Eval(t, "document.querySelectorAll('#bids tr[data-price]').length", &bids)
	b.Eval(t, "document.querySelectorAll('#asks tr[data-price]').length", &asks)
	if bids == 0 || asks == 0 {
		t.Errorf("the ladder shows %d bids and %d asks, want both sides", bids, asks)
	}
	var conn string
	b.Eval(t, "document.getElementById('conn-state').textContent", &conn)
	if !strings.Contains(conn, "live") {
		t.Errorf("#conn-state says %q, want live", conn)
	}

	path := filepath.Join(browsertest.ScreenshotDir(t), "demo-page.png")
	b.Screenshot(t, path)
	t.Logf("screenshot: %s", path)
	b.Logs(t)
}

// TestDemoPageTradingInBrowser trades from the page against the real demo
// (gateway, risk, journal, FIX to the simulator), at desktop and phone
// sizes: the account panel shows A1's cash from risk, a buy that crosses
// the book fills and the panel shows the cash paid and the shares bought,
// an order above the day's band stays in "my orders" as rejected with
// risk's reason, and the page is never wider than the screen. The same
// page opened with a token the gateway refuses says so in a banner and
// shows prices. Screenshots go to $SGW_WEB_SCREENSHOT_DIR when set.
func TestDemoPageTradingInBrowser(t *testing.T) {
	const sym = "601318.SH"
	base, token := startDemo(t)
	var bk struct {
		Asks [][2]any `json:"asks"`
	}
	waitFor(t, "a two-sided book", func() bool {
		_, body := get(t, base+"/api/v1/book/"+sym+"?depth=1")
		return json.Unmarshal(body, &bk) == nil && len(bk.Asks) > 0
	})
	var inst []struct {
		Symbol  string `json:"symbol"`
		LimitUp string `json:"limitUp"`
	}
	_, body := getAuth(t, base+"/api/v1/instruments", token)
	if err := json.Unmarshal(body, &inst); err != nil {
		t.Fatal(err)
	}
	limitUp := ""
	for _, in := range inst {
		if in.Symbol == sym {
			limitUp = in.LimitUp
		}
	}
	if limitUp == "" {
		t.Fatalf("no %s in the instruments: %s", sym, body)
	}

	for _, size := range browsertest.Sizes() {
		t.Run(size.Name, func(t *testing.T) {
			b := browsertest.New(t)
			b.Resize(t, size)
			b.Run(t, "open the page", chromedp.Navigate(base+"/?symbol="+sym+"&token="+url.QueryEscape(token)))
			b.WaitFor(t, "gw.state === 'live' && gw.orders.signedIn && !document.getElementById('ticket-fields').disabled && "+
				"gw.accounts.A1 !== undefined", 20*time.Second)
			var cash string
			b.Eval(t, "gw.accounts.A1.cash", &cash)

			// A buy 0.50 above the ask crosses the book and fills.
			price := addCents(t, bk.Asks[0][0].(string), 50)
			buy := demoPlace(t, b, price)
			b.WaitFor(t, fmt.Sprintf(`gw.orders.list.some((o) => o.clOrdId === %q && o.status === 'filled')`, buy), 20*time.Second)
			b.WaitFor(t, fmt.Sprintf(`gw.accounts.A1.cash !== %q && gw.accounts.A1.positions.some((p) => p.symbol === %q && p.boughtToday >= 100) &&
				document.querySelector('#accounts .account[data-account="A1"] .positions tr[data-symbol=%q]') !== null`, cash, sym, sym), 20*time.Second)

			// Above the band: risk refuses it; the row stays with the reason.
			over := addCents(t, limitUp, 100)
			refused := demoPlace(t, b, over)
			b.WaitFor(t, fmt.Sprintf(`((r) => r !== null && r.dataset.status === 'rejected' &&
				r.querySelector('td.reason').textContent.startsWith('risk.price_band: '))(document.querySelector('#orders-table tr[data-clordid=%q]'))`, refused), 20*time.Second)
			if n := b.Overflow(t); n > 0 {
				t.Errorf("the page is %d px wider than its %d px viewport", n, size.Width)
			}
			path := filepath.Join(browsertest.ScreenshotDir(t), "demo-trading-"+size.Name+".png")
			b.Screenshot(t, path)
			t.Logf("screenshot: %s", path)

			// A token that does not verify: a banner, and prices.
			b.Run(t, "open the page with a bad token", chromedp.Navigate(base+"/?symbol="+sym+"&token="+url.QueryEscape(token+"x")))
			b.WaitFor(t, `gw.state === 'live' && gw.verified > 0 && gw.session.state === 'refused' &&
				document.getElementById('token-banner').textContent === 'token refused — showing prices only' &&
				document.querySelectorAll('#bids tr[data-price]').length > 0`, 20*time.Second)
			if n := b.Overflow(t); n > 0 {
				t.Errorf("with the banner, the page is %d px wider than its %d px viewport", n, size.Width)
			}
			path = filepath.Join(browsertest.ScreenshotDir(t), "demo-bad-token-"+size.Name+".png")
			b.Screenshot(t, path)
			t.Logf("screenshot: %s", path)
			b.Logs(t)
		})
	}
}

// demoPlace fills the page's ticket with a buy of 100 A1 at price, submits
// it and returns the clOrdId the page sent.
func demoPlace(t *testing.T, b *browsertest.Browser, price string) string {
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
	b.WaitFor(t, fmt.Sprintf("gw.orders.lastClOrdId !== %q", before), 20*time.Second)
	var id string
	b.Eval(t, "gw.orders.lastClOrdId", &id)
	return id
}
