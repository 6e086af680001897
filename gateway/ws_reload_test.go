package gateway

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/auth"
	"sgw/gateway/mdclient"
	"sgw/orderbook"
	"sgw/refdata"
)

// TestWSTradesReloadNotSilent: the books a hub serves are replaced by a
// newer state without the updates in between (a market-data edge's mirror
// lost its bus or saw a gap and loaded a snapshot; the same holds for a hub
// lapped by its books). Book subscribers get a snapshot flagged resync; a
// trades subscriber must be told that the prints in between may be
// missing, as when its own backlog is dropped (trade seqs have gaps by
// nature, so it cannot tell by itself). Before, the prints vanished
// without a word.
func TestWSTradesReloadNotSilent(t *testing.T) {
	const sym = "600519.SH"
	in := refdata.Instrument{Symbol: sym, Board: refdata.BoardMain, PrevClose: 17000000}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	m, err := orderbook.NewMirror(orderbook.Config{Instruments: []refdata.Instrument{in}, Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	ck10, ck5 := orderbook.Checksum(nil, nil, 10), orderbook.Checksum(nil, nil, 5)
	load := func(seq uint64) {
		t.Helper()
		if err := m.Load(&orderbook.View{Seq: seq, State: 'T', Checksum: ck10, Checksum5: ck5}); err != nil {
			t.Fatal(err)
		}
	}
	trade := func(seq uint64) {
		t.Helper()
		u := orderbook.Update{Seq: seq, Kind: orderbook.KindTrade, State: 'T', TradePrice: 17000000, TradeQty: 100,
			Last: 17000000, Volume: int64(100 * seq), Checksum: ck10, Checksum5: ck5}
		if err := m.Apply(&u); err != nil {
			t.Fatal(err)
		}
	}
	load(1)

	reg := prometheus.NewRegistry()
	v, err := auth.New(auth.Config{Secret: strings.Repeat("k", 32), Anonymous: auth.FullEntitlements()})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{WS: WSConfig{AnonymousMarketData: true}}, Deps{Market: m.Engine(), PublishedDepth: 20, Registry: reg, Tokens: v})
	if err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, srv, nil, reg, v)
	c := e.dial("")
	ctx := context.Background()
	for _, ch := range []string{"book", "trades"} {
		if err := c.Send(ctx, map[string]any{"op": "subscribe", "channel": ch, "symbols": []string{sym}, "id": ch}); err != nil {
			t.Fatal(err)
		}
		readAll(t, c, func(m mdclient.Message) bool { return m.Type == "subscribed" && string(m.ID) == `"`+ch+`"` })
	}

	// told: a trades resync notice reached the client, and at which seq.
	var told uint64
	read := func(until func(m mdclient.Message) bool) {
		t.Helper()
		readAll(t, c, func(m mdclient.Message) bool {
			if m.Ch == "trades" && m.Type == "resync" {
				told = m.Seq
			}
			return until(m)
		})
	}
	trade(2)
	read(func(m mdclient.Message) bool { return m.Ch == "trades" && m.Seq == 2 })
	if told != 0 {
		t.Fatalf("told of prints missing up to seq %d with none missing", told)
	}

	// The book goes stale, then a snapshot at seq 5 replaces it: the
	// prints of seqs 3 to 5 never reach the hub.
	m.MarkStale(0)
	load(5)
	read(func(m mdclient.Message) bool { return m.Ch == "book" && m.Type == "snapshot" && m.Seq == 5 && !m.Stale })
	trade(6)
	read(func(m mdclient.Message) bool { return m.Ch == "trades" && m.Type == "" && m.Seq == 6 })
	if told < 5 {
		t.Fatalf("the prints of seqs 3 to 5 were lost, and the trades subscriber was told of prints missing up to seq %d (0: not told) before the print of seq 6", told)
	}
}
