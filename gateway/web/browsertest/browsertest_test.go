package browsertest_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sgw/gateway/web/browsertest"
)

// page stands in for the trading page: it sets window.gw, goes live after a
// moment, logs to the console and throws nothing.
const page = `<!doctype html><title>t</title><body><p id="x">hello</p><script>
window.gw = {state: 'connecting', symbol: '600519.SH', depth: 10, seq: 0, verified: 0};
console.log('started');
setTimeout(() => { window.gw.state = 'live'; window.gw.seq = 7; window.gw.verified = 3; }, 200);
</script>`

// TestBrowser checks the helpers against a static page: WaitFor, GW, Eval,
// Logs and Screenshot.
func TestBrowser(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(page))
	}))
	t.Cleanup(srv.Close)
	b := browsertest.New(t)

	b.Run(t, "open the page", chromedp.Navigate(srv.URL))
	b.WaitFor(t, "gw.state === 'live'", time.Minute)
	if s := b.GW(t); s.Seq != 7 || s.Verified != 3 || s.Symbol != "600519.SH" {
		t.Errorf("GW = %+v, want seq 7, verified 3, symbol 600519.SH", s)
	}
	var text string
	b.Eval(t, "document.getElementById('x').textContent", &text)
	if text != "hello" {
		t.Errorf("#x = %q, want hello", text)
	}
	var n int
	b.Eval(t, "Promise.resolve(41).then((v) => v + 1)", &n)
	if n != 42 {
		t.Errorf("awaited promise = %d, want 42", n)
	}

	path := filepath.Join(t.TempDir(), "page.png")
	b.Screenshot(t, path)
	png, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot %s is not a PNG: % x", path, png[:min(len(png), 8)])
	}

	logged := &recorder{TB: t}
	b.Logs(logged)
	if !strings.Contains(logged.String(), "console.log: \"started\"") {
		t.Errorf("Logs did not report the console message; got:\n%s", logged)
	}
}

// recorder is a testing.TB that keeps what Log was given.
type recorder struct {
	testing.TB
	buf strings.Builder
}

func (r *recorder) Log(args ...any) {
	for _, a := range args {
		r.buf.WriteString(a.(string))
	}
	r.buf.WriteString("\n")
}

func (r *recorder) String() string { return r.buf.String() }
