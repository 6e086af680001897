package sim

import "errors"

// Errors returned by the simulator. Order rejects from Submit, Cancel and
// Replace are the sentinels of package sgw/sim/match.
var (
	// ErrConfig reports an invalid Config; the message names the field.
	ErrConfig = errors.New("sim: bad configuration")
	// ErrClosed reports a call on a Sim after Close (or after Run returned).
	ErrClosed = errors.New("sim: closed")
	// ErrRunning reports a second call of Run.
	ErrRunning = errors.New("sim: already running")
	// ErrSessionEnded reports an order or synthetic step after EndSession.
	ErrSessionEnded = errors.New("sim: session ended")
	// ErrBadSource reports a Source other than Primary or Backup.
	ErrBadSource = errors.New("sim: bad source")
	// ErrEncode reports a feed message the ITCH or SZSE codec refused; it
	// is a bug in the simulator, never a consequence of client input.
	ErrEncode = errors.New("sim: cannot encode feed message")
)
