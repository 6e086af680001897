package fixsim

import (
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/quickfixgo/quickfix"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultSenderCompID = "SIMEX"
	DefaultBeginString  = quickfix.BeginStringFIX44
	DefaultLineAddr     = "127.0.0.1:0"
	DefaultLines        = 2
)

// DefaultTargetCompIDs returns the counterparties accepted when
// Config.TargetCompIDs is empty: the gateway's two upstream sessions.
func DefaultTargetCompIDs() []string { return []string{"SGW-CORE", "SGW-MARGIN"} }

// Config configures an Acceptor. Every field's zero value is usable; New
// fills the defaults documented on each field.
type Config struct {
	// SenderCompID is the simulator's CompID. Zero means "SIMEX".
	SenderCompID string `yaml:"sender_comp_id"`
	// TargetCompIDs are the counterparties allowed to log on, one FIX
	// session each; the order owner in the matching engine is the
	// counterparty's CompID. Zero means "SGW-CORE" and "SGW-MARGIN".
	TargetCompIDs []string `yaml:"target_comp_ids"`
	// BeginString is the FIX version of every session: "FIX.4.4" or
	// "FIX.4.2". Zero means FIX.4.4. To serve both versions, run two
	// Acceptors on the same Sim.
	BeginString string `yaml:"begin_string"`
	// Lines are the listen addresses of the lines (carriers) in front of
	// the acceptor; every line reaches the same sessions, so a counterparty
	// may log on over any of them. Zero means two lines on 127.0.0.1:0
	// (free ports; read them back with LineAddr).
	Lines []string `yaml:"lines"`
	// StoreDir is the directory of the FIX message stores (sequence
	// numbers and sent messages, one set of files per session). Zero means
	// in-memory stores: they survive Restart but not the process.
	StoreDir string `yaml:"store_dir"`
	// StoreSync fsyncs the file store on every message. Zero (false)
	// writes without fsync: the store survives Restart and a crash of the
	// process, not one of the machine. Ignored without StoreDir.
	StoreSync bool `yaml:"store_sync"`
	// HeartBtInt, when positive, overrides the heartbeat interval the
	// counterparty asks for in its Logon; it must be whole seconds. Zero
	// means the counterparty's interval.
	HeartBtInt time.Duration `yaml:"heart_bt_int"`
	// TakeOver lets a new connection of a session that is still connected
	// (as after a stalled line, whose connection is dead but not yet timed
	// out) replace the old connection. Zero (false) refuses the new
	// connection until the acceptor notices the old one is gone, about
	// 2.4 heartbeat intervals after the line went silent, as QuickFIX and
	// most venues do.
	TakeOver bool `yaml:"take_over"`
}

// Check validates c as New would, without listening: what `gateway
// check-config` asks of the simulator's FIX acceptor.
func (c Config) Check() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults returns a copy of c with the defaults filled and every
// field checked.
func (c Config) withDefaults() (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	if c.SenderCompID == "" {
		c.SenderCompID = DefaultSenderCompID
	}
	if !compID(c.SenderCompID) {
		return bad("sender_comp_id %q: want 1 to 32 printable characters without spaces", c.SenderCompID)
	}
	if len(c.TargetCompIDs) == 0 {
		c.TargetCompIDs = DefaultTargetCompIDs()
	}
	seen := map[string]bool{}
	for i, t := range c.TargetCompIDs {
		if !compID(t) {
			return bad("target_comp_ids[%d] %q: want 1 to 32 printable characters without spaces", i, t)
		}
		if seen[t] || t == c.SenderCompID {
			return bad("target_comp_ids[%d] %q: duplicate or equal to sender_comp_id", i, t)
		}
		seen[t] = true
	}
	c.TargetCompIDs = append([]string(nil), c.TargetCompIDs...)
	switch c.BeginString {
	case "":
		c.BeginString = DefaultBeginString
	case quickfix.BeginStringFIX44, quickfix.BeginStringFIX42:
	default:
		return bad("begin_string %q: want FIX.4.4 or FIX.4.2", c.BeginString)
	}
	if len(c.Lines) == 0 {
		c.Lines = make([]string, DefaultLines)
		for i := range c.Lines {
			c.Lines[i] = DefaultLineAddr
		}
	}
	c.Lines = append([]string(nil), c.Lines...)
	for i, addr := range c.Lines {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return bad("lines[%d] %q: %w", i, addr, err)
		}
	}
	if c.StoreDir != "" {
		c.StoreDir = filepath.Clean(c.StoreDir)
	}
	if c.HeartBtInt < 0 || c.HeartBtInt%time.Second != 0 {
		return bad("heart_bt_int %s: want whole seconds, zero for the counterparty's", c.HeartBtInt)
	}
	return c, nil
}

// compID reports whether s is a usable CompID.
func compID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
