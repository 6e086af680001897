package loadtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"sgw/gateway/mdclient"
	"sgw/orderbook"
	"sgw/sim"
	"sgw/sim/match"
)

// venueCheckWithin bounds the wait, once the simulator's flow is paused,
// for the gateway's books to show the simulator's.
const venueCheckWithin = 30 * time.Second

// checkVenue compares the gateway's books with the simulator's own, the
// independent reference: the clients' checksums prove only that each
// client holds the book the gateway serves, not that the gateway's book
// is the venue's. It pauses the simulator's synthetic flow (the run is
// over), then takes fresh snapshots of syms at depth until every one
// equals the simulator's top levels, is not stale, or the bound passes. It
// returns the symbols that never matched, each with what differed.
func checkVenue(ctx context.Context, t *target, venue *sim.Sim, syms []string, depth int) []string {
	venue.Pause()
	defer venue.Resume()
	wsURL := "ws" + strings.TrimPrefix(t.base, "http") + "/ws"
	deadline := time.Now().Add(venueCheckWithin)
	for {
		differ, err := venueDiff(ctx, wsURL, t.token, venue, syms, depth)
		if err == nil && len(differ) == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err != nil {
				return []string{err.Error()}
			}
			return differ
		}
		time.Sleep(100 * time.Millisecond) // the gateway catching up with the paused venue: poll it
	}
}

// venueDiff takes one snapshot of each of syms and returns those that
// differ from the simulator's book.
func venueDiff(ctx context.Context, wsURL, token string, venue *sim.Sim, syms []string, depth int) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	mc, _, err := mdclient.Dial(ctx, wsURL, mdclient.Options{Token: token})
	if err != nil {
		return nil, fmt.Errorf("loadtest: venue check: %w", err)
	}
	defer mc.Conn().CloseNow()
	if err := mc.Subscribe(ctx, "book", depth, nil, syms...); err != nil {
		return nil, fmt.Errorf("loadtest: venue check: %w", err)
	}
	for len(mc.Books) < len(syms) {
		if _, err := mc.Next(ctx); err != nil {
			return nil, fmt.Errorf("loadtest: venue check: %d of %d snapshots: %w", len(mc.Books), len(syms), err)
		}
	}
	var differ []string
	for _, s := range syms {
		b := mc.Books[s]
		bids, asks := venue.Depth(s, depth)
		switch {
		case b.Stale:
			differ = append(differ, s+": stale")
		case !sameLevels(b.Bids, bids) || !sameLevels(b.Asks, asks):
			differ = append(differ, fmt.Sprintf("%s: gateway bids %v asks %v, venue bids %v asks %v", s, b.Bids, b.Asks, bids, asks))
		}
	}
	return differ, nil
}

// sameLevels compares prices and quantities (the protocol carries no
// order counts).
func sameLevels(got []orderbook.Level, want []match.Level) bool {
	return slices.EqualFunc(got, want, func(g orderbook.Level, w match.Level) bool { return g.Price == w.Price && g.Qty == w.Qty })
}
