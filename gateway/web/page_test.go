package web_test

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sgw/gateway/web/browsertest"
)

// shownBook is what the page's ladder and quote panel show.
type shownBook struct {
	Bids string `json:"bids"` // JSON of [[price, qty], ...], best first
	Asks string `json:"asks"`
	Seq  string `json:"seq"`
	Last string `json:"last"`
}

const shownBookJS = `(() => {
  const rows = (id) => JSON.stringify([...document.querySelectorAll('#' + id + ' tr[data-price]')]
    .map((r) => [r.dataset.price, Number(r.dataset.qty)]));
  const asks = JSON.parse(rows('asks')).reverse(); // shown worst first
  return {bids: rows('bids'), asks: JSON.stringify(asks),
          seq: document.getElementById('seq').textContent,
          last: document.getElementById('last').textContent};
})()`

// pageBound bounds every wait for the page to show something. Only a
// broken test reaches it: it is generous so that a loaded machine never
// does.
const pageBound = time.Minute

// waitShown waits until the page shows the fake's book for sym at depth.
func waitShown(t *testing.T, b *browsertest.Browser, g *fakeGateway, sym string, depth int) {
	t.Helper()
	bids, asks := g.Top(sym, depth)
	want := shownBook{
		Bids: mustJSON(wireLevels(bids)), Asks: mustJSON(wireLevels(asks)),
		Seq: fmt.Sprint(g.Seq(sym)), Last: g.Last(sym).String(),
	}
	deadline := time.Now().Add(pageBound)
	for {
		var got shownBook
		b.Eval(t, shownBookJS, &got)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			b.Logs(t)
			t.Fatalf("the page shows\n%+v\nwant\n%+v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPage drives the page in headless Chromium against fakeGateway: it
// steps the fake's book, injects a corrupted checksum, a seq gap and a
// dropped connection, and checks that the page verified every checksum,
// recovered from each fault the way PROTOCOL.md says and shows the fake's
// book. It then checks the JavaScript checksum against the Go golden
// vectors, saves a screenshot, and switches symbol and depth.
func TestPage(t *testing.T) {
	const (
		sym   = "600519.SH"
		other = "000001.SZ"
	)
	g := newFakeGateway(t)
	token := g.Token(t, "viewer") // valid, no accounts: the page passes it on at every connect
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(g.Close) // runs before srv.Close: ends the WebSocket handlers
	b := browsertest.New(t)

	b.Run(t, "open the page", chromedp.Navigate(srv.URL+"/?token="+token))
	b.WaitFor(t, "gw.state === 'live' && gw.symbol === '"+sym+"'", pageBound)
	start := b.GW(t)

	// Faults, by step: the page must count one checksum failure and get a
	// fresh snapshot, resume after the gap, and resume after reconnecting.
	// After each fault and the step that reveals it (a gap shows only at
	// the next update), the test waits until the page has recovered to
	// the fake's seq, so that faults never overlap however slow the page.
	const steps = 120
	for i := 1; i <= steps; i++ {
		switch i {
		case 15:
			g.CorruptNext()
		case 45:
			g.DropNext()
		case 80:
			g.Disconnect()
		}
		g.Step(sym)
		switch i {
		case 15 + 1, 45 + 1, 80 + 1:
			b.WaitFor(t, fmt.Sprintf("gw.state === 'live' && gw.seq === %d", g.Seq(sym)), pageBound)
		}
	}
	final := g.Seq(sym)
	b.WaitFor(t, fmt.Sprintf("gw.state === 'live' && gw.seq === %d", final), pageBound)
	waitShown(t, b, g, sym, 10)
	s := b.GW(t)
	t.Logf("window.gw after %d steps: %+v", steps, s)

	if s.Seq <= start.Seq {
		t.Errorf("seq %d did not increase from %d", s.Seq, start.Seq)
	}
	if s.Verified <= 20 {
		t.Errorf("verified %d checksums, want more than 20", s.Verified)
	}
	if s.Failures != 1 {
		t.Errorf("failures %d, want exactly 1 (one corrupted checksum)", s.Failures)
	}
	if s.Resyncs < 1 || s.Gaps < 1 {
		t.Errorf("resyncs %d, gaps %d, want at least 1 each", s.Resyncs, s.Gaps)
	}
	if s.Connects < 2 {
		t.Errorf("connects %d, want at least 2 (reconnect after the dropped connection)", s.Connects)
	}

	// What the page asked for, in order.
	ops := g.Ops()
	g.mu.Lock()
	corrupted, dropped, tokens, multi := g.corrupted, g.dropped, slices.Clone(g.tokens), g.multiFrames
	g.mu.Unlock()
	if corrupted == 0 || dropped == 0 {
		t.Fatalf("faults not injected: corrupted seq %d, dropped seq %d", corrupted, dropped)
	}
	fresh := "subscribe book " + sym + " depth=10"
	if n := count(ops, fresh); n < 2 {
		t.Errorf("%d fresh book subscribes, want the first one and one after the checksum failure; ops:\n%s", n, strings.Join(ops, "\n"))
	}
	if i := slices.Index(ops, fresh); i < 0 || !slices.Contains(ops[i+1:], "unsubscribe book "+sym) {
		t.Errorf("no unsubscribe before the resync; ops:\n%s", strings.Join(ops, "\n"))
	}
	// The gap is resumed on the open connection: unsubscribe, then
	// subscribe with resume from the seq before the gap.
	if i := slices.Index(ops, fmt.Sprintf("%s resume=%d checksum=ok", fresh, dropped-1)); i < 1 || ops[i-1] != "unsubscribe book "+sym {
		t.Errorf("the gap at seq %d was not resumed with unsubscribe, subscribe resume=%d; ops:\n%s", dropped, dropped-1, strings.Join(ops, "\n"))
	}
	if n := countPrefix(ops, fresh+" resume="); n < 2 {
		t.Errorf("%d resume subscribes, want one after the gap and one after reconnecting; ops:\n%s", n, strings.Join(ops, "\n"))
	}
	for _, op := range ops {
		if strings.HasPrefix(op, fresh+" resume=") && !strings.HasSuffix(op, " checksum=ok") {
			t.Errorf("a resume without its book's checksum at its seq: %q", op)
		}
	}
	for i, tok := range tokens {
		if tok != token {
			t.Errorf("connection %d: ?token=%q, want %q", i, tok, token)
		}
	}
	if multi == 0 {
		t.Error("no frame carried several messages; the test did not exercise batching")
	}

	// Go and JavaScript compute the same checksums.
	var mismatches []string
	b.Eval(t, "window.gwChecksumSelfTest()", &mismatches)
	for _, m := range mismatches {
		t.Errorf("checksum self-test: %s", m)
	}

	path := filepath.Join(browsertest.ScreenshotDir(t), "trading-page.png") // $SGW_WEB_SCREENSHOT_DIR keeps it
	b.Screenshot(t, path)
	t.Logf("screenshot: %s", path)

	// Switch symbol: the old symbol's channels are unsubscribed.
	before := len(g.Ops())
	b.Eval(t, `(() => { const s = document.getElementById('symbol'); s.value = '`+other+`';
		s.dispatchEvent(new Event('change')); return true; })()`, new(bool))
	b.WaitFor(t, "gw.state === 'live' && gw.symbol === '"+other+"'", pageBound)
	for range 20 {
		g.Step(other)
	}
	b.WaitFor(t, fmt.Sprintf("gw.state === 'live' && gw.seq === %d", g.Seq(other)), pageBound)
	waitShown(t, b, g, other, 10)
	after := g.Ops()[before:]
	for _, ch := range []string{"book", "quote", "trades"} {
		if !slices.Contains(after, "unsubscribe "+ch+" "+sym) {
			t.Errorf("no unsubscribe of %s %s on switching symbol; ops:\n%s", ch, sym, strings.Join(after, "\n"))
		}
	}

	// Depth 5: a fresh subscription verified with the top-5 checksum.
	verified := b.GW(t).Verified
	b.Eval(t, `(() => { const s = document.getElementById('depth'); s.value = '5';
		s.dispatchEvent(new Event('change')); return true; })()`, new(bool))
	b.WaitFor(t, "gw.state === 'live' && gw.depth === 5", pageBound)
	for range 20 {
		g.Step(other)
	}
	b.WaitFor(t, fmt.Sprintf("gw.state === 'live' && gw.seq === %d", g.Seq(other)), pageBound)
	waitShown(t, b, g, other, 5)
	s = b.GW(t)
	if s.Verified < verified+20 || s.Failures != 1 {
		t.Errorf("depth 5: verified %d (was %d), failures %d; want 20 more verified and no new failure", s.Verified, verified, s.Failures)
	}
	if !slices.Contains(g.Ops(), "subscribe book "+other+" depth=5") {
		t.Errorf("no depth-5 subscribe; ops:\n%s", strings.Join(g.Ops(), "\n"))
	}
	b.Logs(t)
}

func count(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

func countPrefix(list []string, prefix string) int {
	n := 0
	for _, v := range list {
		if strings.HasPrefix(v, prefix) {
			n++
		}
	}
	return n
}

// TestPageTradesGap: a trades notice that prints may be missing (the
// gateway dropped the backlog of a connection that fell behind) shows in
// the trades list as a gap, between the prints before and after it, not
// as a print.
func TestPageTradesGap(t *testing.T) {
	const sym = "600519.SH"
	g := newFakeGateway(t)
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(g.Close)
	b := browsertest.New(t)
	b.Run(t, "open the page", chromedp.Navigate(srv.URL+"/"))
	b.WaitFor(t, "gw.state === 'live' && gw.symbol === '"+sym+"'", pageBound)
	step := func(n int) {
		for range n {
			g.Step(sym)
		}
		b.WaitFor(t, fmt.Sprintf("gw.seq === %d && gw.trades === document.querySelectorAll('#trades tr').length", g.Seq(sym)), pageBound)
	}
	step(20)
	g.TradesResync(sym)
	b.WaitFor(t, "document.querySelectorAll('#trades td.gap').length === 1", pageBound)
	step(20)
	var rows []string
	b.Eval(t, `[...document.querySelectorAll('#trades tr')].map((r) => r.querySelector('td.gap') ? 'gap' : r.cells[1].textContent)`, &rows)
	gap := slices.Index(rows, "gap")
	if gap <= 0 || gap == len(rows)-1 || slices.Contains(rows, "undefined") || slices.Contains(rows, "") {
		t.Fatalf("trades list %q: want prints, the gap, prints", rows)
	}
}
