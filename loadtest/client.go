package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sys/unix"

	"sgw/gateway/mdclient"
)

// mdCounters are the market-data clients' shared counters.
type mdCounters struct {
	connected   atomic.Int64
	ready       atomic.Int64 // clients that got a snapshot of every symbol
	connectErrs atomic.Int64
	readErrs    atomic.Int64 // connections that ended before the run did
	messages    atomic.Int64 // book, quote and trade messages received
	updates     atomic.Int64
	snapshots   atomic.Int64
	resyncs     atomic.Int64
	seqGaps     atomic.Int64
	checksums   atomic.Int64 // checksum failures
	orphans     atomic.Int64 // updates before any snapshot
	serverErrs  atomic.Int64 // error messages from the gateway
	venue       atomic.Int64 // symbols whose book never matched the simulator's at the end (checkVenue)
	firstIssue  atomic.Pointer[string]
}

func (m *mdCounters) issue(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	m.firstIssue.CompareAndSwap(nil, &s)
}

// violations counts integrity violations.
func (m *mdCounters) violations() int64 {
	return m.seqGaps.Load() + m.checksums.Load() + m.orphans.Load() + m.venue.Load()
}

// dialers spreads clients over loopback source addresses so that many
// connections to one port do not run out of ephemeral ports.
type dialers struct {
	clients []*http.Client
}

// perSourceAddr is how many clients share one loopback source address:
// well under the ephemeral port range, which connections of earlier runs
// may still hold in TIME_WAIT.
const perSourceAddr = 5000

func newDialers(n int) *dialers {
	d := &dialers{}
	for i := 0; i*perSourceAddr < n; i++ {
		nd := &net.Dialer{Timeout: 10 * time.Second}
		if n > perSourceAddr {
			// Another loopback source address. IP_BIND_ADDRESS_NO_PORT lets
			// connect pick the port per destination, as it does without a
			// source address, instead of reserving one at bind.
			nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, byte(i/250), byte(1+i%250))}
			nd.Control = func(_, _ string, rc syscall.RawConn) error {
				var serr error
				err := rc.Control(func(fd uintptr) {
					serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
				})
				return errors.Join(err, serr)
			}
		}
		d.clients = append(d.clients, &http.Client{Transport: &http.Transport{DialContext: nd.DialContext}})
	}
	return d
}

func (d *dialers) forClient(i int) *http.Client { return d.clients[i/perSourceAddr] }

// midnightCST is the start of today in China Standard Time, the epoch of
// the simulator's ITCH timestamps.
func midnightCST(now time.Time) time.Time {
	cst := time.FixedZone("CST", 8*3600)
	n := now.In(cst)
	return time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, cst)
}

// mdLoadClient is one market-data client of a run. Its reader goroutine
// owns everything but the shared counters and recorder.
type mdLoadClient struct {
	idx     int
	full    bool // keep books and verify checksums (mdclient), else seq only
	syms    []string
	counts  *mdCounters
	lat     *Recorder
	record  *atomic.Bool
	epoch   time.Time // midnight CST
	lastSeq map[string]uint64
}

// run connects, subscribes and reads until ctx ends.
func (c *mdLoadClient) run(ctx context.Context, url, token string, hc *http.Client, depth int) {
	mc, _, err := mdclient.Dial(ctx, url, mdclient.Options{Token: token, HTTPClient: hc})
	if err != nil {
		c.counts.connectErrs.Add(1)
		c.counts.issue("connect: %v", err)
		return
	}
	defer mc.Conn().CloseNow()
	c.counts.connected.Add(1)
	if err := mc.Subscribe(ctx, "book", depth, nil, c.syms...); err != nil {
		c.counts.readErrs.Add(1)
		return
	}
	if c.full {
		c.readFull(ctx, mc)
	} else {
		c.readLight(ctx, mc.Conn())
	}
}

// readFull reads through mdclient, which applies every message to its
// books and verifies the checksums.
func (c *mdLoadClient) readFull(ctx context.Context, mc *mdclient.Client) {
	ready := false
	var seen mdclient.Stats
	for {
		msgs, err := mc.Next(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.counts.readErrs.Add(1)
				c.counts.issue("client %d: read: %v", c.idx, err)
			}
			break
		}
		now := time.Now()
		for i := range msgs {
			m := &msgs[i]
			if m.Ch == "book" && m.Type == "update" {
				c.observe(now, m.Time)
			}
		}
		if !ready && len(mc.Books) == len(c.syms) {
			ready = true
			c.counts.ready.Add(1)
		}
		st := mc.Stats
		c.counts.messages.Add(int64(st.Snapshots + st.Updates + st.Quotes + st.Trades - seen.Snapshots - seen.Updates - seen.Quotes - seen.Trades))
		c.counts.updates.Add(int64(st.Updates - seen.Updates))
		c.counts.snapshots.Add(int64(st.Snapshots - seen.Snapshots))
		c.counts.resyncs.Add(int64(st.Resyncs - seen.Resyncs))
		c.counts.seqGaps.Add(int64(st.SeqGaps - seen.SeqGaps))
		c.counts.checksums.Add(int64(st.ChecksumFailures - seen.ChecksumFailures))
		c.counts.orphans.Add(int64(st.UpdatesWithoutState - seen.UpdatesWithoutState))
		c.counts.serverErrs.Add(int64(st.Errors - seen.Errors))
		if st.FirstViolation != "" && seen.FirstViolation == "" {
			c.counts.issue("client %d: %s", c.idx, st.FirstViolation)
		}
		seen = st
	}
}

// readLight reads frames and checks only sequence continuity, parsing the
// few fields it needs without decoding the JSON.
func (c *mdLoadClient) readLight(ctx context.Context, conn *websocket.Conn) {
	c.lastSeq = make(map[string]uint64, len(c.syms))
	ready := false
	var buf bytes.Buffer
	for {
		frame, err := readFrame(ctx, conn, &buf)
		if err != nil {
			if ctx.Err() == nil {
				c.counts.readErrs.Add(1)
				c.counts.issue("client %d: read: %v", c.idx, err)
			}
			return
		}
		now := time.Now()
		for len(frame) > 0 {
			line := frame
			if i := bytes.IndexByte(frame, '\n'); i >= 0 {
				line, frame = frame[:i], frame[i+1:]
			} else {
				frame = nil
			}
			c.light(now, line)
		}
		if !ready && len(c.lastSeq) == len(c.syms) {
			ready = true
			c.counts.ready.Add(1)
		}
	}
}

// light handles one message on the light path.
func (c *mdLoadClient) light(now time.Time, m []byte) {
	switch {
	case bytes.HasPrefix(m, []byte(`{"type":"error"`)):
		c.counts.serverErrs.Add(1)
		return
	case !bytes.HasPrefix(m, []byte(`{"ch":"book"`)):
		if bytes.HasPrefix(m, []byte(`{"ch":`)) {
			c.counts.messages.Add(1)
		}
		return
	}
	c.counts.messages.Add(1)
	sym := field(m, `"sym":"`, '"')
	seq, _ := strconv.ParseUint(string(field(m, `"seq":`, ',')), 10, 64)
	if bytes.Contains(m, []byte(`"type":"snapshot"`)) {
		c.counts.snapshots.Add(1)
		if bytes.Contains(m, []byte(`"resync":true`)) {
			c.counts.resyncs.Add(1)
		}
		c.lastSeq[string(sym)] = seq
		return
	}
	c.counts.updates.Add(1)
	last, ok := c.lastSeq[string(sym)]
	switch {
	case !ok:
		c.counts.orphans.Add(1)
	case seq != last+1:
		c.counts.seqGaps.Add(1)
		c.counts.issue("client %d: %s: update seq %d after %d", c.idx, sym, seq, last)
	}
	c.lastSeq[string(sym)] = seq
	t, _ := strconv.ParseUint(string(field(m, `"time":`, '}')), 10, 64)
	c.observe(now, t)
}

// observe records the tick-to-client latency of an update stamped t (ns
// since midnight CST).
func (c *mdLoadClient) observe(now time.Time, t uint64) {
	if !c.record.Load() || t == 0 {
		return
	}
	c.lat.Record(c.idx, sameDay(now.Sub(c.epoch)-time.Duration(t)))
}

// sameDay folds a latency measured against a midnight of another day
// into (-12h, 12h]: the stamps start again from 0 at midnight CST, while
// a run's epoch is the midnight before it began. Before, every update of
// a run past midnight measured about 24 h.
func sameDay(d time.Duration) time.Duration {
	const day = 24 * time.Hour
	d %= day
	switch {
	case d > day/2:
		d -= day
	case d <= -day/2:
		d += day
	}
	return d
}

// field returns the bytes after key up to end.
func field(m []byte, key string, end byte) []byte {
	i := bytes.Index(m, []byte(key))
	if i < 0 {
		return nil
	}
	m = m[i+len(key):]
	if j := bytes.IndexByte(m, end); j >= 0 {
		return m[:j]
	}
	return m
}

// readFrame reads one message into buf, reusing its memory.
func readFrame(ctx context.Context, conn *websocket.Conn, buf *bytes.Buffer) ([]byte, error) {
	_, r, err := conn.Reader(ctx)
	if err != nil {
		return nil, err
	}
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
