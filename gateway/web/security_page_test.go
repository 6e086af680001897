package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"sgw/gateway/web"
	"sgw/gateway/web/browsertest"
)

// hostileText is a venue's reject reason (FIX Text, which a venue or a
// hostile upstream controls) that runs script if the page inserts it as
// HTML.
const hostileText = `<img src=x onerror="window.pwned='img'"><script>window.pwned='script'</script>`

// TestHandlerSecurityHeaders checks the page's security headers on every
// file: a Content-Security-Policy that allows script only from the
// gateway's own files (no inline script, no event-handler attributes) and
// no framing, X-Frame-Options for older browsers, nosniff, and no Referer
// (the page's URL carries the trader's token).
func TestHandlerSecurityHeaders(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	for _, path := range []string{"/", "/app.js", "/style.css", "/checksum_vectors.json", "/nope.js"} {
		t.Run(path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			csp := resp.Header.Get("Content-Security-Policy")
			directives := map[string]string{}
			for d := range strings.SplitSeq(csp, ";") {
				name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
				directives[name] = value
			}
			for name, want := range map[string]string{
				"default-src": "'none'", "script-src": "'self'", "connect-src": "'self'",
				"base-uri": "'none'", "frame-ancestors": "'none'",
			} {
				if got := directives[name]; got != want {
					t.Errorf("Content-Security-Policy %s = %q, want %q (policy %q)", name, got, want, csp)
				}
			}
			for name, want := range map[string]string{
				"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
			} {
				if got := resp.Header.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

// TestPageHostileVenueText checks that a venue's reject reason reaches the
// orders table and the ticket's error as text: no element is made of it
// and no script of it runs.
func TestPageHostileVenueText(t *testing.T) {
	const sym = "600519.SH"
	g, srv := serveFake(t)
	token := g.Token(t, "u1", "A1")
	bids, _ := g.Top(sym, 1)
	g.VenueReject(hostileText)
	b := browsertest.New(t)

	b.Run(t, "open the page", chromedp.Navigate(srv.URL+"/?token="+url.QueryEscape(token)))
	b.WaitFor(t, "gw.state === 'live' && gw.orders.signedIn && document.getElementById('ticket-fields').disabled === false", pageBound)
	id := placeOrder(t, b, "A1", "buy", bids[0].Price, 100)
	waitStatus(t, b, id, "rejected")
	b.WaitFor(t, "!document.getElementById('ticket-error').hidden", pageBound)

	var shown struct {
		Reason   string `json:"reason"`
		Error    string `json:"error"`
		Elements int    `json:"elements"` // img and script elements anywhere in the page
		Pwned    string `json:"pwned"`
	}
	b.Eval(t, `({reason: document.querySelector('#orders-table tr[data-clordid="`+id+`"] td.reason').textContent,
		error: document.getElementById('ticket-error').textContent,
		elements: document.querySelectorAll('img, script:not([src="app.js"])').length, pwned: String(window.pwned || '')})`, &shown)
	if !strings.Contains(shown.Reason, hostileText) || !strings.Contains(shown.Error, hostileText) {
		t.Errorf("reason %q, ticket error %q; want both to show the venue's text %q as text", shown.Reason, shown.Error, hostileText)
	}
	if shown.Elements != 0 || shown.Pwned != "" {
		t.Errorf("the venue's text made %d img or script elements and set window.pwned = %q; want none", shown.Elements, shown.Pwned)
	}
	b.Logs(t)
}

// TestPageContainsInjectedHTML checks the page's Content-Security-Policy
// holds: HTML that reached the page as markup (a venue's text some future
// code inserts with innerHTML) runs none of its inline script.
func TestPageContainsInjectedHTML(t *testing.T) {
	_, srv := serveFake(t)
	b := browsertest.New(t)
	b.Run(t, "open the page", chromedp.Navigate(srv.URL+"/"))
	b.WaitFor(t, "gw.state === 'live'", pageBound)

	// The image's inline onerror is registered before the test's listener,
	// so it has run, or been blocked, once window.imgFailed is set.
	var ok bool
	b.Eval(t, `(() => {
		const el = document.getElementById('notice');
		el.insertAdjacentHTML('beforeend', `+mustJSON(hostileText)+`);
		el.querySelector('img').addEventListener('error', () => { window.imgFailed = true; });
		return true;
	})()`, &ok)
	b.WaitFor(t, "window.imgFailed === true", pageBound)
	var pwned string
	b.Eval(t, "String(window.pwned || '')", &pwned)
	if pwned != "" {
		t.Errorf("injected markup ran its script: window.pwned = %q; want the Content-Security-Policy to block it", pwned)
	}
}

// TestPageTokenLeavesAddressBar: the page takes its ?token= out of the
// address bar as it loads (the other parameters stay), so the token is
// not kept in the browser's history nor in a link copied from the page;
// the tab keeps it, and a reload signs in again. Before, the token stayed
// in the URL for the life of the tab.
func TestPageTokenLeavesAddressBar(t *testing.T) {
	const sym = "600519.SH"
	g, srv := serveFake(t)
	token := g.Token(t, "u1", "A1")
	b := browsertest.New(t)
	b.Run(t, "open the page", chromedp.Navigate(srv.URL+"/?symbol="+sym+"&token="+url.QueryEscape(token)))
	signedIn := "gw.state === 'live' && gw.orders.signedIn"
	b.WaitFor(t, signedIn, pageBound)
	var search string
	b.Eval(t, `location.search`, &search)
	if strings.Contains(search, "token") || !strings.Contains(search, "symbol=") {
		t.Fatalf("the address after the page loaded has %q; want the symbol and no token", search)
	}
	b.Run(t, "reload", chromedp.Reload())
	b.WaitFor(t, signedIn, pageBound)
	g.mu.Lock()
	tokens := slices.Clone(g.tokens)
	g.mu.Unlock()
	if len(tokens) < 2 || tokens[len(tokens)-1] != token {
		t.Fatalf("the connections' tokens: %d, the last %t the page's; want the reload's to carry it", len(tokens), len(tokens) > 0 && tokens[len(tokens)-1] == token)
	}
}
