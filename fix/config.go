package fix

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/config"

	"sgw/atrest"
	"sgw/netsec"
	"sgw/refdata"
)

// Defaults applied by NewUpstream to zero UpstreamConfig fields.
const (
	DefaultBeginString       = quickfix.BeginStringFIX44
	DefaultHeartBtInt        = time.Second
	DefaultReconnectInterval = 500 * time.Millisecond
	DefaultDialTimeout       = time.Second
	DefaultQueueSize         = 1 << 16
	DefaultSendWindow        = 64
	// MaxSendWindow bounds UpstreamConfig.SendWindow.
	MaxSendWindow = 1024
)

// UpstreamConfig configures one upstream FIX session (the core trading
// system or the margin-trading system) and its lines.
type UpstreamConfig struct {
	// Name names the upstream in metrics (label session), logs and Handler
	// calls: "core" or "margin". Required.
	Name string `yaml:"name"`
	// SenderCompID (49) and TargetCompID (56) identify the session.
	// Required.
	SenderCompID string `yaml:"sender_comp_id"`
	TargetCompID string `yaml:"target_comp_id"`
	// BeginString is FIX.4.4 or FIX.4.2. Zero means FIX.4.4.
	BeginString string `yaml:"begin_string"`
	// Lines are the carriers' lines to the upstream. The session connects
	// over the first and stays on a line until it fails there (broken,
	// silent, or refusing logons for LogonTimeout), then reconnects over the
	// next, alternating with two lines. Production uses exactly two; at
	// least one is required.
	Lines []LineConfig `yaml:"lines"`
	// HeartBtInt is the heartbeat interval sent in Logon (108), a whole
	// number of seconds. A line silent for 1.2 HeartBtInt gets a
	// TestRequest and is dropped after another 1.2 HeartBtInt, so a silent
	// line is detected within 2.4 HeartBtInt. Zero means 1s.
	HeartBtInt time.Duration `yaml:"heart_bt_int"`
	// ReconnectInterval is the pause before reconnecting after a
	// disconnect, and the first pause of the backoff after a Logon refused
	// for the upstream's sequence numbers (see Schedule). Zero means
	// 500ms.
	ReconnectInterval time.Duration `yaml:"reconnect_interval"`
	// DialTimeout bounds a TCP connect over one line, plus its TLS
	// handshake. Zero means 1s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// LogonTimeout bounds the wait for the upstream's Logon response, and
	// (with DialTimeout, whichever is longer) the relay's wait for the
	// session's Logon before it dials. Zero means 3 HeartBtInt.
	LogonTimeout time.Duration `yaml:"logon_timeout"`
	// StoreDir is the directory of the session's file store: sequence
	// numbers and sent messages, kept across restarts for resend recovery.
	// Each upstream needs its own directory. Required.
	StoreDir string `yaml:"store_dir"`
	// StoreSync makes the store fsync every message, which bounds a session
	// to roughly a thousand messages per second. Zero (false) writes
	// without per-message fsync and protects the sender sequence number
	// with an fsynced reservation instead (see doc.go).
	StoreSync bool `yaml:"store_sync"`
	// ResetOnLogon resets both sequence numbers to 1 at every logon,
	// discarding resend recovery. Zero (false) keeps them, as production
	// requires.
	ResetOnLogon bool `yaml:"reset_on_logon"`
	// Schedule is the upstream's session period, when it has one: at the
	// period's start both sides begin again from sequence number 1. It
	// must be the upstream's own schedule. Nil means the session never
	// ends: sequence numbers run on across days, and an upstream that
	// starts its day at 1 has its Logon refused ("MsgSeqNum too low"),
	// counted (gateway_fix_sequence_too_low_total) and logged as an error
	// once, then every 5 minutes while it lasts, the Logon tried again at
	// intervals doubling from ReconnectInterval up to 30s, until the
	// store is reset by hand or the upstream fixes its numbers; and after a reset by a Logon with ResetSeqNumFlag=Y that
	// followed a NewOrderSingle, Handed answers HandedUnknown at every
	// start for the requests the store does not hold (only a new period
	// ends that; see doc.go).
	Schedule *SessionSchedule `yaml:"schedule"`
	// QueueSize bounds the requests accepted by Send and not yet handed to
	// the session. Zero means 65536.
	QueueSize int `yaml:"queue_size"`
	// SendWindow bounds the messages the pacer has handed to quickfix and
	// not yet seen leave on the line (see "The in-process spin hazard,
	// and the pacer" in doc.go). One hands over a message at a time, at
	// the cost of a four-goroutine hand-over chain per message; more
	// lets the chain carry several at once. Zero means 64; at most 1024.
	SendWindow int `yaml:"send_window"`
	// Keys, when set, seals the store with SM4-GCM (OpenSealedStore): the
	// messages, both sequence numbers and the reservation file. The
	// composition root sets it from the configuration's
	// storage.encryption. Nil means quickfix's plain file store.
	Keys *atrest.KeyRing `yaml:"-"`
	// Fence, when set, is asked before every dial of a line and before
	// every write to one; an error ends the connection at once, without a
	// Logout, and nothing more is written (in a cluster: the node no
	// longer leads, see cluster.Fencer). It is called from the relay's
	// goroutines, never under a lock of this package, and should answer
	// quickly (a lease). Nil means no fence.
	Fence func() error `yaml:"-"`
	// Sessions, when set, keeps the session's store and its reservation
	// there instead of in files in StoreDir (see SessionStores): the
	// composition root sets it to the cluster's replicated store on a
	// clustered gateway. StoreDir, StoreSync and Keys are then unused, and
	// Keys must be nil. Nil means the file store.
	Sessions SessionStores `yaml:"-"`
}

// SessionSchedule is a FIX session's daily period. The session is up
// from Start to End each day; at Start a new period begins and both
// sequence numbers start again from 1 (the store is reset: its messages
// can no longer be resent). Between End and Start the session is down
// and no connection is made. Start equal to End is a 24-hour session
// that begins again at Start. Times are whole seconds in TimeZone.
type SessionSchedule struct {
	// Start and End are times of day, HH:MM:SS. Required.
	Start string `yaml:"start"`
	End   string `yaml:"end"`
	// TimeZone is an IANA zone name, such as "Asia/Shanghai". Zero means
	// UTC.
	TimeZone string `yaml:"time_zone"`
}

// samePeriod reports whether t1 and t2 are in the same period of the
// schedule, as quickfix decides it (internal.TimeRange.IsInSameRange, to
// the second): a session logged on at t1 and ending at t2 ended with its
// period when they are not. sc must have passed Validate.
func (sc *SessionSchedule) samePeriod(t1, t2 time.Time) bool {
	loc := time.UTC
	if sc.TimeZone != "" {
		var err error
		if loc, err = time.LoadLocation(sc.TimeZone); err != nil {
			return true // not validated: no period known
		}
	}
	start, _ := time.Parse(time.TimeOnly, sc.Start)
	end, _ := time.Parse(time.TimeOnly, sc.End)
	startD, endD := clockSeconds(start), clockSeconds(end)
	in := func(t time.Time) bool {
		ts := clockSeconds(t.In(loc))
		if startD < endD {
			return startD <= ts && ts <= endD
		}
		return ts <= endD || ts >= startD
	}
	if !in(t1) || !in(t2) {
		return false
	}
	if t2.Before(t1) {
		t1, t2 = t2, t1
	}
	t1 = t1.In(loc)
	days := 0
	if startD >= endD && clockSeconds(t1) >= startD {
		days = 1 // the period that began today ends tomorrow
	}
	y, m, d := t1.Date()
	periodEnd := time.Date(y, m, d, end.Hour(), end.Minute(), end.Second(), 0, loc).AddDate(0, 0, days)
	return t2.Before(periodEnd)
}

// clockSeconds returns t's time of day in whole seconds.
func clockSeconds(t time.Time) int {
	h, m, s := t.Clock()
	return h*3600 + m*60 + s
}

// Validate checks the schedule; key names it in errors (as "key.start").
func (sc *SessionSchedule) Validate(key string) error {
	for _, v := range []struct{ name, val string }{{"start", sc.Start}, {"end", sc.End}} {
		if _, err := time.Parse(time.TimeOnly, v.val); err != nil {
			return fmt.Errorf("%s.%s %q is not a time of day HH:MM:SS", key, v.name, v.val)
		}
	}
	if sc.TimeZone != "" {
		if _, err := time.LoadLocation(sc.TimeZone); err != nil {
			return fmt.Errorf("%s.time_zone %q: %v", key, sc.TimeZone, err)
		}
	}
	return nil
}

// Apply puts the schedule in a session's quickfix settings (StartTime,
// EndTime, TimeZone).
func (sc *SessionSchedule) Apply(ss *quickfix.SessionSettings) {
	ss.Set(config.StartTime, sc.Start)
	ss.Set(config.EndTime, sc.End)
	if sc.TimeZone != "" {
		ss.Set(config.TimeZone, sc.TimeZone)
	}
}

// LineConfig is one carrier's line to the upstream.
type LineConfig struct {
	// Name names the line in metrics (label line) and logs, such as
	// "carrierA". Required, unique within the upstream.
	Name string `yaml:"name"`
	// Addr is the upstream's host:port as reached over this line.
	// Required.
	Addr string `yaml:"addr"`
	// TLS, when set, runs the session over TLS on this line: the CAs
	// that sign the upstream's certificate, the name to check in it, and
	// a client certificate if the upstream asks for one (TLS 1.3 by
	// default; see netsec.ClientTLSConfig). A line whose certificate does
	// not verify fails like one that cannot be dialled. Required for a
	// line whose address is not loopback, unless Tunnel is set.
	TLS *netsec.ClientTLSConfig `yaml:"tls"`
	// TLCP, when set, runs the session over TLCP (GB/T 38636-2020,
	// national crypto; see netsec.ClientTLCPConfig) in place of TLS: for
	// a carrier or upstream that terminates only TLCP. Exclusive with TLS
	// and Tunnel.
	TLCP *netsec.ClientTLCPConfig `yaml:"tlcp"`
	// Tunnel names what encrypts a plain-text line that leaves the host
	// (an IPsec or WireGuard tunnel, the carrier's encrypted circuit), for
	// the record: it is logged; the gateway does not set it up. Zero means
	// none: a plain-text line must then be on loopback.
	Tunnel string `yaml:"tunnel"`
}

// Check validates cfg as NewUpstream would and reads the files its lines'
// TLS names (CA bundles, client key pairs), without connecting anywhere or
// opening the store: what `gateway check-config` asks of an upstream.
func (cfg UpstreamConfig) Check() error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	_, err = cfg.lineSecurity()
	return err
}

// lineSecurity builds the transport security of each line, by index
// (TLS, TLCP, or nil for a plain-text line). cfg has its defaults.
func (cfg *UpstreamConfig) lineSecurity() ([]*netsec.ClientSecurity, error) {
	out := make([]*netsec.ClientSecurity, len(cfg.Lines))
	for i, lc := range cfg.Lines {
		c, err := netsec.NewClientSecurity(lc.TLS, lc.TLCP, lc.Addr, fmt.Sprintf("lines[%d]", i))
		if err != nil {
			return nil, fmt.Errorf("%w: upstream %q: line %q: %w", ErrConfig, cfg.Name, lc.Name, err)
		}
		out[i] = c
	}
	return out, nil
}

// withDefaults validates cfg and returns it with defaults filled.
func (cfg UpstreamConfig) withDefaults() (UpstreamConfig, error) {
	bad := func(format string, args ...any) (UpstreamConfig, error) {
		return cfg, fmt.Errorf("%w: upstream %q: "+format, append([]any{ErrConfig, cfg.Name}, args...)...)
	}
	switch {
	case cfg.Name == "":
		return bad("name is required")
	case !refdata.ValidID(cfg.SenderCompID, refdata.MaxCompIDLen) || !refdata.ValidID(cfg.TargetCompID, refdata.MaxCompIDLen):
		return bad("sender_comp_id and target_comp_id are required: 1 to %d characters of A-Z a-z 0-9 - _ . : / # @", refdata.MaxCompIDLen)
	case cfg.StoreDir == "" && cfg.Sessions == nil:
		return bad("store_dir is required")
	case cfg.Sessions != nil && cfg.Keys != nil:
		return bad("storage encryption does not apply to a replicated session store; leave keys unset")
	case len(cfg.Lines) == 0:
		return bad("at least one line is required")
	}
	switch cfg.BeginString {
	case "":
		cfg.BeginString = DefaultBeginString
	case quickfix.BeginStringFIX44, quickfix.BeginStringFIX42:
	default:
		return bad("begin_string %q is neither FIX.4.4 nor FIX.4.2", cfg.BeginString)
	}
	seen := map[string]bool{}
	for i, l := range cfg.Lines {
		if l.Name == "" || seen[l.Name] {
			return bad("line %d: name %q is empty or repeated", i, l.Name)
		}
		seen[l.Name] = true
		if _, _, err := netsec.SplitHostPort(l.Addr); err != nil {
			return bad("line %q: addr %q: %v", l.Name, l.Addr, err)
		}
		key := fmt.Sprintf("lines[%d]", i)
		if l.TLCP != nil {
			if l.TLS != nil || l.Tunnel != "" {
				return bad("line %q: tlcp is exclusive with tls and tunnel", l.Name)
			}
			if err := l.TLCP.Validate(key + ".tlcp"); err != nil {
				return bad("line %q: %v", l.Name, err)
			}
		} else if l.TLS != nil {
			if err := l.TLS.Validate(key + ".tls"); err != nil {
				return bad("line %q: %v", l.Name, err)
			}
		} else if err := netsec.CheckPlain("line "+l.Name, l.Addr, l.Tunnel, key+".tunnel (or set "+key+".tls)"); err != nil {
			return bad("%v", err)
		}
	}
	if cfg.Schedule != nil {
		if err := cfg.Schedule.Validate("schedule"); err != nil {
			return bad("%v", err)
		}
	}
	if cfg.HeartBtInt == 0 {
		cfg.HeartBtInt = DefaultHeartBtInt
	}
	if cfg.HeartBtInt < time.Second || cfg.HeartBtInt%time.Second != 0 {
		return bad("heart_bt_int %v is not a whole number of seconds", cfg.HeartBtInt)
	}
	if cfg.ReconnectInterval == 0 {
		cfg.ReconnectInterval = DefaultReconnectInterval
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.LogonTimeout == 0 {
		cfg.LogonTimeout = 3 * cfg.HeartBtInt
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.SendWindow == 0 {
		cfg.SendWindow = DefaultSendWindow
	}
	switch {
	case cfg.ReconnectInterval < 0:
		return bad("reconnect_interval %v is negative", cfg.ReconnectInterval)
	case cfg.DialTimeout < 0:
		return bad("dial_timeout %v is negative", cfg.DialTimeout)
	case cfg.LogonTimeout < 0:
		return bad("logon_timeout %v is negative", cfg.LogonTimeout)
	case cfg.QueueSize < 0:
		return bad("queue_size %d is negative", cfg.QueueSize)
	case cfg.SendWindow < 0 || cfg.SendWindow > MaxSendWindow:
		return bad("send_window %d is outside 1..%d", cfg.SendWindow, MaxSendWindow)
	}
	return cfg, nil
}

// SessionID is the session's identity as quickfix keeps it, one session
// per identity in a process ("FIX.4.4:GW->VENUE"), BeginString defaulted
// as withDefaults does.
func (cfg UpstreamConfig) SessionID() string {
	if cfg.BeginString == "" {
		cfg.BeginString = DefaultBeginString
	}
	return cfg.sessionID().String()
}

// sessionID is the quickfix identity of the session.
func (cfg *UpstreamConfig) sessionID() quickfix.SessionID {
	return quickfix.SessionID{BeginString: cfg.BeginString, SenderCompID: cfg.SenderCompID, TargetCompID: cfg.TargetCompID}
}

// settings builds the quickfix settings of the initiator, which connects
// to the relay at relayAddr; the relay picks the line.
func (cfg *UpstreamConfig) settings(relayAddr string) (*quickfix.Settings, error) {
	host, port, err := net.SplitHostPort(relayAddr)
	if err != nil {
		return nil, fmt.Errorf("fix: relay address %q: %w", relayAddr, err)
	}
	s := quickfix.NewSettings()
	ss := quickfix.NewSessionSettings()
	ss.Set(config.BeginString, cfg.BeginString)
	ss.Set(config.SenderCompID, cfg.SenderCompID)
	ss.Set(config.TargetCompID, cfg.TargetCompID)
	ss.Set(config.SocketConnectHost, host)
	ss.Set(config.SocketConnectPort, port)
	ss.Set(config.HeartBtInt, strconv.Itoa(int(cfg.HeartBtInt/time.Second)))
	ss.Set(config.ReconnectInterval, cfg.ReconnectInterval.String())
	ss.Set(config.LogonTimeout, cfg.LogonTimeout.String())
	ss.Set(config.FileStorePath, cfg.StoreDir)
	ss.Set(config.FileStoreSync, yn(cfg.StoreSync))
	ss.Set(config.ResetOnLogon, yn(cfg.ResetOnLogon))
	ss.Set(config.InChanCapacity, "1024")
	if cfg.Schedule != nil {
		cfg.Schedule.Apply(ss)
	}
	if _, err := s.AddSession(ss); err != nil {
		return nil, fmt.Errorf("fix: session settings: %w", err)
	}
	return s, nil
}

func yn(b bool) string {
	if b {
		return "Y"
	}
	return "N"
}
