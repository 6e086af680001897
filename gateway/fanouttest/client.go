package fanouttest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/coder/websocket"
)

// Expect is what a resuming subscribe must be answered with, checked when
// the ping sent after it is answered.
type Expect int

const (
	// ExpectAny accepts the missed updates or a snapshot.
	ExpectAny Expect = iota
	// ExpectReplay demands exactly the updates after the resume seq.
	ExpectReplay
	// ExpectSnapshot demands a snapshot.
	ExpectSnapshot
)

// Resume is one symbol's resume point in a subscribe.
type Resume struct {
	Seq uint64
	// Checksum is sent as the copy's checksum at Seq; nil sends none.
	Checksum *uint32
	// Copy is the book the client holds at Seq, at the subscribed depth:
	// the missed updates are applied to it. Nil when the client holds no
	// copy the server may continue (a hostile resume): updates in place
	// of a snapshot are then a violation.
	Copy   *State
	Expect Expect
}

// Copy is the client's copy of one subscribed book.
type Copy struct {
	Depth int
	Seq   uint64
	Book  State
}

// Options configure a Client.
type Options struct {
	// ReadBuffer, if not zero, is the socket receive buffer of each
	// connection: a small one makes the server back up quickly behind a
	// paused client.
	ReadBuffer int
	// ExtraStale accepts a book message marked stale at a seq the model
	// holds valid: an edge's book may be stale (its bus was lost) while
	// the ingest's is not. A seq the model holds stale must always be
	// marked so.
	ExtraStale bool
	// Resyncs accepts snapshots flagged resync at any seq. Without it, a
	// resync is a violation except at the model's resets and while the
	// client was paused.
	Resyncs bool
}

// Stats count what a Client received.
type Stats struct {
	Snapshots, Resyncs, Updates, Replayed, Pongs int
}

// Client is one market-data client over successive connections. The
// test's goroutine calls its methods; each connection's reader goroutine
// applies what arrives. All state is guarded by mu.
type Client struct {
	name  string
	model *Model
	opts  Options

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced whenever state changes
	conn       *websocket.Conn
	alive      bool
	readerDone chan struct{}
	readErr    error
	closeCode  websocket.StatusCode
	subs       map[string]*bookSub
	pending    map[string]*pendingReq
	nextID     int
	paused     bool
	gate       chan struct{} // closed while not paused
	wasPaused  bool          // paused since the last Strict call
	outPings   int
	violations []string
	stats      Stats
}

// bookSub is one symbol's book subscription on the current connection.
type bookSub struct {
	depth int
	live  bool   // book holds the state at seq
	seq   uint64 // live: the copy's seq; else the resume seq
	book  State
	// Before the first book message after subscribed: the resume, if any.
	resume   *Resume
	resumed  bool // the first message was an update (a replay)
	snapshot bool // a snapshot came since subscribed
	checkAt  string
	lax      bool // the client was paused: a resync may have changed the answer
}

type pendingReq struct {
	op       string // subscribe, unsubscribe, ping
	depth    int
	resume   map[string]*Resume
	allowErr bool
	checkAt  string
}

// New returns a client checking against model; it is not connected.
func New(name string, model *Model, opts Options) *Client {
	g := make(chan struct{})
	close(g)
	return &Client{name: name, model: model, opts: opts, changed: make(chan struct{}), gate: g}
}

// Name returns the client's name.
func (c *Client) Name() string { return c.name }

// Connect dials url and starts reading. The client must not be connected.
func (c *Client) Connect(ctx context.Context, url string) error {
	d := &net.Dialer{}
	rb := c.opts.ReadBuffer
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err == nil && rb > 0 {
			_ = conn.(*net.TCPConn).SetReadBuffer(rb)
		}
		return conn, err
	}}}
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return fmt.Errorf("fanouttest: %s: dial: %w", c.name, err)
	}
	conn.SetReadLimit(-1)
	c.mu.Lock()
	c.conn, c.alive, c.readErr, c.closeCode = conn, true, nil, -1
	c.subs, c.pending, c.outPings = map[string]*bookSub{}, map[string]*pendingReq{}, 0
	done := make(chan struct{})
	c.readerDone = done
	c.notify()
	c.mu.Unlock()
	go c.read(conn, done)
	return nil
}

// Drop closes the connection at once and waits for its reader to end. The
// copies stay readable (Copies) for a resume.
func (c *Client) Drop() {
	c.mu.Lock()
	conn, done := c.conn, c.readerDone
	c.mu.Unlock()
	if conn == nil {
		return
	}
	conn.CloseNow()
	c.Unpause()
	<-done
}

// Alive reports whether the connection is up, and if not, its close code
// (-1 if none).
func (c *Client) Alive() (bool, websocket.StatusCode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.alive, c.closeCode
}

// Pause stops the reader between frames; the server's writes back up.
func (c *Client) Pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.paused {
		c.paused, c.wasPaused = true, true
		c.gate = make(chan struct{})
	}
}

// Unpause lets the reader go on.
func (c *Client) Unpause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused {
		c.paused = false
		close(c.gate)
	}
}

// Paused reports whether the client is paused.
func (c *Client) Paused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused
}

// WasPaused reports whether the client was paused since the last Strict
// call (or is paused).
func (c *Client) WasPaused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wasPaused
}

// Strict forgets that the client was paused: from now on resyncs are
// violations again (see Options.Resyncs). Call it once it has caught up.
func (c *Client) Strict() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wasPaused = c.paused
}

// Copies returns the client's copies of the books it holds.
func (c *Client) Copies() map[string]Copy {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]Copy{}
	for sym, s := range c.subs {
		if s.live {
			out[sym] = Copy{Depth: s.depth, Seq: s.seq, Book: s.book.Truncated(s.depth)}
		}
	}
	return out
}

// Subscribed returns the symbols of the client's book subscriptions.
func (c *Client) Subscribed() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.subs))
	for s := range c.subs {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Violations returns what the client found wrong.
func (c *Client) Violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.violations)
}

// Stats returns the client's counts.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Subscribe asks for the books of syms at depth, resuming those in resume,
// then sends a ping whose answer checks each resume's Expect (see
// Resume). allowErr accepts error answers (a hostile request).
func (c *Client) Subscribe(ctx context.Context, depth int, syms []string, resume map[string]*Resume, allowErr bool) error {
	req := map[string]any{"op": "subscribe", "channel": "book", "symbols": syms, "depth": depth}
	if len(resume) > 0 {
		seqs, cks := map[string]uint64{}, map[string]uint32{}
		for s, r := range resume {
			seqs[s] = r.Seq
			if r.Checksum != nil {
				cks[s] = *r.Checksum
			}
		}
		req["resume"] = seqs
		if len(cks) > 0 {
			req["checksums"] = cks
		}
	}
	ping := &pendingReq{op: "ping"}
	c.mu.Lock()
	c.outPings++
	c.nextID++
	ping.checkAt = "p" + strconv.Itoa(c.nextID) // the id of the ping sent after the subscribe
	c.mu.Unlock()
	p := &pendingReq{op: "subscribe", depth: depth, resume: resume, allowErr: allowErr, checkAt: ping.checkAt}
	if err := c.send(ctx, req, p); err != nil {
		return err
	}
	return c.send(ctx, map[string]any{"op": "ping"}, ping)
}

// Unsubscribe ends the book subscriptions of syms.
func (c *Client) Unsubscribe(ctx context.Context, syms []string) error {
	return c.send(ctx, map[string]any{"op": "unsubscribe", "channel": "book", "symbols": syms}, &pendingReq{op: "unsubscribe"})
}

// Ping sends a ping and returns its id.
func (c *Client) Ping(ctx context.Context) (string, error) {
	p := &pendingReq{op: "ping"}
	c.mu.Lock()
	c.outPings++
	c.nextID++
	p.checkAt = "p" + strconv.Itoa(c.nextID)
	c.mu.Unlock()
	err := c.send(ctx, map[string]any{"op": "ping"}, p)
	return p.checkAt, err
}

// send writes req with an id, recorded with p: a ping's is its checkAt,
// a fresh one for other requests.
func (c *Client) send(ctx context.Context, req map[string]any, p *pendingReq) error {
	c.mu.Lock()
	id := p.checkAt
	if p.op != "ping" {
		c.nextID++
		id = p.op[:1] + strconv.Itoa(c.nextID)
	}
	c.pending[id] = p
	conn := c.conn
	c.mu.Unlock()
	req["id"] = id
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("fanouttest: %s: write: %w", c.name, err)
	}
	return nil
}

// Answered reports whether every ping sent was answered: the server has
// carried out every request sent before it.
func (c *Client) Answered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.outPings == 0
}

// CaughtUp reports whether every ping sent was answered and every book
// subscribed is held at the model's seq (or beyond: a resume point not yet
// contradicted). A dead connection is never caught up.
func (c *Client) CaughtUp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.alive || c.outPings > 0 {
		return false
	}
	for sym, s := range c.subs {
		if !s.live && (s.resume == nil || s.resume.Copy == nil) {
			return false
		}
		if s.seq < c.model.Seq(sym) {
			return false
		}
	}
	return true
}

// Wait waits until cond (called under no lock) holds, the connection ends
// or the client found a violation (returning false), or ctx ends (an
// error).
func (c *Client) Wait(ctx context.Context, cond func() bool) (bool, error) {
	for {
		c.mu.Lock()
		ch, alive, bad := c.changed, c.alive, len(c.violations) > 0
		c.mu.Unlock()
		if cond() {
			return true, nil
		}
		if !alive || bad {
			return false, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false, fmt.Errorf("fanouttest: %s: %w (subs %s)", c.name, ctx.Err(), c.describe())
		}
	}
}

func (c *Client) describe() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "alive %v paused %v pings out %d;", c.alive, c.paused, c.outPings)
	for sym, s := range c.subs {
		fmt.Fprintf(&b, " %s d%d live %v seq %d (model %d)", sym, s.depth, s.live, s.seq, c.model.Seq(sym))
	}
	return b.String()
}

// notify wakes Wait. mu held.
func (c *Client) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// violation records a broken promise. mu held.
func (c *Client) violation(format string, args ...any) {
	if len(c.violations) < 20 {
		c.violations = append(c.violations, c.name+": "+fmt.Sprintf(format, args...))
	}
}

// read is a connection's reader goroutine.
func (c *Client) read(conn *websocket.Conn, done chan struct{}) {
	defer close(done)
	ctx := context.Background()
	for {
		c.mu.Lock()
		gate := c.gate
		c.mu.Unlock()
		<-gate
		_, frame, err := conn.Read(ctx)
		c.mu.Lock()
		if err != nil {
			c.alive, c.readErr = false, err
			c.closeCode = websocket.CloseStatus(err)
			c.notify()
			c.mu.Unlock()
			return
		}
		for line := range bytes.SplitSeq(frame, []byte{'\n'}) {
			c.handle(line)
		}
		c.notify()
		c.mu.Unlock()
	}
}

// message is a server message, loosely decoded.
type message struct {
	Type     string            `json:"type"`
	Ch       string            `json:"ch"`
	Sym      string            `json:"sym"`
	Seq      uint64            `json:"seq"`
	Depth    int               `json:"depth"`
	Bids     []json.RawMessage `json:"bids"`
	Asks     []json.RawMessage `json:"asks"`
	Checksum uint32            `json:"checksum"`
	Resync   bool              `json:"resync"`
	Stale    bool              `json:"stale"`
	Channel  string            `json:"channel"`
	Symbols  []string          `json:"symbols"`
	Code     string            `json:"code"`
	Msg      string            `json:"msg"`
	ID       string            `json:"id"`
}

// handle checks and applies one message. mu held.
func (c *Client) handle(line []byte) {
	var m message
	if err := json.Unmarshal(line, &m); err != nil {
		c.violation("undecodable message %q: %v", line, err)
		return
	}
	switch {
	case m.Ch == "book":
		c.book(&m, line)
	case m.Ch != "":
		// Quotes and trades are not modelled.
	case m.Type == "subscribed" && m.Channel == "book":
		p := c.pending[m.ID]
		delete(c.pending, m.ID)
		if p == nil || p.op != "subscribe" {
			c.violation("subscribed answers no subscribe: %s", line)
			return
		}
		for _, sym := range m.Symbols {
			s := &bookSub{depth: p.depth, resume: p.resume[sym], checkAt: p.checkAt, lax: c.wasPaused}
			if s.resume != nil {
				s.seq = s.resume.Seq
			}
			c.subs[sym] = s
		}
	case m.Type == "unsubscribed" && m.Channel == "book":
		delete(c.pending, m.ID)
		for _, sym := range m.Symbols {
			delete(c.subs, sym)
		}
	case m.Type == "pong":
		delete(c.pending, m.ID)
		c.outPings--
		c.stats.Pongs++
		c.checkExpectations(m.ID)
	case m.Type == "error":
		p := c.pending[m.ID]
		if p == nil || !p.allowErr {
			c.violation("error %s", line)
		}
	default:
		c.violation("unexpected message %s", line)
	}
}

// checkExpectations checks the resumes whose subscribe was followed by
// ping id: everything the subscribe queued came before the pong. mu held.
func (c *Client) checkExpectations(id string) {
	for sym, s := range c.subs {
		if s.checkAt != id {
			continue
		}
		s.checkAt = ""
		if s.resume == nil {
			if !s.live && !s.lax {
				c.violation("%s: no snapshot before the pong that followed subscribed", sym)
			}
			continue
		}
		if s.lax {
			continue
		}
		switch {
		case s.resume.Copy == nil && !s.live:
			c.violation("%s: a resume from %d the server may not continue was answered with nothing", sym, s.resume.Seq)
		case s.resume.Expect == ExpectReplay && s.snapshot:
			st, _ := c.model.At(sym, s.resume.Seq)
			ck := "none"
			if s.resume.Checksum != nil {
				ck = strconv.FormatUint(uint64(*s.resume.Checksum), 10)
			}
			c.violation("%s: a depth-%d resume from %d (model seq %d), checksum %s (the model's %d), within the history was answered with a snapshot", sym, s.depth, s.resume.Seq, c.model.Seq(sym), ck, st.Checksum(s.depth))
		case s.resume.Expect == ExpectSnapshot && !s.snapshot:
			c.violation("%s: a resume from %d (model seq %d) that must be refused was answered with updates (%v)", sym, s.resume.Seq, c.model.Seq(sym), s.resumed)
		}
	}
}

// book checks and applies a book message. mu held.
func (c *Client) book(m *message, line []byte) {
	s := c.subs[m.Sym]
	if s == nil {
		c.violation("book message of a symbol not subscribed: %s", line)
		return
	}
	bids, err1 := levels(m.Bids)
	asks, err2 := levels(m.Asks)
	if err := errors.Join(err1, err2); err != nil {
		c.violation("%s: bad levels: %v: %s", m.Sym, err, line)
		return
	}
	switch m.Type {
	case "snapshot":
		c.stats.Snapshots++
		if m.Resync {
			c.stats.Resyncs++
			if st, _ := c.model.At(m.Sym, m.Seq); !c.opts.Resyncs && !c.wasPaused && !st.Reset {
				c.violation("%s: a resync snapshot at seq %d, no reset, for a client that kept up", m.Sym, m.Seq)
			}
		}
		if s.live && !m.Resync {
			c.violation("%s: a snapshot not flagged resync in the middle of the stream (at %d, copy at %d)", m.Sym, m.Seq, s.seq)
		}
		if s.live && m.Seq < s.seq {
			c.violation("%s: a snapshot at %d after the copy reached %d", m.Sym, m.Seq, s.seq)
		}
		if m.Depth != s.depth {
			c.violation("%s: a snapshot of depth %d for a depth-%d subscription", m.Sym, m.Depth, s.depth)
		}
		s.book = State{Bids: bids, Asks: asks}
		s.live, s.snapshot = true, true
		s.seq = m.Seq
	case "update":
		c.stats.Updates++
		switch {
		case s.live && m.Seq <= s.seq:
			c.violation("%s: update %d duplicates (copy at %d)", m.Sym, m.Seq, s.seq)
			return
		case s.live && m.Seq != s.seq+1:
			c.violation("%s: update %d after %d: a gap", m.Sym, m.Seq, s.seq)
			s.seq = m.Seq
			return
		case !s.live && s.resume == nil:
			c.violation("%s: update %d before any snapshot", m.Sym, m.Seq)
			return
		case !s.live && m.Seq != s.resume.Seq+1:
			c.violation("%s: the first update of a resume from %d is %d", m.Sym, s.resume.Seq, m.Seq)
			return
		case !s.live && s.resume.Copy == nil:
			c.violation("%s: a resume from %d with a copy the server may not continue (another book, or none) was continued", m.Sym, s.resume.Seq)
			return
		case !s.live:
			s.book = s.resume.Copy.Truncated(s.depth)
			s.live, s.resumed = true, true
		}
		if s.resumed && !s.snapshot {
			c.stats.Replayed++
		}
		s.book.Bids = apply(s.book.Bids, bids, true, s.depth)
		s.book.Asks = apply(s.book.Asks, asks, false, s.depth)
		s.seq = m.Seq
	default:
		c.violation("%s: book message of type %q", m.Sym, m.Type)
		return
	}
	s.book.Stale = m.Stale
	if got := checksum(s.book.Bids, s.book.Asks, s.depth); got != m.Checksum {
		c.violation("%s: depth %d copy at %d has checksum %d, the message says %d: %s", m.Sym, s.depth, m.Seq, got, m.Checksum, line)
	}
	want, ok := c.model.At(m.Sym, m.Seq)
	if !ok {
		c.violation("%s: seq %d is beyond the model's %d", m.Sym, m.Seq, c.model.Seq(m.Sym))
		return
	}
	w := want.Truncated(s.depth)
	if !slices.Equal(w.Bids, s.book.Bids) || !slices.Equal(w.Asks, s.book.Asks) {
		c.violation("%s: depth %d copy at %d is %v / %v, the model's %v / %v (last: %s)", m.Sym, s.depth, m.Seq, s.book.Bids, s.book.Asks, w.Bids, w.Asks, line)
		s.book = w // report the next difference, not this one again
	}
	if want.Stale && !m.Stale {
		c.violation("%s: seq %d is stale and not marked so: %s", m.Sym, m.Seq, line)
	}
	if m.Stale && !want.Stale && !c.opts.ExtraStale {
		var flags []string
		for q := m.Seq - min(m.Seq, 5); q <= m.Seq+5; q++ {
			if st, ok := c.model.At(m.Sym, q); ok {
				flags = append(flags, fmt.Sprintf("%d:%v/%v", q, st.Stale, st.Reset))
			}
		}
		c.violation("%s: seq %d is valid and marked stale (model stale/reset %v): %s", m.Sym, m.Seq, flags, line)
	}
}

// levels decodes [["1700.00",300],...].
func levels(raw []json.RawMessage) ([]Level, error) {
	out := make([]Level, 0, len(raw))
	for _, r := range raw {
		var pair []json.RawMessage
		if err := json.Unmarshal(r, &pair); err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("level %s is not a pair", r)
		}
		var ps string
		var q int64
		if err := json.Unmarshal(pair[0], &ps); err != nil {
			return nil, fmt.Errorf("price %s: %w", pair[0], err)
		}
		if err := json.Unmarshal(pair[1], &q); err != nil || q < 0 {
			return nil, fmt.Errorf("qty %s", pair[1])
		}
		p, err := price(ps)
		if err != nil {
			return nil, err
		}
		out = append(out, Level{p, q})
	}
	return out, nil
}

// price parses a decimal price into units of 0.0001.
func price(s string) (int64, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 4 || whole == "" {
		return 0, fmt.Errorf("price %q", s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("price %q", s)
	}
	f := int64(0)
	if frac != "" {
		if f, err = strconv.ParseInt(frac, 10, 64); err != nil || f < 0 {
			return 0, fmt.Errorf("price %q", s)
		}
		for range 4 - len(frac) {
			f *= 10
		}
	}
	return w*10000 + f, nil
}

// apply applies an update's changes to one side as the protocol says: qty
// 0 removes the level at that price, else the level is set (inserted in
// price order); then only the best depth levels are kept.
func apply(side, changes []Level, bid bool, depth int) []Level {
	better := func(a, b Level) int { // best first
		if bid {
			return cmp.Compare(b.Price, a.Price)
		}
		return cmp.Compare(a.Price, b.Price)
	}
	for _, ch := range changes {
		i, found := slices.BinarySearchFunc(side, ch, better)
		switch {
		case ch.Qty == 0 && found:
			side = slices.Delete(side, i, i+1)
		case ch.Qty == 0:
		case found:
			side[i].Qty = ch.Qty
		default:
			side = slices.Insert(side, i, ch)
		}
	}
	return side[:min(depth, len(side))]
}
