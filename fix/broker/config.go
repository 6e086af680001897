package broker

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/config"

	"sgw/atrest"
	"sgw/fix"
	"sgw/internal/secretfile"
	"sgw/netsec"
	"sgw/orders"
	"sgw/refdata"
)

// Defaults applied by New to zero Config and SessionConfig fields, and
// limits.
const (
	DefaultListen          = "127.0.0.1:0"
	DefaultSenderCompID    = "SGW"
	DefaultBeginString     = quickfix.BeginStringFIX44
	DefaultQueueSize       = 1 << 16
	DefaultMaxMessageBytes = 16 << 10
	DefaultLogonTimeout    = 10 * time.Second
	DefaultMaxConnections  = 256
	DefaultMaxWaiting      = 64
	// MaxMessageBytesLimit is the largest MaxMessageBytes allowed.
	MaxMessageBytesLimit = fix.MaxFrameLimit
	// maxPasswordFileBytes bounds a PasswordFile: a password, not a
	// file read whole whatever it is.
	maxPasswordFileBytes = 4096
)

// defaultAllowed are the source addresses of a session with no
// AllowedAddrs: loopback only.
var defaultAllowed = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// Config configures the broker acceptor: where brokers connect and which
// sessions may log on.
type Config struct {
	// Listen is the host:port brokers connect to. Zero means 127.0.0.1:0,
	// a free loopback port (the demo and tests; read it back with Addr).
	Listen string `yaml:"listen"`
	// Sessions are the broker sessions, one per broker. At least one is
	// required.
	Sessions []SessionConfig `yaml:"sessions"`
	// StoreDir is the directory of the sessions' FIX file stores: sequence
	// numbers and sent messages, kept across restarts for resend recovery.
	// Required, except on a cluster node, whose sessions' stores are
	// replicated (Stores); the demo fills in a fresh temporary directory
	// when it is empty.
	StoreDir string `yaml:"store_dir"`
	// StoreSync makes the store fsync every message. Zero (false) writes
	// without fsync: the store survives a crash of the process; after a
	// crash of the machine its sender MsgSeqNum resumes at the reservation
	// (fix.FileStores) and the reports it lost are restated (the order
	// journal is the durable record of orders).
	StoreSync bool `yaml:"store_sync"`
	// Keys, when set, seals the sessions' stores with SM4-GCM
	// (fix.OpenSealedStore): messages and sequence numbers. The
	// composition root sets it from the configuration's
	// storage.encryption. Nil means quickfix's plain file store.
	Keys *atrest.KeyRing `yaml:"-"`
	// HeartBtInt, when positive, overrides the heartbeat interval a broker
	// asks for in its Logon (108); whole seconds. Zero means the broker's,
	// which must then be 1s to MaxHeartBtInt (a Logon asking for another
	// is refused).
	HeartBtInt time.Duration `yaml:"heart_bt_int"`
	// QueueSize bounds the messages waiting to go to one session; reports
	// queue while the session is logged out and go out after its next
	// logon. Zero means 65536.
	QueueSize int `yaml:"queue_size"`
	// MaxMessageBytes bounds one FIX message a broker sends, from
	// BeginString to CheckSum: a connection whose message declares more
	// (BodyLength) is closed before the message is read. Zero means 16384
	// (16 KiB); at most 1048576 (1 MiB). Order messages are a few hundred
	// bytes.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// LogonTimeout bounds how long a new connection may take to complete
	// its TLS handshake and send its first message, which must be a
	// Logon; otherwise it is closed. Zero means 10s.
	LogonTimeout time.Duration `yaml:"logon_timeout"`
	// MaxConnections caps the broker connections open at once on this
	// node's listener, whatever their state (before the Logon, logged on,
	// and in a cluster relayed to the leader or waiting for one); one more
	// is closed as soon as it is accepted, before a byte is read, and
	// counted (gateway_broker_logon_rejects_total{reason="max_connections"}).
	// Each broker needs one connection, two while its engine reconnects.
	// Zero means 256.
	MaxConnections int `yaml:"max_connections"`
	// MaxWaitingConnections caps, on a clustered gateway, the connections
	// that wait (up to 10 s each) for a leader during an election; one more
	// is closed at once and counted (reason "max_waiting"), and its
	// broker's engine connects again. Unused by a single gateway. Zero
	// means 64; at most MaxConnections.
	MaxWaitingConnections int `yaml:"max_waiting_connections"`
	// TLS serves the sessions over TLS (1.3 by default; see
	// netsec.ServerTLSConfig), the certificate reloaded when its files
	// change. With client_ca_file, brokers must present a client
	// certificate, and each session names the one it accepts
	// (client_cert_cn, client_cert_spki_sha256): a broker presenting
	// another's is refused before its Logon reaches the session. Nil means
	// plain text, refused on an address that is not loopback unless
	// TLSTerminatedBy is set.
	TLS *netsec.ServerTLSConfig `yaml:"tls"`
	// TLSTerminatedBy names what terminates TLS in front of a plain-text
	// listener on a non-loopback address (a load balancer, stunnel). Zero
	// means none. Not with TLS.
	TLSTerminatedBy string `yaml:"tls_terminated_by"`
	// ProxyProtocol accepts the PROXY protocol v2 header from the named
	// load balancers: the sessions' AllowedAddrs are then checked against
	// the broker's address from the header. Nil means no header is
	// accepted from anyone.
	ProxyProtocol *netsec.ProxyConfig `yaml:"proxy_protocol"`

	// Listener, when set, is where the brokers' connections come from in
	// place of a listener bound on Listen: a clustered gateway's front,
	// which hands the leader's acceptor its connections and relays the
	// others to the leader. The Acceptor owns it (Run and Close close it).
	// Nil means New binds Listen.
	Listener net.Listener `yaml:"-"`
	// Stores, when set, keeps the sessions' stores and their reservations
	// there (fix.ReplicatedStores) in place of files in StoreDir: a
	// clustered gateway's replicated stores, so that the next leader's
	// acceptor resumes the sessions. StoreDir, StoreSync and Keys are then
	// unused, and Keys must be nil. Nil means the file stores.
	Stores fix.SessionStores `yaml:"-"`
	// Term, when not zero, starts the acceptor's own ExecIDs in place of
	// the process's start time: a clustered gateway's leadership term,
	// which no other acceptor of the cluster ever has.
	Term uint64 `yaml:"-"`
	// Restate, when set, has each session's first logon resend the trades
	// whose reports its store lacks and restate the orders it entered that
	// its store's last report does not show as they are (restate.go): set
	// on a clustered gateway's acceptor, whose term follows another
	// node's, and on a single gateway's, which follows its previous run:
	// the last reports of either may never have left.
	Restate bool `yaml:"-"`
}

// SessionConfig is one broker's FIX session.
type SessionConfig struct {
	// SenderCompID (49 on what the gateway sends) is the gateway's CompID.
	// Zero means "SGW".
	SenderCompID string `yaml:"sender_comp_id"`
	// TargetCompID is the broker's CompID. Required and unique: it names
	// the session in logs, metrics and the order journal (order source
	// fix:TargetCompID).
	TargetCompID string `yaml:"target_comp_id"`
	// BeginString is FIX.4.4 or FIX.4.2. Zero means FIX.4.4.
	BeginString string `yaml:"begin_string"`
	// Password is what the broker must send as Password (554) in its
	// Logon (FIX 4.2 brokers send the same tag). Exactly one of Password
	// and PasswordFile is required; production uses PasswordFile.
	Password string `yaml:"password"`
	// PasswordFile is a file holding the password (one line; a trailing
	// newline is ignored), at most maxPasswordFileBytes: a regular file
	// its group and others may not access (chmod 600 or 400), as
	// internal/secretfile reads a secret.
	PasswordFile string `yaml:"password_file"`
	// AllowedAddrs are the source addresses the broker may connect from:
	// IPs ("203.0.113.7") or CIDR prefixes ("203.0.113.0/28"). Zero means
	// loopback only.
	AllowedAddrs []string `yaml:"allowed_addrs"`
	// Accounts are the trading accounts the broker may trade. At least one
	// is required; orders for any other account are rejected.
	Accounts []string `yaml:"accounts"`
	// ClientCertCN is the subject common name of the broker's client
	// certificate. With mutual TLS (tls.client_ca_file) at least one of
	// ClientCertCN and ClientCertSPKI is required, and every one given
	// must match; without it, neither is allowed.
	ClientCertCN string `yaml:"client_cert_cn"`
	// ClientCertSPKI is the SHA-256 fingerprint of the public key
	// (SubjectPublicKeyInfo) of the broker's client certificate, in hex
	// (colons allowed) or base64; it survives renewals with the same key.
	ClientCertSPKI string `yaml:"client_cert_spki_sha256"`
	// Schedule is the broker's session period, when its engine starts
	// each period at sequence number 1: both sides then reset together
	// (see fix.SessionSchedule). Nil means the session never ends, and a
	// broker that starts again from 1 has its Logon refused ("MsgSeqNum
	// too low", counted as reason sequence) until the store is reset by
	// hand.
	Schedule *fix.SessionSchedule `yaml:"schedule"`
}

// sessionSpec is a validated SessionConfig.
type sessionSpec struct {
	cfg      SessionConfig
	id       quickfix.SessionID
	password [sha256.Size]byte // SHA-256 of the password, compared in constant time
	allowed  []netip.Prefix
	accounts map[string]bool
	certCN   string    // "": not checked
	certSPKI *[32]byte // nil: not checked
}

// Check validates cfg as New would and reads the files it names (the
// sessions' password files, the TLS certificate, key and client CAs),
// without listening or opening a store: what `gateway check-config` asks
// of the broker acceptor.
func (cfg Config) Check() error {
	cfg, _, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	_, err = cfg.serverTLS(nil)
	return err
}

// WithDefaults validates cfg as New would and returns it with the
// defaults filled in (the listener, the limits, the sessions' CompIDs and
// BeginString): what a clustered gateway's front needs of the acceptors
// it stands in front of.
func (cfg Config) WithDefaults() (Config, error) {
	cfg, _, err := cfg.withDefaults()
	return cfg, err
}

// serverTLS loads the listener's TLS certificate, or returns nil without
// TLS. log may be nil.
func (cfg *Config) serverTLS(log *slog.Logger) (*netsec.ServerTLS, error) {
	if cfg.TLS == nil {
		return nil, nil
	}
	st, err := netsec.NewServerTLS(*cfg.TLS, "brokers.tls", log)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return st, nil
}

// withDefaults validates cfg and returns it with defaults filled, and the
// sessions' specs.
func (cfg Config) withDefaults() (Config, []*sessionSpec, error) {
	bad := func(format string, args ...any) (Config, []*sessionSpec, error) {
		return cfg, nil, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if _, _, err := netsec.SplitHostPort(cfg.Listen); err != nil {
		return bad("listen %q: %v", cfg.Listen, err)
	}
	switch {
	case cfg.Stores != nil && cfg.Keys != nil:
		return bad("replicated stores are sealed by the cluster: keys must be nil")
	case cfg.StoreDir == "" && cfg.Stores == nil:
		return bad("store_dir is required")
	}
	if cfg.HeartBtInt < 0 || cfg.HeartBtInt%time.Second != 0 {
		return bad("heart_bt_int %v: want whole seconds, zero for the broker's", cfg.HeartBtInt)
	}
	switch {
	case cfg.QueueSize == 0:
		cfg.QueueSize = DefaultQueueSize
	case cfg.QueueSize < 0:
		return bad("queue_size %d is negative", cfg.QueueSize)
	}
	switch {
	case cfg.MaxMessageBytes == 0:
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	case cfg.MaxMessageBytes < fix.MinFrameLimit || cfg.MaxMessageBytes > MaxMessageBytesLimit:
		return bad("max_message_bytes %d: want %d to %d, zero for %d", cfg.MaxMessageBytes, fix.MinFrameLimit, MaxMessageBytesLimit, DefaultMaxMessageBytes)
	}
	switch {
	case cfg.LogonTimeout == 0:
		cfg.LogonTimeout = DefaultLogonTimeout
	case cfg.LogonTimeout < 0:
		return bad("logon_timeout %v is negative", cfg.LogonTimeout)
	}
	switch {
	case cfg.MaxConnections == 0:
		cfg.MaxConnections = DefaultMaxConnections
	case cfg.MaxConnections < 0:
		return bad("max_connections %d is negative", cfg.MaxConnections)
	}
	switch {
	case cfg.MaxWaitingConnections == 0:
		cfg.MaxWaitingConnections = min(DefaultMaxWaiting, cfg.MaxConnections)
	case cfg.MaxWaitingConnections < 0 || cfg.MaxWaitingConnections > cfg.MaxConnections:
		return bad("max_waiting_connections %d: want 1 to max_connections (%d), zero for %d", cfg.MaxWaitingConnections, cfg.MaxConnections, DefaultMaxWaiting)
	}
	if err := cfg.checkTransport(); err != nil {
		return cfg, nil, err
	}
	if len(cfg.Sessions) == 0 {
		return bad("sessions: at least one session is required")
	}
	cfg.Sessions = append([]SessionConfig(nil), cfg.Sessions...)
	var specs []*sessionSpec
	targets := map[string]bool{}
	for i := range cfg.Sessions {
		s, err := cfg.Sessions[i].spec(fmt.Sprintf("sessions[%d].", i), cfg.mutualTLS())
		if err != nil {
			return cfg, nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		if targets[s.cfg.TargetCompID] {
			return bad("sessions[%d].target_comp_id %q is repeated", i, s.cfg.TargetCompID)
		}
		targets[s.cfg.TargetCompID] = true
		cfg.Sessions[i] = s.cfg
		specs = append(specs, s)
	}
	return cfg, specs, nil
}

// checkTransport checks TLS, the PROXY protocol and that a plain-text
// listener is on loopback or behind what terminates TLS.
func (cfg *Config) checkTransport() error {
	if cfg.ProxyProtocol != nil {
		if err := cfg.ProxyProtocol.Validate("brokers.proxy_protocol"); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	if cfg.TLS == nil {
		if err := netsec.CheckPlain("brokers.listen", cfg.Listen, cfg.TLSTerminatedBy, "brokers.tls_terminated_by"); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
		return nil
	}
	if cfg.TLSTerminatedBy != "" {
		return fmt.Errorf("%w: tls and tls_terminated_by are exclusive: TLS ends either here or in front", ErrConfig)
	}
	if cfg.TLS.TLCP != nil {
		// The acceptor serves TLS only: a tlcp section would be loaded
		// and never served, a broker's TLCP engine refused at its
		// handshake with no word of why.
		return fmt.Errorf("%w: brokers.tls.tlcp: the brokers' FIX listener serves TLS only, not TLCP (remove the section)", ErrConfig)
	}
	if err := cfg.TLS.Validate("brokers.tls"); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// mutualTLS reports whether brokers must present client certificates.
func (cfg *Config) mutualTLS() bool { return cfg.TLS != nil && cfg.TLS.ClientCAFile != "" }

// spec validates one session; key prefixes the keys named in errors
// ("sessions[0]."). mutual tells whether brokers present certificates.
func (sc SessionConfig) spec(key string, mutual bool) (*sessionSpec, error) {
	if sc.SenderCompID == "" {
		sc.SenderCompID = DefaultSenderCompID
	}
	if err := checkID(key+"sender_comp_id", sc.SenderCompID, refdata.MaxCompIDLen); err != nil {
		return nil, err
	}
	if err := checkID(key+"target_comp_id", sc.TargetCompID, refdata.MaxCompIDLen); err != nil {
		return nil, err
	}
	if sc.TargetCompID == sc.SenderCompID {
		return nil, fmt.Errorf("%starget_comp_id %q equals sender_comp_id", key, sc.TargetCompID)
	}
	if sc.Schedule != nil {
		if err := sc.Schedule.Validate(key + "schedule"); err != nil {
			return nil, err
		}
	}
	switch sc.BeginString {
	case "":
		sc.BeginString = DefaultBeginString
	case quickfix.BeginStringFIX44, quickfix.BeginStringFIX42:
	default:
		return nil, fmt.Errorf("%sbegin_string %q: want FIX.4.4 or FIX.4.2", key, sc.BeginString)
	}
	pw := sc.Password
	switch {
	case sc.Password != "" && sc.PasswordFile != "":
		return nil, fmt.Errorf("%spassword and %spassword_file are exclusive", key, key)
	case sc.PasswordFile != "":
		// A secret: refused, as the key files are, if its group or
		// others may access it or it is not a regular file (a named
		// pipe would hold the start until something wrote to it).
		b, err := secretfile.Read(sc.PasswordFile, maxPasswordFileBytes)
		if err != nil {
			return nil, fmt.Errorf("%spassword_file: %w", key, err)
		}
		pw = strings.TrimRight(string(b), "\r\n")
	}
	if pw == "" {
		return nil, fmt.Errorf("%spassword: a password (password or password_file) is required", key)
	}
	if strings.ContainsRune(pw, 0x01) {
		return nil, fmt.Errorf("%spassword: the password contains SOH", key)
	}
	s := &sessionSpec{
		id:       quickfix.SessionID{BeginString: sc.BeginString, SenderCompID: sc.SenderCompID, TargetCompID: sc.TargetCompID},
		password: sha256.Sum256([]byte(pw)),
		accounts: map[string]bool{},
	}
	for i, a := range sc.AllowedAddrs {
		p, err := netsec.ParsePrefix(a)
		if err != nil {
			return nil, fmt.Errorf("%sallowed_addrs[%d]: %w", key, i, err)
		}
		s.allowed = append(s.allowed, p)
	}
	if len(s.allowed) == 0 {
		s.allowed = defaultAllowed
	}
	if len(sc.Accounts) == 0 {
		return nil, fmt.Errorf("%saccounts: at least one account is required", key)
	}
	for i, a := range sc.Accounts {
		k := fmt.Sprintf("%saccounts[%d]", key, i)
		if err := checkID(k, a, refdata.MaxAccountLen); err != nil {
			return nil, err
		}
		if s.accounts[a] {
			return nil, fmt.Errorf("%s %q is repeated", k, a)
		}
		s.accounts[a] = true
	}
	switch {
	case !mutual && (sc.ClientCertCN != "" || sc.ClientCertSPKI != ""):
		return nil, fmt.Errorf("%sclient_cert_cn and %sclient_cert_spki_sha256 need mutual TLS (brokers.tls.client_ca_file)", key, key)
	case mutual && sc.ClientCertCN == "" && sc.ClientCertSPKI == "":
		return nil, fmt.Errorf("%sclient_cert_cn or %sclient_cert_spki_sha256: with mutual TLS each session names its broker's certificate", key, key)
	}
	s.certCN = sc.ClientCertCN
	if sc.ClientCertSPKI != "" {
		fp, err := netsec.ParseFingerprint(sc.ClientCertSPKI)
		if err != nil {
			return nil, fmt.Errorf("%sclient_cert_spki_sha256: %w", key, err)
		}
		s.certSPKI = &fp
	}
	sc.AllowedAddrs = append([]string(nil), sc.AllowedAddrs...)
	sc.Accounts = append([]string(nil), sc.Accounts...)
	s.cfg = sc
	return s, nil
}

// certOK reports whether a verified client certificate is the session's.
func (s *sessionSpec) certOK(cert *x509.Certificate) bool {
	if cert == nil {
		return false
	}
	if s.certCN != "" && cert.Subject.CommonName != s.certCN {
		return false
	}
	if s.certSPKI != nil && netsec.SPKIFingerprint(cert) != *s.certSPKI {
		return false
	}
	return true
}

// checkID checks an identifier of the configuration with the order path's
// rules (refdata.ValidID); the error names key.
func checkID(key, v string, max int) error {
	err := orders.CheckID(key, v, max)
	var r *orders.Reject
	if errors.As(err, &r) {
		return errors.New(r.Text)
	}
	return err
}

// allowedAddr reports whether addr (a connection's remote address) lies in
// one of prefixes: the one check of a broker's source address, for a
// session and for the union of them (AllowedAddrs).
func allowedAddr(addr net.Addr, prefixes []netip.Prefix) bool {
	return netsec.Contains(prefixes, addr)
}

// AllowedAddrs is the union of the sessions' allowed source addresses
// (SessionConfig.AllowedAddrs, loopback for a session that lists none): a
// connection from elsewhere cannot log on to any session. It is immutable
// and safe to share between goroutines.
type AllowedAddrs struct {
	prefixes []netip.Prefix
}

// Allows reports whether some session allows addr, a connection's remote
// address (the broker's own, behind a PROXY protocol header).
func (a AllowedAddrs) Allows(addr net.Addr) bool { return allowedAddr(addr, a.prefixes) }

// allowedBy returns the union of the specs' allowed addresses.
func allowedBy(specs []*sessionSpec) AllowedAddrs {
	var a AllowedAddrs
	for _, s := range specs {
		a.prefixes = append(a.prefixes, s.allowed...)
	}
	return a
}

// AllowedAddrs validates cfg as New would and returns the union of its
// sessions' allowed addresses: what a clustered gateway's follower checks
// a broker's address against before it relays the connection to the
// leader, whose acceptor checks the same at accept and the session's own
// at logon.
func (cfg Config) AllowedAddrs() (AllowedAddrs, error) {
	_, specs, err := cfg.withDefaults()
	if err != nil {
		return AllowedAddrs{}, err
	}
	return allowedBy(specs), nil
}

// settings builds the quickfix acceptor settings: every session on the
// port of the listener the acceptor serves.
func (cfg *Config) settings(port int, specs []*sessionSpec) (*quickfix.Settings, error) {
	st := quickfix.NewSettings()
	gs := st.GlobalSettings()
	gs.Set(config.SocketAcceptPort, strconv.Itoa(port))
	gs.Set(config.ResetOnLogon, "N")
	gs.Set(config.TimeStampPrecision, "MILLIS")
	gs.Set(config.InChanCapacity, "1024")
	gs.Set(config.FileStorePath, cfg.StoreDir)
	gs.Set(config.FileStoreSync, map[bool]string{true: "Y", false: "N"}[cfg.StoreSync])
	if cfg.HeartBtInt > 0 {
		gs.Set(config.HeartBtIntOverride, "Y")
		gs.Set(config.HeartBtInt, strconv.Itoa(int(cfg.HeartBtInt/time.Second)))
	}
	for _, s := range specs {
		ss := quickfix.NewSessionSettings()
		ss.Set(config.BeginString, s.id.BeginString)
		ss.Set(config.SenderCompID, s.id.SenderCompID)
		ss.Set(config.TargetCompID, s.id.TargetCompID)
		if s.cfg.Schedule != nil {
			s.cfg.Schedule.Apply(ss)
		}
		if _, err := st.AddSession(ss); err != nil {
			return nil, fmt.Errorf("%w: session %s: %w", ErrConfig, s.id.TargetCompID, err)
		}
	}
	return st, nil
}
