package broker

import (
	"errors"
	"time"

	"sgw/netsec"
)

// Errors of the acceptor's lifecycle and configuration.
var (
	// ErrConfig reports an invalid Config; the message names the field.
	ErrConfig = errors.New("broker: bad configuration")
	// ErrRunning reports a second Run.
	ErrRunning = errors.New("broker: already running")
	// ErrClosed reports a Run after Close.
	ErrClosed = errors.New("broker: closed")
)

// Reasons a connection is refused that a clustered gateway's front
// reports too (Refusals.Refuse): label reason of
// gateway_broker_logon_rejects_total.
const (
	// ReasonAddress: no session allows the source address, or (at logon)
	// the session does not.
	ReasonAddress = "address"
	// ReasonProxy: a PROXY protocol header missing or malformed from a
	// load balancer, or sent by a peer that is not one.
	ReasonProxy = "proxy"
	// ReasonMaxConnections: Config.MaxConnections connections were open.
	ReasonMaxConnections = netsec.ReasonMaxConns
	// ReasonMaxWaiting: Config.MaxWaitingConnections connections were
	// waiting for a leader.
	ReasonMaxWaiting = "max_waiting"
)

// Reasons only the acceptor refuses a connection or a logon for (label
// reason of gateway_broker_logon_rejects_total).
const (
	reasonSession  = "session"   // no session has these CompIDs and BeginString
	reasonPassword = "password"  // wrong or missing Password (554)
	reasonNotLogon = "not_logon" // the first message is not a Logon
	reasonTimeout  = "timeout"   // no first message within LogonTimeout
	// reasonTLS: the TLS handshake failed (an old version, no client
	// certificate, one no configured CA signs).
	reasonTLS = "tls"
	// reasonCertificate: the client certificate is valid but is not the
	// session's (client_cert_cn, client_cert_spki_sha256).
	reasonCertificate = "certificate"
	// reasonSequence: the broker logged on below the expected MsgSeqNum
	// (its engine started again from 1 without the session's schedule,
	// or lost messages); quickfix logged it out.
	reasonSequence = "sequence"
	// reasonHeartBtInt: the Logon's HeartBtInt (108) is not a whole number
	// of seconds from 1 to MaxHeartBtInt (and the acceptor does not
	// override it).
	reasonHeartBtInt = "heart_bt_int"
)

// MaxHeartBtInt is the longest HeartBtInt (108) a broker's Logon may ask
// for when the acceptor does not override it (Config.HeartBtInt): a
// session whose broker hangs, or whose connection is cut without a word,
// stays logged on for 2.4 times its HeartBtInt, refusing the broker's
// reconnections and delaying cancel-on-disconnect.
const MaxHeartBtInt = time.Hour

// Texts of the Logout that answers a refused Logon.
const (
	textBadPassword    = "bad password"
	textUnknownSession = "unknown session: no broker session has these SenderCompID, TargetCompID and BeginString"
	textCertificate    = "client certificate is not this session's"
	textHeartBtInt     = "HeartBtInt (108) must be a whole number of seconds from 1 to 3600"
)
