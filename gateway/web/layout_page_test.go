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

// ExpiredToken returns a token for sub that may trade accounts and
// expired an hour ago.
func (g *fakeGateway) ExpiredToken(t *testing.T, sub string, accounts ...string) string {
	t.Helper()
	tok, err := g.verifier.IssueFor(sub, accounts, time.Hour, time.Now().Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// noOverflow fails t if the page scrolls sideways, or if one of the
// page's controls sticks out of the viewport.
func noOverflow(t *testing.T, b *browsertest.Browser, s browsertest.Size) {
	t.Helper()
	if n := b.Overflow(t); n > 0 {
		t.Errorf("%s: the page is %d px wider than its %d px viewport (document.documentElement.scrollWidth > innerWidth)", s.Name, n, s.Width)
	}
	var outside []string
	b.Eval(t, `['#ticket-submit', '#ticket-price', '#ticket-qty', '#asks', '#bids', '#my-orders', '#account-panel', '#token-banner', '.bar']
		.filter((q) => { const e = document.querySelector(q); if (!e || e.hidden) return false;
			const r = e.getBoundingClientRect(); return r.left < 0 || r.right > window.innerWidth + 0.5; })`, &outside)
	if len(outside) > 0 {
		t.Errorf("%s: %v stick out of the viewport", s.Name, outside)
	}
}

// screenshot saves a PNG of the whole page as name-SIZE.png in the
// screenshot directory ($SGW_WEB_SCREENSHOT_DIR keeps them).
func screenshot(t *testing.T, b *browsertest.Browser, name string, s browsertest.Size) {
	t.Helper()
	path := filepath.Join(browsertest.ScreenshotDir(t), name+"-"+s.Name+".png")
	b.Screenshot(t, path)
	t.Logf("screenshot: %s", path)
}

// TestPageExpiredToken opens the page, at desktop and phone sizes, with a
// token that expired: the fake refuses it as the gateway does (close
// 4001), and the page must say so in a banner, drop the token and show
// prices as an anonymous viewer, with the ticket disabled.
func TestPageExpiredToken(t *testing.T) {
	for _, size := range browsertest.Sizes() {
		t.Run(size.Name, func(t *testing.T) {
			g, srv := serveFake(t)
			expired := g.ExpiredToken(t, "u1", "A1")
			b := browsertest.New(t)
			b.Resize(t, size)

			b.Run(t, "open the page", chromedp.Navigate(srv.URL+"/?token="+url.QueryEscape(expired)))
			b.WaitFor(t, `gw.state === 'live' && gw.verified > 0 && gw.session.state === 'refused' &&
				!document.getElementById('token-banner').hidden &&
				document.querySelectorAll('#bids tr[data-price]').length > 0 &&
				document.getElementById('q-bid').textContent !== '–'`, pageBound)
			g.Step("600519.SH")
			b.WaitFor(t, fmt.Sprintf("gw.state === 'live' && gw.seq === %d", g.Seq("600519.SH")), pageBound)

			var st struct {
				Banner   string `json:"banner"`
				Refused  string `json:"refused"`
				Disabled bool   `json:"disabled"`
				Note     string `json:"note"`
				Account  string `json:"account"`
			}
			b.Eval(t, `({banner: document.getElementById('token-banner').textContent, refused: gw.session.refused,
				disabled: document.getElementById('ticket-fields').disabled, note: document.getElementById('ticket-note').textContent,
				account: document.getElementById('account-note').textContent})`, &st)
			if st.Banner != "token expired — showing prices only" {
				t.Errorf("banner %q, want %q", st.Banner, "token expired — showing prices only")
			}
			if !strings.HasPrefix(st.Refused, "token expired: ") || !st.Disabled || !strings.Contains(st.Note, "token refused") ||
				!strings.Contains(st.Account, "token refused") {
				t.Errorf("page state %+v, want the close reason, a disabled ticket and notes saying the token was refused", st)
			}
			// The expired token was tried once; every later connection
			// (anonymous) carries none.
			g.mu.Lock()
			tokens := append([]string(nil), g.tokens...)
			g.mu.Unlock()
			if len(tokens) < 2 || tokens[0] != expired || tokens[len(tokens)-1] != "" {
				t.Errorf("?token= of the connections: %d, first the expired one %v, last none %v", len(tokens),
					len(tokens) > 0 && tokens[0] == expired, len(tokens) > 0 && tokens[len(tokens)-1] == "")
			}
			if ops := g.Ops(); hasPrefix(ops, "auth") || hasPrefix(ops, "subscribe orders") || hasPrefix(ops, "account") {
				t.Errorf("the page used the refused token; ops:\n%s", strings.Join(ops, "\n"))
			}
			noOverflow(t, b, size)
			screenshot(t, b, "expired-token", size)
			b.Logs(t)
		})
	}
}

// positionShown is a row of the account panel's positions table.
type accountShown struct {
	Cash      string     `json:"cash"`
	Open      string     `json:"open"`
	Positions [][]string `json:"positions"`
	Updates   int        `json:"updates"`
}

const accountShownJS = `((a) => { const d = document.querySelector('#accounts .account[data-account="' + a + '"]');
	if (!d) return null;
	return {cash: d.querySelector('dd.cash').textContent, open: d.querySelector('dd.open').textContent,
		positions: [...d.querySelectorAll('.positions tbody tr[data-symbol]')].map((r) => [...r.cells].map((c) => c.textContent)),
		updates: gw.accounts[a] ? gw.accounts[a].updates : 0}; })`

// TestPageTrading trades from the page at desktop and phone sizes: the
// account panel shows the account's cash, a buy at the ask fills and the
// panel shows the cash paid and the shares bought, an order outside the
// band is refused and stays in "my orders" as rejected with its reason,
// and nothing is wider than the screen.
func TestPageTrading(t *testing.T) {
	const sym = "600519.SH"
	for _, size := range browsertest.Sizes() {
		t.Run(size.Name, func(t *testing.T) {
			g, srv := serveFake(t)
			inst := g.instruments[0]
			_, asks := g.Top(sym, 1)
			ask := asks[0].Price
			b := browsertest.New(t)
			b.Resize(t, size)

			b.Run(t, "open the page", chromedp.Navigate(srv.URL+"/?token="+url.QueryEscape(g.Token(t, "u1", "A1"))))
			b.WaitFor(t, "gw.state === 'live' && gw.orders.signedIn && !document.getElementById('ticket-fields').disabled && "+
				"gw.accounts.A1 !== undefined && document.querySelector('#accounts dd.cash') !== null", pageBound)
			var before accountShown
			b.Eval(t, accountShownJS+"('A1')", &before)
			if before.Cash != "1,000,000.00" || len(before.Positions) != 0 {
				t.Errorf("account panel before trading %+v, want cash 1,000,000.00 and no positions", before)
			}
			noOverflow(t, b, size)

			// A buy at the ask fills; the panel asks again and shows the
			// cash paid and the shares bought today.
			filled := placeOrder(t, b, "A1", "buy", ask, 300)
			waitStatus(t, b, filled, "filled")
			wantCash := fakeCash - ask*300
			b.WaitFor(t, fmt.Sprintf("((s) => s !== null && s.cash === %s && s.positions.length === 1)(%s('A1'))",
				mustJSON(groupDigits(wantCash)), accountShownJS), pageBound)
			var after accountShown
			b.Eval(t, accountShownJS+"('A1')", &after)
			if want := []string{sym, "0", "0", "300"}; len(after.Positions) != 1 || strings.Join(after.Positions[0], "|") != strings.Join(want, "|") {
				t.Errorf("positions after the fill %q, want %q", after.Positions, want)
			}
			if !hasPrefix(g.Ops(), "account A1") {
				t.Errorf("the page sent no account request; ops:\n%s", strings.Join(g.Ops(), "\n"))
			}

			// Outside the band: refused, and the row stays with its reason.
			outside := inst.LimitUp + 100*inst.Tick
			refused := placeOrder(t, b, "A1", "buy", outside, 100)
			waitStatus(t, b, refused, "rejected")
			var reason string
			b.Eval(t, `document.querySelector('#orders-table tr[data-clordid="`+refused+`"] td.reason').textContent`, &reason)
			wantReason := fmt.Sprintf("risk.price_band: price %s outside limit band %s-%s", outside, inst.LimitDown, inst.LimitUp)
			if reason != wantReason {
				t.Errorf("reason of the rejected row %q, want %q", reason, wantReason)
			}
			var errRef string
			b.Eval(t, "gw.orders.lastError.ref", &errRef)
			if errRef != refused {
				t.Errorf("the error's ref %q, want the order's clOrdId %s", errRef, refused)
			}
			// Order times and trade times read the same: HH:MM:SS.mmm.
			var times []string
			b.Eval(t, `[...document.querySelectorAll('#orders-table tbody tr td:first-child, #trades tr td:first-child, #accounts dd.asof')].map((c) => c.textContent)`, &times)
			for _, tm := range times {
				if !timeFormat(tm) {
					t.Errorf("time %q is not HH:MM:SS.mmm; all: %q", tm, times)
				}
			}
			noOverflow(t, b, size)
			screenshot(t, b, "trading", size)
			b.Logs(t)
		})
	}
}

// timeFormat reports whether s is HH:MM:SS.mmm, the page's one time format.
func timeFormat(s string) bool {
	_, err := time.Parse("15:04:05.000", s)
	return err == nil
}

// groupDigits formats a price as the page shows cash: "1,234,567.89".
func groupDigits(p refdata.Price) string {
	s := p.String()
	whole, frac, _ := strings.Cut(s, ".")
	var out []byte
	for i := range len(whole) {
		if i > 0 && (len(whole)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, whole[i])
	}
	return string(out) + "." + frac
}

// submitBoxJS is the ticket's submit button's box in page coordinates.
const submitBoxJS = `((r) => [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height])(document.getElementById('ticket-submit').getBoundingClientRect())`

// TestTicketStaysPut checks, at desktop and phone sizes, that the ticket's
// submit button does not move while the page fills in: not when the
// sign-in note goes away, not while the trades list grows to its 30 rows.
// A button that moves between a trader's aim and click sends nothing, or
// clicks something else (a ladder row that sets the price).
func TestTicketStaysPut(t *testing.T) {
	const sym = "600519.SH"
	for _, size := range browsertest.Sizes() {
		t.Run(size.Name, func(t *testing.T) {
			g, srv := serveFake(t)
			b := browsertest.New(t)
			b.Resize(t, size)

			// Signed out: the note says so, no trade yet.
			b.Run(t, "open the page", chromedp.Navigate(srv.URL+"/?symbol="+sym))
			b.WaitFor(t, "gw.state === 'live' && !document.getElementById('ticket-note').hidden && "+
				"document.querySelectorAll('#bids tr[data-price]').length > 0", pageBound)
			var signedOut []float64
			b.Eval(t, submitBoxJS, &signedOut)

			// Signed in: the note is gone.
			b.Run(t, "open the page signed in", chromedp.Navigate(srv.URL+"/?symbol="+sym+"&token="+url.QueryEscape(g.Token(t, "u1", "A1"))))
			b.WaitFor(t, "gw.state === 'live' && gw.orders.signedIn && !document.getElementById('ticket-fields').disabled && "+
				"document.getElementById('ticket-note').hidden && document.querySelectorAll('#trades tr').length === 0", pageBound)
			var signedIn []float64
			b.Eval(t, submitBoxJS, &signedIn)

			// Trades arrive until the list is full.
			rows := 0
			for round := 0; rows < 30 && round < 20; round++ {
				for range 100 {
					g.Step(sym)
				}
				b.WaitFor(t, fmt.Sprintf("gw.seq === %d && gw.trades === document.querySelectorAll('#trades tr').length", g.Seq(sym)), pageBound)
				b.Eval(t, "document.querySelectorAll('#trades tr').length", &rows)
			}
			if rows != 30 {
				t.Fatalf("the trades list shows %d rows after 2,000 steps, want 30", rows)
			}
			var full []float64
			b.Eval(t, submitBoxJS, &full)
			if !slices.Equal(signedOut, signedIn) || !slices.Equal(signedIn, full) {
				t.Errorf("the submit button [left top width height] moved: %v signed out, %v signed in, %v with 30 trades", signedOut, signedIn, full)
			}
			screenshot(t, b, "ticket-full-trades", size)
			b.Logs(t)
		})
	}
}
