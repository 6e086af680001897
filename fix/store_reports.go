package fix

import (
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
	next := st.NextSenderMsgSeqNum()
	if next <= 1 {
		return out, nil
	}
	err := st.IterateMessages(1, next-1, func(msg []byte) error {
		if mt := fieldValue(msg, "35"); len(mt) != 1 || mt[0] != '8' {
			return nil
		}
		id, status := fieldValue(msg, "11"), fieldValue(msg, "39")
		if len(id) == 0 || len(status) != 1 {
			return nil
		}
		cum, err := strconv.ParseInt(string(fieldValue(msg, "14")), 10, 64)
		if err != nil {
			cum = -1
		}
		out[string(id)] = StoredReport{OrdStatus: status[0], CumQty: cum}
		return nil
	})
	return out, err
}
