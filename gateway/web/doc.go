// Package web is the browser trading page of the gateway: a static page
// (HTML, JavaScript, CSS, embedded in the binary) that lists the instruments
// from GET /api/v1/instruments and speaks the WebSocket market-data protocol
// of docs/PROTOCOL.md on /ws. It keeps a local copy of the book from a
// snapshot and per-seq updates, verifies every book checksum, and recovers
// from a seq gap (resubscribe with resume) or a checksum mismatch (fresh
// snapshot) by itself. With a token (?token=...) it signs in and offers an
// order ticket, a "my orders" table fed by the private orders channel (an
// order the gateway refuses stays in it, rejected, with the reason) and a
// cash and positions panel from the account request. A token the gateway
// refuses (WebSocket close 4001 or 4003, or a REST 401) is dropped: a
// banner says why ("token expired — showing prices only") and the page
// carries on anonymously. The layout folds to one column at phone width
// (orders become cards); every time is exchange time, HH:MM:SS.mmm.
// Nothing above the ticket changes height as data arrives (the trades list
// has its full height from the start, the ticket's notes sit below its
// fields), so the Buy button stays where the trader aimed
// (TestTicketStaysPut).
//
// The browser tests (package browsertest) run the page at a desktop and a
// phone size (browsertest.Sizes) and keep screenshots in
// $SGW_WEB_SCREENSHOT_DIR when it is set.
//
// Every string from the gateway or a venue is inserted as text, never as
// HTML, and the files are served with a Content-Security-Policy that
// allows no inline script and no framing (TestPageContainsInjectedHTML).
//
// The package only serves files; the gateway mounts Handler and owns the
// REST and WebSocket endpoints the page talks to. The page has no framework
// and loads nothing from outside the gateway.
//
// static/checksum_vectors.json holds book checksums computed by
// orderbook.Checksum; web_test.go regenerates it (go test -run
// TestChecksumVectors -update) and the browser test makes the page's
// JavaScript reproduce them, so Go and JavaScript agree on the checksum.
package web
