package broker

import (
	"reflect"
	"strings"
	"testing"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/orders"
	"sgw/risk"
)

const nos = "11=c1|1=A1|55=600519|207=XSHG|54=1|40=2|44=1700.00|38=100|59=0|21=1|60=20260102-01:30:00.000"

// TestHandle maps broker messages to order-manager requests and answers,
// one message at a time.
func TestHandle(t *testing.T) {
	resting := orders.Order{ClOrdID: "o1", OrigClOrdID: "o1", Account: "A1", Symbol: "600519.SH", Side: risk.Sell,
		Price: 17000000, Qty: 300, CumQty: 100, LeavesQty: 200, AvgPx: 17000000, Status: orders.StatusPartiallyFilled,
		OrderID: "SIM-7", Upstream: "core", Source: orders.Source{Kind: "fix", Session: "BROKER1"}}
	restingB := resting
	restingB.Account, restingB.ClOrdID, restingB.OrigClOrdID = "B1", "b1", "b1"
	restingB.Source.Session = "BROKER2"

	type call struct {
		kind string // "new", "cancel", "replace"
		new  orders.NewRequest
		cxl  orders.CancelRequest
		rpl  orders.ReplaceRequest
	}
	for _, tc := range []struct {
		name           string
		broker, begin  string // default BROKER1, FIX.4.4
		msgType, body  string
		header         []string
		newErr         error
		rejectReason   int // session (373) or business (380) reject reason; -1 none
		rejectTag      int // 371; 0 none
		businessReject bool
		rejectText     string // the reject's Text; "" not checked
		rejectRefID    string // a business reject's BusinessRejectRefID (379); "" not checked
		call           *call
		want           map[quickfix.Tag]string // the one message sent; nil: none
	}{
		{
			name: "limit order with SecurityExchange", msgType: "D", body: nos, rejectReason: -1,
			call: &call{kind: "new", new: orders.NewRequest{ClOrdID: "c1", Account: "A1", Symbol: "600519.SH", Side: risk.Buy,
				Type: risk.Limit, Price: 17000000, Qty: 100, Source: orders.Source{Kind: "fix", Session: "BROKER1"}}},
		},
		{
			name: "gateway symbol, Shenzhen sell, trailing zeros", msgType: "D", rejectReason: -1,
			body: "11=c2|1=A2|55=000001.SZ|54=2|40=2|44=11.5000|38=200.00",
			call: &call{kind: "new", new: orders.NewRequest{ClOrdID: "c2", Account: "A2", Symbol: "000001.SZ", Side: risk.Sell,
				Type: risk.Limit, Price: 115000, Qty: 200, Source: orders.Source{Kind: "fix", Session: "BROKER1"}}},
		},
		{
			name: "XSHE code", msgType: "D", rejectReason: -1,
			body: "11=c3|1=A1|55=000001|207=XSHE|54=1|40=2|44=11.50|38=100",
			call: &call{kind: "new", new: orders.NewRequest{ClOrdID: "c3", Account: "A1", Symbol: "000001.SZ", Side: risk.Buy,
				Type: risk.Limit, Price: 115000, Qty: 100, Source: orders.Source{Kind: "fix", Session: "BROKER1"}}},
		},
		{
			name: "single-account session may omit Account", broker: "BROKER2", begin: "FIX.4.2", msgType: "D", rejectReason: -1,
			body: "11=c4|55=600519|207=XSHG|54=1|40=2|44=1700|38=100|21=1",
			call: &call{kind: "new", new: orders.NewRequest{ClOrdID: "c4", Account: "B1", Symbol: "600519.SH", Side: risk.Buy,
				Type: risk.Limit, Price: 17000000, Qty: 100, Source: orders.Source{Kind: "fix", Session: "BROKER2"}}},
		},
		{
			name: "market order goes to risk", msgType: "D", rejectReason: -1,
			body: "11=c5|1=A1|55=600519.SH|54=1|40=1|38=100",
			call: &call{kind: "new", new: orders.NewRequest{ClOrdID: "c5", Account: "A1", Symbol: "600519.SH", Side: risk.Buy,
				Type: risk.Market, Qty: 100, Source: orders.Source{Kind: "fix", Session: "BROKER1"}}},
		},
		{
			name: "account not allowed", msgType: "D", rejectReason: -1,
			body: "11=c6|1=M1|55=600519|207=XSHG|54=1|40=2|44=1700.00|38=100",
			want: map[quickfix.Tag]string{tag.MsgType: "8", tag.ExecType: "8", tag.OrdStatus: "8", tag.OrdRejReason: "0",
				tag.ClOrdID: "c6", tag.OrderID: "NONE", tag.Account: "M1", tag.Symbol: "600519", tag.SecurityExchange: "XSHG",
				tag.Side: "1", tag.OrderQty: "100", tag.Price: "1700.00", tag.LeavesQty: "0", tag.CumQty: "0",
				tag.Text: "account not allowed: session BROKER1 may not trade account M1"},
		},
		{
			name: "several accounts and none named", msgType: "D", body: "11=c7|55=600519.SH|54=1|40=2|44=1700|38=100",
			rejectReason: 1, rejectTag: int(tag.Account),
		},
		{
			name: "ClOrdID missing", msgType: "D", body: "1=A1|55=600519.SH|54=1|40=2|44=1700|38=100",
			rejectReason: 1, rejectTag: int(tag.ClOrdID),
		},
		{
			name: "quantity garbled", msgType: "D", body: "11=c8|1=A1|55=600519.SH|54=1|40=2|44=1700|38=1e3",
			rejectReason: 6, rejectTag: int(tag.OrderQty),
		},
		{
			name: "fractional quantity", msgType: "D", body: "11=c8|1=A1|55=600519.SH|54=1|40=2|44=1700|38=100.5",
			rejectReason: 6, rejectTag: int(tag.OrderQty),
		},
		{
			name: "price with five decimals", msgType: "D", body: "11=c9|1=A1|55=600519.SH|54=1|40=2|44=1700.00001|38=100",
			rejectReason: 6, rejectTag: int(tag.Price),
		},
		{
			name: "negative price", msgType: "D", body: "11=c9|1=A1|55=600519.SH|54=1|40=2|44=-1|38=100",
			rejectReason: 6, rejectTag: int(tag.Price),
		},
		{
			name: "limit without price", msgType: "D", body: "11=c9|1=A1|55=600519.SH|54=1|40=2|38=100",
			rejectReason: 1, rejectTag: int(tag.Price),
		},
		{
			name: "side of two characters", msgType: "D", body: "11=c9|1=A1|55=600519.SH|54=12|40=2|44=1|38=100",
			rejectReason: 6, rejectTag: int(tag.Side),
		},
		{
			name: "sell short refused", msgType: "D", rejectReason: -1,
			body: "11=c10|1=A1|55=600519.SH|54=5|40=2|44=1700|38=100",
			want: map[quickfix.Tag]string{tag.MsgType: "8", tag.ExecType: "8", tag.OrdStatus: "8", tag.OrdRejReason: "99",
				tag.ClOrdID: "c10", tag.Side: "5", tag.Text: `Side '5' is not supported: 1 (buy) or 2 (sell)`},
		},
		{
			// The refusal would echo the Side, which a validating engine
			// refuses when it is none of its FIX version's.
			name: "Side that is none of FIX's", msgType: "D", body: "11=c9|1=A1|55=600519.SH|54=Z|40=2|44=1|38=100",
			rejectReason: 5, rejectTag: int(tag.Side),
		},
		{
			name: "FIX 4.4's Side in FIX 4.2", broker: "BROKER2", begin: "FIX.4.2", msgType: "D",
			body: "11=c9|55=600519.SH|54=B|40=2|44=1|38=100", rejectReason: 5, rejectTag: int(tag.Side),
		},
		{
			name: "FIX 4.4's Side B refused", msgType: "D", rejectReason: -1, body: "11=c9|1=A1|55=600519.SH|54=B|40=2|44=1|38=100",
			want: map[quickfix.Tag]string{tag.ExecType: "8", tag.OrdStatus: "8", tag.Side: "B"},
		},
		{
			name: "FIX 4.4's OrdType in FIX 4.2", broker: "BROKER2", begin: "FIX.4.2", msgType: "D",
			body: "11=c9|55=600519.SH|54=1|40=K|38=100", rejectReason: 5, rejectTag: int(tag.OrdType),
		},
		{
			name: "OrdType that is none of FIX's", msgType: "D", body: "11=c9|1=A1|55=600519.SH|54=1|40=Z|38=100",
			rejectReason: 5, rejectTag: int(tag.OrdType),
		},
		{
			name: "stop order refused", msgType: "D", rejectReason: -1,
			body: "11=c11|1=A1|55=600519.SH|54=1|40=3|38=100",
			want: map[quickfix.Tag]string{tag.ExecType: "8", tag.OrdRejReason: "99", tag.OrdType: "3",
				tag.Text: `OrdType '3' is not supported: send a limit order (2)`},
		},
		{
			name: "IOC refused", msgType: "D", rejectReason: -1,
			body: "11=c12|1=A1|55=600519.SH|54=1|40=2|44=1700|38=100|59=3",
			want: map[quickfix.Tag]string{tag.ExecType: "8", tag.Text: `TimeInForce '3' is not supported: orders are day orders (0)`},
		},
		{
			name: "unknown exchange", msgType: "D", rejectReason: -1,
			body: "11=c13|1=A1|55=AAPL|207=XNAS|54=1|40=2|44=1700|38=100",
			want: map[quickfix.Tag]string{tag.ExecType: "8", tag.OrdRejReason: "1", tag.Symbol: "AAPL", tag.SecurityExchange: "XNAS",
				tag.Text: `SecurityExchange "XNAS" is not XSHG (Shanghai) or XSHE (Shenzhen)`},
		},
		{
			name: "risk reject", msgType: "D", body: nos, rejectReason: -1,
			newErr: &risk.Reject{Code: risk.CodePriceBand, Text: "price 1900.00 outside limit band 1530.00-1870.00", FIXReason: risk.FIXExceedsLimit},
			want: map[quickfix.Tag]string{tag.ExecType: "8", tag.OrdStatus: "8", tag.OrdRejReason: "3",
				tag.Text: "price 1900.00 outside limit band 1530.00-1870.00"},
		},
		{
			name: "risk reject in FIX 4.2", broker: "BROKER2", begin: "FIX.4.2", msgType: "D", rejectReason: -1,
			body:   "11=c14|1=B1|55=600519|207=XSHG|54=1|40=2|44=1900|38=100",
			newErr: &risk.Reject{Code: risk.CodeSessionClosed, Text: "the market is closed", FIXReason: risk.FIXExchangeClosed},
			want: map[quickfix.Tag]string{tag.ExecTransType: "0", tag.ExecType: "8", tag.OrdStatus: "8", tag.OrdRejReason: "2",
				tag.LastQty: "0", tag.Text: "the market is closed"},
		},
		{
			name: "manager's other-reason reject in FIX 4.2", broker: "BROKER2", begin: "FIX.4.2", msgType: "D", rejectReason: -1,
			body:   "11=c15|1=B1|55=600519|207=XSHG|54=1|40=2|44=1700|38=100",
			newErr: &orders.Reject{Code: "orders.upstream_unavailable", Text: "retry shortly", FIXReason: 99},
			want:   map[quickfix.Tag]string{tag.ExecType: "8", tag.OrdRejReason: "0", tag.Text: "retry shortly"},
		},
		{
			name: "resent order answered with its status", msgType: "D", rejectReason: -1, header: []string{"43=Y"},
			body: "11=o1|1=A1|55=600519|207=XSHG|54=2|40=2|44=1700|38=300",
			want: map[quickfix.Tag]string{tag.ExecType: "I", tag.OrdStatus: "1", tag.ClOrdID: "o1", tag.OrderID: "SIM-7",
				tag.CumQty: "100", tag.LeavesQty: "200"},
		},
		{
			name: "cancel", msgType: "F", body: "11=x1|41=o1|1=A1|55=600519|207=XSHG|54=2", rejectReason: -1,
			call: &call{kind: "cancel", cxl: orders.CancelRequest{ClOrdID: "x1", OrigClOrdID: "o1", Account: "A1",
				Source: orders.Source{Kind: "fix", Session: "BROKER1"}}},
		},
		{
			name: "cancel without Account finds it", msgType: "F", body: "11=x2|41=o1|55=600519|207=XSHG|54=2", rejectReason: -1,
			call: &call{kind: "cancel", cxl: orders.CancelRequest{ClOrdID: "x2", OrigClOrdID: "o1", Account: "A1",
				Source: orders.Source{Kind: "fix", Session: "BROKER1"}}},
		},
		{
			name: "cancel of an unknown order", msgType: "F", body: "11=x3|41=zz|1=A1|55=600519|207=XSHG|54=2", rejectReason: -1,
			call: &call{kind: "cancel", cxl: orders.CancelRequest{ClOrdID: "x3", OrigClOrdID: "zz", Account: "A1",
				Source: orders.Source{Kind: "fix", Session: "BROKER1"}}},
			want: map[quickfix.Tag]string{tag.MsgType: "9", tag.ClOrdID: "x3", tag.OrigClOrdID: "zz", tag.OrderID: "NONE",
				tag.OrdStatus: "8", tag.CxlRejResponseTo: "1", tag.CxlRejReason: "1", tag.Text: "no order zz of account A1"},
		},
		{
			name: "cancel of another broker's account", msgType: "F", body: "11=x4|41=b1|1=B1", rejectReason: -1,
			want: map[quickfix.Tag]string{tag.MsgType: "9", tag.ClOrdID: "x4", tag.OrderID: "NONE", tag.CxlRejReason: "2",
				tag.Text: "account not allowed: session BROKER1 may not trade account B1"},
		},
		{
			name: "cancel without OrigClOrdID", msgType: "F", body: "11=x5|1=A1", rejectReason: 1, rejectTag: int(tag.OrigClOrdID),
		},
		{
			name: "replace", msgType: "G", body: "11=r1|41=o1|1=A1|55=600519|207=XSHG|54=2|40=2|44=1699.5|38=400", rejectReason: -1,
			call: &call{kind: "replace", rpl: orders.ReplaceRequest{ClOrdID: "r1", OrigClOrdID: "o1", Account: "A1",
				Price: 16995000, Qty: 400, Source: orders.Source{Kind: "fix", Session: "BROKER1"}}},
		},
		{
			name: "replace to a market order", msgType: "G", body: "11=r2|41=o1|1=A1|40=1|44=1|38=400", rejectReason: -1,
			want: map[quickfix.Tag]string{tag.MsgType: "9", tag.CxlRejResponseTo: "2", tag.CxlRejReason: "2", tag.OrderID: "SIM-7",
				tag.OrdStatus: "1", tag.Text: "OrdType 1 is not supported: orders are limit orders (2)"},
		},
		{
			name: "replace without quantity", msgType: "G", body: "11=r3|41=o1|1=A1|40=2|44=1", rejectReason: 1, rejectTag: int(tag.OrderQty),
		},
		{
			name: "status", msgType: "H", body: "11=o1|790=q1|55=600519|207=XSHG|54=2", rejectReason: -1,
			want: map[quickfix.Tag]string{tag.MsgType: "8", tag.ExecType: "I", tag.OrdStatus: "1", tag.ClOrdID: "o1",
				tag.OrdStatusReqID: "q1", tag.Account: "A1", tag.Symbol: "600519", tag.SecurityExchange: "XSHG", tag.Side: "2",
				tag.OrderQty: "300", tag.Price: "1700.00", tag.CumQty: "100", tag.LeavesQty: "200", tag.AvgPx: "1700.00"},
		},
		{
			name: "status in FIX 4.2", broker: "BROKER2", begin: "FIX.4.2", msgType: "H", body: "11=b1|54=2", rejectReason: -1,
			want: map[quickfix.Tag]string{tag.ExecTransType: "3", tag.ExecType: "1", tag.OrdStatus: "1", tag.ClOrdID: "b1",
				tag.LastQty: "0", tag.LastPx: "0.00"},
		},
		{
			// FIX 4.2 has no OrdStatusReqID: a validating FIX 4.2 engine
			// refuses a report carrying it.
			name: "status in FIX 4.2 naming an OrdStatusReqID", broker: "BROKER2", begin: "FIX.4.2", msgType: "H",
			body: "11=b1|790=q1|54=2", rejectReason: -1,
			want: map[quickfix.Tag]string{tag.ExecTransType: "3", tag.OrdStatus: "1", tag.ClOrdID: "b1", tag.OrdStatusReqID: ""},
		},
		{
			// Nor does it check one: an invalid 790, which a FIX 4.2
			// broker never sees again, refused the request as for an
			// unknown order (39=8 under the working order's ClOrdID).
			name: "status in FIX 4.2 naming an invalid OrdStatusReqID", broker: "BROKER2", begin: "FIX.4.2", msgType: "H",
			body: "11=b1|790=q 1|54=2", rejectReason: -1,
			want: map[quickfix.Tag]string{tag.ExecTransType: "3", tag.OrdStatus: "1", tag.ClOrdID: "b1", tag.OrdStatusReqID: "",
				tag.Text: ""},
		},
		{
			// FIX 4.4's is checked: an invalid one, which the answer
			// cannot echo, gets a Reject naming 790 (value incorrect),
			// as QuickFIX refuses a value its dictionary does not
			// allow. Before, the working order's status went as the
			// unknown-order report (39=8, 103=5) under its ClOrdID.
			name: "status naming an invalid OrdStatusReqID", msgType: "H", body: "11=o1|790=q 1|54=2",
			rejectReason: 5, rejectTag: int(tag.OrdStatusReqID),
		},
		{
			name: "status naming an OrdStatusReqID too long", msgType: "H", body: "11=o1|1=A1|790=" + strings.Repeat("q", 33) + "|54=2",
			rejectReason: 5, rejectTag: int(tag.OrdStatusReqID),
		},
		{
			name: "status of an unknown order naming an invalid OrdStatusReqID", msgType: "H", body: "11=nope|790=q\\1|54=1",
			rejectReason: 5, rejectTag: int(tag.OrdStatusReqID),
		},
		{
			name: "status of an invalid ClOrdID naming an invalid OrdStatusReqID", msgType: "H",
			body: "11=" + strings.Repeat("s", 33) + "|790=q 1|54=1", rejectReason: 5, rejectTag: int(tag.OrdStatusReqID),
		},
		{
			name: "status of an unknown order in FIX 4.2 naming an OrdStatusReqID", broker: "BROKER2", begin: "FIX.4.2", msgType: "H",
			body: "11=nope|790=q1|55=600519|54=1", rejectReason: -1,
			want: map[quickfix.Tag]string{tag.ExecTransType: "3", tag.OrdStatus: "8", tag.ClOrdID: "nope", tag.OrdStatusReqID: ""},
		},
		{
			// Side is required in a status request and in its answer:
			// the order's own answers for an order the gateway shows.
			name: "status without Side", msgType: "H", body: "11=o1", rejectReason: -1,
			want: map[quickfix.Tag]string{tag.ExecType: "I", tag.OrdStatus: "1", tag.ClOrdID: "o1", tag.Side: "2"},
		},
		{
			name: "status of an unknown order without Side", msgType: "H", body: "11=nope|790=q1",
			rejectReason: 1, rejectTag: int(tag.Side),
		},
		{
			name: "status of another broker's order without Side", msgType: "H", body: "11=b1|1=B1",
			rejectReason: 1, rejectTag: int(tag.Side),
		},
		{
			name: "status of an invalid ClOrdID without Side", msgType: "H", body: "11=" + strings.Repeat("s", 33),
			rejectReason: 1, rejectTag: int(tag.Side),
		},
		{
			name: "status of an unknown order with a FIX 4.4 Side in FIX 4.2", broker: "BROKER2", begin: "FIX.4.2", msgType: "H",
			body: "11=nope|55=600519|54=B", rejectReason: 5, rejectTag: int(tag.Side),
		},
		{
			name: "status of an unknown order in FIX 4.4 with FIX 4.4's Side B", msgType: "H", body: "11=nope|54=B", rejectReason: -1,
			want: map[quickfix.Tag]string{tag.ExecType: "I", tag.OrdStatus: "8", tag.ClOrdID: "nope", tag.Side: "B"},
		},
		{
			name: "status of an unknown order", msgType: "H", body: "11=nope|54=1", rejectReason: -1,
			want: map[quickfix.Tag]string{tag.ExecType: "I", tag.OrdStatus: "8", tag.OrdRejReason: "5", tag.ClOrdID: "nope",
				tag.OrderID: "NONE", tag.Side: "1", tag.Text: "unknown order"},
		},
		{
			// FIX 4.2 requires Symbol (55) in an ExecutionReport: the
			// request's, echoed, or FIX's "[N/A]" when it named none.
			name: "status of an unknown order in FIX 4.2", broker: "BROKER2", begin: "FIX.4.2", msgType: "H",
			body: "11=nope|55=600519|207=XSHG|54=1", rejectReason: -1,
			want: map[quickfix.Tag]string{tag.ExecTransType: "3", tag.ExecType: "8", tag.OrdStatus: "8", tag.OrdRejReason: "5",
				tag.ClOrdID: "nope", tag.Symbol: "600519", tag.SecurityExchange: "XSHG", tag.Side: "1"},
		},
		{
			name: "status of an unknown order in FIX 4.2 naming no Symbol", broker: "BROKER2", begin: "FIX.4.2", msgType: "H",
			body: "11=nope|54=1", rejectReason: -1,
			want: map[quickfix.Tag]string{tag.ExecTransType: "3", tag.OrdStatus: "8", tag.ClOrdID: "nope", tag.Symbol: "[N/A]"},
		},
		{
			name: "status of another broker's order", msgType: "H", body: "11=b1|1=B1|54=2", rejectReason: -1,
			want: map[quickfix.Tag]string{tag.OrdStatus: "8", tag.OrdRejReason: "5", tag.ClOrdID: "b1"},
		},
		{
			// An invalid Account, the ClOrdID valid: a business reject
			// naming the Account, no report. Before, the unknown-order
			// report (39=8, 103=5) went under the working order's
			// ClOrdID, which a broker's engine took for its rejection.
			name: "status naming an invalid Account", msgType: "H", body: "11=o1|1=A 1|790=q1|54=2",
			rejectReason: 0, businessReject: true, rejectText: "Account has a character 0x20 at offset 1 outside A-Z a-z 0-9 - _ . : / # @",
			rejectRefID: "q1",
		},
		{
			name: "status naming an Account too long in FIX 4.2", broker: "BROKER2", begin: "FIX.4.2", msgType: "H",
			body: "11=b1|1=" + strings.Repeat("B", 21) + "|54=2", rejectReason: 0, businessReject: true,
			rejectText: "Account is 21 bytes long; the limit is 20", rejectRefID: "b1",
		},
		{
			name: "status of an invalid ClOrdID naming an invalid Account", msgType: "H",
			body: "11=" + strings.Repeat("s", 33) + "|1=A 1|54=1", rejectReason: -1,
			want: map[quickfix.Tag]string{tag.MsgType: "8", tag.OrdStatus: "8", tag.OrdRejReason: "5",
				tag.ClOrdID: "?ssssssssssssssss~33", tag.Account: "?A_1", tag.Text: "ClOrdID is 33 bytes long; the limit is 32"},
		},
		{
			name: "unsupported message type", msgType: "R", body: "131=q1", rejectReason: 3, businessReject: true,
		},
		{
			name: "ClOrdID of 70,000 bytes", msgType: "D", rejectReason: -1,
			body: "11=" + strings.Repeat("7", 70000) + "|1=A1|55=600519|207=XSHG|54=1|40=2|44=1700|38=100",
			want: map[quickfix.Tag]string{tag.MsgType: "8", tag.ExecType: "8", tag.OrdStatus: "8", tag.OrdRejReason: "99",
				tag.ClOrdID: "?7777777777777777~70000", tag.Account: "A1", tag.Symbol: "600519",
				tag.Text: "ClOrdID is 70000 bytes long; the limit is 32"},
		},
		{
			name: "ClOrdID with a space, FIX 4.2", broker: "BROKER2", begin: "FIX.4.2", msgType: "D", rejectReason: -1,
			body: "11=c 1|55=600519|207=XSHG|54=1|40=2|44=1700|38=100",
			want: map[quickfix.Tag]string{tag.ExecType: "8", tag.OrdRejReason: "0", tag.ClOrdID: "?c_1",
				tag.Text: "ClOrdID has a character 0x20 at offset 1 outside A-Z a-z 0-9 - _ . : / # @"},
		},
		{
			name: "Account with '='", msgType: "D", rejectReason: -1,
			body: "11=c20|1=A=1|55=600519|207=XSHG|54=1|40=2|44=1700|38=100",
			want: map[quickfix.Tag]string{tag.ExecType: "8", tag.ClOrdID: "c20", tag.Account: "?A_1",
				tag.Text: "Account has a character 0x3d at offset 1 outside A-Z a-z 0-9 - _ . : / # @"},
		},
		{
			name: "Symbol too long once joined", msgType: "D", rejectReason: -1,
			body: "11=c21|1=A1|55=1234567890123456|207=XSHG|54=1|40=2|44=1700|38=100",
			want: map[quickfix.Tag]string{tag.ExecType: "8", tag.ClOrdID: "c21", tag.Symbol: "1234567890123456",
				tag.Text: "Symbol is 19 bytes long; the limit is 16"},
		},
		{
			name: "SecurityExchange garbage", msgType: "D", rejectReason: -1,
			body: "11=c22|1=A1|55=600519|207=" + strings.Repeat("X", 100) + "|54=1|40=2|44=1700|38=100",
			want: map[quickfix.Tag]string{tag.ExecType: "8", tag.SecurityExchange: "?XXXXXXXXXXXXXXXX~100",
				tag.Text: "SecurityExchange is 100 bytes long; the limit is 16"},
		},
		{
			name: "cancel naming an invalid order id", msgType: "F", body: "11=x9|41=" + strings.Repeat("o", 40) + "|1=A1", rejectReason: -1,
			want: map[quickfix.Tag]string{tag.MsgType: "9", tag.ClOrdID: "x9", tag.OrigClOrdID: "?oooooooooooooooo~40", tag.OrderID: "NONE",
				tag.CxlRejResponseTo: "1", tag.CxlRejReason: "2", tag.Text: "OrigClOrdID is 40 bytes long; the limit is 32"},
		},
		{
			name: "replace with an invalid ClOrdID", msgType: "G", body: "11=r\\1|41=o1|1=A1|40=2|44=1|38=400", rejectReason: -1,
			want: map[quickfix.Tag]string{tag.MsgType: "9", tag.ClOrdID: "?r_1", tag.OrigClOrdID: "o1", tag.CxlRejResponseTo: "2",
				tag.CxlRejReason: "2", tag.Text: "ClOrdID has a character 0x5c at offset 1 outside A-Z a-z 0-9 - _ . : / # @"},
		},
		{
			name: "status of an invalid ClOrdID", msgType: "H", body: "11=" + strings.Repeat("s", 33) + "|790=q1|54=1", rejectReason: -1,
			want: map[quickfix.Tag]string{tag.MsgType: "8", tag.ExecType: "I", tag.OrdStatus: "8", tag.OrdRejReason: "5",
				tag.ClOrdID: "?ssssssssssssssss~33", tag.OrdStatusReqID: "q1", tag.Text: "ClOrdID is 33 bytes long; the limit is 32"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.entry.put(resting)
			h.entry.put(restingB)
			h.entry.newErr = tc.newErr
			broker, begin := tc.broker, tc.begin
			if broker == "" {
				broker, begin = "BROKER1", "FIX.4.4"
			}
			s := h.session(t, broker)
			rej := s.handle(inbound(t, begin, tc.msgType, tc.body, tc.header...))
			switch {
			case tc.rejectReason < 0 && rej != nil:
				t.Fatalf("rejected: %v", rej)
			case tc.rejectReason >= 0 && rej == nil:
				t.Fatalf("not rejected; want reason %d", tc.rejectReason)
			case rej != nil:
				if rej.RejectReason() != tc.rejectReason || rej.IsBusinessReject() != tc.businessReject {
					t.Errorf("reject reason %d business %v; want %d %v", rej.RejectReason(), rej.IsBusinessReject(), tc.rejectReason, tc.businessReject)
				}
				got := 0
				if rt := rej.RefTagID(); rt != nil {
					got = int(*rt)
				}
				if got != tc.rejectTag {
					t.Errorf("RefTagID %d; want %d", got, tc.rejectTag)
				}
				if tc.rejectText != "" && rej.Error() != tc.rejectText {
					t.Errorf("reject Text %q; want %q", rej.Error(), tc.rejectText)
				}
				if tc.rejectRefID != "" && rej.BusinessRejectRefID() != tc.rejectRefID {
					t.Errorf("BusinessRejectRefID %q; want %q", rej.BusinessRejectRefID(), tc.rejectRefID)
				}
			}
			var calls []call
			for _, r := range h.entry.news {
				calls = append(calls, call{kind: "new", new: r})
			}
			for _, r := range h.entry.cancels {
				calls = append(calls, call{kind: "cancel", cxl: r})
			}
			for _, r := range h.entry.replaces {
				calls = append(calls, call{kind: "replace", rpl: r})
			}
			if tc.newErr != nil {
				calls = calls[1:] // the New that was refused
			}
			switch {
			case tc.call == nil && len(calls) > 0:
				t.Errorf("calls %+v; want none", calls)
			case tc.call != nil && (len(calls) != 1 || !reflect.DeepEqual(calls[0], *tc.call)):
				t.Errorf("calls %+v; want %+v", calls, *tc.call)
			}
			out := h.take()
			if tc.want == nil {
				if len(out) > 0 {
					t.Fatalf("sent %v; want nothing", out[0].m)
				}
				return
			}
			if len(out) != 1 {
				t.Fatalf("sent %d messages; want 1", len(out))
			}
			if out[0].broker != broker {
				t.Errorf("sent to %s; want %s", out[0].broker, broker)
			}
			for k, v := range tc.want {
				if got := field(out[0].m, k); got != v {
					t.Errorf("tag %d = %q; want %q (%s)", k, got, v, out[0].m)
				}
			}
			if id := field(out[0].m, tag.ExecID); out[0].m.IsMsgTypeOf("8") && id == "" {
				t.Errorf("no ExecID")
			}
		})
	}
}

// TestRejectCounts counts the new orders the acceptor refuses itself, on
// its own metric and through the entry's RejectCounter; those refused by
// the manager are the manager's to count.
func TestRejectCounts(t *testing.T) {
	h := newHarness(t)
	s := h.session(t, "BROKER1")
	for _, body := range []string{
		nos,                               // accepted
		nos,                               // duplicate: the manager's reject
		"1=A1|55=600519|54=1|40=2|38=100", // no ClOrdID: session reject
		"11=c9|1=M1|55=600519.SH|54=1|40=2|44=1|38=1",   // account
		"11=c10|1=A1|55=600519.SH|54=5|40=2|44=1|38=1",  // side
		"11=c 11|1=A1|55=600519.SH|54=1|40=2|44=1|38=1", // identifier
	} {
		s.handle(inbound(t, "FIX.4.4", "D", body))
	}
	for code, want := range map[string]float64{codeMalformed: 1, codeAccount: 1, codeSide: 1, orders.CodeBadID: 1, risk.CodeDuplicateClOrd: 0} {
		if n := counter(t, h, "gateway_broker_rejects_total", code); n != want {
			t.Errorf("gateway_broker_rejects_total{code=%s} = %v; want %v", code, n, want)
		}
	}
	want := []string{codeMalformed, codeAccount, codeSide, orders.CodeBadID}
	if !reflect.DeepEqual(h.entry.refused, want) {
		t.Errorf("CountRejected %v; want %v", h.entry.refused, want)
	}
}

// counter reads a counter of the harness's registry by its label values
// (in label-name order).
func counter(tb testing.TB, h *harness, name string, labels ...string) float64 {
	tb.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			lp := m.GetLabel()
			if len(lp) != len(labels) {
				continue
			}
			for i, l := range lp {
				if l.GetValue() != labels[i] {
					continue metric
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
