package web_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// gwState is the page's window.gw.
type gwState struct {
	State     string `json:"state"`
	Symbol    string `json:"symbol"`
	Depth     int    `json:"depth"`
	Seq       uint64 `json:"seq"`
	Applied   int    `json:"applied"`
	Snapshots int    `json:"snapshots"`
	Verified  int    `json:"verified"`
	Failures  int    `json:"failures"`
	Resyncs   int    `json:"resyncs"`
	Gaps      int    `json:"gaps"`
	Connects  int    `json:"connects"`
}

// browser is a headless Chromium tab and what its page logged.
type browser struct {
	ctx context.Context

	mu  sync.Mutex
	log []string // console messages and uncaught exceptions
	exc int      // uncaught exceptions
}

// chromiumPath finds a Chromium binary: $CHROMIUM, else the usual names.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browserUnavailable skips the test, or fails it under CI=true, where the
// browser test must run.
func browserUnavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + " (install it with: apt-get install -y chromium)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// newBrowser starts headless Chromium with a fresh profile; the browser is
// closed when the test ends, before its temporary directories are removed.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	exe := chromiumPath()
	if exe == "" {
		browserUnavailable(t, "no Chromium binary found")
	}
	// A fresh profile. Not t.TempDir: Chromium's helper processes may still
	// write to it for a moment after the browser exits, which makes the
	// testing package's single RemoveAll fail the test.
	profile, err := os.MkdirTemp("", "sgw-web-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true), // containers often have a tiny /dev/shm
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc() // waits for the browser process to exit
		removeProfile(t, profile)
	})
	// The first Run starts the browser; it must get ctx itself, not a
	// context with a timeout, or the browser would die with that context.
	if err := chromedp.Run(ctx); err != nil {
		browserUnavailable(t, "Chromium (%s) did not start: %v", exe, err)
	}
	b := &browser{ctx: ctx}
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range ev.Args {
				if len(a.Value) > 0 {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			b.add(false, "console."+string(ev.Type)+": "+strings.Join(parts, " "))
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil {
				text += " " + d.Exception.Description
			}
			b.add(true, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
		}
	})
	return b
}

// removeProfile removes the browser profile, retrying while Chromium's
// helper processes finish writing to it.
func removeProfile(t *testing.T, dir string) {
	var err error
	for range 50 {
		if err = os.RemoveAll(dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("browser profile %s not removed: %v", dir, err)
}

func (b *browser) add(exception bool, line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.log = append(b.log, line)
	if exception {
		b.exc++
	}
}

// logs reports what the page logged, and fails on uncaught exceptions.
func (b *browser) logs(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range b.log {
		t.Log("page: " + l)
	}
	if b.exc > 0 {
		t.Errorf("the page threw %d uncaught exceptions", b.exc)
	}
}

// run runs actions with a timeout.
func (b *browser) run(t *testing.T, what string, actions ...chromedp.Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		b.logs(t)
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression into res; a promise is awaited.
func (b *browser) eval(t *testing.T, expr string, res any) {
	t.Helper()
	b.run(t, "evaluate "+expr, chromedp.Evaluate(expr, res, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
}

func (b *browser) gw(t *testing.T) gwState {
	t.Helper()
	var s gwState
	b.eval(t, "window.gw", &s)
	return s
}

// waitFor polls a JavaScript condition until it holds.
func (b *browser) waitFor(t *testing.T, cond string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		b.eval(t, "Boolean(window.gw && ("+cond+"))", &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.logs(t)
			t.Fatalf("timed out after %v waiting for %s; window.gw = %+v", timeout, cond, b.gw(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

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

// waitShown waits until the page shows the fake's book for sym at depth.
func (b *browser) waitShown(t *testing.T, g *fakeGateway, sym string, depth int) {
	t.Helper()
	bids, asks := g.Top(sym, depth)
	want := shownBook{
		Bids: mustJSON(wireLevels(bids)), Asks: mustJSON(wireLevels(asks)),
		Seq: fmt.Sprint(g.Seq(sym)), Last: g.Last(sym).String(),
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var got shownBook
		b.eval(t, shownBookJS, &got)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			b.logs(t)
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
		token = "test.token"
	)
	g := newFakeGateway(t)
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(g.Close) // runs before srv.Close: ends the WebSocket handlers
	b := newBrowser(t)

	b.run(t, "open the page", chromedp.Navigate(srv.URL+"/?token="+token))
	b.waitFor(t, "gw.state === 'live' && gw.symbol === '"+sym+"'", 10*time.Second)
	start := b.gw(t)

	// Faults, by step: the page must count one checksum failure and get a
	// fresh snapshot, resume after the gap, and resume after reconnecting.
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
		time.Sleep(10 * time.Millisecond)
	}
	final := g.Seq(sym)
	b.waitFor(t, fmt.Sprintf("gw.state === 'live' && gw.seq === %d", final), 15*time.Second)
	b.waitShown(t, g, sym, 10)
	s := b.gw(t)
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
	if i := slices.Index(ops, fmt.Sprintf("%s resume=%d", fresh, dropped-1)); i < 1 || ops[i-1] != "unsubscribe book "+sym {
		t.Errorf("the gap at seq %d was not resumed with unsubscribe, subscribe resume=%d; ops:\n%s", dropped, dropped-1, strings.Join(ops, "\n"))
	}
	if n := countPrefix(ops, fresh+" resume="); n < 2 {
		t.Errorf("%d resume subscribes, want one after the gap and one after reconnecting; ops:\n%s", n, strings.Join(ops, "\n"))
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
	b.eval(t, "window.gwChecksumSelfTest()", &mismatches)
	for _, m := range mismatches {
		t.Errorf("checksum self-test: %s", m)
	}

	dir := os.Getenv("SGW_WEB_SCREENSHOT_DIR") // keep the screenshot; default: the test's temp dir
	if dir == "" {
		dir = t.TempDir()
	}
	var png []byte
	b.run(t, "screenshot", chromedp.FullScreenshot(&png, 100)) // quality 100: PNG
	path := filepath.Join(dir, "trading-page.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)

	// Switch symbol: the old symbol's channels are unsubscribed.
	before := len(g.Ops())
	b.eval(t, `(() => { const s = document.getElementById('symbol'); s.value = '`+other+`';
		s.dispatchEvent(new Event('change')); return true; })()`, new(bool))
	b.waitFor(t, "gw.state === 'live' && gw.symbol === '"+other+"'", 10*time.Second)
	for range 20 {
		g.Step(other)
	}
	b.waitFor(t, fmt.Sprintf("gw.state === 'live' && gw.seq === %d", g.Seq(other)), 10*time.Second)
	b.waitShown(t, g, other, 10)
	after := g.Ops()[before:]
	for _, ch := range []string{"book", "quote", "trades"} {
		if !slices.Contains(after, "unsubscribe "+ch+" "+sym) {
			t.Errorf("no unsubscribe of %s %s on switching symbol; ops:\n%s", ch, sym, strings.Join(after, "\n"))
		}
	}

	// Depth 5: a fresh subscription verified with the top-5 checksum.
	verified := b.gw(t).Verified
	b.eval(t, `(() => { const s = document.getElementById('depth'); s.value = '5';
		s.dispatchEvent(new Event('change')); return true; })()`, new(bool))
	b.waitFor(t, "gw.state === 'live' && gw.depth === 5", 10*time.Second)
	for range 20 {
		g.Step(other)
	}
	b.waitFor(t, fmt.Sprintf("gw.state === 'live' && gw.seq === %d", g.Seq(other)), 10*time.Second)
	b.waitShown(t, g, other, 5)
	s = b.gw(t)
	if s.Verified < verified+20 || s.Failures != 1 {
		t.Errorf("depth 5: verified %d (was %d), failures %d; want 20 more verified and no new failure", s.Verified, verified, s.Failures)
	}
	if !slices.Contains(g.Ops(), "subscribe book "+other+" depth=5") {
		t.Errorf("no depth-5 subscribe; ops:\n%s", strings.Join(g.Ops(), "\n"))
	}
	b.logs(t)
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
