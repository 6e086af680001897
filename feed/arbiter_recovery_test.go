package feed_test

import (
	"net"
	"testing"
	"time"

	"sgw/feed"
	"sgw/feed/itch"
	"sgw/feed/soupbin"
	"sgw/orderbook"
)

// TestAbsurdLoginAcceptedDoesNotWedgeRebuild: the backup (a buggy relay)
// answers every login with Login Accepted at sequence 2^40 and then only
// heartbeats. The primary delivers 1..5 and drops; it then serves only
// from 9 (6..8 lost everywhere) until asked from 1, when it serves 1..12.
// The gap is declared lost and the books rebuilt from 1; the rebuild
// delivers 1..12, everything any source ever sent. The books must be
// valid again; the backup's claimed position, which no message backs,
// must not become the point the rebuild has to reach.
func TestAbsurdLoginAcceptedDoesNotWedgeRebuild(t *testing.T) {
	primary := newScriptServer(t, func(i int, req soupbin.LoginRequest, c net.Conn) {
		first, last := max(req.Sequence, 1), uint64(12)
		switch {
		case i == 0:
			last = 5
		case first > 1:
			first = 9 // cannot replay 6..8
		}
		b := soupbin.AppendLoginAccepted(nil, "S1", first)
		for seq := first; seq <= last; seq++ {
			b = soupbin.AppendSequenced(b, sysEvent(1000+seq))
		}
		if _, err := c.Write(b); err != nil {
			return
		}
		if i == 0 {
			return // drops after 5
		}
		heartbeats(c)
	})
	backup := newScriptServer(t, func(_ int, _ soupbin.LoginRequest, c net.Conn) {
		if _, err := c.Write(soupbin.AppendLoginAccepted(nil, "S1", 1<<40)); err != nil {
			return
		}
		heartbeats(c)
	})
	sink := &scriptSink{}
	f := runScriptFeed(t, primary.addr(), backup.addr(), sink)
	waitUntil(t, "6..8 declared lost and the stream rebuilt up to 12", func() bool {
		st := f.Status()
		return st.Lost > 0 && st.Rebuilds > 0 && st.Next == 13
	})
	waitUntil(t, "the books valid again after the rebuild delivered 1..12", func() bool {
		return !f.Stale()
	})
}

// TestStalledSourceAloneIsReRequested: the backup sends 7..10 (its
// login accepted at 7) and then goes away for good; the primary, live,
// delivered 1..5 and then brings only heartbeats (a stuck relay). 6 is
// missing while 7..10 show the stream passed it. The primary is stalled
// behind a gap the stream is known to have passed: it must be
// re-requested (it serves 6.. when asked), or the gap declared lost and
// the books marked stale. Before,
// with no other live source to ask, nothing was done: the books frozen at
// 5, held messages never delivered, not stale.
func TestStalledSourceAloneIsReRequested(t *testing.T) {
	primary := newScriptServer(t, func(i int, req soupbin.LoginRequest, c net.Conn) {
		first, last := max(req.Sequence, 1), uint64(12)
		if i == 0 {
			last = 5 // then stuck: heartbeats only
		}
		b := soupbin.AppendLoginAccepted(nil, "S1", first)
		for seq := first; seq <= last; seq++ {
			b = soupbin.AppendSequenced(b, sysEvent(1000+seq))
		}
		if _, err := c.Write(b); err != nil {
			return
		}
		heartbeats(c)
	})
	primaryDone := make(chan struct{})
	backup := newScriptServer(t, func(i int, _ soupbin.LoginRequest, c net.Conn) {
		if i > 0 { // gone for good
			_, _ = c.Write(soupbin.AppendLoginRejected(nil, soupbin.RejectSessionUnavailable))
			return
		}
		<-primaryDone
		b := soupbin.AppendLoginAccepted(nil, "S1", 7)
		for seq := uint64(7); seq <= 10; seq++ {
			b = soupbin.AppendSequenced(b, sysEvent(1000+seq))
		}
		_, _ = c.Write(b)
		// and the connection drops
	})
	sink := &scriptSink{}
	f := runScriptFeed(t, primary.addr(), backup.addr(), sink)
	waitUntil(t, "the primary's 1..5", func() bool { return f.Next() == 6 })
	close(primaryDone)
	// Its login was accepted above the request (at 7, asking for a copy
	// of 5): 7..10 are not taken, nothing compared them, but they show
	// the stream passed 6.
	waitUntil(t, "the backup's 7..10", func() bool { return f.Status().Sources[feed.Backup].Messages == 4 })
	waitUntil(t, "the gap at 6 worked on: recovered from the primary, or the books stale", func() bool {
		st := f.Status()
		return st.Next == 13 || st.Stale || st.Lost > 0
	})
}

// TestNextSessionAfterEndOfSession: the only source serves session S1
// 1..5 and then End of Session, as a SoupBinTCP server does when its
// session (its trading day) is over; its next session, S2, is open to
// logins from then on. A gateway left running must pick S2 up (the
// arbiter switches sessions and rebuilds from S2's 1, docs/PROTOCOL.md
// "Sessions"). Before, End of Session ended the source for the life of
// the process: never reconnected, the feed not ready, the books frozen
// on S1 until the gateway was restarted.
func TestNextSessionAfterEndOfSession(t *testing.T) {
	primary := newScriptServer(t, func(i int, req soupbin.LoginRequest, c net.Conn) {
		sess, base, last := "S1", uint64(1000), uint64(5)
		if i > 0 {
			sess, base, last = "S2", 2000, 3
		}
		first := max(req.Sequence, 1)
		if i > 0 && first > last+1 {
			first = 1 // a new session: what was asked is of the old one
		}
		b := soupbin.AppendLoginAccepted(nil, sess, first)
		for seq := first; seq <= last; seq++ {
			b = soupbin.AppendSequenced(b, sysEvent(base+seq))
		}
		if i == 0 {
			b = soupbin.AppendEndOfSession(b)
		}
		if _, err := c.Write(b); err != nil {
			return
		}
		if i == 0 {
			return
		}
		heartbeats(c)
	})
	sink := &scriptSink{}
	f := runScriptFeed(t, primary.addr(), "", sink)
	waitUntil(t, "S1's 1..5", func() bool { return f.Next() == 6 })
	waitUntil(t, "S2's 1..3 delivered after S1 ended", func() bool {
		tags, _, _ := sink.snapshot()
		return len(tags) > 0 && tags[len(tags)-1] == 2003 && f.Ready()
	})
}

// itchDirectory and itchAdd build the messages of a small ITCH stream:
// a Stock Directory mapping locate 1 to 600519, Add Orders on it.
func itchDirectory(t *testing.T) []byte {
	t.Helper()
	m := itch.Message{Type: itch.TypeStockDirectory, StockLocate: 1, Timestamp: 1, MarketCategory: 'Q',
		FinancialStatus: 'N', RoundLotSize: 100, RoundLotsOnly: 'N', IssueClassification: 'C', IssueSubType: [2]byte{'Z', ' '},
		Authenticity: 'P', ShortSaleThreshold: 'N', IPOFlag: 'N', LULDRefPriceTier: '1', ETPFlag: 'N', InverseIndicator: 'N'}
	m.Stock, _ = itch.StockOf("600519")
	b, err := itch.Append(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func itchAdd(t *testing.T, ref uint64, price uint32) []byte {
	t.Helper()
	m := itch.Message{Type: itch.TypeAddOrder, StockLocate: 1, Timestamp: 34200000000000 + ref, OrderRef: ref,
		Side: itch.SideBuy, Shares: 100, Price: price}
	m.Stock, _ = itch.StockOf("600519")
	b, err := itch.Append(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDivergenceMarksBooksStaleAtOnce: the primary delivers a directory
// and four Add Orders; the backup then replays 3..5 with other orders (a
// relay numbering its stream wrong). The feed sees the divergence at once
// (Status Stale, /readyz 503), and docs/PROTOCOL.md says "the books are
// marked stale at once". Before, the books themselves (REST state, the
// WebSocket quote's state) stayed valid until the arbiter acted on it,
// up to recovery_timeout later when it cannot tell which source skipped:
// possibly wrong books served as valid all that time.
func TestDivergenceMarksBooksStaleAtOnce(t *testing.T) {
	primary := newScriptServer(t, func(_ int, req soupbin.LoginRequest, c net.Conn) {
		stream := [][]byte{itchDirectory(t)}
		for i := range uint64(4) {
			stream = append(stream, itchAdd(t, 10+i, 17000000-uint32(i)*100))
		}
		first := max(req.Sequence, 1)
		b := soupbin.AppendLoginAccepted(nil, "S1", first)
		for seq := first; seq <= uint64(len(stream)); seq++ {
			b = soupbin.AppendSequenced(b, stream[seq-1])
		}
		if _, err := c.Write(b); err != nil {
			return
		}
		heartbeats(c)
	})
	primaryDone := make(chan struct{})
	backup := newScriptServer(t, func(_ int, _ soupbin.LoginRequest, c net.Conn) {
		<-primaryDone
		b := soupbin.AppendLoginAccepted(nil, "S1", 3) // replays below the request
		for i := range uint64(3) {
			b = soupbin.AppendSequenced(b, itchAdd(t, 90+i, 16000000))
		}
		if _, err := c.Write(b); err != nil {
			return
		}
		heartbeats(c)
	})
	books, err := orderbook.New(orderbook.Config{Instruments: testInstruments, Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	f, err := feed.New(feed.Config{
		Name:              "sse",
		Primary:           feed.SourceConfig{Addr: primary.addr()},
		Backup:            feed.SourceConfig{Addr: backup.addr()},
		HeartbeatTimeout:  time.Second,
		HeartbeatInterval: 200 * time.Millisecond,
		ReconnectMin:      20 * time.Millisecond,
		ReconnectMax:      100 * time.Millisecond,
		CheckInterval:     10 * time.Millisecond,
		RecoveryTimeout:   time.Minute, // the arbiter takes its time to find the culprit
	}, feed.NewITCHDecoder(books, books.NewInput("sse")), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	runComponents(t, books.Run, f.Run)
	id, _ := books.Lookup("600519.SH")
	var v orderbook.View
	waitUntil(t, "the primary's 1..5 in the book", func() bool {
		books.View(id, 10, &v)
		return f.Next() == 6 && v.Seq == 4
	})
	close(primaryDone)
	waitUntil(t, "the divergence seen", func() bool { return f.Status().Diverged > 0 })
	if !f.Stale() {
		t.Fatal("the feed does not report the divergence as stale")
	}
	waitUntil(t, "the book marked stale", func() bool {
		books.View(id, 10, &v)
		return v.State == orderbook.StateStale
	})
}

// TestDivergenceTrustedSourceGone: the primary serves 1..5 (and on
// every later login what is asked of them); the backup logs in once,
// replays 3..5 with other messages, drops, and then refuses every login
// (a relay gone for good). Neither copy is found elsewhere, so after the
// recovery time the copy that came second, the backup's, is trusted: the
// rebuild is to come from the backup alone, the primary excluded until it
// is done. The backup never comes back: the feed must not stay stale for
// ever while the primary streams; it rebuilds from the primary (as a
// feed with no backup does) once the trusted source has not logged in
// within the re-request patience. Before, the books stayed stale and
// empty for good.
func TestDivergenceTrustedSourceGone(t *testing.T) {
	primary := sessionServer(t, false, func(int) (string, uint64, uint64) { return "S1", 1000, 5 })
	primaryDone := make(chan struct{})
	backup := newScriptServer(t, func(i int, _ soupbin.LoginRequest, c net.Conn) {
		if i > 0 {
			_, _ = c.Write(soupbin.AppendLoginRejected(nil, soupbin.RejectSessionUnavailable))
			return
		}
		<-primaryDone
		b := soupbin.AppendLoginAccepted(nil, "S1", 3)
		for seq := uint64(3); seq <= 5; seq++ {
			b = soupbin.AppendSequenced(b, sysEvent(9000+seq))
		}
		_, _ = c.Write(b)
	})
	sink := &scriptSink{}
	f := runScriptFeed(t, primary.addr(), backup.addr(), sink)
	waitUntil(t, "the primary's 1..5", func() bool { return f.Next() == 6 })
	close(primaryDone)
	waitUntil(t, "the divergence acted on", func() bool { return f.Status().Rebuilds > 0 })
	var lastStatus feed.Status
	defer func() {
		if t.Failed() {
			t.Logf("status: next %d stale %v rebuilds %d; sources %+v", lastStatus.Next, lastStatus.Stale, lastStatus.Rebuilds, lastStatus.Sources)
		}
	}()
	waitUntil(t, "the books rebuilt from the primary, the only source left", func() bool {
		tags, _, rebuilt := sink.snapshot()
		lastStatus = f.Status()
		return !f.Stale() && rebuilt > 0 && f.Next() == 6 && len(tags) == 5 && tags[4] == 1005
	})
}
