package mdbus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"sgw/orderbook"
	"sgw/refdata"
)

// Books is what a Publisher reads from the ingest node's books.
// *orderbook.Engine implements it; every method is safe from any
// goroutine.
type Books interface {
	Symbols() []orderbook.SymbolID
	Instrument(id orderbook.SymbolID) *refdata.Instrument
	Lookup(symbol string) (orderbook.SymbolID, bool)
	View(id orderbook.SymbolID, depth int, v *orderbook.View)
	MaxDepth() int
	Shards() int
	Shard(id orderbook.SymbolID) int
	NewReader(shard int) *orderbook.Reader
}

var _ Books = (*orderbook.Engine)(nil)

// DefaultSubject is the subject prefix when a Config leaves it empty.
const DefaultSubject = "sgw.md"

// PublisherConfig configures a Publisher.
type PublisherConfig struct {
	// Conn is the NATS connection to publish on. Required; the caller
	// owns it (closes it after Run returns).
	Conn *nats.Conn
	// Books are the ingest node's books. Required; they must publish at
	// least 20 levels.
	Books Books
	// Subject is the subject prefix: updates go to <Subject>.d.<symbol>,
	// snapshot requests come to <Subject>.snap.<symbol>. Zero means
	// DefaultSubject.
	Subject string
	// Epoch identifies this ingest process's Seq numbering; it must grow
	// from one process to the next. Zero means the start time in unix ns.
	Epoch uint64
	// Heartbeat is the interval between heartbeats, which tell edges each
	// symbol's last Seq published (or lost) and that the publisher lives;
	// an edge's EdgeConfig.Silence must be well above it. Zero means 1s.
	Heartbeat time.Duration
	// Registry receives the publisher's metrics. Zero (nil) means none.
	Registry prometheus.Registerer
	// Log receives the publisher's logs. Zero (nil) discards them.
	Log *slog.Logger
}

// Publisher publishes the ingest books' Updates on NATS and answers
// snapshot requests. Run (or RunEpoch) runs it, one call at a time; Stats
// and Epoch may be called from any goroutine.
type Publisher struct {
	cfg       PublisherConfig
	subjects  []string               // by SymbolID: <Subject>.d.<symbol>
	snapPfx   string                 // <Subject>.snap.
	beatSubj  string                 // <Subject>.hb
	shardSyms [][]orderbook.SymbolID // by shard: its symbols

	// last holds, by shard then by the symbol's index in shardSyms
	// (slot), the Seq of the symbol's last update handed to Conn.Publish
	// (published or refused) or skipped by a lapped reader. Its shard's
	// pump stores it after the Publish call, the heartbeat goroutine
	// loads it before its own: the connection writes in call order, so a
	// heartbeat follows every update it accounts for. One slice per shard
	// keeps each pump's stores off the others' cache lines.
	last [][]atomic.Uint64
	slot []int32 // by SymbolID: its index in its shard's slices

	published, dropped, lapped, snapshots, beats atomic.Uint64
}

// PublisherStats are a Publisher's counters since New.
type PublisherStats struct {
	Published uint64 // updates handed to NATS
	Dropped   uint64 // updates NATS refused (its reconnect buffer full, connection closed)
	Lapped    uint64 // times a shard reader fell a ring behind (edges see gaps)
	Snapshots uint64 // snapshot requests answered
	Beats     uint64 // heartbeat messages published
}

// NewPublisher validates cfg, fills its defaults and returns a Publisher.
// Errors wrap ErrConfig.
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	switch {
	case cfg.Conn == nil:
		return nil, fmt.Errorf("%w: publisher needs a NATS connection", ErrConfig)
	case cfg.Books == nil:
		return nil, fmt.Errorf("%w: publisher needs the books", ErrConfig)
	case cfg.Books.MaxDepth() < maxLevels:
		return nil, fmt.Errorf("%w: the books publish %d levels, snapshots need %d", ErrConfig, cfg.Books.MaxDepth(), maxLevels)
	}
	if cfg.Subject == "" {
		cfg.Subject = DefaultSubject
	}
	if err := CheckSubject(cfg.Subject); err != nil {
		return nil, err
	}
	if cfg.Epoch == 0 {
		cfg.Epoch = uint64(time.Now().UnixNano())
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = time.Second
	}
	if cfg.Heartbeat < 0 {
		return nil, fmt.Errorf("%w: heartbeat interval %v", ErrConfig, cfg.Heartbeat)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{cfg: cfg, snapPfx: cfg.Subject + ".snap.", beatSubj: cfg.Subject + ".hb",
		shardSyms: make([][]orderbook.SymbolID, cfg.Books.Shards())}
	for _, id := range cfg.Books.Symbols() {
		sym := cfg.Books.Instrument(id).Symbol
		if err := CheckSubject(sym); err != nil || len(sym) > refdata.MaxSymbolLen {
			return nil, fmt.Errorf("%w: symbol %q cannot be a subject", ErrConfig, sym)
		}
		p.subjects = append(p.subjects, cfg.Subject+".d."+sym)
		sh := cfg.Books.Shard(id)
		p.shardSyms[sh] = append(p.shardSyms[sh], id)
	}
	p.slot = make([]int32, len(p.subjects))
	p.last = make([][]atomic.Uint64, len(p.shardSyms))
	for sh, ids := range p.shardSyms {
		p.last[sh] = make([]atomic.Uint64, len(ids))
		for i, id := range ids {
			p.slot[id] = int32(i)
		}
	}
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(newPublisherCollector(p))
	}
	return p, nil
}

// CheckSubject refuses a subject prefix or symbol NATS would not take as
// literal tokens (configs checks market_bus.subject_prefix with it).
// Errors wrap ErrConfig.
func CheckSubject(s string) error {
	if s == "" || strings.ContainsAny(s, " \t\r\n*>") || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return fmt.Errorf("%w: %q is not a NATS subject", ErrConfig, s)
	}
	return nil
}

// Epoch returns the publisher's configured epoch (Run's).
func (p *Publisher) Epoch() uint64 { return p.cfg.Epoch }

// Stats returns the counters. Safe from any goroutine.
func (p *Publisher) Stats() PublisherStats {
	return PublisherStats{Published: p.published.Load(), Dropped: p.dropped.Load(), Lapped: p.lapped.Load(),
		Snapshots: p.snapshots.Load(), Beats: p.beats.Load()}
}

// Run answers snapshot requests and publishes every Update of every shard
// until ctx ends, then returns nil. It returns an error if it cannot
// subscribe to snapshot requests, or once its connection is closed for
// good (an error wrapping ErrConnClosed, within connCheck): nats.go gave
// up on it (MaxReconnects reached, an -ERR from the server it does not
// retry) or it was closed under the publisher. Before, Run went on
// publishing into the closed connection, every update and heartbeat
// refused, while every edge heard a silent publisher and served nothing
// but stale books for as long as the ingest process lived. Call it once,
// or use RunEpoch.
func (p *Publisher) Run(ctx context.Context) error { return p.RunEpoch(ctx, p.cfg.Epoch) }

// RunEpoch is Run under the given epoch instead of the configured one: a
// cluster's ingest nodes publish only while they lead, each leadership
// under its own epoch (larger than every earlier one, such as the Raft
// leadership epoch), so edges follow the new leader's books. It may be
// called again after it returned, never twice at once; the counters add
// up across calls. epoch 0 is refused. A cluster node whose connection
// is closed for good ends its term (the error), so that a node that can
// publish leads.
func (p *Publisher) RunEpoch(ctx context.Context, epoch uint64) error {
	if epoch == 0 {
		return fmt.Errorf("%w: epoch 0", ErrConfig)
	}
	if err := closedErr(p.cfg.Conn); err != nil {
		return err
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	readers := make([]*orderbook.Reader, p.cfg.Books.Shards())
	for i := range readers {
		readers[i] = p.cfg.Books.NewReader(i)
	}
	// Snapshot requests are handled on the subscription's goroutine, one
	// at a time, so the handler's buffers are reused.
	var v orderbook.View
	var buf []byte
	sub, err := p.cfg.Conn.Subscribe(p.snapPfx+">", func(m *nats.Msg) {
		buf = p.answer(m, epoch, &v, buf[:0])
	})
	if err != nil {
		for _, rd := range readers {
			rd.Close()
		}
		return fmt.Errorf("mdbus: subscribe to snapshot requests: %w", err)
	}
	for i, rd := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer rd.Close()
			p.pump(ctx, epoch, i, rd)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.heartbeats(ctx, epoch)
	}()
	check := time.NewTicker(connCheck)
	defer check.Stop()
	var closed error
	for closed == nil && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-check.C:
			closed = closedErr(p.cfg.Conn)
		}
	}
	if closed != nil {
		p.cfg.Log.Error("mdbus: the bus connection is closed for good; the publisher stops", "err", p.cfg.Conn.LastError())
	}
	stop()
	wg.Wait()
	if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		p.cfg.Log.Warn("mdbus: unsubscribe snapshot requests", "err", err)
	}
	return closed
}

// answer replies to one snapshot request and returns buf for reuse. A
// request naming a newer epoch than the publisher's is left to the
// publisher of that epoch (the edge would refuse this one's reply, and
// NATS gives a requester only the first reply).
func (p *Publisher) answer(m *nats.Msg, epoch uint64, v *orderbook.View, buf []byte) []byte {
	sym := strings.TrimPrefix(m.Subject, p.snapPfx)
	if want, n := binary.Uvarint(m.Data); n > 0 && n == len(m.Data) && want > epoch {
		p.cfg.Log.Debug("mdbus: snapshot request of a newer epoch; left to its publisher", "symbol", sym, "epoch", want)
		return buf
	}
	if id, ok := p.cfg.Books.Lookup(sym); ok {
		p.cfg.Books.View(id, maxLevels, v)
		buf = AppendSnapshot(buf, epoch, sym, v)
	} else {
		if len(sym) > refdata.MaxSymbolLen || sym == "" {
			sym = "?"
		}
		buf = AppendError(buf, epoch, sym, "unknown symbol")
	}
	if err := m.Respond(buf); err != nil {
		p.cfg.Log.Debug("mdbus: snapshot reply", "symbol", sym, "err", err)
		return buf
	}
	p.snapshots.Add(1)
	return buf
}

// pump publishes one shard's Updates until ctx ends or the books stop.
func (p *Publisher) pump(ctx context.Context, epoch uint64, shard int, rd *orderbook.Reader) {
	us := make([]orderbook.Update, 256)
	buf := make([]byte, 0, 256)
	var v orderbook.View
	last := p.last[shard]
	for {
		if err := rd.Wait(ctx); err != nil {
			return
		}
		for {
			n, err := rd.Next(us)
			if errors.Is(err, orderbook.ErrLapped) {
				// The updates lost are gaps on the edges, which rebuild
				// those symbols from snapshots; the next heartbeat
				// reveals a symbol whose lost updates were its last.
				p.lapped.Add(1)
				p.cfg.Log.Warn("mdbus: publisher lapped by the books; edges will resnapshot")
				p.skipped(shard, &v)
				continue
			}
			if n == 0 {
				break
			}
			for i := range us[:n] {
				u := &us[i]
				buf = AppendUpdate(buf[:0], epoch, p.cfg.Books.Instrument(u.Symbol).Symbol, u)
				err := p.cfg.Conn.Publish(p.subjects[u.Symbol], buf)
				last[p.slot[u.Symbol]].Store(u.Seq) // lost or not: a heartbeat reveals a loss
				if err != nil {
					p.dropped.Add(1)
					continue
				}
				p.published.Add(1)
			}
		}
	}
}

// skipped records, after shard's reader was lapped, each of its symbols'
// books Seq as its last: every update the reader skipped is at or below
// it. (An update written after the lap may be counted too, and published
// after a heartbeat that named it: the edge resnapshots that symbol
// needlessly, never wrongly.) Pump only.
func (p *Publisher) skipped(shard int, v *orderbook.View) {
	for i, id := range p.shardSyms[shard] {
		p.cfg.Books.View(id, 1, v)
		if v.Seq > p.last[shard][i].Load() {
			p.last[shard][i].Store(v.Seq)
		}
	}
}

// heartbeats publishes, every Heartbeat until ctx ends, each symbol's
// last Seq (Publisher.last), MaxBeats symbols per message.
func (p *Publisher) heartbeats(ctx context.Context, epoch uint64) {
	t := time.NewTicker(p.cfg.Heartbeat)
	defer t.Stop()
	var buf []byte
	for {
		buf = p.beat(epoch, buf)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// beat publishes one round of heartbeats and returns buf for reuse.
func (p *Publisher) beat(epoch uint64, buf []byte) []byte {
	for lo := 0; lo < len(p.slot); lo += MaxBeats {
		hi := min(lo+MaxBeats, len(p.slot))
		buf = AppendHeartbeat(buf[:0], epoch, hi-lo)
		for id := orderbook.SymbolID(lo); int(id) < hi; id++ {
			seq := p.last[p.cfg.Books.Shard(id)][p.slot[id]].Load()
			buf = AppendBeat(buf, p.cfg.Books.Instrument(id).Symbol, seq)
		}
		if err := p.cfg.Conn.Publish(p.beatSubj, buf); err != nil {
			// Edges hear silence after EdgeConfig.Silence: say why.
			p.cfg.Log.Warn("mdbus: heartbeat not published", "err", err)
			continue
		}
		p.beats.Add(1)
	}
	return buf
}

// publisherCollector exports a Publisher's counters on scrape.
type publisherCollector struct {
	p                                            *Publisher
	published, dropped, lapped, snapshots, beats *prometheus.Desc
}

func newPublisherCollector(p *Publisher) *publisherCollector {
	return &publisherCollector{p: p,
		published: prometheus.NewDesc("gateway_mdbus_published_total", "Book updates published on the market-data bus.", nil, nil),
		dropped:   prometheus.NewDesc("gateway_mdbus_publish_dropped_total", "Book updates the bus connection refused (edges resnapshot).", nil, nil),
		lapped:    prometheus.NewDesc("gateway_mdbus_publisher_lapped_total", "Times the bus publisher fell a whole update ring behind.", nil, nil),
		snapshots: prometheus.NewDesc("gateway_mdbus_snapshots_served_total", "Snapshot requests answered.", nil, nil),
		beats:     prometheus.NewDesc("gateway_mdbus_heartbeats_total", "Heartbeat messages published on the market-data bus.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *publisherCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.published
	ch <- c.dropped
	ch <- c.lapped
	ch <- c.snapshots
	ch <- c.beats
}

// Collect implements prometheus.Collector.
func (c *publisherCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.p.Stats()
	ch <- prometheus.MustNewConstMetric(c.published, prometheus.CounterValue, float64(st.Published))
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(st.Dropped))
	ch <- prometheus.MustNewConstMetric(c.lapped, prometheus.CounterValue, float64(st.Lapped))
	ch <- prometheus.MustNewConstMetric(c.snapshots, prometheus.CounterValue, float64(st.Snapshots))
	ch <- prometheus.MustNewConstMetric(c.beats, prometheus.CounterValue, float64(st.Beats))
}
