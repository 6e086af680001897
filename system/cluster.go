package system

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/atrest"
	"sgw/cluster"
	"sgw/configs"
	"sgw/fix"
	"sgw/fix/broker"
	"sgw/journal"
	"sgw/netsec"
	"sgw/orders"
	"sgw/risk"
)

// clustered is a gateway's part in a Raft cluster (configs.Cluster): the
// node, the replicated state (the order journal's records and the upstream
// sessions' stores), and order entry by leadership term. While this node
// leads, a term runs: an order manager over the replicated journal
// (replayed first, as after a restart) and the upstream FIX sessions over
// the replicated stores, fenced by the term's epoch. When leadership ends
// the term ends at once (nothing more reaches the venue from this node)
// and order entry refuses with orders.not_leader until the next term.
//
// run is called once, by one goroutine, which is the only one to start and
// end terms. The entry (leaderEntry) is safe from any goroutine.
type clustered struct {
	node   *cluster.Node
	state  *cluster.State
	stores *cluster.SessionStores
	entry  *leaderEntry
	peers  map[string]string
	http   map[string]*url.URL // members' HTTP listeners, for forwarding; missing: not forwarded to
	terms  termConfig
	log    *slog.Logger
	// started is set once the node's Start returned: the Node's methods
	// may be called only then (Role is called by HTTP handlers from the
	// moment the server listens).
	started atomic.Bool
	// publish, when set (before run), runs during each term, under its
	// epoch, until the term's context ends: the ingest's market-data
	// publisher (mdbus.Publisher.RunEpoch). Only the leader publishes.
	publish func(ctx context.Context, epoch uint64) error
	// onTermEnd, when set (before run), is called after a term ended:
	// the server closes its trading clients, which connect again and are
	// forwarded to the new leader.
	onTermEnd func()
	// brokers, when set (before run, by serveBrokers), serves the broker
	// FIX sessions during each term.
	brokers *brokerTerms
	// termFail is the running term's failure report (term.fail), nil
	// between terms; the session stores' failures go there (storeFailed).
	termFail atomic.Pointer[func(error)]
	// stopping is set when the gateway starts to stop (drain): the other
	// members may be stopping too, and a store that loses its quorum then
	// is expected (storeFailed); a leadership won from then on is handed
	// over at once, no term started (run).
	stopping atomic.Bool
	// stepDown carries drain's request to run: end the running term and
	// hand leadership over, then close the channel sent.
	stepDown chan chan struct{}
	// transfer, when set (before run), hands leadership over in place of
	// the node's TransferLeadership after a term failed or could not
	// start: tests make a handover fail with it.
	transfer func() error
	// fence, when set (before run), wraps each term's fencing check:
	// tests make a leader's check fail while it goes on leading.
	fence func(check func() error) func() error
	// standby is the run loop's standby while it has one (metrics, tests).
	standby atomic.Pointer[standby]
}

// brokerTerms is what each term's broker acceptor is built from.
type brokerTerms struct {
	cfg   broker.Config
	reg   *prometheus.Registry
	log   *slog.Logger
	front *brokerFront
}

// serveBrokers sets the node up to serve the broker sessions of bc while
// it leads: it validates bc and binds the brokers' listener (the front),
// which relays to the leader while this node follows. The sessions' stores
// are replicated (sealed with the cluster's keys, when it has them).
func (c *clustered) serveBrokers(bc broker.Config, cc *configs.Cluster, reg *prometheus.Registry, log *slog.Logger) error {
	bc.Keys, bc.Stores = nil, c.stores
	if err := bc.Check(); err != nil {
		return err
	}
	members := map[string]string{}
	var hosts []string
	for _, m := range cc.Nodes {
		if m.Brokers != "" {
			members[m.ID] = m.Brokers
			host, _, _ := net.SplitHostPort(m.Brokers) // validated by configs
			hosts = append(hosts, host)
		}
	}
	proxy := trustHosts(bc.ProxyProtocol, hosts)
	full, err := bc.WithDefaults()
	if err != nil {
		return err
	}
	allowed, err := bc.AllowedAddrs()
	if err != nil {
		return err
	}
	refusals, err := broker.NewRefusals(reg, log)
	if err != nil {
		return err
	}
	front, err := newBrokerFront(brokerFrontConfig{
		addr: full.Listen, proxy: proxy, members: members, self: cc.NodeID,
		leader: func() string {
			if !c.started.Load() {
				return ""
			}
			id, _ := c.node.Leader()
			return id
		},
		allowed:    allowed,
		maxConns:   full.MaxConnections,
		maxWaiting: full.MaxWaitingConnections,
		refusals:   refusals,
		log:        log,
	})
	if err != nil {
		return err
	}
	// The front reads the PROXY headers; the acceptor sees the brokers'
	// own addresses.
	bc.ProxyProtocol = nil
	c.brokers = &brokerTerms{cfg: bc, reg: reg, log: log, front: front}
	return nil
}

// startBrokers starts the broker acceptor of term t, whose manager is
// open; it ends with the term.
func (c *clustered) startBrokers(ctx context.Context, t *term, fail func(error)) {
	b := c.brokers
	bc := b.cfg
	ln := b.front.open()
	bc.Listener, bc.Term, bc.Restate = ln, t.epoch, true
	a, err := broker.New(bc, t.m, b.reg, b.log)
	if err != nil {
		ln.Close()
		fail(fmt.Errorf("system: broker acceptor: %w", err))
		return
	}
	t.wg.Go(func() { fail(a.Run(ctx)) })
}

// termConfig is what each term builds its manager and sessions from.
type termConfig struct {
	orders orders.Config
	risk   risk.Config
	ups    []fix.UpstreamConfig
	reg    *prometheus.Registry
	drain  time.Duration
	// onReplay, when set, hears how many journal records a term's (or the
	// gateway's) Recover replayed, and whether a standby had applied the
	// others (warm).
	onReplay func(records int, warm bool)
}

// term is one leadership term's order entry.
type term struct {
	epoch  uint64
	m      *orders.Manager
	j      *termJournal // m's journal
	cancel context.CancelFunc
	wg     sync.WaitGroup
	failed chan error // the first component error, buffered
}

// newClustered opens the node (binding its Raft address, or taking raftLn
// when it is not nil) and the replicated state, sealed with keys when they
// are set. cc.DataDir "" is refused here; the demo fills it.
func newClustered(cc *configs.Cluster, raftLn net.Listener, terms termConfig, keys *atrest.KeyRing, log *slog.Logger) (*clustered, error) {
	ncfg := cc.Node()
	ncfg.Listener = raftLn
	if ncfg.DataDir == "" {
		return nil, fmt.Errorf("%w: cluster.data_dir is required", configs.ErrConfig)
	}
	// cluster.New creates DataDir when missing and fsyncs it into its
	// parent, which os.MkdirAll would not.
	state := cluster.NewSealedState(keys)
	nlog := log.With("node", ncfg.NodeID)
	state.OnStop(func(err error) {
		nlog.Error("cluster: this node's replica stopped applying the log; it cannot lead, and /readyz fails until it is upgraded or rebuilt", "err", err)
	})
	node, err := cluster.New(ncfg, state)
	if err != nil {
		return nil, err
	}
	var c *clustered
	stores, err := cluster.NewSessionStores(cluster.SessionStoresConfig{Node: node, State: state,
		OnFail: func(session string, err error) { c.storeFailed(session, err) }})
	if err != nil {
		node.Close()
		return nil, err
	}
	c = &clustered{node: node, state: state, stores: stores, peers: ncfg.Peers, http: map[string]*url.URL{}, terms: terms,
		stepDown: make(chan chan struct{}), log: nlog}
	for _, m := range cc.Nodes {
		if m.HTTP != "" {
			u, err := url.Parse(m.HTTP) // validated by configs
			if err != nil {
				node.Close()
				return nil, fmt.Errorf("%w: cluster.nodes %s http: %w", configs.ErrConfig, m.ID, err)
			}
			c.http[m.ID] = u
		}
	}
	c.entry = newLeaderEntry(func() string {
		if !c.started.Load() {
			return ""
		}
		id, _ := node.Leader()
		return id
	})
	return c, nil
}

// collector is the node's metrics (cluster.Collector), collected once the
// node started.
func (c *clustered) collector() prometheus.Collector {
	lag := prometheus.NewDesc("gateway_cluster_standby_lag_records",
		"Journal records applied on this node that its standby order manager has not applied yet: about what a takeover here would replay "+
			"(-1 while this node leads, or its standby failed: a takeover replays the whole journal).", nil, prometheus.Labels{"node": c.node.ID()})
	return startedCollector{inner: cluster.NewCollector(c.node).WithState(c.state), started: &c.started, c: c, lag: lag}
}

type startedCollector struct {
	inner   prometheus.Collector
	started *atomic.Bool
	c       *clustered
	lag     *prometheus.Desc // gateway_cluster_standby_lag_records
}

func (s startedCollector) Describe(ch chan<- *prometheus.Desc) {
	s.inner.Describe(ch)
	ch <- s.lag
}

func (s startedCollector) Collect(ch chan<- prometheus.Metric) {
	if !s.started.Load() {
		return
	}
	s.inner.Collect(ch)
	lag := -1.0
	if sb := s.c.standby.Load(); sb != nil && !sb.failed.Load() {
		n := uint64(s.c.state.JournalLen())
		lag = float64(n - min(sb.applied.Load(), n))
	}
	ch <- prometheus.MustNewConstMetric(s.lag, prometheus.GaugeValue, lag)
}

// OrderEntryAt implements gateway.Forwarder: here while this node leads
// (a term runs), the leader's HTTP listener while this node follows a
// known leader whose address is configured (without one: here, where
// orders are refused naming the leader), else nowhere (an election is
// running: trading clients are asked to connect again).
func (c *clustered) OrderEntryAt() (*url.URL, bool) {
	if !c.started.Load() {
		return nil, false
	}
	if c.entry.current() != nil {
		return nil, true
	}
	id, _ := c.node.Leader()
	if id == "" || id == c.node.ID() {
		return nil, false
	}
	if u := c.http[id]; u != nil {
		return u, false
	}
	return nil, true // the leader's address is not configured: refuse here, naming it (orders.not_leader)
}

// Role implements gateway.Cluster.
func (c *clustered) Role() (role, leader string, quorum bool) {
	if !c.started.Load() {
		return "starting", "", false
	}
	st := c.node.Status()
	return st.Role, st.LeaderID, st.Quorum(c.node.HeartbeatTimeout())
}

// Fault implements gateway.Cluster: the error that stopped this node's
// replica (cluster.State.Err).
func (c *clustered) Fault() error { return c.state.Err() }

// run starts the node and follows its leadership until ctx ends; then the
// running term ends, if drain has not ended it already, and the node
// hands its leadership over and closes. From drain on (stopping) it starts
// no term: a leadership won then is handed over at once.
func (c *clustered) run(ctx context.Context) error {
	if err := c.node.Start(c.peers); err != nil {
		c.node.Close()
		return err
	}
	c.started.Store(true)
	c.log.Info("cluster node started", "raft", c.node.Addr())
	var t *term
	// sb is the warm order manager kept while no term runs here; a term
	// starting takes it over.
	var sb *standby
	var failed <-chan error
	// retry is armed when a handover failed while this node still leads
	// with no term: order entry would stay refused here until leadership
	// moved on its own, so the handover is tried again.
	var retry <-chan time.Time
	transfer := c.node.TransferLeadership
	if c.transfer != nil {
		transfer = c.transfer
	}
	handOver := func(why string) {
		retry = nil
		if !c.node.IsLeader() {
			return // leadership has moved already (a term's fence fails when it does)
		}
		if err := transfer(); err != nil {
			c.log.Warn("cluster: leadership not handed over; trying again", "reason", why, "err", err, "in", handoverRetry)
			retry = time.After(handoverRetry)
		}
	}
	defer func() {
		if sb != nil {
			c.standby.Store(nil)
			sb.close()
		}
		if t != nil {
			c.endTerm(t, "stopping")
			// A planned stop hands over at once instead of waiting for
			// the election timeout.
			if err := c.node.TransferLeadership(); err != nil {
				c.log.Warn("cluster: leadership not handed over", "err", err)
			}
		}
		if err := c.node.Close(); err != nil {
			c.log.Warn("cluster: close", "err", err)
		}
	}()
	for {
		if t == nil && sb == nil {
			sb = c.startStandby()
			c.standby.Store(sb)
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-failed:
			// A component of the term failed (a session could not be set
			// up): end it and let another node lead.
			c.log.Error("cluster: the leadership term failed; handing over", "epoch", t.epoch, "err", err)
			c.endTerm(t, "failed")
			t, failed = nil, nil
			handOver("term failed")
		case <-retry:
			retry = nil
			if t == nil && c.node.IsLeader() {
				handOver("retry")
			}
		case done := <-c.stepDown:
			// The gateway stops and its order entry has drained: the
			// next leader takes over now, while this node still closes
			// its clients (they connect again and are forwarded there).
			if t != nil {
				c.endTerm(t, "stopping")
				t, failed = nil, nil
			}
			handOver("stopping")
			close(done)
		case l := <-c.node.LeaderCh():
			if t != nil && (!l.IsLeader || l.Epoch != t.epoch) {
				c.endTerm(t, "leadership lost")
				t, failed = nil, nil
			}
			if l.IsLeader && t == nil && c.stopping.Load() {
				handOver("stopping") // a node that stops takes no term
				continue
			}
			if l.IsLeader && t == nil {
				c.standby.Store(nil)
				nt, err := c.startTerm(l.Epoch, sb)
				sb = nil
				if err != nil {
					c.log.Error("cluster: cannot take the lead; handing over", "epoch", l.Epoch, "err", err)
					handOver("term could not start")
					continue
				}
				t, failed, retry = nt, nt.failed, nil
			}
		}
	}
}

// handoverRetry is how long a node that leads with no term (its term
// failed or could not start, and the handover failed) waits before
// handing over again. A term is never restarted in the same epoch: its
// session stores would read as the same owner's, and the new term would
// trust sequence numbers the failed one may have used without replicating
// them.
const handoverRetry = 2 * time.Second

// startTerm builds and starts order entry for a leadership won in epoch:
// the manager replays the replicated journal, the sessions open the
// replicated stores (a takeover reads as a restart: the recovery rule
// resolves every open order), then clients are served.
//
// sb, the node's standby (nil if none), is the term's to use or close:
// its manager, already caught up with most of the journal, becomes the
// term's.
func (c *clustered) startTerm(epoch uint64, sb *standby) (*term, error) {
	start := time.Now()
	var m *orders.Manager
	var tj *termJournal
	if sb != nil {
		m, tj = sb.take(c)
	}
	warm := m != nil
	if err := c.state.BeginTerm(c.node); err != nil {
		if m != nil {
			m.Close()
		}
		return nil, err
	}
	if m == nil {
		var err error
		if m, tj, err = c.newManager(); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &term{epoch: epoch, m: m, j: tj, cancel: cancel, failed: make(chan error, 1)}
	fail := func(err error) {
		if err != nil && ctx.Err() == nil {
			select {
			case t.failed <- err:
			default:
			}
		}
	}
	// A failed fence ends the term. The Fencer stays failed for the rest
	// of its epoch, so a leader whose confirmation failed (a quorum slow
	// to answer for longer than ApplyTimeout) but which goes on leading
	// would otherwise keep order entry open with sessions that may never
	// send again: its orders accepted and never reaching the venue.
	// Ending the term hands leadership over; the next leadership, here
	// or elsewhere, has a new epoch and a new Fencer.
	check := c.node.Fencer(epoch).Check
	if c.fence != nil {
		check = c.fence(check)
	}
	fence := func() error {
		err := check()
		if err != nil {
			fail(fmt.Errorf("system: the term's fencing check failed: %w", err))
		}
		return err
	}
	var ups []*fix.Upstream
	for _, uc := range c.terms.ups {
		uc.Sessions, uc.Fence, uc.Keys = c.stores, fence, nil
		u, err := fix.NewUpstream(uc, m, c.terms.reg, c.log.With("component", "fix"))
		if err != nil {
			cancel()
			m.Close()
			return nil, err
		}
		ups = append(ups, u)
		m.AddUpstream(uc.Name, u)
	}
	// A record whose outcome is unknown (an apply timeout under load) leaves
	// the manager refusing every order while this node may go on leading:
	// the term ends and leadership is handed over instead. So does a
	// session store that can no longer replicate (storeFailed). Set before
	// Recover, which journals the day the term starts on.
	tj.onFail = fail
	n, err := m.Recover()
	if err != nil {
		cancel()
		tj.close() // the manager's dispatcher runs until Close: the completions reach it
		m.Close()
		return nil, err
	}
	if c.terms.onReplay != nil {
		c.terms.onReplay(n, warm)
	}
	c.termFail.Store(&fail)
	for _, u := range ups {
		t.wg.Go(func() { fail(u.Run(ctx)) })
	}
	t.wg.Go(func() { fail(m.Run(ctx)) })
	if c.publish != nil {
		t.wg.Go(func() { fail(c.publish(ctx, epoch)) })
	}
	c.entry.set(m)
	if c.brokers != nil {
		c.startBrokers(ctx, t, fail)
	}
	c.log.Info("cluster: leading; order entry open", "epoch", epoch, "records_replayed", n, "warm", warm, "took", time.Since(start))
	return t, nil
}

// termJournal is the replicated journal as one term's order manager sees
// it. A record whose outcome is unknown (leadership or quorum lost with it
// in flight, a timeout, the node closing) is reported in doubt
// (orders.ErrInDoubt), not as failed: the next leader's log decides; one
// refused because the node no longer leads is orders.ErrNotLeader (nothing
// was appended: the client sends it again, and no journal alert). It
// counts the records in flight, so that endTerm closes the manager only
// once every completion was delivered: Manager.Close requires that none
// comes after it (a deposed leader's records complete, failed, after its
// term was told to end).
//
// AppendAsync and Replay may be called from any goroutine; close is
// called once, by endTerm. Every record in flight completes within the
// node's ApplyTimeout (or when the node closes), which bounds close.
type termJournal struct {
	replicatedJournal
	// onFail, when set before the term serves, hears of every record that
	// failed other than for leadership lost (ErrNotLeader: the term is
	// ending anyway): the manager then accepts nothing more, so the term
	// must end and another leader's, whose recovery resolves the record,
	// take over. It is called from the completion goroutine and must not
	// block.
	onFail   func(error)
	mu       sync.Mutex // orders inflight.Add with closed
	closed   bool
	inflight sync.WaitGroup
}

// AppendAsync implements orders.Journal. After close it refuses every
// record at once.
func (j *termJournal) AppendAsync(typ byte, body []byte, done func(seq uint64, err error)) error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return fmt.Errorf("system: the leadership term ended: %w: %w", orders.ErrNotLeader, cluster.ErrNotLeader)
	}
	j.inflight.Add(1)
	j.mu.Unlock()
	err := j.replicatedJournal.AppendAsync(typ, body, func(seq uint64, err error) {
		defer j.inflight.Done()
		switch {
		case err == nil:
		case errors.Is(err, cluster.ErrNoQuorum) || errors.Is(err, cluster.ErrTimeout) || errors.Is(err, cluster.ErrClosed):
			err = fmt.Errorf("%w: %w", orders.ErrInDoubt, err)
		case errors.Is(err, cluster.ErrNotLeader):
			err = fmt.Errorf("%w: %w", orders.ErrNotLeader, err) // nothing was appended
		}
		if err != nil && !errors.Is(err, orders.ErrNotLeader) && j.onFail != nil {
			j.onFail(fmt.Errorf("system: a journal record failed; order entry cannot go on in this term: %w", err))
		}
		done(seq, err)
	})
	if err != nil {
		j.inflight.Done() // refused at once: done is never called
		if errors.Is(err, cluster.ErrNotLeader) {
			err = fmt.Errorf("%w: %w", orders.ErrNotLeader, err)
		}
	}
	return err
}

// replicatedJournal is what a term's journal wraps (*cluster.Journal):
// an orders.Journal that also replays from a seq on, which orders uses
// for a standby's catch-up and a warm term's Recover.
type replicatedJournal interface {
	orders.Journal
	ReplayAfter(seq uint64, fn func(journal.Record) error) error
}

// close refuses further records and waits until every record in flight
// has completed (its done returned).
func (j *termJournal) close() {
	j.mu.Lock()
	j.closed = true
	j.mu.Unlock()
	j.inflight.Wait()
}

// endTerm stops a term's order entry: clients are refused from now on,
// the sessions end (a deposed leader's fence keeps even their Logout off
// the wire) and the manager closes.
func (c *clustered) endTerm(t *term, why string) {
	c.termFail.Store(nil)
	c.entry.set(nil)
	t.cancel()
	t.wg.Wait()
	t.j.close() // the manager's dispatcher runs until Close: the completions reach it
	t.m.Close()
	if c.onTermEnd != nil {
		c.onTermEnd()
	}
	c.log.Info("cluster: leadership term ended; order entry refused here", "epoch", t.epoch, "reason", why)
}

// storeFailed hears that a session store of the running term can no
// longer replicate (cluster.SessionStoresConfig.OnFail). The store then
// refuses every mutation, so its FIX session can send nothing, not even a
// heartbeat, and the orders routed to it would wait for ever: the term
// ends and leadership is handed over, and the next leader's recovery
// resolves what the store lost (its reservation bounds what was sent).
// A store refused because this node no longer leads is ignored: the term
// is ending anyway; one that fails while the gateway stops (the other
// members may be stopping too) is a warning, not an error. Called on the
// Node's completer goroutine; it does not block.
func (c *clustered) storeFailed(session string, err error) {
	if errors.Is(err, cluster.ErrNotLeader) {
		return
	}
	if c.stopping.Load() {
		c.log.Warn("cluster: a FIX session's replicated store failed while this node stops", "fix_session", session, "err", err)
	} else {
		c.log.Error("cluster: a FIX session's replicated store failed", "fix_session", session, "err", err)
	}
	if f := c.termFail.Load(); f != nil {
		(*f)(fmt.Errorf("system: the replicated store of FIX session %s failed; it can send nothing more in this term: %w", session, err))
	}
}

// drain, at shutdown, stops new orders on the running term and waits (up
// to ctx) for what it accepted to be sent and answered; then it has run
// end the term and hand leadership over, and waits (up to ctx) for that,
// so that another node leads while this one still closes its clients.
// A drain that did not finish in time leaves the term to end when run
// stops. From the call on, run starts no term.
func (c *clustered) drain(ctx context.Context) error {
	c.stopping.Store(true)
	m := c.entry.current()
	if m == nil {
		return nil
	}
	if err := m.Drain(ctx); err != nil {
		return err
	}
	done := make(chan struct{})
	select {
	case c.stepDown <- done:
	case <-ctx.Done():
		return fmt.Errorf("system: hand leadership over: %w", ctx.Err())
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("system: hand leadership over: %w", ctx.Err())
	}
}

// trustMembers adds the cluster's members (the hosts of their HTTP
// addresses) to the HTTP listener's PROXY protocol peers: a follower
// relays a trading client's connection with a PROXY v2 header naming the
// client (gateway.Forwarder). Without a proxy_protocol section the members
// may send one and need not (Optional); with one, the operator's choice
// stands and the members are added to its load balancers.
func trustMembers(pc *netsec.ProxyConfig, members map[string]*url.URL) *netsec.ProxyConfig {
	var hosts []string
	for _, u := range members {
		hosts = append(hosts, u.Hostname())
	}
	return trustHosts(pc, hosts)
}

// trustHosts adds hosts (the members' IPs, or names, resolved once here:
// an https member is normally named as its certificate is) to pc's
// trusted peers, as trustMembers does. A name that does not resolve is
// skipped: that member's relays are refused until the next start.
func trustHosts(pc *netsec.ProxyConfig, names []string) *netsec.ProxyConfig {
	var hosts []string
	for _, h := range names {
		if ip := net.ParseIP(h); ip != nil {
			hosts = append(hosts, ip.String())
			continue
		}
		ips, _ := net.LookupIP(h)
		for _, ip := range ips {
			hosts = append(hosts, ip.String())
		}
	}
	slices.Sort(hosts) // a stable configuration, whatever the map's order
	hosts = slices.Compact(hosts)
	if len(hosts) == 0 {
		return pc
	}
	out := netsec.ProxyConfig{Optional: true}
	if pc != nil {
		out = *pc
		out.Trusted = append([]string(nil), pc.Trusted...)
	}
	out.Trusted = append(out.Trusted, hosts...)
	return &out
}

// Leading reports whether this gateway is a cluster node whose order
// entry is open: it leads, and its term has started. False for a single
// gateway. Safe from any goroutine.
func (g *Gateway) Leading() bool { return g.clu != nil && g.clu.entry.current() != nil }
