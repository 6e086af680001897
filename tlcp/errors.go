package tlcp

import (
	"errors"
	"fmt"
)

var (
	// ErrConfig reports a Config that cannot serve or dial.
	ErrConfig = errors.New("tlcp: invalid config")
	// ErrHandshakeTimeout reports a handshake that did not complete
	// within Config.HandshakeTimeout.
	ErrHandshakeTimeout = errors.New("tlcp: handshake timed out")
	// ErrClosed reports use of a Conn after Close.
	ErrClosed = errors.New("tlcp: use of closed connection")
)

// AlertError is a fatal alert, sent to the peer (Sent) or received from
// it. Errors returned by a failed handshake wrap one when an alert was
// involved, so that errors.As finds the code.
type AlertError struct {
	Alert Alert
	Sent  bool
}

func (e *AlertError) Error() string {
	if e.Sent {
		return fmt.Sprintf("tlcp: sent alert %s", e.Alert)
	}
	return fmt.Sprintf("tlcp: received alert %s", e.Alert)
}

// protocolError is a handshake failure with the alert to send: the
// handshake sends Alert and returns the error, wrapped around an
// AlertError.
type protocolError struct {
	alert Alert
	err   error
}

func (e *protocolError) Error() string { return e.err.Error() }
func (e *protocolError) Unwrap() error { return e.err }

// fail returns a handshake error that sends alert a.
func fail(a Alert, format string, args ...any) error {
	return &protocolError{alert: a, err: fmt.Errorf("tlcp: "+format, args...)}
}
