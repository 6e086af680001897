package fix

import (
	"strings"
	"testing"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/refdata"
)

// TestNormalize: reports of a FIX 4.2 upstream reach the order manager in
// FIX 4.4 terms, so that none is ignored; a status answer (20=3, 150=2)
// was once dropped as an unknown ExecType.
func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		name                string
		transType, execType string
		want                byte
	}{
		{"4.2 status of a filled order", "3", "2", 'I'},
		{"4.2 status of a new order", "3", "0", 'I'},
		{"4.2 partial fill", "0", "1", 'F'},
		{"4.2 fill", "0", "2", 'F'},
		{"4.2 new", "0", "0", '0'},
		{"4.2 canceled", "0", "4", '4'},
		{"4.2 trade cancel", "1", "2", 'D'},
		{"4.2 trade correction", "2", "2", 'D'},
		{"4.4 trade", "", "F", 'F'},
		{"4.4 status", "", "I", 'I'},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := quickfix.NewMessage()
			m.Header.SetField(tag.MsgType, quickfix.FIXString("8"))
			m.Header.SetField(tag.MsgSeqNum, quickfix.FIXInt(42))
			if tc.transType != "" {
				m.Body.SetField(tag.ExecTransType, quickfix.FIXString(tc.transType))
			}
			m.Body.SetField(tag.ExecType, quickfix.FIXString(tc.execType))
			er := ExecReport{ExecType: tc.execType[0]}
			normalize(&er, m)
			if er.ExecType != tc.want {
				t.Errorf("ExecType %c, want %c", er.ExecType, tc.want)
			}
			if tc.transType != "" && er.ExecTransType != tc.transType[0] {
				t.Errorf("ExecTransType %c", er.ExecTransType)
			}
			if seqNum(m) != 42 {
				t.Errorf("seqNum %d", seqNum(m))
			}
		})
	}
}

// TestDecodeReject: a BusinessMessageReject that names only RefSeqNum (as
// QuickFIX C++ venues send them) is matched to the request sent under it.
func TestDecodeReject(t *testing.T) {
	var sent sentIndex
	sent.init(4)
	for seq := 1; seq <= 6; seq++ { // the index keeps the last 4
		sent.add(sentMsg{seq: seq, msgType: 'H', clOrdID: "o" + string(rune('0'+seq))})
	}
	mk := func(ref int, refID string) *quickfix.Message {
		m := quickfix.NewMessage()
		m.Body.SetField(tag.RefSeqNum, quickfix.FIXInt(ref))
		m.Body.SetField(tag.BusinessRejectReason, quickfix.FIXInt(3))
		m.Body.SetField(tag.Text, quickfix.FIXString("Unsupported Message Type"))
		if refID != "" {
			m.Body.SetField(tag.BusinessRejectRefID, quickfix.FIXString(refID))
		}
		return m
	}
	if r, ok := decodeReject(mk(5, ""), false, &sent); !ok || r.ClOrdID != "o5" || r.MsgType != "H" || r.Reason != 3 {
		t.Errorf("by RefSeqNum: %+v %v", r, ok)
	}
	if r, ok := decodeReject(mk(5, "other"), false, &sent); !ok || r.ClOrdID != "other" {
		t.Errorf("BusinessRejectRefID wins: %+v %v", r, ok)
	}
	if r, ok := decodeReject(mk(1, ""), false, &sent); ok {
		t.Errorf("a reject of a request the index forgot: %+v", r)
	}
}

// TestDecodeRejectBoundsUpstreamValues: the upstream's RefMsgType,
// BusinessRejectRefID and Text are logged with every reject and end up in
// texts and metric labels. Values of any length, with line breaks, are
// not passed on: a RefMsgType or BusinessRejectRefID of the wrong shape
// counts as left out (the request is named from RefSeqNum), and Text is
// cleaned and cut.
func TestDecodeRejectBoundsUpstreamValues(t *testing.T) {
	var sent sentIndex
	sent.init(4)
	sent.add(sentMsg{seq: 5, msgType: 'F', clOrdID: "o5"})
	huge := strings.Repeat("x", 1<<16)
	for _, session := range []bool{false, true} {
		m := quickfix.NewMessage()
		m.Body.SetField(tag.RefSeqNum, quickfix.FIXInt(5))
		m.Body.SetField(tag.RefMsgType, quickfix.FIXString("D\nlevel=ERROR msg=forged "+huge))
		m.Body.SetField(tag.BusinessRejectRefID, quickfix.FIXString("o5\nlevel=ERROR "+huge))
		m.Body.SetField(tag.Text, quickfix.FIXString("refused\nlevel=ERROR msg=forged "+huge))
		r, ok := decodeReject(m, session, &sent)
		if !ok || r.ClOrdID != "o5" || r.MsgType != "F" {
			t.Errorf("session %v: named %q (%d bytes) of type %q (%d bytes), ok %v; want o5, F from RefSeqNum",
				session, r.ClOrdID[:min(len(r.ClOrdID), 16)], len(r.ClOrdID), r.MsgType[:min(len(r.MsgType), 16)], len(r.MsgType), ok)
		}
		if len(r.Text) > refdata.MaxTextLen || strings.ContainsAny(r.Text, "\n\r\x01") || !strings.HasPrefix(r.Text, "refused level=ERROR") {
			t.Errorf("session %v: Text of %d bytes, line breaks %v", session, len(r.Text), strings.ContainsAny(r.Text, "\n\r\x01"))
		}
	}
}

// TestDecodeTradeAmendments: a trade cancel or correction carries the
// ExecID of the trade it names (ExecRefID, 19) to the order manager, in
// FIX 4.2 form (ExecTransType 1, 2: a restatement) and FIX 4.4 form
// (ExecType H, G); other reports carry none.
func TestDecodeTradeAmendments(t *testing.T) {
	for _, tc := range []struct {
		name, transType, execType, ref string
		want                           byte
	}{
		{"4.2 trade cancel", "1", "2", "E1", 'D'},
		{"4.2 trade correction", "2", "1", "E1", 'D'},
		{"4.4 trade cancel", "", "H", "E1", 'H'},
		{"4.4 trade correction", "", "G", "E1", 'G'},
		{"4.4 trade", "", "F", "", 'F'},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := quickfix.NewMessage()
			m.Header.SetField(tag.MsgType, quickfix.FIXString("8"))
			for tg, v := range map[quickfix.Tag]string{tag.ClOrdID: "c", tag.OrderID: "o", tag.ExecID: "X1", tag.ExecType: tc.execType,
				tag.OrdStatus: "1", tag.Side: "1", tag.ExecTransType: tc.transType, tag.ExecRefID: tc.ref} {
				if v != "" {
					m.Body.SetField(tg, quickfix.FIXString(v))
				}
			}
			er, rej := decodeExecReport(m)
			if rej != nil {
				t.Fatal(rej)
			}
			normalize(&er, m)
			if er.ExecType != tc.want || er.ExecRefID != tc.ref || er.ExecID != "X1" {
				t.Errorf("ExecType %c, ExecRefID %q; want %c and %q", er.ExecType, er.ExecRefID, tc.want, tc.ref)
			}
		})
	}
}
