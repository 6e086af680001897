package fix

import (
	"bytes"
	"strconv"

	"github.com/quickfixgo/quickfix"
)

// StoredReport is what the last ExecutionReport a session store holds for
// one ClOrdID said of its order.
type StoredReport struct {
	OrdStatus byte  // OrdStatus (39)
	CumQty    int64 // CumQty (14); -1 when missing or not a whole number
}

// LastReports returns, by ClOrdID (11), the last ExecutionReport (35=8)
// among the messages st holds under sender sequence numbers below its
// next one, in sequence order. An acceptor that takes a session over from
// another process (a clustered gateway's new leader) compares them with its
// orders: a report of the previous owner that the store lacks may never
// have reached the peer.
func LastReports(st quickfix.MessageStore) (map[string]StoredReport, error) {
	out := map[string]StoredReport{}
	_, err := AddLastReports(st, 1, out)
	return out, err
}

// AddLastReports reads what LastReports reads, from sender sequence number
// from on, into last: a report replaces the one last holds for its
// ClOrdID. It returns the store's next sender sequence number as it read
// it: the messages below it are read, and a later call from there reads
// the rest (a store is only appended to, until a Reset).
func AddLastReports(st quickfix.MessageStore, from int, last map[string]StoredReport) (next int, err error) {
	next = st.NextSenderMsgSeqNum()
	if next <= from {
		return next, nil
	}
	err = st.IterateMessages(max(from, 1), next-1, func(msg []byte) error {
		id, status, cum, ok := reportFields(msg)
		if !ok {
			return nil
		}
		r := StoredReport{OrdStatus: status, CumQty: -1}
		if n, err := strconv.ParseInt(string(cum), 10, 64); err == nil {
			r.CumQty = n
		}
		last[string(id)] = r
		return nil
	})
	return next, err
}

// reportFields reads, in one pass over msg, the ClOrdID (11), OrdStatus
// (39) and CumQty (14) of an ExecutionReport (35=8), each its first
// occurrence; ok is false for another message, or a report without
// ClOrdID or with an OrdStatus that is not one character.
func reportFields(msg []byte) (id []byte, status byte, cum []byte, ok bool) {
	var st []byte
	var seen, other bool // 35 was read; it was not 8
	eachField(msg, func(tag, v []byte) bool {
		switch string(tag) {
		case "35":
			if seen {
				return true
			}
			if len(v) != 1 || v[0] != '8' {
				other = true
				return false // not a report: the rest unread
			}
			seen = true
		case "11":
			keepFirst(&id, v)
		case "39":
			keepFirst(&st, v)
		case "14":
			keepFirst(&cum, v)
		}
		return true
	})
	if other || !seen || len(id) == 0 || len(st) != 1 {
		return nil, 0, nil, false
	}
	return id, st[0], cum, true
}

// requestFields reads, in one pass over msg that stops once it has them,
// the first MsgSeqNum (34), MsgType (35) and ClOrdID (11) of msg; each is
// nil when msg has none.
func requestFields(msg []byte) (seq, msgType, id []byte) {
	eachField(msg, func(tag, v []byte) bool {
		switch string(tag) {
		case "34":
			keepFirst(&seq, v)
		case "35":
			keepFirst(&msgType, v)
		case "11":
			keepFirst(&id, v)
		}
		return seq == nil || msgType == nil || id == nil
	})
	return seq, msgType, id
}

// keepFirst sets *dst to v unless it holds a field's value already: a
// tag's first occurrence counts.
func keepFirst(dst *[]byte, v []byte) {
	if *dst == nil {
		*dst = v
	}
}

// eachField calls fn with the tag and value of each field of msg, a FIX
// message (fields end with SOH; the last one's may be missing), in order,
// until fn returns false. Both share msg. A field without a tag or '=' is
// skipped.
func eachField(msg []byte, fn func(tag, v []byte) bool) {
	for i := 0; i < len(msg); {
		end := bytes.IndexByte(msg[i:], 0x01)
		if end < 0 {
			end = len(msg) - i
		}
		f := msg[i : i+end]
		i += end + 1
		eq := bytes.IndexByte(f, '=')
		if eq <= 0 {
			continue
		}
		if !fn(f[:eq], f[eq+1:]) {
			return
		}
	}
}
