package configs

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"sgw/atrest"
	"sgw/auth"
	"sgw/feed"
	"sgw/fix"
	"sgw/fix/broker"
	"sgw/gateway"
	"sgw/orderbook"
	"sgw/refdata"
	"sgw/risk"
	"sgw/sim"
	"sgw/sim/fixsim"
)

// Demo is the embedded demo configuration (configs/demo.yaml).
//
//go:embed demo.yaml
var demo []byte

// DemoName is the name the embedded demo configuration reports in errors.
const DemoName = "configs/demo.yaml (embedded)"

// ErrConfig reports a configuration file that does not load.
var ErrConfig = errors.New("configs: invalid config")

// File is one deployment's configuration.
type File struct {
	// Log configures logging.
	Log Log `yaml:"log"`
	// Gateway configures the HTTP listener and the WebSocket endpoint.
	Gateway gateway.Config `yaml:"gateway"`
	// Auth configures bearer tokens (JWT) and market-data entitlements. Nil
	// means no tokens are accepted (anonymous market data only, if the
	// gateway allows it). Its key files are read when the gateway starts.
	Auth *auth.Config `yaml:"auth"`
	// Instruments is the reference data: every tradable instrument.
	Instruments []refdata.Instrument `yaml:"instruments"`
	// Books configures the order books.
	Books Books `yaml:"books"`
	// Feeds are the market-data feeds; each has a primary and a backup source.
	Feeds []feed.Config `yaml:"feeds"`
	// Sim configures the exchange simulator (`sim` and `demo`); its
	// instruments default to the file's.
	Sim *sim.Config `yaml:"sim"`
	// FIXSim configures the simulator's FIX order acceptor (`demo`).
	FIXSim *fixsim.Config `yaml:"fix_sim"`
	// Orders configures order entry. Nil means the gateway takes no orders.
	Orders *Orders `yaml:"orders"`
	// Brokers configures the FIX acceptor for brokers (FIX 4.2/4.4 order
	// entry); it needs an orders section. Nil means no FIX acceptor. An
	// empty store_dir in the demo means a fresh temporary directory.
	Brokers *broker.Config `yaml:"brokers"`
	// Storage configures how the gateway keeps its own files (the order
	// journal and the FIX stores). Nil means plain files.
	Storage *Storage `yaml:"storage"`
	// Cluster makes the gateway one node of a Raft cluster. Nil means a
	// single gateway.
	Cluster *Cluster `yaml:"cluster"`
	// MarketBus carries market data between gateways over NATS: this
	// gateway publishes its books (role ingest) or serves books mirrored
	// from the bus (role edge). Nil means a gateway serving its own feeds'
	// books, publishing nothing.
	MarketBus *MarketBus `yaml:"market_bus"`
}

// Storage configures the gateway's own files.
type Storage struct {
	// Encryption, when set, seals the order journal and every FIX store
	// (upstreams and brokers) with SM4-GCM under the keys of its key file
	// (docs/SECURITY.md). Nil means plain files. A deployment cannot
	// switch an existing journal or store between plain and sealed by
	// changing this: the gateway refuses to start, naming the file.
	Encryption *atrest.Config `yaml:"encryption"`
}

// StorageKeys loads the key ring of storage.encryption, or returns nil
// when the file configures none. A missing, malformed or loosely
// permitted key file is an error (atrest.ErrKeyFile), as is a current_key
// the file lacks (atrest.ErrKey).
func (f *File) StorageKeys() (*atrest.KeyRing, error) {
	if f.Storage == nil || f.Storage.Encryption == nil {
		return nil, nil
	}
	keys, err := atrest.Load(*f.Storage.Encryption)
	if err != nil {
		return nil, fmt.Errorf("storage.encryption: %w", err)
	}
	return keys, nil
}

// Orders configures order entry: risk, the journal and the upstream FIX
// sessions.
type Orders struct {
	// Journal is the path of the order journal. Required, except in the
	// demo, where empty means a file in a fresh temporary directory.
	Journal string `yaml:"journal"`
	// IDPrefix starts the ClOrdIDs this gateway sends upstream; gateways
	// that share an upstream session need different ones. Zero means "GW".
	IDPrefix string `yaml:"id_prefix"`
	// Risk configures the pre-trade checks; its instruments default to the
	// file's.
	Risk risk.Config `yaml:"risk"`
	// Upstreams are the FIX sessions orders leave by: "core" serves cash
	// accounts, "margin" credit accounts. A line address "sim:fix0" (or
	// fix1 ...) names a line of the demo's simulator; an empty store_dir
	// in the demo means a fresh temporary directory.
	Upstreams []fix.UpstreamConfig `yaml:"upstreams"`
	// HoldQueue bounds the requests held per upstream while its session
	// is down (a carrier failover). Zero means 10000.
	HoldQueue int `yaml:"hold_queue"`
	// HoldTimeout is how long a request is held for a session that is
	// down before it is ended (rejected, never sent). Zero means 15s.
	HoldTimeout time.Duration `yaml:"hold_timeout"`
	// AckTimeout is how long a request may wait for the upstream's answer
	// before the gateway asks for the order's status. Zero means 10s.
	AckTimeout time.Duration `yaml:"ack_timeout"`
	// StatusTimeout bounds the wait for a status answer: the recovery's,
	// after an ack timeout, at the day's end. Zero means 10s.
	StatusTimeout time.Duration `yaml:"status_timeout"`
	// DayEndCheck is how long after the market's close (15:00 in
	// Shanghai, on a trading day) the orders sent to the venue and never
	// reported ended are asked about; those without an answer
	// expire. Zero means 1h; under 9h.
	DayEndCheck time.Duration `yaml:"day_end_check"`
	// DrainTimeout bounds, at shutdown, the wait for the requests already
	// accepted to be sent and answered. Zero means 5s.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
}

// Log configures the process logger.
type Log struct {
	// Level is debug, info, warn or error. Zero means info.
	Level string `yaml:"level"`
	// Format is text or json. Zero means text.
	Format string `yaml:"format"`
}

// Books configures the order-book engine (see orderbook.Config).
type Books struct {
	// Shards is the number of book writer goroutines. Zero means GOMAXPROCS.
	Shards int `yaml:"shards"`
	// MaxDepth is the depth of the published views. Zero means 20.
	MaxDepth int `yaml:"max_depth"`
	// RingSize is the number of updates each shard keeps for readers. Zero
	// means 16384.
	RingSize int `yaml:"ring_size"`
}

// Engine returns the orderbook configuration of the file.
func (f *File) Engine() orderbook.Config {
	return orderbook.Config{Instruments: f.Instruments, Shards: f.Books.Shards, MaxDepth: f.Books.MaxDepth, RingSize: f.Books.RingSize}
}

// SimConfig returns the simulator configuration, with the file's
// instruments when the sim section names none.
func (f *File) SimConfig() (sim.Config, error) {
	if f.Sim == nil {
		return sim.Config{}, fmt.Errorf("%w: no sim section", ErrConfig)
	}
	c := *f.Sim
	if len(c.Instruments) == 0 {
		c.Instruments = f.Instruments
	}
	return c, nil
}

// Logger builds the process logger described by Log, writing to w. Each
// key appears once in a line: a logger derived with With replaces its
// parent's attribute of the same key (uniqueKeys).
func (l Log) Logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(orDefault(l.Level, "info"))); err != nil {
		return nil, fmt.Errorf("%w: log.level %q: want debug, info, warn or error", ErrConfig, l.Level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch orDefault(l.Format, "text") {
	case "text":
		return slog.New(newUniqueKeys(slog.NewTextHandler(w, opts))), nil
	case "json":
		return slog.New(newUniqueKeys(slog.NewJSONHandler(w, opts))), nil
	default:
		return nil, fmt.Errorf("%w: log.format %q: want text or json", ErrConfig, l.Format)
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// Load reads and checks the configuration file at path.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return Parse(path, b)
}

// LoadDemo returns the embedded demo configuration.
func LoadDemo() (*File, error) { return Parse(DemoName, demo) }

// Parse decodes a configuration strictly: unknown keys, wrong types, more
// than one document and invalid values are errors naming the file.
func Parse(name string, b []byte) (*File, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s: empty file", ErrConfig, name)
		}
		return nil, fmt.Errorf("%w: %s: %s", ErrConfig, name, nameKeys(b, strings.TrimPrefix(err.Error(), "yaml: ")))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s: more than one YAML document", ErrConfig, name)
	}
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, name, err)
	}
	return &f, nil
}

// validate checks what spans sections; each component checks its own
// section again when it is constructed.
func (f *File) validate() error {
	if len(f.Instruments) == 0 {
		return errors.New("instruments: at least one is required")
	}
	if d := f.Books.MaxDepth; d != 0 && d < gateway.BookDepth {
		return fmt.Errorf("books.max_depth: %d is below %d, the deepest book the WebSocket fan-out serves (depth 5, 10 or 20, each checked by a checksum); use %d or more",
			d, gateway.BookDepth, gateway.BookDepth)
	}
	seen := map[string]bool{}
	for i := range f.Instruments {
		in := &f.Instruments[i]
		if err := in.Validate(); err != nil {
			return fmt.Errorf("instruments[%d]: %w", i, err)
		}
		if seen[in.Symbol] {
			return fmt.Errorf("instruments[%d]: duplicate symbol %s", i, in.Symbol)
		}
		seen[in.Symbol] = true
	}
	names := map[string]bool{}
	for i, fc := range f.Feeds {
		if fc.Name == "" || names[fc.Name] {
			return fmt.Errorf("feeds[%d]: name %q must be set and unique", i, fc.Name)
		}
		names[fc.Name] = true
	}
	edge := f.MarketBus != nil && f.MarketBus.Role == RoleEdge
	for i, in := range f.Instruments {
		if in.Feed != "" && !names[in.Feed] && !edge { // an edge's instruments come from the bus
			return fmt.Errorf("instruments[%d]: %s: feed %q names no feed of the feeds section", i, in.Symbol, in.Feed)
		}
		// An instrument without a feed is carried by every feed
		// (feed.Carried): with several, each would write its book and
		// mark it stale or valid as its own stream went.
		if in.Feed == "" && len(f.Feeds) > 1 && !edge {
			return fmt.Errorf("instruments[%d]: %s: feed must name one of the %d feeds", i, in.Symbol, len(f.Feeds))
		}
	}
	if _, err := f.Log.Logger(io.Discard); err != nil {
		return err
	}
	if f.Auth != nil {
		if err := f.Auth.Validate(); err != nil {
			return err // "auth: invalid config: keys[0]: ..."
		}
	}
	if f.Orders != nil && f.Orders.DrainTimeout < 0 {
		return fmt.Errorf("orders.drain_timeout %v is negative", f.Orders.DrainTimeout)
	}
	if f.Brokers != nil && f.Orders == nil {
		return errors.New("brokers: the FIX acceptor needs an orders section")
	}
	if f.Storage != nil && f.Storage.Encryption != nil && f.Storage.Encryption.KeyFile == "" {
		return errors.New("storage.encryption.key_file: required (the key file: one \"ID HEX-KEY\" a line, mode 0600)")
	}
	if f.MarketBus != nil {
		if err := f.MarketBus.validate(f); err != nil {
			return err
		}
	}
	if f.Cluster != nil {
		if err := f.Cluster.validate(); err != nil {
			return err
		}
		if f.Orders == nil {
			return errors.New("cluster: a cluster replicates order entry and needs an orders section")
		}
	}
	return nil
}

var lineRE = regexp.MustCompile("line (\\d+): (?:cannot unmarshal \\S+ `([^`]*)`)?")

// nameKeys adds to each "line N:" of a YAML error the path of the key on
// that line, so an invalid value names its key:
// "line 5 (feeds[0].heartbeat_timeout): cannot unmarshal ...".
func nameKeys(doc []byte, msg string) string {
	var root yaml.Node
	if yaml.Unmarshal(doc, &root) != nil {
		return msg
	}
	return lineRE.ReplaceAllStringFunc(msg, func(m string) string {
		sub := lineRE.FindStringSubmatch(m)
		line, _ := strconv.Atoi(sub[1])
		var keys []keyOnLine
		collectKeys(&root, line, "", &keys)
		if len(keys) == 0 {
			return m
		}
		path := keys[len(keys)-1].path
		for _, k := range keys {
			if sub[2] != "" && k.value == sub[2] {
				path = k.path
			}
		}
		return strings.Replace(m, sub[1]+": ", sub[1]+" ("+path+"): ", 1)
	})
}

// keyOnLine is a key found on the line an error names, with its scalar value.
type keyOnLine struct{ path, value string }

// collectKeys appends the paths of the keys on line within n.
func collectKeys(n *yaml.Node, line int, path string, out *[]keyOnLine) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			collectKeys(c, line, path, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if k.Line == line {
				*out = append(*out, keyOnLine{path: p, value: v.Value})
			}
			collectKeys(v, line, p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			collectKeys(c, line, fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
}
