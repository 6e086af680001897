package broker

import "errors"

// Errors of the acceptor's lifecycle and configuration.
var (
	// ErrConfig reports an invalid Config; the message names the field.
	ErrConfig = errors.New("broker: bad configuration")
	// ErrRunning reports a second Run.
	ErrRunning = errors.New("broker: already running")
	// ErrClosed reports a Run after Close.
	ErrClosed = errors.New("broker: closed")
)

// Reasons a connection or a logon is refused (label reason of
// gateway_broker_logon_rejects_total).
const (
	reasonAddress  = "address"   // the source address is not allowed
	reasonSession  = "session"   // no session has these CompIDs and BeginString
	reasonPassword = "password"  // wrong or missing Password (554)
	reasonNotLogon = "not_logon" // the first message is not a Logon
	reasonTimeout  = "timeout"   // no first message within LogonTimeout
)

// Texts of the Logout that answers a refused Logon.
const (
	textBadPassword    = "bad password"
	textUnknownSession = "unknown session: no broker session has these SenderCompID, TargetCompID and BeginString"
)
