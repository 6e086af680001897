package system

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sgw/auth"
	"sgw/configs"
	"sgw/fix"
	"sgw/fix/broker"
	"sgw/gateway/mdclient"
	"sgw/internal/syncbuf"
	"sgw/journal"
	"sgw/orders"
	"sgw/risk"
)

// childEnv names the environment variable that turns the test binary into
// a gateway process (TestGatewayChildProcess).
const childEnv = "SGW_TEST_CHILD_SPEC"

// childSpec is what a gateway child process needs of the venue's wiring.
type childSpec struct {
	Journal   string              `json:"journal"`
	StoreDirs map[string]string   `json:"store_dirs"` // upstream → dir
	Lines     map[string][]string `json:"lines"`      // upstream → line addresses
	Begin     map[string]string   `json:"begin"`      // upstream → BeginString
	// Log is the test log's level name ("" discards; see testLogLevel).
	Log string `json:"log,omitempty"`
	// Cluster, when set, makes the child a cluster node (its journal and
	// stores in the cluster's DataDir).
	Cluster *configs.Cluster `json:"cluster,omitempty"`
	// Listen is the HTTP address to listen on; empty means 127.0.0.1:0.
	Listen string `json:"listen,omitempty"`
	// Storage, when set, is the child's storage section (encryption).
	Storage *configs.Storage `json:"storage,omitempty"`
	// Brokers, when set, is the child's brokers section: a cluster member
	// whose cluster.nodes entry names a brokers address serves the broker
	// sessions there (see startChildAt).
	Brokers *broker.Config `json:"brokers,omitempty"`
	// Accounts, when set, are the child's trading accounts (the demo's
	// otherwise).
	Accounts []risk.AccountConfig `json:"accounts,omitempty"`
	// HoldTimeout, when set, is the child's orders.hold_timeout.
	HoldTimeout time.Duration `json:"hold_timeout,omitempty"`
}

// TestGatewayChildProcess is not a test: the restart tests run the test
// binary again with childEnv set, to get a gateway they can kill -9. It
// runs the demo's gateway (no feeds; a broker acceptor only if the spec
// has one) on the venue the spec names until SIGTERM, printing
// "listening ADDR" first.
func TestGatewayChildProcess(t *testing.T) {
	raw := os.Getenv(childEnv)
	if raw == "" {
		t.Skip("a helper process for the restart tests")
	}
	var spec childSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "child: spec:", err)
		os.Exit(2)
	}
	cfg, err := configs.LoadDemo()
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	cfg.Feeds, cfg.Brokers, cfg.Sim, cfg.FIXSim = nil, nil, nil, nil
	tuneForLoad(cfg)
	cfg.Orders.Journal = spec.Journal
	cfg.Cluster = spec.Cluster
	cfg.Storage = spec.Storage
	cfg.Brokers = spec.Brokers
	if spec.Accounts != nil {
		cfg.Orders.Risk.Accounts = spec.Accounts
	}
	if spec.HoldTimeout != 0 {
		cfg.Orders.HoldTimeout = spec.HoldTimeout
	}
	for i := range cfg.Orders.Upstreams {
		u := &cfg.Orders.Upstreams[i]
		u.StoreDir = spec.StoreDirs[u.Name]
		u.BeginString = spec.Begin[u.Name]
		for j := range u.Lines {
			u.Lines[j].Addr = spec.Lines[u.Name][j]
		}
	}
	g, err := New(cfg, newTestLog(spec.Log, os.Stderr))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	addr := spec.Listen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	fmt.Printf("listening %s\n", ln.Addr())
	if err := g.Run(ctx, ln); err != nil {
		fmt.Fprintln(os.Stderr, "child: run:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// tuneForLoad lifts the demo's per-connection and per-account rate
// limits, so that one test client can stream hundreds of orders a second.
func tuneForLoad(cfg *configs.File) {
	cfg.Gateway.WS.MaxMessagesPerSecond = 100000
	cfg.Orders.Risk.AccountRate, cfg.Orders.Risk.SessionRate = risk.MaxRate, risk.MaxRate
}

// child is a gateway process.
type child struct {
	cmd    *exec.Cmd
	base   string
	done   chan error
	stderr *syncbuf.Buffer
}

// childLogLevel is a gateway child's SGW_TEST_LOG: the test's, or info,
// so that a failing test shows what its children saw (their stderr is
// printed on failure).
func childLogLevel() string {
	if l := os.Getenv("SGW_TEST_LOG"); l != "" {
		return l
	}
	return "info"
}

// clip shortens a long log to its first 16 KiB (where a panic starts)
// and its last 64 KiB.
func clip(s string) string {
	const head, tail = 16 << 10, 64 << 10
	if len(s) <= head+tail {
		return s
	}
	return s[:head] + fmt.Sprintf("\n[... %d bytes left out ...]\n", len(s)-head-tail) + s[len(s)-tail:]
}

// startChild starts a gateway process on the venue and waits until it
// listens.
func startChild(t *testing.T, v *venue) *child { return startChildOn(t, v.cfg) }

// startChildOn starts a gateway process whose order journal, stores and
// upstream lines are cfg's, and waits until it listens.
func startChildOn(t *testing.T, cfg *configs.File) *child { return startChildAt(t, cfg, "") }

// startChildAt is startChildOn listening on listen ("": a free port).
func startChildAt(t *testing.T, cfg *configs.File, listen string) *child {
	t.Helper()
	spec := childSpec{Listen: listen, Journal: cfg.Orders.Journal, StoreDirs: map[string]string{}, Lines: map[string][]string{},
		Begin: map[string]string{}, Log: childLogLevel(), Cluster: cfg.Cluster, Storage: cfg.Storage,
		Accounts: cfg.Orders.Risk.Accounts, HoldTimeout: cfg.Orders.HoldTimeout}
	// A single gateway serves cfg's broker sessions when cfg names the
	// port to listen on for them (a test's, from freeport.Take): on port
	// 0, as the demo's, no broker could find it.
	if bc := cfg.Brokers; cfg.Cluster == nil && bc != nil && !strings.HasSuffix(bc.Listen, ":0") {
		b := *bc
		spec.Brokers = &b
	}
	if cc := cfg.Cluster; cc != nil && cfg.Brokers != nil {
		for _, m := range cc.Nodes {
			if m.ID == cc.NodeID && m.Brokers != "" {
				bc := *cfg.Brokers
				bc.Listen = m.Brokers
				spec.Brokers = &bc
			}
		}
	}
	for _, u := range cfg.Orders.Upstreams {
		spec.StoreDirs[u.Name] = u.StoreDir
		spec.Begin[u.Name] = u.BeginString
		for _, l := range u.Lines {
			spec.Lines[u.Name] = append(spec.Lines[u.Name], l.Addr)
		}
	}
	raw, _ := json.Marshal(spec)
	cmd := exec.Command(os.Args[0], "-test.run=^TestGatewayChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
	c := &child{cmd: cmd, done: make(chan error, 1), stderr: &syncbuf.Buffer{}}
	cmd.Stderr = c.stderr
	if dir := os.Getenv("SGW_TEST_LOGDIR"); dir != "" {
		// Keep every child's log whole, whatever the test's outcome.
		f, err := os.CreateTemp(dir, "child-*.log")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		cmd.Stderr = io.MultiWriter(c.stderr, f)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				addr <- a
			}
		}
		io.Copy(io.Discard, out)
		c.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-c.done
		}
		if t.Failed() {
			t.Logf("gateway child stderr:\n%s", clip(c.stderr.String()))
		}
	})
	select {
	case a := <-addr:
		c.base = "http://" + a
	case err := <-c.done:
		t.Fatalf("the gateway child exited before listening: %v\n%s", err, clip(c.stderr.String()))
	case <-time.After(30 * time.Second):
		t.Fatalf("the gateway child did not listen within 30s\n%s", clip(c.stderr.String()))
	}
	return c
}

// kill ends the process with SIGKILL, as a crash.
func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.done
}

// term asks the process to stop (SIGTERM) and returns its exit error.
func (c *child) term(t *testing.T) error {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.done:
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("the gateway did not stop within 60s of SIGTERM")
		return nil
	}
}

// token issues a token for account A1 with the config's secret.
func token(t *testing.T, cfg *configs.File) string { return tokenFor(t, cfg, "A1") }

// tokenFor issues a token for the accounts with the config's secret.
func tokenFor(t *testing.T, cfg *configs.File, accounts ...string) string {
	t.Helper()
	v, err := auth.New(*cfg.Auth)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := v.IssueFor("t", accounts, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// operatorToken issues a token of the config's first administrator.
func operatorToken(t *testing.T, cfg *configs.File) string {
	t.Helper()
	v, err := auth.New(*cfg.Auth)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := v.Issue(auth.Claims{Subject: cfg.Gateway.Admins[0], Admin: true, Expires: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// trader is a WebSocket client entering orders for account A1 and
// recording what comes back for each client order id.
type trader struct {
	t    *testing.T
	c    *mdclient.Client
	ctx  context.Context
	done chan struct{} // closed when the connection ends

	mu       sync.Mutex
	accepted map[string]int
	news     map[string]int        // exec new
	final    map[string]string     // last status heard
	status   map[string]string     // answers to order.status
	rejected map[string]string     // cancel_reject events, by the request's id
	lists    chan mdclient.Message // answers to orders.list
	errors   map[string]string
	notify   chan struct{}
	closeErr error
}

// newTrader connects to the gateway at base and subscribes to A1's orders.
func newTrader(t *testing.T, base, tok string) *trader { return newTraderFor(t, base, tok, "A1") }

// newTraderFor connects to the gateway at base and subscribes to the
// accounts' orders.
func newTraderFor(t *testing.T, base, tok string, accounts ...string) *trader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var c *mdclient.Client
	for deadline := time.Now().Add(30 * time.Second); ; {
		var resp *http.Response
		var err error
		c, resp, err = mdclient.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", mdclient.Options{Token: tok})
		if err == nil {
			break
		}
		// 503: the WebSocket endpoint is still starting; a client retries.
		if resp == nil || resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	tr := &trader{t: t, c: c, ctx: ctx, done: make(chan struct{}), accepted: map[string]int{}, news: map[string]int{},
		final: map[string]string{}, status: map[string]string{}, rejected: map[string]string{}, lists: make(chan mdclient.Message, 16), errors: map[string]string{}, notify: make(chan struct{})}
	subscribed := make(chan struct{})
	go tr.read(subscribed)
	if err := c.Send(ctx, map[string]any{"op": "subscribe", "channel": "orders", "accounts": accounts}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-subscribed:
	case <-tr.done:
		t.Fatalf("connection closed before the subscription was confirmed: %v", tr.closeErr)
	case <-time.After(30 * time.Second):
		t.Fatal("no subscription confirmation within 30s")
	}
	return tr
}

func (tr *trader) read(subscribed chan struct{}) {
	defer close(tr.done)
	for {
		msgs, err := tr.c.Next(tr.ctx)
		if err != nil {
			tr.mu.Lock()
			tr.closeErr = err
			tr.mu.Unlock()
			return
		}
		tr.mu.Lock()
		for _, m := range msgs {
			switch {
			case m.Type == "subscribed" && m.Channel == "orders" && subscribed != nil:
				close(subscribed)
				subscribed = nil
			case m.Type == "error":
				tr.errors[m.Ref] = m.Code + ": " + m.Msg
			case m.Type == "accepted" && m.Ref == m.ClOrdID:
				tr.accepted[m.ClOrdID]++
			case m.Type == "exec":
				if m.ExecType == "new" {
					tr.news[m.ClOrdID]++
				}
				tr.final[m.ClOrdID] = m.Status
			case m.Type == "status" && m.Ref != "":
				tr.status[m.Ref] = m.Status
			case m.Type == "orders":
				tr.lists <- m
			case m.Type == "cancel_reject":
				tr.rejected[m.Ref] = m.Code + ": " + m.Msg + m.Text
			}
		}
		close(tr.notify)
		tr.notify = make(chan struct{})
		tr.mu.Unlock()
	}
}

// send enters a resting buy far below the market.
func (tr *trader) send(id string) { tr.sendAt(id, "41.10") }

// sendAt enters a buy of 100 601318.SH for A1 at price.
func (tr *trader) sendAt(id, price string) { tr.sendFor("A1", id, price) }

// sendFor enters a buy of 100 601318.SH for account at price.
func (tr *trader) sendFor(account, id, price string) {
	if err := tr.c.Send(tr.ctx, map[string]any{"op": "order.new", "clOrdId": id, "account": account, "symbol": "601318.SH",
		"side": "buy", "type": "limit", "price": price, "qty": 100}); err != nil {
		tr.t.Fatal(err)
	}
}

// stream enters n resting orders at about rate per second, calling midway
// before order n/2, and returns their ids.
func (tr *trader) stream(prefix string, n, rate int, midway func()) []string {
	var at map[int]func()
	if midway != nil {
		at = map[int]func(){n / 2: midway}
	}
	return tr.streamAt(prefix, n, rate, "41.10", at)
}

// streamAt enters n buys at price at about rate per second, calling at[i]
// before order i, and returns their ids. A connection that ends (the
// gateway was killed) stops the stream.
func (tr *trader) streamAt(prefix string, n, rate int, price string, at map[int]func()) []string {
	var ids []string
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := range n {
		if f := at[i]; f != nil {
			f()
		}
		select {
		case <-tr.done:
			return ids
		default:
		}
		id := fmt.Sprintf("%s-%d", prefix, i)
		if err := tr.c.Send(tr.ctx, map[string]any{"op": "order.new", "clOrdId": id, "account": "A1", "symbol": "601318.SH",
			"side": "buy", "type": "limit", "price": price, "qty": 100}); err != nil {
			return ids
		}
		ids = append(ids, id)
		<-tick.C
	}
	return ids
}

// list sends an orders.list request and returns the answer.
func (tr *trader) list(req map[string]any) mdclient.Message {
	tr.t.Helper()
	if err := tr.c.Send(tr.ctx, req); err != nil {
		tr.t.Fatal(err)
	}
	select {
	case m := <-tr.lists:
		return m
	case <-tr.done:
		tr.t.Fatalf("the connection ended waiting for orders.list: %v", tr.closeErr)
	case <-time.After(60 * time.Second):
		tr.t.Fatal("no answer to orders.list within 60s")
	}
	return mdclient.Message{}
}

// statusOf asks the gateway for the status of order id and waits for the
// answer, forgetting what the trader heard of id before (ask from a
// trader of its own, whose errors are not orders' outcomes).
func (tr *trader) statusOf(id string) string {
	tr.t.Helper()
	tr.mu.Lock()
	delete(tr.status, id)
	delete(tr.errors, id) // an earlier question's answer
	tr.mu.Unlock()
	if err := tr.c.Send(tr.ctx, map[string]any{"op": "order.status", "account": "A1", "clOrdId": id}); err != nil {
		tr.t.Fatal(err)
	}
	var st string
	tr.waitFor("the status of "+id, func() bool {
		st = tr.status[id]
		if e := tr.errors[id]; e != "" {
			st = "error: " + e
		}
		return st != ""
	})
	return st
}

// waitFor waits until cond (called with tr.mu held) holds.
func (tr *trader) waitFor(what string, cond func() bool) {
	tr.t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		tr.mu.Lock()
		ok, ch := cond(), tr.notify
		tr.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			tr.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// acceptedIDs returns the ids the trader heard accepted.
func (tr *trader) acceptedIDs() map[string]bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := map[string]bool{}
	for id, n := range tr.accepted {
		if n > 0 {
			out[id] = true
		}
	}
	return out
}

// journaled maps the client order ids of cfg's journal's new orders to
// their upstream ids, counting repeats. A sealed journal is read with the
// keys of cfg's storage.encryption.
func journaled(t *testing.T, cfg *configs.File) (uids map[string]string, count map[string]int) {
	t.Helper()
	keys, err := cfg.StorageKeys()
	if err != nil {
		t.Fatal(err)
	}
	return journaledIn(t, func(fn func(journal.Record) error) error { return journal.ReadFileKeys(cfg.Orders.Journal, keys, fn) })
}

// readJournal reads a journal's records in order.
type readJournal func(fn func(journal.Record) error) error

// journaledIn is journaled of the journal read reads.
func journaledIn(t *testing.T, read readJournal) (uids map[string]string, count map[string]int) {
	t.Helper()
	uids, count = map[string]string{}, map[string]int{}
	err := read(func(r journal.Record) error {
		if r.Type == 'N' {
			id, uid, err := newOrderIDs(r.Body)
			if err != nil {
				return fmt.Errorf("journal record %d: %w", r.Seq, err)
			}
			uids[id] = uid
			count[id]++
		}
		return nil
	})
	if err != nil && !errors.Is(err, journal.ErrTornTail) {
		t.Fatal(err)
	}
	return uids, count
}

// newOrderIDs reads the client order id and the upstream id of a new
// order's journal record body, written from the format the orders
// package documents (orders/codec.go), not with its decoder: a binary
// body is a version byte (1), then Account, ClOrdID, Symbol, Side, Type,
// Price, Qty, Upstream, Source (kind, session), Time (seconds,
// nanoseconds) and UID; a body of an older journal is JSON.
func newOrderIDs(body []byte) (clOrdID, uid string, err error) {
	if len(body) > 0 && body[0] == '{' {
		var rec struct {
			ClOrdID string `json:"c"`
			UID     string `json:"i"`
		}
		err := json.Unmarshal(body, &rec)
		return rec.ClOrdID, rec.UID, err
	}
	if len(body) == 0 || body[0] != 1 {
		return "", "", fmt.Errorf("new order body: unknown form %q", body)
	}
	b := body[1:]
	str := func() string {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			err = fmt.Errorf("new order body: bad string in %q", body)
			b = nil
			return ""
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s
	}
	skipVarint := func() {
		if _, k := binary.Uvarint(b); k > 0 {
			b = b[k:]
		} else {
			err, b = fmt.Errorf("new order body: bad number in %q", body), nil
		}
	}
	str() // Account
	clOrdID = str()
	str() // Symbol
	if len(b) < 2 {
		return "", "", fmt.Errorf("new order body: truncated %q", body)
	}
	b = b[2:]    // Side, Type
	skipVarint() // Price
	skipVarint() // Qty
	str()        // Upstream
	str()        // Source kind
	str()        // Source session
	skipVarint() // Time: seconds
	skipVarint() // Time: nanoseconds
	uid = str()
	if err == nil && len(b) != 0 {
		err = fmt.Errorf("new order body: %d bytes after it in %q", len(b), body)
	}
	return clOrdID, uid, err
}

// checkExactlyOnce checks the promises for the orders ids. Each order the
// journal holds (every acknowledged one, and maybe some whose
// acknowledgement never reached the client) is journaled once and reached
// the venue at most once as a fresh NewOrderSingle (an order in flight on
// a line that failed first arrives as a PossDup resend; those are counted
// apart, and the venue answers a PossDup copy of an order it has with its
// status), so it was entered there once; it rests there at most once (the
// simulator's flow may trade it) and was heard "new" at most once. An
// order the client heard accepted is in the journal. A refusal is an error
// unless its code is in allowed (and then the order must not be in the
// journal). It waits until every journaled order reached the venue.
func checkExactlyOnce(t *testing.T, v *venue, ids []string, allowed []string, traders ...*trader) {
	t.Helper()
	uids, count := journaled(t, v.cfg)
	checkExactlyOnceIn(t, v, uids, count, ids, allowed, traders...)
}

// checkExactlyOnceIn is checkExactlyOnce with the journal's new orders
// given (journaledIn).
func checkExactlyOnceIn(t *testing.T, v *venue, uids map[string]string, count map[string]int, ids []string, allowed []string, traders ...*trader) {
	t.Helper()
	checkExactlyOnceDoubt(t, v, uids, count, ids, allowed, nil, traders...)
}

// checkExactlyOnceDoubt is checkExactlyOnceIn where a refusal whose code
// is in inDoubt is allowed too, and its order may be in the journal: the
// client was told the outcome is unknown (orders.in_doubt: a deposed
// leader had the record in flight) and the next leader's log decided it.
// Such an order, if journaled, is held to every other promise (once in
// the journal, once at the venue); it must not have been heard accepted.
func checkExactlyOnceDoubt(t *testing.T, v *venue, uids map[string]string, count map[string]int, ids []string, allowed, inDoubt []string, traders ...*trader) {
	t.Helper()
	heard, news, refused := checkHeard(t, uids, ids, allowed, inDoubt, traders...)
	resting := func() map[string]int {
		r := map[string]int{}
		bids, _ := v.sim.Orders("601318.SH")
		for _, o := range bids {
			r[o.Tag]++
		}
		return r
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		missing := 0
		for _, id := range ids {
			if uid, ok := uids[id]; ok {
				if fresh, dup := v.fix.Seen(uid); fresh+dup == 0 {
					missing++
				}
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d journaled orders never reached the venue", missing)
		}
		time.Sleep(20 * time.Millisecond) // the venue has no change notification; this polls its count
	}
	r := resting()
	inJournal, asResend, traded := 0, 0, 0
	for _, id := range ids {
		uid, ok := uids[id]
		if !ok {
			continue
		}
		inJournal++
		fresh, dup := v.fix.Seen(uid)
		if fresh == 0 {
			asResend++
		}
		if r[uid] == 0 {
			traded++ // the simulator's flow may sell down to the orders' price
		}
		if count[id] != 1 || fresh > 1 || fresh+dup == 0 || r[uid] > 1 || news[id] > 1 {
			t.Errorf("%s (%s): journaled %d, reached the venue fresh %d (+%d PossDup resends), resting %d, heard new %d",
				id, uid, count[id], fresh, dup, r[uid], news[id])
		}
	}
	if traded > 0 {
		t.Logf("%d orders traded at the venue meanwhile", traded)
	}
	t.Logf("%d orders sent, %d acknowledged to the client, %d journaled, %d refused (%v): each journaled order reached the venue exactly once (%d first as a PossDup resend)",
		len(ids), len(heard), inJournal, refused, append(slices.Clone(allowed), inDoubt...), asResend)
}

// checkHeard checks what the traders heard against the journal's new
// orders (uids, by client order id) and returns the orders heard accepted,
// how many times each was heard "new", and how many were refused. No order
// is accepted twice; every order of ids heard accepted is in the journal;
// a refusal's code is in allowed (and its order is neither journaled nor
// heard accepted) or in inDoubt (see checkExactlyOnceDoubt).
func checkHeard(t *testing.T, uids map[string]string, ids []string, allowed, inDoubt []string, traders ...*trader) (heard map[string]bool, news map[string]int, refusals int) {
	t.Helper()
	heard, news = map[string]bool{}, map[string]int{}
	refused := map[string]string{}
	for _, tr := range traders {
		tr.mu.Lock()
		for id, n := range tr.accepted {
			if n > 0 {
				heard[id] = true
			}
			if n > 1 {
				t.Errorf("%s: accepted %d times", id, n)
			}
		}
		for id, n := range tr.news {
			news[id] += n
		}
		for id, e := range tr.errors {
			refused[id] = e
		}
		tr.mu.Unlock()
	}
	doubted := 0
	for id, e := range refused {
		ok, doubt := false, false
		for _, code := range allowed {
			ok = ok || strings.HasPrefix(e, code+":")
		}
		for _, code := range inDoubt {
			doubt = doubt || strings.HasPrefix(e, code+":")
		}
		if doubt && !heard[id] {
			if uids[id] != "" {
				doubted++
			}
			continue
		}
		if !ok || uids[id] != "" || heard[id] {
			t.Errorf("%s refused (%s); journaled %v, heard accepted %v", id, e, uids[id] != "", heard[id])
		}
	}
	if doubted > 0 {
		t.Logf("%d orders refused in doubt (%v) were journaled by the next leader", doubted, inDoubt)
	}
	for _, id := range ids {
		if _, ok := uids[id]; !ok && heard[id] {
			t.Errorf("%s: heard accepted but not in the journal", id)
		}
	}
	return heard, news, len(refused)
}

// metricValue scrapes the gateway's /metrics and returns the value of one
// series, given as it is printed (`name{label="v"}`), or -1.
func metricValue(t *testing.T, rg *runningGateway, series string) float64 {
	t.Helper()
	_, b := authGet(t, rg.base+"/metrics", rg.ops)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return -1
}

// statusReqOf is the OrderStatusRequest of an order.
func statusReqOf(o orders.Order) fix.StatusRequest {
	side := fix.Buy
	if o.Side == risk.Sell {
		side = fix.Sell
	}
	return fix.StatusRequest{ClOrdID: o.UpstreamID, Symbol: o.Symbol, Side: side}
}
