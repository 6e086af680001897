// Package mdclient is a Go client of the gateway's public WebSocket
// market-data protocol (docs/PROTOCOL.md). It keeps a local copy of each
// subscribed book, applies snapshots and updates as the protocol says, and
// checks every message: per-symbol sequence continuity and the book
// checksum. The gateway's tests, fan-out benchmarks and load tester use it
// as a demanding client; it is also a reference for client writers.
//
// A Client is used by one goroutine: the one that calls Run (or Next), which
// applies messages; Send may be called from any goroutine.
package mdclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"

	"github.com/coder/websocket"

	"sgw/orderbook"
	"sgw/refdata"
)

// Message is one server message, decoded loosely: the fields of every
// kind of message, zero where a kind lacks them.
type Message struct {
	Ch       string          `json:"ch"`
	Sym      string          `json:"sym"`
	Type     string          `json:"type"`
	Seq      uint64          `json:"seq"`
	Depth    int             `json:"depth"`
	Bids     []Level         `json:"bids"`
	Asks     []Level         `json:"asks"`
	Checksum uint32          `json:"checksum"`
	Resync   bool            `json:"resync"`
	Stale    bool            `json:"stale"`
	Time     uint64          `json:"time"`
	Code     string          `json:"code"`
	Msg      string          `json:"msg"`
	ID       json.RawMessage `json:"id"`
	Channel  string          `json:"channel"`
	Symbols  []string        `json:"symbols"`
	Price    refdata.Price   `json:"price"`
	Qty      int64           `json:"qty"`
	Last     refdata.Price   `json:"last"`
	Volume   int64           `json:"volume"`
	Bid      Level           `json:"bid"`
	Ask      Level           `json:"ask"`
	OK       bool            `json:"ok"`

	// Orders channel.
	ExecType  string        `json:"execType"`
	Status    string        `json:"status"`
	ClOrdID   string        `json:"clOrdId"`
	Ref       string        `json:"ref"`
	Account   string        `json:"account"`
	Accounts  []string      `json:"accounts"`
	CumQty    int64         `json:"cumQty"`
	LeavesQty int64         `json:"leavesQty"`
	LastPx    refdata.Price `json:"lastPx"`
	LastQty   int64         `json:"lastQty"`
	ExecID    string        `json:"execId"` // a trade's: "<upstream>:<ExecID>"
	Text      string        `json:"text"`
	Orders    []Message     `json:"orders"`
	// Trades are an order.trades answer's, each with ExecID, Qty, Price,
	// CumQty, LeavesQty, Status and Time.
	Trades []Message `json:"trades"`
	// orders.list and order.trades answers: the cursor of the next page
	// ("" on the last), the account's orders (the order's trades) and how
	// many follow this page.
	Next      string `json:"next"`
	Total     int    `json:"total"`
	Remaining int    `json:"remaining"`
}

// Level is a [price, qty] pair on the wire.
type Level struct {
	Price refdata.Price
	Qty   int64
}

// UnmarshalJSON decodes ["1700.00", 300].
func (l *Level) UnmarshalJSON(b []byte) error {
	var raw [2]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("mdclient: level %s: %w", b, err)
	}
	var p string
	if err := json.Unmarshal(raw[0], &p); err != nil {
		return fmt.Errorf("mdclient: level price %s: %w", raw[0], err)
	}
	price, err := refdata.ParsePrice(p)
	if err != nil {
		return err
	}
	l.Price = price
	return json.Unmarshal(raw[1], &l.Qty)
}

// Book is the client's copy of one subscribed book.
type Book struct {
	Symbol     string
	Depth      int
	Seq        uint64
	Bids, Asks []orderbook.Level // best first; Orders is not sent and stays 0
	// Stale is the last book message's mark: the book may be wrong.
	Stale bool
}

// Checksum computes the protocol checksum of the copy: top 10 levels, or
// top 5 for a depth-5 book.
func (b *Book) Checksum() uint32 {
	n := 10
	if b.Depth == 5 {
		n = 5
	}
	return orderbook.Checksum(b.Bids, b.Asks, n)
}

// apply sets or removes one level of a side, keeping price order.
func apply(side []orderbook.Level, l Level, bid bool) []orderbook.Level {
	i := sort.Search(len(side), func(i int) bool {
		if bid {
			return side[i].Price <= l.Price
		}
		return side[i].Price >= l.Price
	})
	found := i < len(side) && side[i].Price == l.Price
	switch {
	case l.Qty == 0 && found:
		return append(side[:i], side[i+1:]...)
	case l.Qty == 0:
		return side
	case found:
		side[i].Qty = l.Qty
		return side
	}
	side = append(side, orderbook.Level{})
	copy(side[i+1:], side[i:])
	side[i] = orderbook.Level{Price: l.Price, Qty: l.Qty}
	return side
}

// Stats counts what a client received and what it found wrong.
type Stats struct {
	Frames, Messages    uint64
	Snapshots, Updates  uint64
	Resyncs             uint64 // snapshots flagged resync
	Quotes, Trades      uint64
	TradeResyncs        uint64 // trades notices that prints may be missing (the client fell behind, or the server reloaded the book)
	Errors              uint64 // error messages from the server
	SeqGaps             uint64 // an update whose seq is not the previous + 1
	ChecksumFailures    uint64
	UpdatesWithoutState uint64 // an update for a book with no snapshot
	// FirstViolation describes the first violation seen, for diagnosis.
	FirstViolation string
}

// Violations is the number of integrity violations seen.
func (s Stats) Violations() uint64 { return s.SeqGaps + s.ChecksumFailures + s.UpdatesWithoutState }

// Client is one WebSocket connection to the gateway.
type Client struct {
	conn *websocket.Conn
	wmu  sync.Mutex

	Books map[string]*Book
	Stats Stats
}

// Options configure Dial.
type Options struct {
	// Token is sent as a bearer token at upgrade when not empty.
	Token string
	// HTTPClient dials; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Header holds extra upgrade headers (e.g. Origin).
	Header http.Header
}

// Dial connects to url (ws://host/ws).
func Dial(ctx context.Context, url string, o Options) (*Client, *http.Response, error) {
	h := http.Header{}
	for k, v := range o.Header {
		h[k] = v
	}
	if o.Token != "" {
		h.Set("Authorization", "Bearer "+o.Token)
	}
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: o.HTTPClient, HTTPHeader: h})
	if err != nil {
		return nil, resp, fmt.Errorf("mdclient: dial %s: %w", url, err)
	}
	conn.SetReadLimit(16 << 20)
	return &Client{conn: conn, Books: map[string]*Book{}}, resp, nil
}

// Conn returns the underlying connection.
func (c *Client) Conn() *websocket.Conn { return c.conn }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close(websocket.StatusNormalClosure, "bye") }

// Send writes one request (any JSON-encodable value). Safe from any
// goroutine.
func (c *Client) Send(ctx context.Context, req any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	return c.SendRaw(ctx, b)
}

// SendRaw writes one text frame as it is.
func (c *Client) SendRaw(ctx context.Context, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.conn.Write(ctx, websocket.MessageText, b)
}

// Subscribe sends a subscribe request. A resume without checksums is
// answered with snapshots (docs/PROTOCOL.md, "Resume"): SubscribeResume
// sends them.
func (c *Client) Subscribe(ctx context.Context, channel string, depth int, resume map[string]uint64, symbols ...string) error {
	return c.Send(ctx, map[string]any{"op": "subscribe", "channel": channel, "depth": depth, "symbols": symbols, "resume": resume})
}

// SubscribeResume subscribes the book channel of symbols at depth,
// resuming each symbol the client holds a copy of at that depth, not
// stale, from its seq, with the copy's checksum (docs/PROTOCOL.md,
// "Resume"): the server sends the missed updates, or a snapshot if it no
// longer holds them or its book at that seq is another one.
func (c *Client) SubscribeResume(ctx context.Context, depth int, symbols ...string) error {
	resume, checksums := map[string]uint64{}, map[string]uint32{}
	for _, s := range symbols {
		if b := c.Books[s]; b != nil && b.Depth == depth && !b.Stale {
			resume[s], checksums[s] = b.Seq, b.Checksum()
		}
	}
	return c.Send(ctx, map[string]any{"op": "subscribe", "channel": "book", "depth": depth, "symbols": symbols,
		"resume": resume, "checksums": checksums})
}

// ErrClosed reports a connection the server closed.
var ErrClosed = errors.New("mdclient: connection closed")

// Next reads one frame, applies its messages and returns them.
func (c *Client) Next(ctx context.Context) ([]Message, error) {
	_, frame, err := c.conn.Read(ctx)
	if err != nil {
		return nil, err
	}
	c.Stats.Frames++
	var out []Message
	for len(frame) > 0 {
		line := frame
		if i := bytes.IndexByte(frame, '\n'); i >= 0 {
			line, frame = frame[:i], frame[i+1:]
		} else {
			frame = nil
		}
		var m Message
		if err := json.Unmarshal(line, &m); err != nil {
			return out, fmt.Errorf("mdclient: bad message %q: %w", line, err)
		}
		c.Stats.Messages++
		c.handle(&m)
		out = append(out, m)
	}
	return out, nil
}

// handle applies one message to the client's state.
func (c *Client) handle(m *Message) {
	switch {
	case m.Type == "error":
		c.Stats.Errors++
	case m.Ch == "quote":
		c.Stats.Quotes++
	case m.Ch == "trades" && m.Type == "resync":
		c.Stats.TradeResyncs++
	case m.Ch == "trades":
		c.Stats.Trades++
	case m.Ch == "book" && m.Type == "snapshot":
		c.Stats.Snapshots++
		if m.Resync {
			c.Stats.Resyncs++
		}
		b := &Book{Symbol: m.Sym, Depth: m.Depth, Seq: m.Seq, Stale: m.Stale}
		for _, l := range m.Bids {
			b.Bids = append(b.Bids, orderbook.Level{Price: l.Price, Qty: l.Qty})
		}
		for _, l := range m.Asks {
			b.Asks = append(b.Asks, orderbook.Level{Price: l.Price, Qty: l.Qty})
		}
		c.Books[m.Sym] = b
		if b.Checksum() != m.Checksum {
			c.Stats.ChecksumFailures++
			c.violation("%s: checksum mismatch at snapshot seq %d", m.Sym, m.Seq)
		}
	case m.Ch == "book" && m.Type == "update":
		c.Stats.Updates++
		b := c.Books[m.Sym]
		if b == nil {
			c.Stats.UpdatesWithoutState++
			return
		}
		if m.Seq != b.Seq+1 {
			c.Stats.SeqGaps++
			c.violation("%s: update seq %d after %d", m.Sym, m.Seq, b.Seq)
		}
		b.Seq, b.Stale = m.Seq, m.Stale
		for _, l := range m.Bids {
			b.Bids = apply(b.Bids, l, true)
		}
		for _, l := range m.Asks {
			b.Asks = apply(b.Asks, l, false)
		}
		b.Bids = b.Bids[:min(len(b.Bids), b.Depth)]
		b.Asks = b.Asks[:min(len(b.Asks), b.Depth)]
		if b.Checksum() != m.Checksum {
			c.Stats.ChecksumFailures++
			c.violation("%s: checksum mismatch at update seq %d", m.Sym, m.Seq)
		}
	}
}

func (c *Client) violation(format string, args ...any) {
	if c.Stats.FirstViolation == "" {
		c.Stats.FirstViolation = fmt.Sprintf(format, args...)
	}
}
