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
	r := newReloadRig(t)
	r.begin()
	r.trade(2, 200)
	r.read(func(m mdclient.Message) bool { return m.Ch == "trades" && m.Seq == 2 })
	if r.told != 0 {
		t.Fatalf("told of prints missing up to seq %d with none missing", r.told)
	}

	// The book goes stale, then a snapshot at seq 5 replaces it: the
	// prints of seqs 3 to 5 never reach the hub.
	r.markStale()
	r.load(5, 500)
	r.read(func(m mdclient.Message) bool { return m.Ch == "book" && m.Type == "snapshot" && m.Seq == 5 && !m.Stale })
	r.trade(6, 600)
	r.read(func(m mdclient.Message) bool { return m.Ch == "trades" && m.Type == "" && m.Seq == 6 })
	if r.told < 5 {
		t.Fatalf("the prints of seqs 3 to 5 were lost, and the trades subscriber was told of prints missing up to seq %d (0: not told) before the print of seq 6", r.told)
	}
}

// TestWSTradesReloadNewEpochSameSeq: a market-data edge's mirror goes
// stale at seq 2 and loads a snapshot of a new ingest epoch that has
// reached seq 2 of its own numbering, with other prints (its volume
// differs). Book subscribers get the new book; trades subscribers must be
// told that prints may be missing, though the seq is the one they were
// at. Before, a reload was taken as losing prints only when the seq
// moved, and they were told nothing. A snapshot of the same state (the
// same epoch: a bus lost and found again while the symbol was quiet)
// tells them nothing.
func TestWSTradesReloadNewEpochSameSeq(t *testing.T) {
	r := newReloadRig(t)
	r.begin()
	r.trade(2, 200)
	r.read(func(m mdclient.Message) bool { return m.Ch == "trades" && m.Seq == 2 })

	// The same state again: nothing was missed.
	r.markStale()
	r.load(2, 200)
	r.read(func(m mdclient.Message) bool { return m.Ch == "book" && m.Type == "snapshot" && m.Seq == 2 && !m.Stale })
	if r.told != 0 {
		t.Fatalf("told of prints missing up to seq %d after a snapshot of the state it was at", r.told)
	}

	// A new epoch at seq 2 of its numbering, 500 shares traded.
	r.markStale()
	r.load(2, 500)
	r.read(func(m mdclient.Message) bool { return m.Ch == "book" && m.Type == "snapshot" && m.Seq == 2 && !m.Stale })
	r.trade(3, 600)
	r.read(func(m mdclient.Message) bool { return m.Ch == "trades" && m.Type == "" && m.Seq == 3 })
	if r.told != 2 {
		t.Fatalf("a new epoch's snapshot at seq 2 replaced the book, and the trades subscriber was told of prints missing up to seq %d (0: not told) before the print of seq 3", r.told)
	}
}

// reloadRig is a WebSocket client of a server whose books are an
// orderbook.Mirror of one empty-book symbol, written by the test.
type reloadRig struct {
	t *testing.T
	m *orderbook.Mirror
	c *mdclient.Client
	// told is the seq of the last trades resync notice read (0: none).
	told uint64
	// book is the last book snapshot read: its seq, and whether valid.
	book      uint64
	bookValid bool
}

// begin loads the book at seq 1 and subscribes the client to it, then,
// once the hub serves it at seq 1 (its snapshot read), to its trades. The
// hub takes a load from the mirror's ring when it gets there: a trade
// applied before would be in the view it loads, its print not sent
// (TestWSTradesReloadNotSilent saw that resync, once), and trades
// subscribed before would be told of a print missing up to seq 1.
func (r *reloadRig) begin() {
	r.t.Helper()
	r.load(1, 0)
	r.subscribe("book")
	if r.book != 1 || !r.bookValid {
		r.read(func(m mdclient.Message) bool { return m.Ch == "book" && m.Type == "snapshot" && m.Seq == 1 && !m.Stale })
	}
	r.subscribe("trades")
}

const reloadSym = "600519.SH"

var reloadCk10, reloadCk5 = orderbook.Checksum(nil, nil, 10), orderbook.Checksum(nil, nil, 5)

func newReloadRig(t *testing.T) *reloadRig {
	t.Helper()
	in := refdata.Instrument{Symbol: reloadSym, Board: refdata.BoardMain, PrevClose: 17000000}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	m, err := orderbook.NewMirror(orderbook.Config{Instruments: []refdata.Instrument{in}, Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
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
	return &reloadRig{t: t, m: m, c: e.dial("")}
}

// markStale marks the book stale and reads the stale snapshot the hub
// sends for it: each load that follows is then taken by the hub on its
// own (both taken at once, the load's view twice, a second valid
// snapshot would be read for the next load's).
func (r *reloadRig) markStale() {
	r.t.Helper()
	seq, _ := r.m.Book(0)
	r.m.MarkStale(0)
	r.read(func(m mdclient.Message) bool {
		return m.Ch == "book" && m.Type == "snapshot" && m.Seq == seq && m.Stale
	})
}

// load loads a snapshot of the empty book at seq, volume shares traded.
func (r *reloadRig) load(seq uint64, volume int64) {
	r.t.Helper()
	if err := r.m.Load(&orderbook.View{Seq: seq, State: 'T', Last: 17000000, Volume: volume, Checksum: reloadCk10, Checksum5: reloadCk5}); err != nil {
		r.t.Fatal(err)
	}
}

// trade applies a print of 100 shares at seq, volume traded after it.
func (r *reloadRig) trade(seq uint64, volume int64) {
	r.t.Helper()
	u := orderbook.Update{Seq: seq, Kind: orderbook.KindTrade, State: 'T', TradePrice: 17000000, TradeQty: 100,
		Last: 17000000, Volume: volume, Checksum: reloadCk10, Checksum5: reloadCk5}
	if err := r.m.Apply(&u); err != nil {
		r.t.Fatal(err)
	}
}

// subscribe subscribes the client to the channels and reads the answers.
func (r *reloadRig) subscribe(channels ...string) {
	r.t.Helper()
	for _, ch := range channels {
		if err := r.c.Send(context.Background(), map[string]any{"op": "subscribe", "channel": ch, "symbols": []string{reloadSym}, "id": ch}); err != nil {
			r.t.Fatal(err)
		}
		r.read(func(m mdclient.Message) bool { return m.Type == "subscribed" && string(m.ID) == `"`+ch+`"` })
	}
}

// read reads until until holds, noting trades resync notices in told.
func (r *reloadRig) read(until func(m mdclient.Message) bool) {
	r.t.Helper()
	readAll(r.t, r.c, func(m mdclient.Message) bool {
		if m.Ch == "trades" && m.Type == "resync" {
			r.told = m.Seq
		}
		if m.Ch == "book" && m.Type == "snapshot" {
			r.book, r.bookValid = m.Seq, !m.Stale
		}
		return until(m)
	})
}
