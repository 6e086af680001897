// Package web is the browser trading page of the gateway: a static page
// (HTML, JavaScript, CSS, embedded in the binary) that lists the instruments
// from GET /api/v1/instruments and speaks the WebSocket market-data protocol
// of docs/PROTOCOL.md on /ws. It keeps a local copy of the book from a
// snapshot and per-seq updates, verifies every book checksum, and recovers
// from a seq gap (resubscribe with resume) or a checksum mismatch (fresh
// snapshot) by itself. With a token (?token=...) it signs in and offers an
// order ticket and a "my orders" table fed by the private orders channel.
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
