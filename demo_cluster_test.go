package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"testing"
	"time"

	"sgw/gateway/mdclient"
	"sgw/internal/syncbuf"
)

// TestDemoCluster runs `gateway demo -cluster 3`: three clustered
// gateways and an edge start, one node reports itself the leader on
// /readyz, the edge serves books from the bus, and an order sent over
// WebSocket to the leader is accepted.
func TestDemoCluster(t *testing.T) {
	nodes, token, _ := startDemoCluster(t)

	var leader string
	findLeader := func() {
		waitFor(t, "a node to report role leader on /readyz", func() bool {
			for _, id := range []string{"n1", "n2", "n3"} {
				code, body := get(t, nodes[id]+"/readyz")
				var r struct {
					Role string `json:"role"`
				}
				if code == http.StatusOK && json.Unmarshal(body, &r) == nil && r.Role == "leader" {
					leader = nodes[id]
					return true
				}
			}
			return false
		})
	}
	findLeader()
	var bk struct {
		Seq  uint64   `json:"seq"`
		Asks [][2]any `json:"asks"`
		Bids [][2]any `json:"bids"`
	}
	waitFor(t, "the edge's /readyz and a two-sided book on it", func() bool {
		if code, _ := get(t, nodes["edge"]+"/readyz"); code != http.StatusOK {
			return false
		}
		_, body := get(t, nodes["edge"]+"/api/v1/book/601318.SH?depth=1")
		return json.Unmarshal(body, &bk) == nil && bk.Seq > 0 && len(bk.Asks) > 0 && len(bk.Bids) > 0
	})

	// A bound for a gateway that never answers; three nodes, the simulator
	// and NATS share the test's process, so it is generous for a loaded
	// machine under -race.
	rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer rcancel()
	// A loaded machine may see the leadership move (a heartbeat missed)
	// between the readiness check and the dial: the node then answers 503
	// (no_leader, Retry-After), and a client asks again, as this one does
	// (polling the readiness as the rest of the test does).
	var c *mdclient.Client
	waitFor(t, "a trading WebSocket on the leader", func() bool {
		var resp *http.Response
		var err error
		c, resp, err = mdclient.Dial(rctx, "ws"+leader[4:]+"/ws", mdclient.Options{Token: token})
		if err == nil {
			return true
		}
		if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatal(err)
		}
		findLeader()
		return false
	})
	defer c.Close()
	send := func(v any) {
		if err := c.Send(rctx, v); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(what string, cond func(m mdclient.Message) bool) {
		t.Helper()
		for {
			msgs, err := c.Next(rctx)
			if err != nil {
				t.Fatalf("waiting for %s: %v", what, err)
			}
			for _, m := range msgs {
				if m.Type == "error" {
					t.Fatalf("waiting for %s: error %s: %s", what, m.Code, m.Msg)
				}
				if cond(m) {
					return
				}
			}
		}
	}
	send(map[string]any{"op": "auth", "token": token})
	wait("auth", func(m mdclient.Message) bool { return m.Type == "auth" && m.OK })
	send(map[string]any{"op": "subscribe", "channel": "orders", "accounts": []string{"A1"}})
	wait("orders subscription", func(m mdclient.Message) bool { return m.Type == "subscribed" })
	bid := bk.Bids[0][0].(string)
	send(map[string]any{"op": "order.new", "clOrdId": "c-rest", "account": "A1", "symbol": "601318.SH", "side": "buy",
		"type": "limit", "price": addCents(t, bid, -300), "qty": 100})
	wait("the order accepted by the leader", func(m mdclient.Message) bool { return m.Type == "accepted" && m.ClOrdID == "c-rest" })
}

// startDemoCluster runs `gateway demo -cluster 3` until the test ends and
// returns the base URLs of its nodes and its edge, the trading token and
// the operator token, once the demo printed them.
func startDemoCluster(t *testing.T) (nodes map[string]string, token, ops string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncbuf.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"demo", "-cluster", "3"}, &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo -cluster returned %v; log:\n%s", err, stderr.String())
		}
	})
	nodeLine := regexp.MustCompile(`(?m)^  (n\d|edge)\s+(http://127\.0\.0\.1:\d+)/`)
	tokenLine := regexp.MustCompile(`(?m)^  token:\s+(\S+)$`)
	opsLine := regexp.MustCompile(`(?m)^  operator token \(Authorization: Bearer \.\.\.\):\s+(\S+)$`)
	nodes = map[string]string{}
	waitFor(t, "the clustered demo to print its nodes and tokens", func() bool {
		out := stdout.String()
		for _, m := range nodeLine.FindAllStringSubmatch(out, -1) {
			nodes[m[1]] = m[2]
		}
		if m := tokenLine.FindStringSubmatch(out); m != nil {
			token = m[1]
		}
		if m := opsLine.FindStringSubmatch(out); m != nil {
			ops = m[1]
		}
		return len(nodes) == 4 && token != "" && ops != ""
	})
	return nodes, token, ops
}
