package feed_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"sgw/feed/feedpeer"
	"sgw/orderbook"
)

// printLog follows every shard of an Engine's Update stream from before
// its first Update, as a trades subscriber of every symbol would, and
// keeps each symbol's trade prints (KindTrade Updates) and the Seq of its
// latest Update. Its reader goroutines end with the context given to
// newPrintLog or when the Engine stops; mu guards the rest.
type printLog struct {
	books *orderbook.Engine
	done  sync.WaitGroup

	mu     sync.Mutex
	prints map[orderbook.SymbolID][]feedpeer.Print // Match 0: an Update has none
	seq    map[orderbook.SymbolID]uint64
	err    error // a Reader lapped or failed: prints may be missing
}

// newPrintLog starts following books; call it before anything is applied
// to them. The readers stop when ctx ends, and the test's cleanup waits
// for them.
func newPrintLog(t *testing.T, ctx context.Context, books *orderbook.Engine) *printLog {
	t.Helper()
	p := &printLog{books: books, prints: map[orderbook.SymbolID][]feedpeer.Print{}, seq: map[orderbook.SymbolID]uint64{}}
	for sh := range books.Shards() {
		rd := books.NewReader(sh)
		p.done.Go(func() {
			defer rd.Close()
			buf := make([]orderbook.Update, 256)
			for {
				if err := rd.Wait(ctx); err != nil {
					return // ctx done or the Engine stopped
				}
				n, err := rd.Next(buf)
				if err != nil {
					p.mu.Lock()
					p.err = cmp.Or(p.err, fmt.Errorf("shard %d: %w", sh, err))
					p.mu.Unlock()
					if errors.Is(err, orderbook.ErrLapped) {
						continue
					}
					return
				}
				p.mu.Lock()
				for _, u := range buf[:n] {
					p.seq[u.Symbol] = u.Seq
					if u.Kind == orderbook.KindTrade {
						p.prints[u.Symbol] = append(p.prints[u.Symbol], feedpeer.Print{Price: u.TradePrice, Qty: u.TradeQty})
					}
				}
				p.mu.Unlock()
			}
		})
	}
	t.Cleanup(p.done.Wait)
	return p
}

// check waits until the log has followed every symbol of symbols (the
// gateway's) up to the Update its view shows now, then checks that the
// prints published for each are those of want (keyed by the same symbol,
// in any order: a rebuild publishes the prints of a lost range after
// those that followed it), each once: price and quantity, nothing
// missing, nothing twice. With known not empty (a known open issue,
// which it names), a difference is logged, not failed.
func (p *printLog) check(t *testing.T, symbols []string, want func(symbol string) []feedpeer.Print, known string) {
	t.Helper()
	key := func(x feedpeer.Print) string { return fmt.Sprintf("%d@%d", x.Qty, x.Price) }
	var v orderbook.View
	for _, sym := range symbols {
		id, ok := p.books.Lookup(sym)
		if !ok {
			t.Fatalf("no book of %s", sym)
		}
		p.books.View(id, 1, &v)
		deadline := time.Now().Add(30 * time.Second)
		for {
			p.mu.Lock()
			seq, err := p.seq[id], p.err
			p.mu.Unlock()
			if err != nil {
				t.Fatalf("following the books' updates: %v", err)
			}
			if seq >= v.Seq {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the updates followed reach seq %d, the view %d", sym, seq, v.Seq)
			}
			time.Sleep(2 * time.Millisecond) // a Reader's progress has no notification; poll it
		}
		p.mu.Lock()
		got := slices.Clone(p.prints[id])
		p.mu.Unlock()
		w := want(sym)
		count := map[string]int{}
		for _, x := range w {
			count[key(x)]++
		}
		for _, x := range got {
			count[key(x)]--
		}
		var missing, extra []string
		for k, n := range count {
			for ; n > 0; n-- {
				missing = append(missing, k)
			}
			for ; n < 0; n++ {
				extra = append(extra, k)
			}
		}
		if len(missing)+len(extra) != 0 {
			slices.Sort(missing)
			slices.Sort(extra)
			report := t.Fatalf
			if known != "" {
				report = t.Logf
				t.Logf("KNOWN OPEN ISSUE, not failed: %s", known)
			}
			report("%s: %d trade prints published, the peer generated %d: never published %v; published once too often %v", sym, len(got), len(w), missing, extra)
		}
	}
}
