package qfcpp

import "errors"

// ErrExited reports a wait that ended because the peer exited (or was
// killed); the message gives its exit status and last output.
var ErrExited = errors.New("qfcpp: peer exited")

var (
	// errBind reports a venue that could not listen on its port.
	errBind = errors.New("qfcpp: the venue could not listen on its port")
	// errStopped reports a feed await ended by its stop channel.
	errStopped = errors.New("qfcpp: stopped")
)
