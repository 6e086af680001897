package fix

import "errors"

// Errors returned by the relay. The reasons passed to
// Handler.OnSessionDown wrap ErrLineBroken, ErrLineSilent, ErrLoggedOut or
// ErrStopped.
var (
	// ErrConfig reports an invalid UpstreamConfig; the message names the field.
	ErrConfig = errors.New("fix: bad configuration")
	// ErrNotLoggedOn reports a Send while the session is not logged on:
	// nothing was queued and nothing will be sent.
	ErrNotLoggedOn = errors.New("fix: session not logged on")
	// ErrQueueFull reports a Send refused because the outbound queue is
	// full: nothing was queued.
	ErrQueueFull = errors.New("fix: outbound queue full")
	// ErrUnsupported reports a Send of a value that is not one of the
	// request types.
	ErrUnsupported = errors.New("fix: unsupported message")
	// ErrBadRequest reports a request with a missing or invalid field; the
	// message names it.
	ErrBadRequest = errors.New("fix: bad request")
	// ErrReservation reports a sender sequence number reservation file
	// (see the package documentation, Store) that is damaged: the
	// session refuses to start rather than risk reusing sequence numbers.
	ErrReservation = errors.New("fix: damaged sequence number reservation")
	// ErrRunning reports a second Run of an Upstream.
	ErrRunning = errors.New("fix: already running")

	// ErrLineBroken reports that the line carrying the session failed
	// (connection refused, reset or closed by the carrier).
	ErrLineBroken = errors.New("fix: line broken")
	// ErrLineSilent reports that the session timed out: no message arrived
	// within the heartbeat interval and the TestRequest went unanswered (or
	// the Logon response never came).
	ErrLineSilent = errors.New("fix: line silent")
	// ErrLoggedOut reports that the upstream sent Logout.
	ErrLoggedOut = errors.New("fix: logged out by upstream")
	// ErrStopped reports that the session ended because Run's context ended.
	ErrStopped = errors.New("fix: stopped")
)
