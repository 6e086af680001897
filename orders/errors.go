package orders

import (
	"errors"

	"sgw/journal"
)

// Errors of the order manager. A risk rejection is a *risk.Reject.
var (
	ErrConfig       = errors.New("orders: invalid config")
	ErrUnknownOrder = errors.New("orders: unknown order")
	ErrNoUpstream   = errors.New("orders: no upstream for the account")
	// ErrJournal reports that the journal failed: the gateway accepts no
	// more orders.
	ErrJournal    = errors.New("orders: journal failed")
	ErrBadRequest = errors.New("orders: bad request")
)

// Reject codes of the order manager (risk's are risk.*). They are stable:
// clients and operators match on them.
const (
	// CodeBadID: an identifier (client order id, account, symbol) is
	// empty, too long or has a character outside the identifier alphabet
	// (see refdata.ValidID).
	CodeBadID = "orders.bad_id"
	// CodeUnknownOrder: a cancel, replace or status request names no order
	// of the account, or one already done (risk's risk.unknown_order is
	// reported under this code), on every path: WebSocket and FIX.
	CodeUnknownOrder = "orders.unknown_order"
	// CodeRequestPending: a cancel or replace of an order whose previous
	// cancel or replace is still unanswered.
	CodeRequestPending = "orders.request_pending"
	// CodeNoUpstream: no upstream serves the account.
	CodeNoUpstream = "orders.no_upstream"
	// CodeUpstreamDown: the account's upstream session has been down for
	// longer than the hold time, or its hold queue is full.
	CodeUpstreamDown = "orders.upstream_unavailable"
	// CodeUpstreamReject: the upstream refused the message itself
	// (BusinessMessageReject or session-level Reject), for instance a
	// message type it does not support.
	CodeUpstreamReject = "orders.upstream_reject"
	// CodeJournal: the order journal failed; the gateway accepts no more
	// orders until it is restarted.
	CodeJournal = "orders.journal_failed"
	// CodeJournalStalled: the order journal has completed no record for
	// Config.JournalStall (a disk that hangs): a new order or replace is
	// refused at once, nothing recorded, until it completes one again.
	// Send it again later.
	CodeJournalStalled = "orders.journal_stalled"
	// CodeStopping: the gateway is shutting down.
	CodeStopping = "orders.stopping"
	// CodeInDoubt: the request was in flight when this gateway lost the
	// cluster's leadership: the next leader's journal decides whether it
	// was accepted (and then sends it). The client asks the order's
	// status again, on the leader. A single gateway answers it when the
	// journal failed to commit the request and then failed to cut it
	// from the file (journal.ErrRollback): the restarted gateway may
	// find it accepted, and send it.
	CodeInDoubt = "orders.in_doubt"
	// CodeNotLeader: this gateway is a cluster node that does not lead
	// the cluster (or no leader is elected yet); the text names the
	// leader. Nothing was recorded: the client sends again.
	CodeNotLeader = "orders.not_leader"
	// CodeBadCursor: an orders.list cursor this gateway did not hand out.
	CodeBadCursor = "orders.bad_cursor"
	// CodeTooLate: a cancel or replace whose order ended (filled, expired,
	// or ended by the venue) before the venue answered it; it can no
	// longer take effect.
	CodeTooLate = "orders.too_late"
	// CodeExpiredUnreported: an exec expired by the gateway itself, not
	// the venue: an order still working after its trading day's close
	// whose status the venue did not give (Config.DayEndCheck). Fills the
	// venue reports later still count.
	CodeExpiredUnreported = "orders.expired_unreported"
	// CodeNotOwner: a replace of an order a FIX broker session entered,
	// from another session or a WebSocket client. The broker's engine
	// would hear the order replaced under a ClOrdID it never sent, which
	// its order chain cannot follow. Cancels are taken from anyone who
	// may trade the account.
	CodeNotOwner = "orders.not_owner"
)

// ErrInDoubt is wrapped by a Journal's error when a record's outcome is
// unknown: a replicated journal lost its quorum or its leadership with the
// record in flight, and it may still be committed. The manager then
// answers CodeInDoubt instead of CodeJournal and, as for any journal
// failure, accepts nothing more.
var ErrInDoubt = errors.New("orders: journal outcome unknown")

// ErrNotLeader is wrapped by a replicated Journal's error when a record
// was not appended because this node no longer leads the cluster: nothing
// was recorded. The request is refused with CodeNotLeader and, as for any
// journal failure, the manager accepts nothing more (its leadership term is
// ending; the next leader's manager takes over), but the journal is not
// failed: no journal alert is raised.
var ErrNotLeader = errors.New("orders: this node no longer leads the journal")

// journalEnd is the code and text a request gets when its journal record
// failed with err.
func journalEnd(err error, what string) (code, text string) {
	if errors.Is(err, ErrNotLeader) {
		return CodeNotLeader, "this gateway no longer leads the cluster; the " + what + " was not recorded: send it again (the load balancer routes to the leader)"
	}
	if errors.Is(err, journal.ErrRollback) {
		return CodeInDoubt, "the order journal failed while recording the " + what + " and could not remove it from the file: " +
			"the gateway may find it accepted, and send it, when restarted: ask its status then"
	}
	if errors.Is(err, ErrInDoubt) {
		return CodeInDoubt, "this gateway lost the cluster's leadership with the " + what + " in flight; the next leader decides whether it was accepted: ask its status again"
	}
	return CodeJournal, "the order journal failed; the " + what + " was not sent"
}

// fixOther is FIX 4.4's OrdRejReason 99, "Other".
const fixOther = 99

// Reject is a rejection of a client request with a stable code and a text
// for people, as it reaches the client (WebSocket error, FIX
// OrdRejReason/CxlRejReason and Text).
type Reject struct {
	Code      string
	Text      string
	FIXReason int
}

func (r *Reject) Error() string { return "orders: " + r.Code + ": " + r.Text }
