package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// runTimeout bounds each Run, Eval and Screenshot.
const runTimeout = 20 * time.Second

// State is the page's window.gw: its connection state and counters.
type State struct {
	State     string `json:"state"` // connecting, live, resyncing or closed
	Symbol    string `json:"symbol"`
	Depth     int    `json:"depth"`
	Seq       uint64 `json:"seq"`       // seq of the page's local book
	Applied   int    `json:"applied"`   // book updates applied
	Snapshots int    `json:"snapshots"` // book snapshots applied
	Verified  int    `json:"verified"`  // checksums that matched
	Failures  int    `json:"failures"`  // checksums that did not match, or undecodable book messages
	Resyncs   int    `json:"resyncs"`   // resubscribes to recover from a mismatch or a gap
	Gaps      int    `json:"gaps"`      // seq gaps seen
	Connects  int    `json:"connects"`  // WebSocket connections opened
	Trades    int    `json:"trades"`    // trades in the page's "last trades" list
	Orders    struct {
		SignedIn    bool   `json:"signedIn"`    // the token was accepted on this connection
		LastClOrdID string `json:"lastClOrdId"` // of the last order.new the page sent
		LastError   struct {
			Code string `json:"code"`
			Msg  string `json:"msg"`
		} `json:"lastError"` // the last order error shown, zero if none
	} `json:"orders"`
}

// Browser is one headless Chromium tab and what its page logged. Its
// methods must be called from the goroutine of the test that created it.
type Browser struct {
	ctx context.Context // the tab; cancelled when the test ends

	mu  sync.Mutex // guards log and exc, written on Chromium's event goroutine
	log []string   // console messages and uncaught exceptions
	exc int        // uncaught exceptions
}

// New starts headless Chromium with a fresh profile and opens a blank tab.
// The browser is closed and its profile removed when t ends, before t's
// temporary directories are removed. Without Chromium, New skips t, or fails
// it when CI=true.
func New(t testing.TB) *Browser {
	t.Helper()
	exe := chromiumPath()
	if exe == "" {
		unavailable(t, "no Chromium binary found")
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
		// A loaded machine must not make Chromium treat the page as in the
		// background and hold its timers and animation frames back: the
		// page renders once per animation frame.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
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
		unavailable(t, "Chromium (%s) did not start: %v", exe, err)
	}
	b := &Browser{ctx: ctx}
	chromedp.ListenTarget(ctx, func(ev any) { // on Chromium's event goroutine
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

// unavailable skips the test, or fails it under CI=true, where the browser
// test must run.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + " (install it with: apt-get install -y chromium)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// removeProfile removes the browser profile, retrying while Chromium's
// helper processes finish writing to it.
func removeProfile(t testing.TB, dir string) {
	var err error
	for range 50 {
		if err = os.RemoveAll(dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("browser profile %s not removed: %v", dir, err)
}

// add records a line the page logged; it runs on Chromium's event goroutine.
func (b *Browser) add(exception bool, line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.log = append(b.log, line)
	if exception {
		b.exc++
	}
}

// Logs logs everything the page logged so far (console messages and
// uncaught exceptions) and marks t failed if the page threw any uncaught
// exception.
func (b *Browser) Logs(t testing.TB) {
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

// Run runs chromedp actions in the tab with a timeout. On error it logs
// what the page logged and fails t with what it was doing.
func (b *Browser) Run(t testing.TB, what string, actions ...chromedp.Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, runTimeout)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		b.Logs(t)
		t.Fatalf("%s: %v", what, err)
	}
}

// Eval evaluates a JavaScript expression in the page and decodes its value
// into res, as encoding/json would; a promise is awaited.
func (b *Browser) Eval(t testing.TB, expr string, res any) {
	t.Helper()
	b.Run(t, "evaluate "+expr, chromedp.Evaluate(expr, res, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
}

// GW reads the page's window.gw.
func (b *Browser) GW(t testing.TB) State {
	t.Helper()
	var s State
	b.Eval(t, "window.gw", &s)
	return s
}

// WaitFor polls a JavaScript condition every 20ms until it holds, and fails
// t after timeout. The condition is only evaluated once window.gw exists,
// and may refer to it as gw: "gw.state === 'live' && gw.seq > 10".
func (b *Browser) WaitFor(t testing.TB, cond string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		b.Eval(t, "Boolean(window.gw && ("+cond+"))", &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.Logs(t)
			t.Fatalf("timed out after %v waiting for %s; window.gw = %+v", timeout, cond, b.GW(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Size is a viewport the page is tested at.
type Size struct {
	Name          string // for test and screenshot names: "desktop", "phone"
	Width, Height int64  // CSS pixels
	Mobile        bool   // emulate a phone: mobile metrics and touch
}

// Sizes returns the viewports every layout test covers: a desktop window
// and a phone held upright (390×844, an iPhone 12 to 15).
func Sizes() []Size {
	return []Size{
		{Name: "desktop", Width: 1280, Height: 800},
		{Name: "phone", Width: 390, Height: 844, Mobile: true},
	}
}

// Resize sets the tab's viewport to s; the page lays itself out again.
func (b *Browser) Resize(t testing.TB, s Size) {
	t.Helper()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
	if s.Mobile {
		opts = append(opts, chromedp.EmulateMobile)
	}
	b.Run(t, fmt.Sprintf("resize to %s (%d×%d)", s.Name, s.Width, s.Height), chromedp.EmulateViewport(s.Width, s.Height, opts...))
}

// Overflow reports how many CSS pixels the page is wider than its
// viewport (document.documentElement.scrollWidth - innerWidth); 0 or less
// means no horizontal scrolling.
func (b *Browser) Overflow(t testing.TB) int {
	t.Helper()
	var n int
	b.Eval(t, "document.documentElement.scrollWidth - window.innerWidth", &n)
	return n
}

// Screenshot saves a PNG of the whole page, not only the window, to path.
func (b *Browser) Screenshot(t testing.TB, path string) {
	t.Helper()
	var png []byte
	b.Run(t, "screenshot", chromedp.FullScreenshot(&png, 100)) // quality 100: PNG
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// ScreenshotDir is where tests save screenshots: $SGW_WEB_SCREENSHOT_DIR to
// keep them, else t's temporary directory.
func ScreenshotDir(t testing.TB) string {
	if dir := os.Getenv("SGW_WEB_SCREENSHOT_DIR"); dir != "" {
		return dir
	}
	return t.TempDir()
}
