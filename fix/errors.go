package fix

import (
	"errors"
	"fmt"

	"sgw/atrest"
)

// Errors returned by the relay. The reasons passed to
// Handler.OnSessionDown wrap ErrLineBroken, ErrLineSilent, ErrLoggedOut,
// ErrPeriodEnded, ErrSubmitFailed or ErrStopped.
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
	// ErrStoreDamaged reports a message in a session's store whose bytes
	// fail their CheckSum (10): changed on disk after quickfix wrote
	// them. It is not resent (quickfix would rebuild its CheckSum and send
	// the changed message), and a store whose damage no crash explains
	// does not start; the error names the MsgSeqNum.
	ErrStoreDamaged = errors.New("fix: damaged store")
	// ErrStoreLocked reports a session's file store opened while another
	// process (or another Upstream of this one) has it open: two engines
	// numbering messages from one store would reuse sequence numbers.
	ErrStoreLocked = errors.New("fix: store in use")
	// ErrTampered reports a sealed store (or reservation file) that fails
	// authentication: changed on disk after it was written. The error
	// names the file (and, for a record, a *journal.TamperedError its
	// record number); the session does not start. It is
	// atrest.ErrTampered.
	ErrTampered = atrest.ErrTampered
	// ErrKey reports a sealed store whose key is not in the key ring (or
	// a different key is under its id), or a sealed store found where no
	// encryption is configured; the error names the key id. It is
	// atrest.ErrKey.
	ErrKey = atrest.ErrKey
	// ErrPlain reports quickfix's plain store where encryption is
	// configured: switching is an explicit operator step. It is
	// atrest.ErrPlain.
	ErrPlain = atrest.ErrPlain
	// ErrRunning reports a second Run of an Upstream.
	ErrRunning = errors.New("fix: already running")

	// ErrLineBroken reports that the line carrying the session failed
	// (connection refused, reset or closed by the carrier).
	ErrLineBroken = errors.New("fix: line broken")
	// ErrLineSilent reports that the session timed out: no message arrived
	// within the heartbeat interval and the TestRequest went unanswered (or
	// the Logon response never came).
	ErrLineSilent = errors.New("fix: line silent")
	// ErrFenced reports that the session's fence (UpstreamConfig.Fence)
	// refused a write: this node no longer leads the cluster, so nothing
	// more goes to the upstream from it.
	ErrFenced = errors.New("fix: fenced, this node no longer leads the cluster")
	// ErrLoggedOut reports that the upstream sent Logout.
	ErrLoggedOut = errors.New("fix: logged out by upstream")
	// ErrPeriodEnded reports that the session ended with its period
	// (UpstreamConfig.Schedule): quickfix resets it, and it logs on again
	// over the same line once the next period has begun.
	ErrPeriodEnded = errors.New("fix: the session's period ended")
	// ErrSubmitFailed reports that the Upstream ended the session because
	// quickfix refused a request it submitted (the session's store could
	// not save it): the request was not sent, and comes back, reclaimed,
	// with those queued behind it; unless the store could not undo the
	// failed save (a sealed store's journal.ErrRollback, a file store's
	// errSaveNotUndone): that request counts as handed, in doubt, and the
	// next start's Handed tells (see the package documentation).
	ErrSubmitFailed = errors.New("fix: quickfix refused a message")
	// ErrStopped reports that the session ended because Run's context ended.
	ErrStopped = errors.New("fix: stopped")

	// errNotDialed reports a connection from quickfix that the relay closed
	// without dialing the line: the line was not tried.
	errNotDialed = errors.New("fix: not dialed")
	// errPastPeriod reports a connection not dialed because the session's
	// store still belongs to a past period of its schedule
	// (Upstream.mayDial): quickfix resets it at its next check.
	errPastPeriod = fmt.Errorf("%w: the session's store is of a past period; quickfix resets it within a second", errNotDialed)
	// errBackingOff reports a connection not dialed because the
	// session refused the upstream's Logon for its sequence numbers (see Upstream.onSeqTooLow): the session waits
	// for the backoff's pause before it tries again.
	errBackingOff = fmt.Errorf("%w: backing off after a Logon refused for the upstream's sequence numbers", errNotDialed)
	// errSeqTooLow reports a connection ended because quickfix refused
	// the upstream's Logon: its MsgSeqNum was below the one expected.
	errSeqTooLow = errors.New("fix: the upstream's MsgSeqNum is below the one expected (its sequence numbers went back)")
	// errSaveNotUndone reports, with the save's own error, that a file
	// store's save failed and the entry it may have left in the message
	// index (numbered, perhaps whole) could not be cut either: a start
	// after a crash of the machine keeps it, and resends it when the
	// upstream asks for its MsgSeqNum. Its request is in doubt, as after
	// a sealed store's journal.ErrRollback (see pacer.inDoubt).
	errSaveNotUndone = errors.New("fix: the store could not undo the failed save")
	// errNoLogon reports a connection not dialed because quickfix wrote no
	// whole first message (its Logon) on it in time.
	errNoLogon = fmt.Errorf("%w: no Logon from quickfix", errNotDialed)
)
