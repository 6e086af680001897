package web_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sgw/gateway/web"
	"sgw/orderbook"
	"sgw/refdata"
)

var update = flag.Bool("update", false, "rewrite static/checksum_vectors.json from orderbook.Checksum")

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()

	tests := []struct {
		name   string
		method string
		path   string
		code   int
		ctype  string
		want   string // a substring of the body
	}{
		{name: "index at root", method: http.MethodGet, path: "/", code: 200, ctype: "text/html; charset=utf-8", want: `<script src="app.js"`},
		{name: "script", method: http.MethodGet, path: "/app.js", code: 200, ctype: "text/javascript; charset=utf-8", want: "gwChecksumSelfTest"},
		{name: "style", method: http.MethodGet, path: "/style.css", code: 200, ctype: "text/css; charset=utf-8", want: "#bids"},
		{name: "vectors", method: http.MethodGet, path: "/checksum_vectors.json", code: 200, ctype: "application/json", want: `"checksums"`},
		{name: "head", method: http.MethodHead, path: "/app.js", code: 200, ctype: "text/javascript; charset=utf-8"},
		{name: "unknown file", method: http.MethodGet, path: "/nope.js", code: 404},
		{name: "post refused", method: http.MethodPost, path: "/", code: 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.code)
			}
			if tc.code != 200 {
				return
			}
			if got := resp.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control %q, want no-cache", got)
			}
			if !strings.Contains(string(body), tc.want) {
				t.Errorf("body does not contain %q", tc.want)
			}
		})
	}
}

// The page loads nothing from outside the gateway: no absolute URL to
// another host in any static file.
func TestStaticFilesSelfContained(t *testing.T) {
	for _, name := range []string{"index.html", "app.js", "style.css"} {
		b, err := os.ReadFile(filepath.Join("static", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if bytes.Contains(b, []byte(bad)) {
				t.Errorf("%s contains %q: the page must not load outside resources", name, bad)
			}
		}
	}
}

// checksumVector is one book of static/checksum_vectors.json and its
// orderbook.Checksum over the first N levels.
type checksumVector struct {
	Name     string      `json:"name"`
	N        int         `json:"n"`
	Bids     []wireLevel `json:"bids"`
	Asks     []wireLevel `json:"asks"`
	Checksum uint32      `json:"checksum"`
}

// priceVector is a decimal price string and its integer units of 0.0001.
type priceVector struct {
	Text  string `json:"text"`
	Units int64  `json:"units"`
}

// wireLevel is a level as the WebSocket protocol sends it: ["1700.00",300].
type wireLevel orderbook.Level

func (l wireLevel) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{l.Price.String(), l.Qty})
}

// ladder returns n levels from price first (units of 0.0001) stepping by step,
// with quantities 100, 200, ...
func ladder(first, step refdata.Price, n int) []orderbook.Level {
	out := make([]orderbook.Level, n)
	for i := range out {
		out[i] = orderbook.Level{Price: first + refdata.Price(i)*step, Qty: int64(i+1) * 100}
	}
	return out
}

func vectorBooks() []checksumVector {
	const tick = 100 // 0.01
	lv := func(p refdata.Price, q int64) orderbook.Level { return orderbook.Level{Price: p, Qty: q} }
	books := []struct {
		name       string
		n          int
		bids, asks []orderbook.Level
	}{
		{name: "empty top 10", n: 10},
		{name: "empty top 5", n: 5},
		{name: "protocol example", n: 10, bids: []orderbook.Level{lv(17000000, 300)}, asks: []orderbook.Level{lv(17000100, 100)}},
		{name: "bids only", n: 10, bids: ladder(17000000, -tick, 3)},
		{name: "asks only top 5", n: 5, asks: ladder(17000100, tick, 7)},
		{name: "ten levels", n: 10, bids: ladder(16999900, -tick, 10), asks: ladder(17000100, tick, 10)},
		{name: "twenty levels top 10", n: 10, bids: ladder(16999900, -tick, 20), asks: ladder(17000100, tick, 20)},
		{name: "twenty levels top 5", n: 5, bids: ladder(16999900, -tick, 20), asks: ladder(17000100, tick, 20)},
		{name: "uneven sides", n: 10, bids: ladder(115000, -tick, 12), asks: ladder(115100, tick, 4)},
		{name: "four decimals", n: 10, bids: []orderbook.Level{lv(123456, 1), lv(1, 7)}, asks: []orderbook.Level{lv(123457, 2), lv(200001, 3)}},
		{name: "above 32 bits", n: 10,
			bids: []orderbook.Level{lv(9999999999, 5000000000), lv(4294967296, 4294967295)},
			asks: []orderbook.Level{lv(1000000000000, 1<<40+12345), lv(1<<53-1, 1<<53-1)}},
	}
	out := make([]checksumVector, 0, len(books))
	for _, b := range books {
		v := checksumVector{Name: b.name, N: b.n, Bids: []wireLevel{}, Asks: []wireLevel{}, Checksum: orderbook.Checksum(b.bids, b.asks, b.n)}
		for _, l := range b.bids {
			v.Bids = append(v.Bids, wireLevel(l))
		}
		for _, l := range b.asks {
			v.Asks = append(v.Asks, wireLevel(l))
		}
		out = append(out, v)
	}
	return out
}

func vectorPrices(t *testing.T) []priceVector {
	texts := []string{"1700", "1700.5", "1700.00", "1700.01", "12.3456", "0.0001", "0.01", "0", "999999.9999", "100000000.0000"}
	out := make([]priceVector, 0, len(texts))
	for _, s := range texts {
		p, err := refdata.ParsePrice(s)
		if err != nil {
			t.Fatalf("ParsePrice(%q): %v", s, err)
		}
		out = append(out, priceVector{Text: s, Units: int64(p)})
	}
	return out
}

// renderVectors writes the vector file: one vector per line, so that a
// change to the checksum shows as a readable diff.
func renderVectors(t *testing.T) []byte {
	var b bytes.Buffer
	b.WriteString("{\n\"comment\": \"Generated by TestChecksumVectors (gateway/web/web_test.go) from orderbook.Checksum; regenerate with: go test ./gateway/web -run TestChecksumVectors -update\",\n")
	b.WriteString("\"checksums\": [\n")
	for i, v := range vectorBooks() {
		line, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		if i < len(vectorBooks())-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("],\n\"prices\": [\n")
	prices := vectorPrices(t)
	for i, p := range prices {
		line, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		if i < len(prices)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]\n}\n")
	return b.Bytes()
}

// TestChecksumVectors keeps static/checksum_vectors.json equal to what
// orderbook.Checksum computes today. The browser test makes the page's
// JavaScript reproduce the same file (window.gwChecksumSelfTest).
func TestChecksumVectors(t *testing.T) {
	const path = "static/checksum_vectors.json"
	want := renderVectors(t)
	if !json.Valid(want) {
		t.Fatalf("rendered vectors are not valid JSON:\n%s", want)
	}
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale (orderbook.Checksum or the vectors changed); regenerate with: go test ./gateway/web -run TestChecksumVectors -update", path)
	}
}
