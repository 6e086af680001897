package broker

import (
	"errors"
	"fmt"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
	"sgw/orders"
	"sgw/refdata"
	"sgw/risk"
)

// Codes of the requests the acceptor itself refuses (the manager's and
// risk's codes are passed on as they are).
const (
	codeAccount     = "broker.account_not_allowed"
	codeExchange    = "broker.unknown_exchange"
	codeSide        = "broker.unsupported_side"
	codeOrdType     = "broker.unsupported_ord_type"
	codeTimeInForce = "broker.unsupported_time_in_force"
	codeUnavailable = "orders.unavailable"
	codeBadID       = orders.CodeBadID
)

// refusal is a well-formed request refused by a business rule: it is
// answered with an ExecutionReport (new orders) or an OrderCancelReject
// (cancels and replaces), never with a session-level Reject.
type refusal struct {
	code   string // stable, like risk's codes: "broker.account_not_allowed"
	text   string // for people; sent as Text (58)
	reason int    // OrdRejReason (103) for a new order
}

// newOrder is a NewOrderSingle (D) as decoded. The echo fields keep what
// the broker sent, for the report that rejects it; an identifier among
// them may be invalid (badID), so a report echoes them through fix.EchoID.
type newOrder struct {
	clOrdID, account string
	symbol           string // gateway symbol: 600519.SH
	side             risk.Side
	ordType          risk.OrdType
	price            refdata.Price
	qty              int64

	echoSymbol, echoExchange string // 55 and 207 as sent
	echoSide, echoOrdType    byte   // 54 and 40 as sent
}

// cancelReq is an OrderCancelRequest (F).
type cancelReq struct {
	clOrdID, origClOrdID, account string // account may be empty
	badID                         error  // the first invalid identifier, as fix.FieldReader.BadID
}

// replaceReq is an OrderCancelReplaceRequest (G).
type replaceReq struct {
	clOrdID, origClOrdID, account string // account may be empty
	price                         refdata.Price
	qty                           int64
	ordType                       byte  // 0 when absent
	badID                         error // as in cancelReq
}

// statusReq is an OrderStatusRequest (H).
type statusReq struct {
	clOrdID, account string
	reqID            string // OrdStatusReqID (790): FIX 4.4 only, valid or absent
	symbol, exchange string // 55 and 207 as sent, echoed for an unknown order
	side             byte   // echoed; 0 when absent
	badID            error  // as in cancelReq
}

// decodeNew reads a NewOrderSingle. A missing or malformed field is
// returned as the session-level Reject quickfix sends back; a well-formed
// order the acceptor refuses (an invalid identifier, an unsupported side,
// order type, time in force or exchange) as a refusal. Account may come
// back empty: the caller fills in a session's only account or rejects.
func decodeNew(m *quickfix.Message) (newOrder, *refusal, quickfix.MessageRejectError) {
	var o newOrder
	d := fix.NewFieldReader(m, fix.EmptyRejected)
	o.clOrdID = d.ID(tag.ClOrdID, "ClOrdID", refdata.MaxClOrdIDLen, true)
	o.account = d.ID(tag.Account, "Account", refdata.MaxAccountLen, false)
	o.echoSymbol = d.ID(tag.Symbol, "Symbol", refdata.MaxSymbolLen, true)
	o.echoExchange = d.ID(tag.SecurityExchange, "SecurityExchange", refdata.MaxSymbolLen, false)
	o.echoSide = d.Char(tag.Side, true)
	o.echoOrdType = d.Char(tag.OrdType, true)
	o.qty = d.Qty(tag.OrderQty, true)
	if o.echoOrdType == '2' {
		o.price = d.Price(tag.Price, true, fix.PriceExact)
	}
	tif := d.Char(tag.TimeInForce, false)
	if err := d.Err(); err != nil {
		return o, nil, err
	}
	if err := d.BadID(); err != nil {
		return o, badID(err), nil
	}
	var ref *refusal
	o.symbol, ref = gatewaySymbol(o.echoSymbol, o.echoExchange)
	switch side, _ := fix.ParseSide(o.echoSide); side {
	case fix.Buy:
		o.side = risk.Buy
	case fix.Sell:
		o.side = risk.Sell
	default:
		ref = firstRefusal(ref, &refusal{code: codeSide, reason: risk.FIXOther,
			text: fmt.Sprintf("Side %q is not supported: 1 (buy) or 2 (sell)", o.echoSide)})
	}
	switch o.echoOrdType {
	case '2':
		o.ordType = risk.Limit
	case '1':
		o.ordType = risk.Market // risk refuses it with its own code
	default:
		ref = firstRefusal(ref, &refusal{code: codeOrdType, reason: risk.FIXOther,
			text: fmt.Sprintf("OrdType %q is not supported: send a limit order (2)", o.echoOrdType)})
	}
	if tif != 0 && tif != '0' {
		ref = firstRefusal(ref, &refusal{code: codeTimeInForce, reason: risk.FIXOther,
			text: fmt.Sprintf("TimeInForce %q is not supported: orders are day orders (0)", tif)})
	}
	return o, ref, nil
}

// decodeCancel reads an OrderCancelRequest.
func decodeCancel(m *quickfix.Message) (cancelReq, quickfix.MessageRejectError) {
	d := fix.NewFieldReader(m, fix.EmptyRejected)
	c := cancelReq{
		clOrdID:     d.ID(tag.ClOrdID, "ClOrdID", refdata.MaxClOrdIDLen, true),
		origClOrdID: d.ID(tag.OrigClOrdID, "OrigClOrdID", refdata.MaxClOrdIDLen, true),
		account:     d.ID(tag.Account, "Account", refdata.MaxAccountLen, false),
	}
	c.badID = d.BadID()
	return c, d.Err()
}

// decodeReplace reads an OrderCancelReplaceRequest: the new limit price
// and the new total quantity.
func decodeReplace(m *quickfix.Message) (replaceReq, quickfix.MessageRejectError) {
	d := fix.NewFieldReader(m, fix.EmptyRejected)
	r := replaceReq{
		clOrdID:     d.ID(tag.ClOrdID, "ClOrdID", refdata.MaxClOrdIDLen, true),
		origClOrdID: d.ID(tag.OrigClOrdID, "OrigClOrdID", refdata.MaxClOrdIDLen, true),
		account:     d.ID(tag.Account, "Account", refdata.MaxAccountLen, false),
		ordType:     d.Char(tag.OrdType, false),
		qty:         d.Qty(tag.OrderQty, true),
		price:       d.Price(tag.Price, true, fix.PriceExact),
	}
	r.badID = d.BadID()
	return r, d.Err()
}

// decodeStatus reads an OrderStatusRequest. OrdStatusReqID (790) is a
// FIX 4.4 field, never echoed to a FIX 4.2 session (execReport.message):
// a FIX 4.2 session's is not read, so that an invalid one (a field the
// broker's version does not have) cannot mark the request's ids bad. It
// did: the working order's status went as the refusal of an unknown
// order (39=8, 103=5, a FIX 4.2 ExecType 8) under its ClOrdID.
//
// A FIX 4.4 session's invalid OrdStatusReqID (refdata.ValidID) is refused
// with a session-level Reject naming 790, SessionRejectReason 5 (value
// incorrect), as QuickFIX refuses a value its dictionary does not allow:
// the status cannot be answered under the request's id, which the
// answer must echo, and a Reject touches no order's state. Before, it
// marked the request's ids bad, and the status of the order its ClOrdID
// named, working or not, went as the unknown-order report (39=8, 103=5)
// under that ClOrdID, which a broker's engine may take for the order's
// rejection. An invalid ClOrdID is still answered so: a report under the
// placeholder ClOrdID names no order of the broker's. An invalid Account
// with a valid ClOrdID is refused by session.status with a
// BusinessMessageReject: the report would go under that ClOrdID.
func decodeStatus(m *quickfix.Message, fix42 bool) (statusReq, quickfix.MessageRejectError) {
	d := fix.NewFieldReader(m, fix.EmptyRejected)
	s := statusReq{
		clOrdID: d.ID(tag.ClOrdID, "ClOrdID", refdata.MaxClOrdIDLen, true),
		account: d.ID(tag.Account, "Account", refdata.MaxAccountLen, false),
		side:    d.Char(tag.Side, false),
		// Read, not checked: the answer echoes them (through echo).
		symbol:   d.Str(tag.Symbol, false),
		exchange: d.Str(tag.SecurityExchange, false),
	}
	if !fix42 {
		s.reqID = d.Str(tag.OrdStatusReqID, false)
	}
	s.badID = d.BadID()
	if err := d.Err(); err != nil {
		return s, err
	}
	if s.reqID != "" && !refdata.ValidID(s.reqID, refdata.MaxClOrdIDLen) {
		return s, quickfix.ValueIsIncorrect(tag.OrdStatusReqID)
	}
	return s, nil
}

// badID is the refusal of a request carrying an invalid identifier; err
// is a fix.FieldReader's BadID (a *refdata.IDError naming the field).
func badID(err error) *refusal {
	ref := &refusal{code: codeBadID, reason: risk.FIXOther, text: err.Error()}
	var ie *refdata.IDError
	if errors.As(err, &ie) {
		ref.text = ie.Text()
	}
	return ref
}

func firstRefusal(cur, next *refusal) *refusal {
	if cur != nil {
		return cur
	}
	return next
}

// gatewaySymbol maps Symbol (55) and SecurityExchange (207) to a gateway
// symbol: ("600519", "XSHG") is 600519.SH; without 207, Symbol is taken as
// a gateway symbol ("600519.SH"). Risk refuses a symbol it does not know;
// one longer than a gateway symbol can be is refused here.
func gatewaySymbol(sym, mic string) (string, *refusal) {
	g, ok := fix.JoinSymbol(sym, mic, fix.MICsOnly)
	if !ok {
		return sym, &refusal{code: codeExchange, reason: risk.FIXUnknownSymbol,
			text: fmt.Sprintf("SecurityExchange %q is not XSHG (Shanghai) or XSHE (Shenzhen)", mic)}
	}
	if err := refdata.CheckID("Symbol", g, refdata.MaxSymbolLen); err != nil {
		return sym, badID(err)
	}
	return g, nil
}

// validSide reports whether c is a value of Side (54) in FIX 4.2 (1 to 9)
// or, unless fix42, FIX 4.4 (also A to G), as QuickFIX's data
// dictionaries define it.
func validSide(c byte, fix42 bool) bool {
	return c >= '1' && c <= '9' || !fix42 && c >= 'A' && c <= 'G'
}

// validOrdType reports whether c is a value of OrdType (40) in FIX 4.2 (1
// to 9, A to I, P) or, unless fix42, FIX 4.4 (also J to M), as QuickFIX's
// data dictionaries define it.
func validOrdType(c byte, fix42 bool) bool {
	return c >= '1' && c <= '9' || c >= 'A' && c <= 'I' || c == 'P' || !fix42 && c >= 'J' && c <= 'M'
}
