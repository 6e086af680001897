package netsec

import "errors"

var (
	// ErrConfig reports an invalid configuration.
	ErrConfig = errors.New("netsec: invalid config")
	// ErrProxyHeader reports a PROXY protocol header that is malformed,
	// of an unsupported kind (v1 text, UDP, UNIX sockets) or missing
	// where one is required.
	ErrProxyHeader = errors.New("netsec: bad PROXY protocol header")
	// ErrProxyUntrusted reports a PROXY protocol header sent by a peer
	// that is not a trusted load balancer.
	ErrProxyUntrusted = errors.New("netsec: PROXY protocol header from an untrusted peer")
	// ErrPlainText reports a plain-text listener or line on an address
	// that is not loopback, with nothing named to encrypt it.
	ErrPlainText = errors.New("netsec: plain text on a non-loopback address")
)
