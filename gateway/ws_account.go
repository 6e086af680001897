package gateway

import (
	"encoding/json"
	"errors"
	"time"

	"sgw/orders"
	"sgw/refdata"
	"sgw/risk"
)

// The account request (docs/PROTOCOL.md, "Account: cash and positions"):
// a read-only view of an account's cash and positions as pre-trade risk
// holds them, for a token that may trade the account.
//
//	-> {"op":"account","account":"A1","id":3}
//	<- {"type":"account","account":"A1","cash":"9490000.00",...,"id":3}
//
// It is answered from OrderEntry.Account on the reader goroutine; nothing
// is pushed: a client asks again after the order events that change it
// (fills, and accepts and ends that hold or release cash or shares).

// accountReply is the answer to the account request.
type accountReply struct {
	Type       string            `json:"type"`
	Account    string            `json:"account"`
	Cash       refdata.Price     `json:"cash"`     // available for new buys
	Reserved   refdata.Price     `json:"reserved"` // held by working buys
	OpenOrders int               `json:"openOrders"`
	Credit     bool              `json:"credit"`
	Killed     bool              `json:"killed"`
	Positions  []accountPosition `json:"positions"`
	ID         json.RawMessage   `json:"id,omitempty"`
}

// accountPosition is one position of accountReply, in shares.
type accountPosition struct {
	Symbol      string `json:"symbol"`
	Sellable    int64  `json:"sellable"`    // a new sell may use them
	Reserved    int64  `json:"reserved"`    // held by working sells
	BoughtToday int64  `json:"boughtToday"` // sellable from the next trading day (T+1)
}

func accountView(st risk.AccountState, id json.RawMessage) accountReply {
	r := accountReply{Type: "account", Account: st.ID, Cash: st.Cash, Reserved: st.Reserved, OpenOrders: st.OpenOrders,
		Credit: st.Credit, Killed: st.Killed, Positions: make([]accountPosition, 0, len(st.Positions)), ID: id}
	for _, p := range st.Positions {
		r.Positions = append(r.Positions, accountPosition{Symbol: p.Symbol, Sellable: p.Sellable, Reserved: p.Reserved, BoughtToday: p.BoughtToday})
	}
	return r
}

// handleAccount answers the account request: the token must name the
// account (forbidden_account otherwise, as for orders). Reader goroutine.
func (c *client) handleAccount(req request, now time.Time) {
	if !c.mayTrade(req, req.Account, now) {
		return
	}
	st, err := c.srv.orders.Account(req.Account)
	var or *orders.Reject
	switch {
	case errors.Is(err, risk.ErrUnknownAccount):
		c.reject(req.ID, perr(risk.CodeUnknownAccount, "risk holds no account %q", req.Account))
	case errors.As(err, &or):
		c.reject(req.ID, perr(or.Code, "%s", or.Text))
	case err != nil:
		c.reject(req.ID, perr(codeUnavailable, "%v", err))
	default:
		c.enqueue(encodeReply(accountView(st, req.ID)))
	}
}
