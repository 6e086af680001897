package mdbus

import "errors"

// Errors of the package.
var (
	// ErrConfig reports an invalid PublisherConfig or EdgeConfig.
	ErrConfig = errors.New("mdbus: invalid config")
	// ErrVersion reports a message of a wire version this package does
	// not know.
	ErrVersion = errors.New("mdbus: unknown wire version")
	// ErrMalformed reports a message that is truncated, too long, of an
	// unknown type or with a field out of range.
	ErrMalformed = errors.New("mdbus: malformed message")
	// ErrRefused reports a snapshot request the publisher answered with an
	// error (an unknown symbol).
	ErrRefused = errors.New("mdbus: snapshot refused")
	// ErrConnClosed reports that the NATS connection of an Edge or a
	// Publisher was closed for good while it ran (Edge.Run,
	// Publisher.RunEpoch): nats.go no longer reconnects it, so it cannot
	// recover; its process should be restarted (a cluster node's term
	// ends).
	ErrConnClosed = errors.New("mdbus: NATS connection closed")
)
