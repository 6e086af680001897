package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"slices"
	"time"

	"sgw/feed/itch"
	"sgw/feed/soupbin"
	"sgw/netsec"
	"sgw/refdata"
	"sgw/sim/match"
	"sgw/tlcp"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultSession           = "SIM"
	DefaultAddr              = "127.0.0.1:0"
	DefaultRate              = 200
	DefaultMaxResting        = 100
	DefaultHeartbeatInterval = time.Second
	DefaultClientTimeout     = 15 * time.Second
	DefaultLoginTimeout      = 5 * time.Second
)

// Config configures a Sim. Every field's zero value is usable; New fills the
// defaults documented on each field.
type Config struct {
	// Instruments are the instruments traded and published. They get Stock
	// Locate codes 1..n in this order; each is validated (and its defaults
	// filled) by New on a copy. At least one is required. In SZSE mode the
	// ".SZ" instruments keep their codes but are absent from ITCH.
	Instruments []refdata.Instrument `yaml:"instruments"`
	// Primary is the primary feed listener. Its zero value listens on
	// 127.0.0.1:0 (a free port) without TLS.
	Primary ListenerConfig `yaml:"primary"`
	// Backup is the backup feed listener, which serves the same messages
	// under the same sequence numbers. Zero is as for Primary.
	Backup ListenerConfig `yaml:"backup"`
	// Session is the SoupBinTCP session name, at most 10 printable ASCII
	// characters. Zero means "SIM".
	Session string `yaml:"session"`
	// Username and Password are the credentials a login must present (at
	// most 6 and 10 characters). An empty Username accepts any login.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Rate is the number of synthetic order-flow actions per second while
	// Run is running. Zero means 200; a negative rate disables synthetic
	// flow (Step still works).
	Rate int `yaml:"rate"`
	// Seed seeds the synthetic flow's random numbers. Zero is a valid seed:
	// the same seed and the same calls give the same feed.
	Seed uint64 `yaml:"seed"`
	// MaxRestingPerSymbol bounds the resting orders per book that synthetic
	// flow keeps; beyond it the flow cancels its oldest orders. Zero means
	// 100.
	MaxRestingPerSymbol int `yaml:"max_resting_per_symbol"`
	// HeartbeatInterval is how long a connection may go without a packet
	// from the server before it sends a Server Heartbeat. Zero means 1s.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// ClientTimeout closes a connection from which nothing (such as a Client
	// Heartbeat) arrived for this long. Zero means 15s.
	ClientTimeout time.Duration `yaml:"client_timeout"`
	// LoginTimeout closes a connection that has not sent a Login Request
	// this long after connecting (or completed its TLS handshake). Zero
	// means 5s.
	LoginTimeout time.Duration `yaml:"login_timeout"`
	// SZSE configures the SZSE Binary mode, which publishes the
	// instruments whose symbol ends in ".SZ" on SZSE listeners of their own
	// instead of on ITCH. Zero (Enabled false) leaves it off: every
	// instrument is on ITCH.
	SZSE SZSEConfig `yaml:"szse"`

	// Clock returns the time used for ITCH timestamps (nanoseconds since
	// midnight China Standard Time). Nil means the wall clock at New
	// advanced by the monotonic clock.
	Clock func() time.Time `yaml:"-"`
	// Logger receives connection and fault-injection logs. Nil discards.
	Logger *slog.Logger `yaml:"-"`
}

// ListenerConfig configures one feed listener.
type ListenerConfig struct {
	// Addr is the TCP address to listen on. Zero means "127.0.0.1:0", a
	// free loopback port (read it back with Sim.Addr).
	Addr string `yaml:"addr"`
	// TLS, when enabled, serves the feed over TLS. Zero means plain TCP.
	TLS TLSConfig `yaml:"tls"`
	// TLCP, when enabled, serves the feed over TLCP (GB/T 38636-2020,
	// national crypto) in place of TLS. Zero means none; exclusive with
	// TLS.
	TLCP TLCPConfig `yaml:"tlcp"`
}

// check reports a contradictory TLS or TLCP configuration.
func (l ListenerConfig) check() error {
	if l.TLS.Enabled() && l.TLCP.Enabled() {
		return errors.New("tls and tlcp are exclusive")
	}
	if err := l.TLS.check(); err != nil {
		return err
	}
	return l.TLCP.check()
}

// TLCPConfig selects the listener's SM2 signature and encryption
// certificates. At most one of the four files and SelfSigned may be
// given; all zero means no TLCP. A value, read by New on its goroutine.
type TLCPConfig struct {
	// SignCertFile, SignKeyFile, EncCertFile and EncKeyFile are PEM files
	// of the signature and encryption certificates and their SM2 keys.
	// All four or none.
	SignCertFile string `yaml:"sign_cert_file"`
	SignKeyFile  string `yaml:"sign_key_file"`
	EncCertFile  string `yaml:"enc_cert_file"`
	EncKeyFile   string `yaml:"enc_key_file"`
	// SelfSigned serves a pair for 127.0.0.1, ::1 and localhost, issued
	// at New by an in-memory SM2 CA whose certificate Sim.TLCPCACertPEM
	// returns, so that tests and demos can trust it.
	SelfSigned bool `yaml:"self_signed"`
}

// Enabled reports whether the listener serves TLCP.
func (c TLCPConfig) Enabled() bool {
	return c.SelfSigned || c.SignCertFile != "" || c.SignKeyFile != "" || c.EncCertFile != "" || c.EncKeyFile != ""
}

// check reports a contradictory TLCP configuration.
func (c TLCPConfig) check() error {
	files := c.SignCertFile != "" || c.SignKeyFile != "" || c.EncCertFile != "" || c.EncKeyFile != ""
	if c.SelfSigned && files {
		return errors.New("tlcp: self_signed excludes the certificate files")
	}
	if files && (c.SignCertFile == "" || c.SignKeyFile == "" || c.EncCertFile == "" || c.EncKeyFile == "") {
		return errors.New("tlcp: sign_cert_file, sign_key_file, enc_cert_file and enc_key_file go together")
	}
	return nil
}

// load reads the pair of a TLCPConfig that names files.
func (c TLCPConfig) load() (sign, enc *tlcp.Certificate, err error) {
	if sign, err = tlcp.LoadKeyPair(c.SignCertFile, c.SignKeyFile); err != nil {
		return nil, nil, fmt.Errorf("%w: tlcp signature pair: %w", ErrConfig, err)
	}
	if enc, err = tlcp.LoadKeyPair(c.EncCertFile, c.EncKeyFile); err != nil {
		return nil, nil, fmt.Errorf("%w: tlcp encryption pair: %w", ErrConfig, err)
	}
	return sign, enc, nil
}

// TLSConfig selects the listener's certificate. At most one of the key pair
// files and SelfSigned may be given; all zero means no TLS.
type TLSConfig struct {
	// CertFile and KeyFile are PEM files of the certificate chain and its
	// private key.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// SelfSigned serves a certificate for 127.0.0.1, ::1 and localhost,
	// issued at New by an in-memory ECDSA CA whose certificate Sim.CACertPEM
	// returns, so that tests and demos can trust it.
	SelfSigned bool `yaml:"self_signed"`
}

// Enabled reports whether the listener serves TLS.
func (c TLSConfig) Enabled() bool { return c.SelfSigned || c.CertFile != "" || c.KeyFile != "" }

// check reports a contradictory TLS configuration.
func (c TLSConfig) check() error {
	if c.SelfSigned && (c.CertFile != "" || c.KeyFile != "") {
		return errors.New("tls: self_signed excludes cert_file and key_file")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("tls: cert_file and key_file go together")
	}
	return nil
}

// Check validates c as New would, and reads the certificate and key files
// of listeners that serve TLS or TLCP from files, without listening: what `gateway
// check-config` asks of the simulator.
func (c Config) Check() error {
	c, err := c.withDefaults()
	if err != nil {
		return err
	}
	if _, err := match.New(c.Instruments, nil); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if _, err := stocksOf(c.Instruments); err != nil {
		return err
	}
	type named struct {
		key string
		l   ListenerConfig
	}
	listeners := []named{{"primary", c.Primary}, {"backup", c.Backup}}
	if c.SZSE.Enabled {
		listeners = append(listeners, named{"szse.primary", c.SZSE.Primary}, named{"szse.backup", c.SZSE.Backup})
	}
	for _, n := range listeners {
		if n.l.TLS.Enabled() && !n.l.TLS.SelfSigned {
			tc := netsec.ServerTLSConfig{CertFile: n.l.TLS.CertFile, KeyFile: n.l.TLS.KeyFile}
			if _, err := netsec.NewServerTLS(tc, n.key+".tls", nil); err != nil {
				return fmt.Errorf("%w: %w", ErrConfig, err)
			}
		}
		if n.l.TLCP.Enabled() && !n.l.TLCP.SelfSigned {
			if _, _, err := n.l.TLCP.load(); err != nil {
				return fmt.Errorf("%s: %w", n.key, err)
			}
		}
	}
	return nil
}

// stocksOf returns the ITCH Stock field of each instrument.
func stocksOf(ins []refdata.Instrument) ([][8]byte, error) {
	out := make([][8]byte, 0, len(ins))
	for _, in := range ins {
		st, err := itch.StockOf(in.FeedSymbol)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: feed_symbol: %w", ErrConfig, in.Symbol, err)
		}
		out = append(out, st)
	}
	return out, nil
}

// withDefaults returns a copy of c with defaults filled and every field
// checked; instruments are validated copies.
func (c Config) withDefaults() (_ Config, err error) {
	bad := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	if len(c.Instruments) == 0 {
		return bad("instruments: at least one is required")
	}
	if len(c.Instruments) > math.MaxUint16 {
		return bad("instruments: %d is more than %d", len(c.Instruments), math.MaxUint16)
	}
	ins := make([]refdata.Instrument, len(c.Instruments))
	symbols := make(map[string]bool, len(ins))
	feedSymbols := make(map[string]bool, len(ins))
	for i, in := range c.Instruments {
		if err := in.Validate(); err != nil {
			return bad("instruments[%d]: %w", i, err)
		}
		if symbols[in.Symbol] {
			return bad("instruments[%d]: duplicate symbol %q", i, in.Symbol)
		}
		if feedSymbols[in.FeedSymbol] {
			return bad("instruments[%d]: duplicate feed_symbol %q", i, in.FeedSymbol)
		}
		symbols[in.Symbol], feedSymbols[in.FeedSymbol] = true, true
		ins[i] = in
	}
	c.Instruments = ins
	if err := c.sessionDefaults(); err != nil {
		return Config{}, err
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.MaxRestingPerSymbol == 0 {
		c.MaxRestingPerSymbol = DefaultMaxResting
	}
	if c.MaxRestingPerSymbol < 0 {
		return bad("max_resting_per_symbol: %d is negative", c.MaxRestingPerSymbol)
	}
	if c.SZSE.Enabled {
		if !slices.ContainsFunc(c.Instruments, func(in refdata.Instrument) bool { return isSZSE(in.Symbol) }) {
			return bad("szse: enabled, but no instrument's symbol ends in %q", szseSuffix)
		}
		if c.SZSE, err = c.SZSE.withDefaults(); err != nil {
			return Config{}, err
		}
	}
	return c, nil
}

// sessionDefaults fills and checks what a SoupBinTCP server needs, for a
// Sim and a Player alike: the session name, the credentials, the
// listeners, the session timers and the logger.
func (c *Config) sessionDefaults() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	if c.Session == "" {
		c.Session = DefaultSession
	}
	if err := soupbin.ValidateSession(c.Session); err != nil {
		return bad("session: %w", err)
	}
	if len(c.Username) > 6 || len(c.Password) > 10 || !printable(c.Username) || !printable(c.Password) {
		return bad("username/password: at most 6 and 10 printable ASCII characters without spaces")
	}
	if c.Username == "" && c.Password != "" {
		return bad("password set without a username")
	}
	for _, l := range []*ListenerConfig{&c.Primary, &c.Backup} {
		if l.Addr == "" {
			l.Addr = DefaultAddr
		}
		if _, _, err := net.SplitHostPort(l.Addr); err != nil {
			return bad("addr %q: %w", l.Addr, err)
		}
		if err := l.check(); err != nil {
			return bad("%w", err)
		}
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"heartbeat_interval", &c.HeartbeatInterval, DefaultHeartbeatInterval},
		{"client_timeout", &c.ClientTimeout, DefaultClientTimeout},
		{"login_timeout", &c.LoginTimeout, DefaultLoginTimeout},
	} {
		if *d.v < 0 {
			return bad("%s: %s is negative", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
