package gateway

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
)

// movingForwarder is a Forwarder whose answer a test changes: the base
// URL order entry is served at, nil while none, and whether it is here.
type movingForwarder struct {
	at    atomic.Pointer[url.URL]
	local atomic.Bool
}

func (f *movingForwarder) OrderEntryAt() (*url.URL, bool) { return f.at.Load(), f.local.Load() }

// TestForwardCutWhenEntryMoves: a trading client relayed by a follower to
// the leader is cut once the follower learns that order entry is no
// longer served there (another node leads, this one does, or none while
// an election runs), so it connects again where order entry is now. The
// old leader stays up and closes nothing here, as one behind a partition
// or without power would not.
func TestForwardCutWhenEntryMoves(t *testing.T) {
	v, tok := traderToken(t)
	// The leader: a gateway taking orders, reading the follower's PROXY headers.
	leaderEntry := newFakeEntry()
	leader, _ := startLeader(t, v, leaderEntry, nil)
	other, _ := url.Parse("http://127.0.0.1:1")
	fw := &movingForwarder{}
	fe, _ := startFollower(t, v, fw, nil)

	for i, move := range []struct {
		name  string
		apply func()
	}{
		{"another node leads", func() { fw.at.Store(other) }},
		{"this node leads", func() { fw.at.Store(nil); fw.local.Store(true) }},
		{"an election runs", func() { fw.at.Store(nil) }},
	} {
		t.Run(move.name, func(t *testing.T) {
			fw.at.Store(leader)
			fw.local.Store(false)
			c := dialRaw(t, fe.url, tok)
			id := "c" + string(rune('1'+i))
			got := c.ask(`{"op":"order.new","clOrdId":"`+id+`","account":"A1","symbol":"600519.SH","side":"buy","type":"limit","price":"1700.00","qty":100}`, "accepted", "error")
			if got["type"] != "accepted" {
				t.Fatalf("through the relay: %v", got)
			}
			move.apply()
			// The relay is cut: the connection ends (the bound only
			// stops a failing test).
			ctx, cancel := context.WithTimeout(context.Background(), testBound)
			defer cancel()
			for {
				if _, _, err := c.conn.Read(ctx); err != nil {
					if ctx.Err() != nil {
						t.Fatalf("the relayed connection was not cut within %v after order entry moved", testBound)
					}
					break
				}
			}
		})
	}
	if calls := leaderEntry.Calls(); len(calls) != 3 {
		t.Errorf("the leader's entry saw %v; want the 3 orders", calls)
	}
}

// TestForwardedToFollower: an upgrade marked as relayed that reaches a
// node not serving order entry, while another does, is refused and says
// so (it was relayed there as leadership moved, or the client sent the
// mark itself), rather than blaming an election.
func TestForwardedToFollower(t *testing.T) {
	v, tok := traderToken(t)
	fw := &movingForwarder{}
	other, _ := url.Parse("http://127.0.0.1:1")
	fw.at.Store(other)
	books := newTestBooks(t, testSymbols...)
	reg := prometheus.NewRegistry()
	srv, err := New(Config{}, Deps{Market: books, PublishedDepth: 20, Registry: reg, Tokens: v, Orders: newFakeEntry(), Forward: fw})
	if err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, srv, books, reg, v)
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	h := http.Header{"Authorization": {"Bearer " + tok}, forwardedHeader: {"1"}}
	_, resp, err := websocket.Dial(ctx, e.url, &websocket.DialOptions{HTTPHeader: h})
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial: %v, response %v; want 503", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "not relayed again") {
		t.Fatalf("body %s: want the relay's reason", body)
	}
}
