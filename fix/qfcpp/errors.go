package qfcpp

import "errors"

// ErrExited reports a wait that ended because the peer exited (or was
// killed); the message gives its exit status and last output.
var ErrExited = errors.New("qfcpp: peer exited")

// ErrRefused reports a wait for an application message that ended
// because the initiator's session refused a message it received (an
// EventReject): with a data dictionary, the message failed validation, and
// the application never sees it.
var ErrRefused = errors.New("qfcpp: the initiator refused a message")

var (
	// errBind reports a venue that could not listen on its port.
	errBind = errors.New("qfcpp: the venue could not listen on its port")
	// errStopped reports a feed await ended by its stop channel.
	errStopped = errors.New("qfcpp: stopped")
)
