package fix

import (
	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/refdata"
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
//
// The upstream's values are bounded here, where they enter: they are
// logged with every reject, and texts and metric labels are made of them.
// A BusinessRejectRefID that is no identifier (refdata.ValidID) names
// none of the gateway's requests, whose ids all are, and a RefMsgType
// that is no MsgType (1 to 2 letters or digits) is taken as left out;
// Text is cleaned and cut (refdata.CleanText).
func decodeReject(m *quickfix.Message, session bool, sent *sentIndex) (Reject, bool) {
	r := Reject{Session: session}
	r.RefSeqNum, _ = m.Body.GetInt(tag.RefSeqNum)
	if t, _ := m.Body.GetString(tag.RefMsgType); validMsgType(t) {
		r.MsgType = t
	}
	text, _ := m.Body.GetString(tag.Text)
	r.Text = refdata.CleanText(text)
	if session {
		r.Reason, _ = m.Body.GetInt(tag.SessionRejectReason)
	} else {
		r.Reason, _ = m.Body.GetInt(tag.BusinessRejectReason)
		if id, _ := m.Body.GetString(tag.BusinessRejectRefID); refdata.ValidID(id, refdata.MaxClOrdIDLen) {
			r.ClOrdID = id
		}
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

// validMsgType reports whether t has the shape of a FIX MsgType (35): 1
// or 2 ASCII letters or digits.
func validMsgType(t string) bool {
	if len(t) == 0 || len(t) > 2 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}
