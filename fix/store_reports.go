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
	// RejectExecID is the report's ExecID (17) when its OrdStatus is 8
	// (rejected); "" for any other report, or one without ExecID. A
	// rejection under a ClOrdID need not be about the order the ClOrdID
	// names: an acceptor refuses a NewOrderSingle that reused an order's
	// ClOrdID, or answers a status request that finds no order, under
	// that ClOrdID, and the peer does not take such a report for the
	// order's; its ExecID tells it from the order's own rejection
	// (fix/broker's restatement). Kept for rejections only: a store
	// holds many reports.
	RejectExecID string
}

// StoredReports is what the ExecutionReports (35=8) a session store holds
// say, read in sequence order: the last report of each ClOrdID (11) (with
// a rejection's ExecID), and
// the ExecIDs (17) of the trades and of the trade cancels and
// corrections. An acceptor that takes a session over
// from another process (a clustered gateway's new leader, a restarted
// gateway) compares them with its orders: a report of the previous owner
// that the store lacks may never have reached the peer.
//
// A StoredReports is not safe for concurrent use.
type StoredReports struct {
	// Last holds the last report of each ClOrdID.
	Last map[string]StoredReport
	// Trades holds the ExecIDs of the trades reported: ExecType (150) F,
	// or a FIX 4.2 partial fill or fill (150 = 1 or 2) sent as new
	// (ExecTransType (20) 0; 3 is a status, whose ExecType is the
	// OrdStatus).
	Trades map[string]struct{}
	// Amends holds the ExecIDs of the trade cancels and corrections
	// reported: ExecType H or G, or D (restated), which is what a FIX 4.2
	// peer gets for them, sent as new (ExecTransType 0 or none). A
	// restatement of another kind is kept too: the ExecIDs are only
	// looked up.
	Amends map[string]struct{}
}

// NewStoredReports returns an empty StoredReports.
func NewStoredReports() *StoredReports {
	return &StoredReports{Last: map[string]StoredReport{}, Trades: map[string]struct{}{},
		Amends: map[string]struct{}{}}
}

// ReadStoredReports reads the reports st holds under sender sequence
// numbers below its next one. A store of FileStores or ReplicatedStores
// is read without telling its OnReadError (see Add).
func ReadStoredReports(st quickfix.MessageStore) (*StoredReports, error) {
	r := NewStoredReports()
	_, err := r.Add(st, 1)
	return r, err
}

// Add reads the reports st holds from sender sequence number from on: a
// report replaces the one r holds for its ClOrdID, and the ExecID of a
// trade, trade cancel or correction is added. It returns the store's next
// sender sequence number as it read it: the messages below it are read,
// and a later call from there reads the rest (a store is only appended
// to, until a Reset). A store of FileStores or ReplicatedStores is read
// without telling its OnReadError: a failed read here is not a resend a
// peer asked for (nothing drops the session), and the error, returned,
// is the caller's to tell.
func (r *StoredReports) Add(st quickfix.MessageStore, from int) (next int, err error) {
	next = st.NextSenderMsgSeqNum()
	if next <= from {
		return next, nil
	}
	iterate := st.IterateMessages
	if u, ok := st.(untoldReader); ok {
		iterate = u.iterateUntold
	}
	err = iterate(max(from, 1), next-1, func(msg []byte) error {
		f, ok := reportFields(msg)
		if !ok {
			return nil
		}
		rep := StoredReport{OrdStatus: f.status, CumQty: -1}
		if n, err := strconv.ParseInt(string(f.cum), 10, 64); err == nil {
			rep.CumQty = n
		}
		if f.status == '8' {
			rep.RejectExecID = string(f.execID)
		}
		r.Last[string(f.clOrdID)] = rep
		if len(f.execID) > 0 && len(f.execType) == 1 && (f.transType == nil || string(f.transType) == "0") {
			switch f.execType[0] {
			case 'F', '1', '2':
				r.Trades[string(f.execID)] = struct{}{}
			case 'H', 'G', 'D':
				r.Amends[string(f.execID)] = struct{}{}
			}
		}
		return nil
	})
	return next, err
}

// untoldReader is a store that can be read without telling its
// OnReadError (reservedStore).
type untoldReader interface {
	iterateUntold(begin, end int, cb func([]byte) error) error
}

// storedFields are the fields of an ExecutionReport StoredReports reads,
// each its first occurrence, sharing the message.
type storedFields struct {
	clOrdID, cum, execID, execType, transType []byte
	status                                    byte
}

// reportFields reads, in one pass over msg, the ClOrdID (11), OrdStatus
// (39), CumQty (14), ExecID (17), ExecType (150) and ExecTransType (20)
// of an ExecutionReport
// (35=8), each its first occurrence; ok is false for another message, or
// a report without ClOrdID or with an OrdStatus that is not one character.
func reportFields(msg []byte) (f storedFields, ok bool) {
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
			keepFirst(&f.clOrdID, v)
		case "39":
			keepFirst(&st, v)
		case "14":
			keepFirst(&f.cum, v)
		case "17":
			keepFirst(&f.execID, v)
		case "150":
			keepFirst(&f.execType, v)
		case "20":
			keepFirst(&f.transType, v)
		}
		return true
	})
	if other || !seen || len(f.clOrdID) == 0 || len(st) != 1 {
		return storedFields{}, false
	}
	f.status = st[0]
	return f, true
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
