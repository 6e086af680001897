package feed

import "errors"

// Errors reported by the feed.
var (
	// ErrConfig reports an invalid Config.
	ErrConfig = errors.New("feed: invalid config")
	// ErrProtocol reports a source that broke the SoupBinTCP protocol or the
	// feed profile; the source is reset and the other carries on.
	ErrProtocol = errors.New("feed: protocol error")
	// ErrLoginRejected reports a Login Rejected packet.
	ErrLoginRejected = errors.New("feed: login rejected")
	// ErrTimeout reports a source silent past its heartbeat timeout.
	ErrTimeout = errors.New("feed: heartbeat timeout")
	// ErrLogout reports an SZSE Logout from a source, with its
	// SessionStatus and Text; the source is reset.
	ErrLogout = errors.New("feed: logged out by the source")
)
