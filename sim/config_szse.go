package sim

import (
	"fmt"
	"net"
	"strings"
	"time"

	"sgw/feed/szse"
)

// Defaults applied by New to zero SZSEConfig fields.
const (
	DefaultSZSEChannel                  = 2011
	DefaultSZSESnapshotChannel          = 1011
	DefaultSZSESnapshotInterval         = 3 * time.Second
	DefaultSZSEChannelHeartbeatInterval = time.Second
	DefaultSZSEMaxRetransmit            = 10000
	// DefaultSZSECompID is the SenderCompID the simulator answers a Logon
	// with when neither the client nor the configuration names one.
	DefaultSZSECompID = "MDGW"
)

// szseSuffix marks the symbols that SZSE mode publishes over SZSE Binary.
const szseSuffix = ".SZ"

// maxSZSERetransmit bounds MaxRetransmit: one answer must stay a bounded
// burst for the writer of one connection.
const maxSZSERetransmit = 1_000_000

// SZSEConfig configures the SZSE Binary mode (see the package
// documentation): the instruments whose Symbol ends in ".SZ" are
// published as SZSE Binary on a primary and a backup listener of their own
// instead of on ITCH. Sessions share Config's HeartbeatInterval,
// ClientTimeout and LoginTimeout.
//
// The rule: Enabled alone decides. With Enabled false (the zero value) the
// other fields are ignored, no SZSE listener is bound and every instrument
// stays on ITCH, exactly as without this section. With Enabled true at
// least one instrument must end in ".SZ".
type SZSEConfig struct {
	// Enabled turns the SZSE mode on. False (zero) leaves it off.
	Enabled bool `yaml:"enabled"`
	// Primary is the primary SZSE listener. Zero listens on 127.0.0.1:0
	// without TLS.
	Primary ListenerConfig `yaml:"primary"`
	// Backup is the backup SZSE listener, serving the same records under
	// the same ApplSeqNums. Zero is as for Primary.
	Backup ListenerConfig `yaml:"backup"`
	// SenderCompID is the SenderCompID a client's Logon must carry (at
	// most 20 characters). Empty accepts any.
	SenderCompID string `yaml:"sender_comp_id"`
	// TargetCompID is the TargetCompID a client's Logon must carry, the
	// simulator's own id, which it answers with (at most 20 characters).
	// Empty accepts any, and the answer then carries the client's
	// TargetCompID, or "MDGW" when that is blank.
	TargetCompID string `yaml:"target_comp_id"`
	// Password is the password a Logon must carry (at most 16
	// characters). Empty accepts any.
	Password string `yaml:"password"`
	// Channel is the ChannelNo of the orders (300192) and trades (300191)
	// of every SZSE instrument: one channel, one ApplSeqNum sequence. Zero
	// means 2011.
	Channel uint16 `yaml:"channel"`
	// SnapshotChannel is the ChannelNo of the snapshots (300111). Zero
	// means 1011.
	SnapshotChannel uint16 `yaml:"snapshot_channel"`
	// SnapshotInterval is the period of the rounds of snapshots (one 300111
	// per SZSE instrument) while Run runs. Zero means 3s; negative sends
	// none (EndSession still sends a last round).
	SnapshotInterval time.Duration `yaml:"snapshot_interval"`
	// ChannelHeartbeatInterval is the period of each session's
	// ChannelHeartbeat (390095). Zero means 1s.
	ChannelHeartbeatInterval time.Duration `yaml:"channel_heartbeat_interval"`
	// MaxRetransmit is the most records one ReTransmit answer carries; a
	// longer range is cut and answered as partial (ResendStatus 2). Zero
	// means 10000; at most 1,000,000.
	MaxRetransmit int `yaml:"max_retransmit"`
	// StreamFromStart starts each session's live stream at the channel's
	// first record. False (zero) starts it at the current end, as a real
	// market-data gateway does: the client recovers earlier records with
	// ReTransmit.
	StreamFromStart bool `yaml:"stream_from_start"`
}

// withDefaults returns a copy of c with defaults filled and every field
// checked. It is called only when c.Enabled.
func (c SZSEConfig) withDefaults() (SZSEConfig, error) {
	bad := func(format string, args ...any) (SZSEConfig, error) {
		return SZSEConfig{}, fmt.Errorf("%w: szse: "+format, append([]any{ErrConfig}, args...)...)
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
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"sender_comp_id", c.SenderCompID, 20},
		{"target_comp_id", c.TargetCompID, 20},
		{"password", c.Password, 16},
	} {
		if len(f.v) > f.max || !printable(f.v) {
			return bad("%s: at most %d printable ASCII characters without spaces", f.name, f.max)
		}
	}
	if c.Channel == 0 {
		c.Channel = DefaultSZSEChannel
	}
	if c.SnapshotChannel == 0 {
		c.SnapshotChannel = DefaultSZSESnapshotChannel
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = DefaultSZSESnapshotInterval
	}
	if c.ChannelHeartbeatInterval < 0 {
		return bad("channel_heartbeat_interval: %s is negative", c.ChannelHeartbeatInterval)
	}
	if c.ChannelHeartbeatInterval == 0 {
		c.ChannelHeartbeatInterval = DefaultSZSEChannelHeartbeatInterval
	}
	if c.MaxRetransmit < 0 || c.MaxRetransmit > maxSZSERetransmit {
		return bad("max_retransmit: %d is not between 0 and %d", c.MaxRetransmit, maxSZSERetransmit)
	}
	if c.MaxRetransmit == 0 {
		c.MaxRetransmit = DefaultSZSEMaxRetransmit
	}
	return c, nil
}

// isSZSE reports whether symbol is published over SZSE Binary in SZSE
// mode.
func isSZSE(symbol string) bool { return strings.HasSuffix(symbol, szseSuffix) }

// securityID returns the SZSE SecurityID field of a feed symbol, which
// refdata validated to at most 8 characters.
func securityID(feedSymbol string) ([8]byte, error) {
	var id [8]byte
	err := szse.PutString(id[:], feedSymbol)
	return id, err
}
