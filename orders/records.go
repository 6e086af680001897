package orders

import (
	"time"

	"sgw/fix"
	"sgw/refdata"
	"sgw/risk"
)

// Journal record types. Bodies are in the binary form of codec.go (JSON
// in journals written before it, still read).
const (
	recNew          byte = 'N' // newRec: a new order accepted
	recCancel       byte = 'C' // changeRec: a cancel accepted
	recReplace      byte = 'R' // changeRec: a replace accepted
	recExec         byte = 'E' // execRec: an execution report applied
	recCancelReject byte = 'J' // cancelRejectRec: the upstream refused a cancel or replace
	recRefused      byte = 'X' // refusedRec: a request ended without reaching the venue
	recPeriod       byte = 'P' // periodRec: the next messages from an upstream are of a new session period
	recDay          byte = 'D' // dayRec: risk's trading day changed (or, first in a run, is)
	recExpired      byte = 'Z' // refusedRec: the gateway expired a working order after its day's close, the venue silent
	recKill         byte = 'K' // killRec: an operator turned a kill switch on or off
)

// newRec is the journal body of an accepted new order.
type newRec struct {
	Account  string        `json:"a"`
	ClOrdID  string        `json:"c"`
	Symbol   string        `json:"s"`
	Side     risk.Side     `json:"d"`
	Type     risk.OrdType  `json:"y"`
	Price    refdata.Price `json:"p"`
	Qty      int64         `json:"q"`
	Upstream string        `json:"u"`
	Source   Source        `json:"o"`
	Time     time.Time     `json:"t"`
	UID      string        `json:"i"`
}

// changeRec is the journal body of an accepted cancel or replace.
type changeRec struct {
	Account string        `json:"a"`
	ClOrdID string        `json:"c"`
	Orig    string        `json:"g"`
	Price   refdata.Price `json:"p,omitempty"`
	Qty     int64         `json:"q,omitempty"`
	Source  Source        `json:"o"`
	UID     string        `json:"i"`
}

// execRec is the journal body of an execution report.
type execRec struct {
	Account  string         `json:"a"`
	Upstream string         `json:"u,omitempty"`
	ER       fix.ExecReport `json:"e"`
}

// cancelRejectRec is the journal body of a cancel reject.
type cancelRejectRec struct {
	Account string           `json:"a"`
	R       fix.CancelReject `json:"r"`
}

// periodRec records that the messages from an upstream journaled after
// it belong to the session period Period (fix.ExecReport.Period: when the
// session's store was created or last reset, Unix nanoseconds), whose
// MsgSeqNums start again from 1. It is journaled before the first record
// of a message of that period, so a journal whose last one names an older
// period than the session's store holds nothing of the store's period
// (fix.Upstream.ResumeInboundAfter).
type periodRec struct {
	Upstream string `json:"u"`
	Period   int64  `json:"p"`
}

// dayRec records risk's trading day, Date (yyyymmdd): journaled when the
// day changes live (Manager.newDay) and once when a run starts (Recover),
// so that a replay changes day exactly where the live checker did. Before
// the first one in a journal (one written before these records), a
// replay changes day by the records' times.
type dayRec struct {
	Date int64 `json:"d"`
}

// killRec records an operator turning a kill switch on or off (Kill):
// Account's, or the global one when Account is "". A replay sets the
// switch where it was set live, so a restart or a new leader keeps
// refusing the account's orders until an operator turns it off; the
// cancels the switch made are records of their own.
type killRec struct {
	Account string `json:"a"`
	On      bool   `json:"k"`
}

// refusedRec is the journal body of a request the gateway ended without
// the venue having it: held beyond the hold time, or refused by the
// upstream as a message (BusinessMessageReject, session Reject). UID names
// the request: a new order's upstream id, or a cancel's or replace's.
type refusedRec struct {
	Account string `json:"a"`
	UID     string `json:"i"`
	Code    string `json:"k"`
	Text    string `json:"x"`
}
