package web

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// contentTypes maps the extensions of the embedded files to their Content-Type,
// so that the answer does not depend on the host's MIME tables.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".json": "application/json",
	".png":  "image/png",
	".svg":  "image/svg+xml",
	".ico":  "image/x-icon",
}

// contentSecurityPolicy is the page's Content-Security-Policy: scripts,
// styles, images and connections (fetch, the WebSocket) from the gateway
// only, no inline script or event-handler attribute, no <base>, no form
// submission, and no framing by any other page (a trading page with a Buy
// button must not be clickjacked). Should a venue's text (an order's
// reject reason, FIX Text) ever reach the page as HTML, its script does
// not run (TestPageContainsInjectedHTML).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler returns the handler of the trading page: index.html at "/" and the
// page's other files by name ("/app.js", "/style.css", ...). Every answer
// carries Cache-Control: no-cache, so a browser revalidates after a gateway
// upgrade, and the page's security headers: contentSecurityPolicy,
// X-Frame-Options DENY (for browsers without frame-ancestors),
// X-Content-Type-Options nosniff, and Referrer-Policy no-referrer (the
// page's URL carries the trader's ?token=, which no request the page makes
// repeats in a Referer). Methods other than GET and HEAD get 405.
//
// The page expects to be served at the root of the gateway's address: it
// calls /api/v1/instruments and /ws on the same host. Handler is safe for
// concurrent use; the files are immutable.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic("web: embedded static directory missing: " + err.Error()) // a build defect, not a runtime condition
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		name := r.URL.Path
		if strings.HasSuffix(name, "/") {
			name += "index.html" // what the file server answers for a directory
		}
		if ct, ok := contentTypes[path.Ext(name)]; ok {
			w.Header().Set("Content-Type", ct)
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
