package broker

import (
	"fmt"
	"sgw/fix"
	"strings"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

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
// the broker sent, for the report that rejects it.
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
}

// replaceReq is an OrderCancelReplaceRequest (G).
type replaceReq struct {
	clOrdID, origClOrdID, account string // account may be empty
	price                         refdata.Price
	qty                           int64
	ordType                       byte // 0 when absent
}

// statusReq is an OrderStatusRequest (H).
type statusReq struct {
	clOrdID, account, reqID string
	side                    byte // echoed; 0 when absent
}

// decodeNew reads a NewOrderSingle. A missing or malformed field is
// returned as the session-level Reject quickfix sends back; a well-formed
// order the acceptor does not support (side, order type, time in force,
// exchange) as a refusal. Account may come back empty: the caller fills in
// a session's only account or rejects.
func decodeNew(m *quickfix.Message) (newOrder, *refusal, quickfix.MessageRejectError) {
	var o newOrder
	d := fieldReader{m: m}
	o.clOrdID = d.str(tag.ClOrdID, true)
	o.account = d.str(tag.Account, false)
	o.echoSymbol = d.str(tag.Symbol, true)
	o.echoExchange = d.str(tag.SecurityExchange, false)
	o.echoSide = d.char(tag.Side, true)
	o.echoOrdType = d.char(tag.OrdType, true)
	o.qty = d.qty(tag.OrderQty, true)
	if o.echoOrdType == '2' {
		o.price = d.price(tag.Price, true)
	}
	tif := d.char(tag.TimeInForce, false)
	if d.err != nil {
		return o, nil, d.err
	}
	var ref *refusal
	o.symbol, ref = gatewaySymbol(o.echoSymbol, o.echoExchange)
	switch o.echoSide {
	case '1':
		o.side = risk.Buy
	case '2':
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
	d := fieldReader{m: m}
	c := cancelReq{
		clOrdID:     d.str(tag.ClOrdID, true),
		origClOrdID: d.str(tag.OrigClOrdID, true),
		account:     d.str(tag.Account, false),
	}
	return c, d.err
}

// decodeReplace reads an OrderCancelReplaceRequest: the new limit price
// and the new total quantity.
func decodeReplace(m *quickfix.Message) (replaceReq, quickfix.MessageRejectError) {
	d := fieldReader{m: m}
	r := replaceReq{
		clOrdID:     d.str(tag.ClOrdID, true),
		origClOrdID: d.str(tag.OrigClOrdID, true),
		account:     d.str(tag.Account, false),
		ordType:     d.char(tag.OrdType, false),
		qty:         d.qty(tag.OrderQty, true),
		price:       d.price(tag.Price, true),
	}
	return r, d.err
}

// decodeStatus reads an OrderStatusRequest.
func decodeStatus(m *quickfix.Message) (statusReq, quickfix.MessageRejectError) {
	d := fieldReader{m: m}
	s := statusReq{
		clOrdID: d.str(tag.ClOrdID, true),
		account: d.str(tag.Account, false),
		reqID:   d.str(tag.OrdStatusReqID, false),
		side:    d.char(tag.Side, false),
	}
	return s, d.err
}

func firstRefusal(cur, next *refusal) *refusal {
	if cur != nil {
		return cur
	}
	return next
}

// Exchange suffixes of gateway symbols and their ISO 10383 MICs, as
// SecurityExchange (207).
var suffixMIC = [...]struct{ suffix, mic string }{
	{".SH", "XSHG"},
	{".SZ", "XSHE"},
}

// gatewaySymbol maps Symbol (55) and SecurityExchange (207) to a gateway
// symbol: ("600519", "XSHG") is 600519.SH; without 207, Symbol is taken as
// a gateway symbol ("600519.SH"). Risk refuses a symbol it does not know.
func gatewaySymbol(sym, mic string) (string, *refusal) {
	if mic == "" {
		return sym, nil
	}
	for _, s := range suffixMIC {
		if mic == s.mic {
			if strings.HasSuffix(sym, s.suffix) {
				return sym, nil
			}
			return sym + s.suffix, nil
		}
	}
	return sym, &refusal{code: codeExchange, reason: risk.FIXUnknownSymbol,
		text: fmt.Sprintf("SecurityExchange %q is not XSHG (Shanghai) or XSHE (Shenzhen)", mic)}
}

// splitSymbol maps a gateway symbol to Symbol and SecurityExchange:
// 600519.SH is ("600519", "XSHG"). A symbol without a known suffix is
// returned whole with no exchange.
func splitSymbol(sym string) (code, mic string) {
	for _, s := range suffixMIC {
		if c, ok := strings.CutSuffix(sym, s.suffix); ok && c != "" {
			return c, s.mic
		}
	}
	return sym, ""
}

// fieldReader reads body fields and keeps the first error, as the
// session-level Reject to send.
type fieldReader struct {
	m   *quickfix.Message
	err quickfix.MessageRejectError
}

func (d *fieldReader) fail(rej quickfix.MessageRejectError) {
	if d.err == nil {
		d.err = rej
	}
}

func (d *fieldReader) bytes(t quickfix.Tag, required bool) []byte {
	if !d.m.Body.Has(t) {
		if required {
			d.fail(quickfix.RequiredTagMissing(t))
		}
		return nil
	}
	v, err := d.m.Body.GetBytes(t)
	if err != nil {
		d.fail(err)
		return nil
	}
	if len(v) == 0 {
		d.fail(quickfix.TagSpecifiedWithoutAValue(t))
	}
	return v
}

func (d *fieldReader) str(t quickfix.Tag, required bool) string {
	return string(d.bytes(t, required))
}

func (d *fieldReader) char(t quickfix.Tag, required bool) byte {
	v := d.bytes(t, required)
	switch len(v) {
	case 0:
		return 0
	case 1:
		return v[0]
	}
	d.fail(quickfix.IncorrectDataFormatForValue(t))
	return 0
}

func (d *fieldReader) price(t quickfix.Tag, required bool) refdata.Price {
	v := d.bytes(t, required)
	if v == nil {
		return 0
	}
	p, ok := parsePrice(v)
	if !ok {
		d.fail(quickfix.IncorrectDataFormatForValue(t))
	}
	return p
}

func (d *fieldReader) qty(t quickfix.Tag, required bool) int64 {
	v := d.bytes(t, required)
	if v == nil {
		return 0
	}
	q, ok := fix.ParseQty(v)
	if !ok {
		d.fail(quickfix.IncorrectDataFormatForValue(t))
	}
	return q
}

// parsePrice parses a FIX Price: a non-negative decimal with at most four
// significant decimals (trailing zeros are dropped: "1700.000000" is
// 1700.00).
func parsePrice(b []byte) (refdata.Price, bool) {
	s := string(b)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
		if s == "" {
			return 0, false
		}
	}
	p, err := refdata.ParsePrice(s)
	return p, err == nil
}
