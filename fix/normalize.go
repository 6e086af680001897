package fix

import (
	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"
)

// normalize maps a decoded report to FIX 4.4 values (see ExecReport):
// FIX 4.2 fills (ExecType 1, 2) become trades (F), a FIX 4.2 status
// answer (ExecTransType 3) an order status (I), and a FIX 4.2 cancel or
// correction of an earlier execution (ExecTransType 1, 2) a restatement
// (D), whose totals give the order's state.
func normalize(er *ExecReport, m *quickfix.Message) {
	if v, err := m.Body.GetBytes(tag.ExecTransType); err == nil && len(v) == 1 {
		er.ExecTransType = v[0]
	}
	switch er.ExecTransType {
	case '3':
		er.ExecType = 'I'
		return
	case '1', '2':
		er.ExecType = 'D'
		return
	}
	if er.ExecType == '1' || er.ExecType == '2' {
		er.ExecType = 'F'
	}
}

// seqNum returns a message's MsgSeqNum, 0 when absent.
func seqNum(m *quickfix.Message) int {
	n, _ := m.Header.GetInt(tag.MsgSeqNum)
	return n
}

// decodeReject reads a BusinessMessageReject (j), or a session-level
// Reject (3) when session is set, and names the refused request from
// sent. It returns false for a reject of something other than a request
// (an administrative message, or one the index no longer holds and the
// upstream did not name).
func decodeReject(m *quickfix.Message, session bool, sent *sentIndex) (Reject, bool) {
	r := Reject{Session: session}
	r.RefSeqNum, _ = m.Body.GetInt(tag.RefSeqNum)
	r.MsgType, _ = m.Body.GetString(tag.RefMsgType)
	r.Text, _ = m.Body.GetString(tag.Text)
	if session {
		r.Reason, _ = m.Body.GetInt(tag.SessionRejectReason)
	} else {
		r.Reason, _ = m.Body.GetInt(tag.BusinessRejectReason)
		r.ClOrdID, _ = m.Body.GetString(tag.BusinessRejectRefID)
	}
	if sm, ok := sent.lookup(r.RefSeqNum); ok && r.RefSeqNum > 0 {
		if r.ClOrdID == "" {
			r.ClOrdID = sm.clOrdID
		}
		if r.MsgType == "" {
			r.MsgType = string(sm.msgType)
		}
	}
	return r, r.ClOrdID != ""
}
