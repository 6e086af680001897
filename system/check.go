package system

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"sgw/auth"
	"sgw/configs"
	"sgw/feed"
	"sgw/orderbook"
	"sgw/orders"
	"sgw/sim"
	"sgw/sim/fixsim"
)

// Report describes a configuration that Check found valid: what the
// command would run.
type Report struct {
	// Command is the command the configuration is for: "run", or "demo"
	// when it names the in-process simulator.
	Command string
	// Instruments, Feeds and Sources count the reference data, the feeds
	// and their sources (primary and backup).
	Instruments, Feeds, Sources int
	// Upstreams and Lines count the upstream FIX sessions and their
	// carrier lines; Accounts the risk section's accounts. All zero
	// without order entry.
	Upstreams, Lines, Accounts int
	// BrokerSessions counts the FIX broker sessions; zero without a
	// brokers section.
	BrokerSessions int
	// TokenKeys counts the token keys of the auth section.
	TokenKeys int
	// TLS counts the TLS configurations whose files were read: the HTTP
	// and broker listeners, the feed sources, the upstream lines, the
	// market bus and the simulator's listeners.
	TLS int
	// Sealed reports storage.encryption: the journal and stores sealed.
	Sealed bool
	// Cluster is "node ID of N" for a cluster node, "" otherwise.
	Cluster string
	// MarketBus is the market_bus role, "" without one.
	MarketBus string
	// Sim reports that the sim section (and fix_sim, if any) was checked.
	Sim bool
}

// String is the report on one line.
func (r Report) String() string {
	parts := []string{r.Command, plural(r.Instruments, "instrument"),
		fmt.Sprintf("%s (%s)", plural(r.Feeds, "feed"), plural(r.Sources, "source"))}
	if r.Upstreams > 0 {
		parts = append(parts, fmt.Sprintf("orders: %s over %s, %s", plural(r.Upstreams, "upstream"), plural(r.Lines, "line"), plural(r.Accounts, "account")))
	}
	if r.BrokerSessions > 0 {
		parts = append(parts, plural(r.BrokerSessions, "broker session"))
	}
	if r.TokenKeys > 0 {
		parts = append(parts, plural(r.TokenKeys, "token key"))
	}
	parts = append(parts, fmt.Sprintf("%s read", plural(r.TLS, "TLS configuration")))
	if r.Sealed {
		parts = append(parts, "storage sealed")
	}
	if r.Cluster != "" {
		parts = append(parts, "cluster "+r.Cluster)
	}
	if r.MarketBus != "" {
		parts = append(parts, "market bus "+r.MarketBus)
	}
	if r.Sim {
		parts = append(parts, "simulator")
	}
	return strings.Join(parts, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// CheckError lists the sections Check found invalid, one error each,
// in the order of the file's schema. errors.Is and errors.As see each.
type CheckError struct {
	Problems []error
}

// Error is the one problem, or their count and each on a line of its own.
func (e *CheckError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap returns the problems.
func (e *CheckError) Unwrap() []error { return e.Problems }

// Check validates cfg, as configs.Load returned it, completely and as the
// command that runs it would build it, without starting anything: it
// opens no socket and writes no file. It runs every component's own
// validation with its defaults (the books, each feed, the HTTP listener,
// the risk checks, order entry, each upstream, the broker acceptor, the
// cluster node, the simulator) and reads the files the configuration
// names, as the components read them at start: TLS certificates, keys
// and CA bundles, token keys, broker password files, the market bus's
// credentials or NKey seed file and the storage key file (whose
// permissions it checks).
//
// A configuration whose feeds or upstream lines name the in-process
// simulator (sim:primary, sim:fix0, ...) is checked as `demo` runs it,
// with the simulator's addresses and the demo's temporary directories;
// any other as `run` does, and its sim and fix_sim sections, if set, as
// `sim` does.
//
// What only the running system can tell is not checked: that addresses
// can be bound or reached, that the state directories (orders.journal's
// directory, store_dir, cluster.data_dir) are writable, and that existing
// journals and stores match storage.encryption.
//
// The error, a *CheckError, has one problem per invalid section, each
// starting with the section's YAML path: "feeds[1] (szse): ...",
// "orders.upstreams[0] (core): ...". Check does not modify cfg.
func Check(cfg *configs.File) (Report, error) {
	c := &checker{rep: Report{Command: "run", Instruments: len(cfg.Instruments)}}
	f := c.wired(cfg)
	c.books(f)
	c.feeds(f)
	if f.Auth != nil {
		_, err := auth.New(*f.Auth)
		c.add("auth", err)
		c.rep.TokenKeys = len(f.Auth.Keys)
		if f.Auth.Secret != "" || f.Auth.SecretFile != "" {
			c.rep.TokenKeys++
		}
	}
	c.add("gateway", f.Gateway.Check(publishedDepth(f)))
	if f.Gateway.TLS != nil {
		c.rep.TLS++
	}
	if f.Storage != nil && f.Storage.Encryption != nil {
		_, err := f.StorageKeys()
		c.add("storage.encryption", err)
		c.rep.Sealed = true
	}
	c.orders(f)
	if f.Brokers != nil {
		bc := *f.Brokers
		if f.Cluster != nil && bc.StoreDir == "" {
			// A cluster node keeps the sessions' stores in the Raft
			// log (clustered.serveBrokers): store_dir is unused.
			bc.StoreDir = filepath.Join(f.Cluster.DataDir, "fix-brokers")
		}
		c.add("brokers", bc.Check())
		c.brokerAccounts(f)
		c.rep.BrokerSessions = len(f.Brokers.Sessions)
		if f.Brokers.TLS != nil {
			c.rep.TLS++
		}
	}
	c.cluster(f)
	if mb := f.MarketBus; mb != nil {
		c.rep.MarketBus = mb.Role // configs validated the section
		_, err := busOptions(mb, slog.New(slog.DiscardHandler))
		c.add("market_bus", err)
		if mb.TLS != nil {
			c.rep.TLS++
		}
	}
	c.sim(f)
	if len(c.problems) > 0 {
		return Report{}, &CheckError{Problems: c.problems}
	}
	return c.rep, nil
}

// checker collects the problems of one Check.
type checker struct {
	rep      Report
	problems []error
}

// add records err, if any, as a problem of the section at path. An error
// that already starts with the path (the gateway and auth packages name
// their own section) is kept as it is.
func (c *checker) add(path string, err error) {
	switch {
	case err == nil:
	case strings.HasPrefix(err.Error(), path+":"):
		c.problems = append(c.problems, err)
	default:
		c.problems = append(c.problems, fmt.Errorf("%s: %w", path, err))
	}
}

// publishedDepth is the depth the gateway's books publish: books.max_depth,
// or an edge's mirror's.
func publishedDepth(f *configs.File) int {
	if f.Books.MaxDepth == 0 || (f.MarketBus != nil && f.MarketBus.Role == configs.RoleEdge) {
		return orderbook.DefaultMaxDepth
	}
	return f.Books.MaxDepth
}

func (c *checker) books(f *configs.File) {
	c.add("books", f.Engine().Check())
}

func (c *checker) feeds(f *configs.File) {
	for i, fc := range f.Feeds {
		c.add(fmt.Sprintf("feeds[%d] (%s)", i, fc.Name), fc.Check())
		c.rep.Feeds++
		for _, src := range []feed.SourceConfig{fc.Primary, fc.Backup} {
			if src.Addr == "" {
				continue
			}
			c.rep.Sources++
			if src.TLS != nil || src.TLCP != nil {
				c.rep.TLS++
			}
		}
	}
}

// orders checks order entry: the journal, the risk checks, the order
// manager's settings and each upstream session.
func (c *checker) orders(f *configs.File) {
	oc := f.Orders
	if oc == nil {
		return
	}
	if oc.Journal == "" && f.Cluster == nil {
		c.add("orders.journal", errors.New("required: the order journal's file, fsynced before any order leaves (a cluster keeps it in cluster.data_dir instead)"))
	}
	rc := oc.Risk
	if len(rc.Instruments) == 0 {
		rc.Instruments = f.Instruments
	}
	c.add("orders.risk", rc.Check())
	c.rep.Accounts = len(rc.Accounts)
	c.add("orders", orders.Config{IDPrefix: oc.IDPrefix, HoldQueue: oc.HoldQueue, HoldTimeout: oc.HoldTimeout,
		AckTimeout: oc.AckTimeout, StatusTimeout: oc.StatusTimeout, DayEndCheck: oc.DayEndCheck}.Check())
	names, dirs, sessions := map[string]bool{}, map[string]string{}, map[string]string{}
	for i, uc := range oc.Upstreams {
		path := fmt.Sprintf("orders.upstreams[%d] (%s)", i, uc.Name)
		if f.Cluster != nil && uc.StoreDir == "" {
			// A cluster node keeps the session's store in the Raft log.
			uc.StoreDir = filepath.Join(f.Cluster.DataDir, "fix-"+uc.Name)
		}
		c.add(path, uc.Check())
		if names[uc.Name] && uc.Name != "" {
			c.add(path, fmt.Errorf("name %q is used twice: each upstream session has its own name", uc.Name))
		}
		names[uc.Name] = true
		if other, ok := dirs[filepath.Clean(uc.StoreDir)]; ok && uc.StoreDir != "" && f.Cluster == nil {
			c.add(path, fmt.Errorf("store_dir %s is also upstream %s's: each session needs its own (the store is locked by the session that opens it)", uc.StoreDir, other))
		}
		dirs[filepath.Clean(uc.StoreDir)] = uc.Name
		// quickfix knows a session by its identity, process-wide: a second
		// upstream with the same one stops `run` at start ("Duplicate
		// SessionID").
		sid := uc.SessionID()
		if other, ok := sessions[sid]; ok && uc.SenderCompID != "" && uc.TargetCompID != "" {
			c.add(path, fmt.Errorf("FIX session %s is also upstream %s's: each upstream needs its own sender_comp_id and target_comp_id pair", sid, other))
		}
		sessions[sid] = uc.Name
		c.rep.Upstreams++
		c.rep.Lines += len(uc.Lines)
		for _, l := range uc.Lines {
			if l.TLS != nil || l.TLCP != nil {
				c.rep.TLS++
			}
		}
	}
}

// brokerAccounts checks that every account a broker session may trade is
// one of risk's (orders.risk.accounts): `run` starts with one that is not,
// and refuses every order of it (risk.unknown_account).
func (c *checker) brokerAccounts(f *configs.File) {
	if f.Orders == nil {
		return
	}
	known := make(map[string]bool, len(f.Orders.Risk.Accounts))
	for _, a := range f.Orders.Risk.Accounts {
		known[a.ID] = true
	}
	for i, sc := range f.Brokers.Sessions {
		for j, a := range sc.Accounts {
			if !known[a] {
				c.add(fmt.Sprintf("brokers.sessions[%d] (%s)", i, sc.TargetCompID),
					fmt.Errorf("accounts[%d] %q is none of orders.risk.accounts: every order of it would be refused (risk.unknown_account)", j, a))
			}
		}
	}
}

func (c *checker) cluster(f *configs.File) {
	if f.Cluster == nil {
		return
	}
	node := f.Cluster.Node()
	if node.DataDir == "" {
		c.add("cluster.data_dir", errors.New("required: the directory of the Raft log, its stable store and snapshots"))
		return
	}
	c.add("cluster", node.Check())
	c.rep.Cluster = fmt.Sprintf("node %s of %d", f.Cluster.NodeID, len(f.Cluster.Nodes))
}

// sim checks the simulator's sections, which `sim` and `demo` run.
func (c *checker) sim(f *configs.File) {
	if f.Sim != nil {
		sc, err := f.SimConfig()
		if err == nil {
			err = sc.Check()
		}
		c.add("sim", err)
		c.rep.Sim = true
		for _, l := range []sim.ListenerConfig{sc.Primary, sc.Backup, sc.SZSE.Primary, sc.SZSE.Backup} {
			if l.TLS.CertFile != "" {
				c.rep.TLS++
			}
		}
	}
	if f.FIXSim != nil {
		c.add("fix_sim", f.FIXSim.Check())
	}
}

// wired returns cfg as the command that runs it would: for a
// configuration that names the in-process simulator (the demo's), a copy
// whose sim: addresses are the simulator's (placeholders on loopback) and
// whose empty state paths are the demo's temporary directories
// (placeholders); cfg itself otherwise. Problems of the simulator's
// wiring are recorded.
func (c *checker) wired(cfg *configs.File) *configs.File {
	if !namesSim(cfg) {
		return cfg
	}
	c.rep.Command = "demo"
	f := *cfg
	const placeholder = "127.0.0.1:0" // the simulator binds free loopback ports
	f.Feeds = slices.Clone(cfg.Feeds)
	for i := range f.Feeds {
		fc := &f.Feeds[i]
		for _, src := range []struct {
			key  string
			addr *string
		}{{"primary", &fc.Primary.Addr}, {"backup", &fc.Backup.Addr}} {
			which, ok := simAddr[*src.addr]
			if !ok {
				continue
			}
			path := fmt.Sprintf("feeds[%d] (%s)", i, fc.Name)
			switch {
			case f.Sim == nil:
				c.add(path, fmt.Errorf("%s.addr %s names the in-process simulator, which needs a sim section", src.key, *src.addr))
			case (which == sim.SZSEPrimary || which == sim.SZSEBackup) && !f.Sim.SZSE.Enabled:
				c.add(path, fmt.Errorf("%s.addr %s names the simulator's SZSE listener, but sim.szse.enabled is false", src.key, *src.addr))
			}
			*src.addr = placeholder
		}
	}
	if cfg.Orders != nil {
		o := *cfg.Orders
		if o.Journal == "" {
			o.Journal = filepath.Join("demo-tmp", "orders.jrnl")
		}
		o.Upstreams = slices.Clone(cfg.Orders.Upstreams)
		lines := fixsim.DefaultLines
		if f.FIXSim != nil && len(f.FIXSim.Lines) > 0 {
			lines = len(f.FIXSim.Lines)
		}
		for i := range o.Upstreams {
			u := &o.Upstreams[i]
			if u.StoreDir == "" {
				u.StoreDir = filepath.Join("demo-tmp", "fix-"+u.Name)
			}
			u.Lines = slices.Clone(u.Lines)
			for j := range u.Lines {
				n, ok := simFIXLine(u.Lines[j].Addr)
				if !ok {
					continue
				}
				path := fmt.Sprintf("orders.upstreams[%d] (%s)", i, u.Name)
				switch {
				case f.FIXSim == nil:
					c.add(path, fmt.Errorf("lines[%d].addr %s names the in-process FIX simulator, which needs a fix_sim section", j, u.Lines[j].Addr))
				case n >= lines:
					c.add(path, fmt.Errorf("lines[%d].addr %s: the FIX simulator has %s (fix_sim.lines)", j, u.Lines[j].Addr, plural(lines, "line")))
				}
				u.Lines[j].Addr = placeholder
			}
		}
		f.Orders = &o
	}
	if cfg.Brokers != nil && cfg.Brokers.StoreDir == "" {
		b := *cfg.Brokers
		b.StoreDir = filepath.Join("demo-tmp", "fix-brokers")
		f.Brokers = &b
	}
	return &f
}

// namesSim reports whether cfg's feeds or upstream lines name the
// in-process simulator, which only `demo` runs.
func namesSim(cfg *configs.File) bool {
	for _, fc := range cfg.Feeds {
		for _, addr := range []string{fc.Primary.Addr, fc.Backup.Addr} {
			if _, ok := simAddr[addr]; ok {
				return true
			}
		}
	}
	if cfg.Orders != nil {
		for _, u := range cfg.Orders.Upstreams {
			for _, l := range u.Lines {
				if strings.HasPrefix(l.Addr, "sim:") {
					return true
				}
			}
		}
	}
	return false
}

// simFIXLine parses "sim:fixN", the address of the in-process FIX
// simulator's line N.
func simFIXLine(addr string) (int, bool) {
	s, ok := strings.CutPrefix(addr, "sim:fix")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}
