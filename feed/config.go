package feed

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"sgw/feed/capture"
	"sgw/netsec"
)

// Config configures one feed: a primary and a backup source carrying the
// same session (SoupBinTCP/ITCH, or SZSE Binary), merged by an arbiter.
type Config struct {
	// Name labels the feed in logs and metrics ("sse", "szse"). Required.
	Name string `yaml:"name"`
	// Protocol is the sources' wire protocol: "itch" (SoupBinTCP 3.0
	// carrying ITCH 5.0; New builds the feed) or "szse" (SZSE Binary market
	// data; NewSZSE builds it). Empty means "itch".
	Protocol string `yaml:"protocol"`
	// Primary is the vendor's feed. Required.
	Primary SourceConfig `yaml:"primary"`
	// Backup is the relayed feed. Optional: an empty Addr means no backup.
	Backup SourceConfig `yaml:"backup"`
	// HeartbeatTimeout marks a source down when nothing arrived from it for
	// this long. Zero means 3s.
	HeartbeatTimeout time.Duration `yaml:"heartbeat_timeout"`
	// HeartbeatInterval is how often the gateway sends a client heartbeat
	// when it has sent nothing else. Zero means 1s.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// Window is how many messages the arbiter holds out of order (SZSE:
	// per channel). Zero means 65536. Rounded up to a power of two.
	Window int `yaml:"window"`
	// MaxRecoveryAttempts is how many times a gap missing on every live
	// source is re-requested (alternating sources) before it may be
	// declared lost. Zero means 3.
	MaxRecoveryAttempts int `yaml:"max_recovery_attempts"`
	// RecoveryTimeout is how long a gap is worked on before its messages
	// are declared lost, whatever the attempts: a source still logging in
	// or lagging has that long to bring them. Zero means 5s.
	RecoveryTimeout time.Duration `yaml:"recovery_timeout"`
	// MissedRebuildInterval (ITCH only) is the least time between the
	// starts of two rebuilds from sequence 1 that the books ask for when
	// they find a message missing from the stream (an event naming an
	// order a book does not hold, or adding one it holds; feed.Misser): a
	// source that diverges again after every rebuild cannot have the
	// whole day replayed over and over. Zero means 1m.
	MissedRebuildInterval time.Duration `yaml:"missed_rebuild_interval"`
	// StaleAfterOutage is how long no source may be up (logged in and
	// caught up; ITCH: and heard since its login, a Server Heartbeat or a
	// message beyond the copy its login asked for) before every book the
	// feed carries is marked stale: the
	// market moves while the feed is blind. A source that returns makes
	// them valid again only once it has proven it replays what was missed
	// (ITCH: its login accepted at the sequence asked, its copy of the last
	// message delivered equal to it; SZSE, per channel: verified, and its
	// ChannelHeartbeat claiming nothing beyond what was delivered);
	// otherwise the rebuild from sequence 1 does. A source sending heartbeats in a quiet market is up. Zero
	// means 3s (as long as an edge waits on a silent market-data bus);
	// negative is invalid.
	StaleAfterOutage time.Duration `yaml:"stale_after_outage"`
	// GapWait (SZSE only) is how long a gap in a channel is left to a live
	// source that has not yet passed it before the gateway asks for the
	// range with a ReTransmit. Zero means 100ms.
	GapWait time.Duration `yaml:"gap_wait"`
	// CatchUpLag is how far behind the arbiter a logged-in source may be
	// and still count as up. Zero means 1024 messages.
	CatchUpLag int `yaml:"catch_up_lag"`
	// ReconnectMin and ReconnectMax bound the reconnect backoff. Zero means
	// 100ms and 5s.
	ReconnectMin time.Duration `yaml:"reconnect_min"`
	ReconnectMax time.Duration `yaml:"reconnect_max"`
	// DialTimeout bounds a TCP connect plus TLS handshake. Zero means 2s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// TrackingProfile says the feed's ITCH Tracking Number (bytes 3-4 of
	// each message) carries the low 16 bits of the SoupBinTCP sequence
	// number, as the project's simulator sends it: the source then checks
	// it, so a relay that skipped messages or went backwards is caught.
	// Standard ITCH gives the field no such meaning, so zero (false) leaves
	// it alone: sequence numbers come from SoupBinTCP only (Login Accepted
	// and counting).
	TrackingProfile bool `yaml:"tracking_profile"`
	// CheckInterval is how often the supervisor checks timeouts and gaps.
	// Zero means 50ms.
	CheckInterval time.Duration `yaml:"check_interval"`
	// Capture records what the sources sent and the arbitrated stream to
	// rotating files (docs/CAPTURE.md), for gw replay. Zero (no dir)
	// records nothing. ITCH and SZSE feeds alike.
	Capture capture.Config `yaml:"capture"`
}

// SourceConfig configures one source: a SoupBinTCP server (ITCH) or an
// SZSE market-data gateway (MDGW).
type SourceConfig struct {
	// Addr is host:port of the server. Empty disables the source (allowed
	// for the backup only).
	Addr string `yaml:"addr"`
	// Username (ITCH only) and Password are sent in the Login Request (at
	// most 6 and 10 characters) or, for SZSE, Password in the Logon (at most
	// 16). Empty means blank fields.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Session (ITCH only) is the requested session; empty means the
	// current session.
	Session string `yaml:"session"`
	// SenderCompID and TargetCompID (SZSE only) are the Logon's: the
	// gateway's id and the MDGW's, at most 20 characters each. Empty means
	// blank fields; the MDGW answers with the two swapped, and a non-empty
	// TargetCompID is checked in the answer.
	SenderCompID string `yaml:"sender_comp_id"`
	TargetCompID string `yaml:"target_comp_id"`
	// TLS, when set, wraps the connection in TLS. Required for a source
	// that is not on a loopback address unless TLCP is set or Tunnel
	// names the tunnel that encrypts it.
	TLS *TLSConfig `yaml:"tls"`
	// TLCP, when set, wraps the connection in TLCP (GB/T 38636-2020,
	// national crypto; see netsec.ClientTLCPConfig) in place of TLS: for
	// a source, or a relay of it, that terminates only TLCP. Exclusive
	// with TLS and Tunnel; zero means none.
	TLCP *TLCPConfig `yaml:"tlcp"`
	// Tunnel names the encrypted tunnel (for example "wireguard wg-branch")
	// that carries a plain-text source across the Internet. It is recorded
	// in logs; the gateway does not set the tunnel up.
	Tunnel string `yaml:"tunnel"`
}

// TLSConfig configures TLS to a source: netsec's client configuration
// (ca_file, ca_pem, server_name, cert_file and key_file, min_version: TLS
// 1.3 unless "1.2"), shared with the upstream FIX lines.
type TLSConfig = netsec.ClientTLSConfig

// TLCPConfig configures TLCP to a source: netsec's client configuration
// (ca_file, ca_pem, server_name, and the gateway's SM2 pairs if the
// server asks for them), shared with the upstream FIX lines.
type TLCPConfig = netsec.ClientTLCPConfig

// withDefaults returns cfg with the documented defaults filled in, or an
// error naming the first invalid field.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Name == "" {
		return cfg, fmt.Errorf("%w: name is required", ErrConfig)
	}
	switch cfg.Protocol {
	case "":
		cfg.Protocol = ProtocolITCH
	case ProtocolITCH, ProtocolSZSE:
	default:
		return cfg, fmt.Errorf("%w: feed %s: protocol %q: want %q or %q", ErrConfig, cfg.Name, cfg.Protocol, ProtocolITCH, ProtocolSZSE)
	}
	if cfg.Primary.Addr == "" {
		return cfg, fmt.Errorf("%w: feed %s: primary.addr is required", ErrConfig, cfg.Name)
	}
	for _, s := range []struct {
		name string
		src  SourceConfig
	}{{"primary", cfg.Primary}, {"backup", cfg.Backup}} {
		if err := s.src.validate(cfg.Protocol); err != nil {
			return cfg, fmt.Errorf("%w: feed %s: %s.%v", ErrConfig, cfg.Name, s.name, err)
		}
	}
	if cfg.Capture.Enabled() {
		c, err := cfg.Capture.WithDefaults()
		if err != nil {
			return cfg, fmt.Errorf("%w: feed %s: %w", ErrConfig, cfg.Name, err)
		}
		cfg.Capture = c
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.HeartbeatTimeout, 3*time.Second)
	def(&cfg.HeartbeatInterval, time.Second)
	def(&cfg.ReconnectMin, 100*time.Millisecond)
	def(&cfg.ReconnectMax, 5*time.Second)
	def(&cfg.DialTimeout, 2*time.Second)
	def(&cfg.CheckInterval, 50*time.Millisecond)
	def(&cfg.RecoveryTimeout, 5*time.Second)
	def(&cfg.GapWait, 100*time.Millisecond)
	def(&cfg.StaleAfterOutage, 3*time.Second)
	def(&cfg.MissedRebuildInterval, defaultMissedRebuildInterval)
	if cfg.Window == 0 {
		cfg.Window = 65536
	}
	if cfg.MaxRecoveryAttempts == 0 {
		cfg.MaxRecoveryAttempts = 3
	}
	if cfg.CatchUpLag == 0 {
		cfg.CatchUpLag = 1024
	}
	switch {
	case cfg.StaleAfterOutage < 0:
		return cfg, fmt.Errorf("%w: feed %s: stale_after_outage %v is negative: books may not be served valid while every source is down (0 means 3s)", ErrConfig, cfg.Name, cfg.StaleAfterOutage)
	case cfg.HeartbeatTimeout < 0 || cfg.HeartbeatInterval < 0 || cfg.ReconnectMin < 0 || cfg.RecoveryTimeout < 0 || cfg.GapWait < 0 || cfg.MissedRebuildInterval < 0 ||
		cfg.ReconnectMax < cfg.ReconnectMin || cfg.DialTimeout < 0 || cfg.CheckInterval < 0:
		return cfg, fmt.Errorf("%w: feed %s: durations must be positive and reconnect_max >= reconnect_min", ErrConfig, cfg.Name)
	case cfg.HeartbeatInterval >= cfg.HeartbeatTimeout:
		return cfg, fmt.Errorf("%w: feed %s: heartbeat_interval %v must be below heartbeat_timeout %v", ErrConfig, cfg.Name, cfg.HeartbeatInterval, cfg.HeartbeatTimeout)
	case cfg.Window < 0 || cfg.Window > 1<<22:
		return cfg, fmt.Errorf("%w: feed %s: window %d out of range 1..4194304", ErrConfig, cfg.Name, cfg.Window)
	case cfg.MaxRecoveryAttempts < 0 || cfg.CatchUpLag < 0:
		return cfg, fmt.Errorf("%w: feed %s: max_recovery_attempts and catch_up_lag must be positive", ErrConfig, cfg.Name)
	}
	return cfg, nil
}

// defaultMissedRebuildInterval is Config.MissedRebuildInterval's default.
const defaultMissedRebuildInterval = time.Minute

// Check validates cfg as New (or NewSZSE, for protocol szse) would, and
// reads the files its sources' TLS or TLCP names (CA bundles, client key pairs),
// without connecting anywhere: what `gateway check-config` asks of a feed.
func (cfg Config) Check() error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	for i, sc := range []SourceConfig{cfg.Primary, cfg.Backup} {
		if sc.Addr == "" {
			continue
		}
		if _, err := clientSecurity(sc, sourceName(i)); err != nil {
			return fmt.Errorf("%w: feed %s: %w", ErrConfig, cfg.Name, err)
		}
	}
	return nil
}

// Protocols of Config.Protocol.
const (
	ProtocolITCH = capture.ProtocolITCH // SoupBinTCP 3.0 carrying ITCH 5.0
	ProtocolSZSE = capture.ProtocolSZSE // SZSE Binary market data
)

// validate checks one source's settings for protocol. Its errors start
// with the key, for the caller to prefix with the source's name.
func (s SourceConfig) validate(protocol string) error {
	if s.Addr == "" {
		return nil
	}
	host, _, err := netsec.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("addr %q: %v", s.Addr, err)
	}
	for _, f := range s.fieldLimits(protocol) {
		switch {
		case f.max < 0 && f.value != "":
			return fmt.Errorf("%s: not used by protocol %s", f.key, protocol)
		case len(f.value) > f.max && f.max >= 0:
			return fmt.Errorf("%s: %d characters, at most %d for protocol %s", f.key, len(f.value), f.max, protocol)
		}
	}
	if s.TLS == nil && s.TLCP == nil && s.Tunnel == "" && !netsec.IsLoopback(host) {
		return fmt.Errorf("addr %s is not loopback: a plain-text feed may not cross a network; set tls or name the tunnel that encrypts it (or set tlcp)", s.Addr)
	}
	// The caller names the source and wraps ErrConfig.
	unwrap := func(err error) error {
		return errors.New(strings.TrimPrefix(err.Error(), netsec.ErrConfig.Error()+": "))
	}
	switch {
	case s.TLCP != nil && (s.TLS != nil || s.Tunnel != ""):
		return errors.New("tlcp is exclusive with tls and tunnel")
	case s.TLCP != nil:
		if err := s.TLCP.Validate("tlcp"); err != nil {
			return unwrap(err)
		}
	case s.TLS != nil:
		if err := s.TLS.Validate("tls"); err != nil {
			return unwrap(err)
		}
	}
	return nil
}

// fieldLimit is the longest value a login field may have; max -1 means
// the protocol has no such field and it must be empty.
type fieldLimit struct {
	key   string
	value string
	max   int
}

// fieldLimits returns the login fields of s with their limits under
// protocol: SoupBinTCP's Login Request (username 6, password 10, session
// 10) or SZSE's Logon (SenderCompID 20, TargetCompID 20, Password 16).
func (s SourceConfig) fieldLimits(protocol string) []fieldLimit {
	if protocol == ProtocolSZSE {
		return []fieldLimit{{"username", s.Username, -1}, {"session", s.Session, -1},
			{"sender_comp_id", s.SenderCompID, 20}, {"target_comp_id", s.TargetCompID, 20}, {"password", s.Password, 16}}
	}
	return []fieldLimit{{"username", s.Username, 6}, {"password", s.Password, 10}, {"session", s.Session, 10},
		{"sender_comp_id", s.SenderCompID, -1}, {"target_comp_id", s.TargetCompID, -1}}
}
