package main

import (
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
