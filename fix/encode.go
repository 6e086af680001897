package fix

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/refdata"
)

// Prepared is a request already encoded by Prepare, for a caller that
// must hand requests to Send in order under a lock of its own and wants
// the encoding done before it takes the lock. Send takes it like the
// request itself; it can be sent once (a Prepared sent again, or
// reclaimed, is encoded afresh from its request).
type Prepared struct {
	req any
	msg *quickfix.Message
}

// Prepare encodes req (a NewOrder, CancelRequest, ReplaceRequest or
// StatusRequest) for Send. It fails as Send would on an invalid request.
// Any goroutine.
func Prepare(req any) (Prepared, error) {
	if p, ok := req.(Prepared); ok {
		req = p.req
	}
	m, err := encode(req, time.Now())
	if err != nil {
		return Prepared{}, err
	}
	return Prepared{req: req, msg: m}, nil
}

// Request returns the request p encodes.
func (p Prepared) Request() any { return p.req }

// encode turns a request into a quickfix message without header; it runs
// on the caller's goroutine.
func encode(req any, now time.Time) (*quickfix.Message, error) {
	switch r := req.(type) {
	case NewOrder:
		return encodeNewOrder(&r, now)
	case *NewOrder:
		return encodeNewOrder(r, now)
	case CancelRequest:
		return encodeCancel(&r, now)
	case *CancelRequest:
		return encodeCancel(r, now)
	case ReplaceRequest:
		return encodeReplace(&r, now)
	case *ReplaceRequest:
		return encodeReplace(r, now)
	case StatusRequest:
		return encodeStatus(&r)
	case *StatusRequest:
		return encodeStatus(r)
	default:
		return nil, fmt.Errorf("%w: %T", ErrUnsupported, req)
	}
}

// msgBuilder sets fields and remembers the first validation error.
type msgBuilder struct {
	m   *quickfix.Message
	err error
}

func newBuilder(msgType string) *msgBuilder {
	m := quickfix.NewMessage()
	m.Header.SetField(tag.MsgType, quickfix.FIXString(msgType))
	return &msgBuilder{m: m}
}

func (b *msgBuilder) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf("%w: "+format, append([]any{ErrBadRequest}, args...)...)
	}
}

func (b *msgBuilder) str(t quickfix.Tag, name, v string, required bool) {
	switch {
	case v == "" && required:
		b.fail("%s is empty", name)
	case strings.ContainsRune(v, 0x01):
		b.fail("%s contains SOH", name)
	case v != "":
		b.m.Body.SetField(t, quickfix.FIXString(v))
	}
}

func (b *msgBuilder) symbol(sym string) {
	code, mic, ok := SplitSymbol(sym)
	if !ok {
		b.fail("symbol %q has no .SH or .SZ suffix", sym)
		return
	}
	b.m.Body.SetField(tag.Symbol, quickfix.FIXString(code))
	b.m.Body.SetField(tag.SecurityExchange, quickfix.FIXString(mic))
}

func (b *msgBuilder) side(s Side) {
	if s != Buy && s != Sell {
		b.fail("side %q is neither buy (1) nor sell (2)", byte(s))
		return
	}
	b.m.Body.SetField(tag.Side, quickfix.FIXString(string(rune(s))))
}

func (b *msgBuilder) qty(q int64) {
	if q <= 0 {
		b.fail("quantity %d is not positive", q)
		return
	}
	b.m.Body.SetField(tag.OrderQty, quickfix.FIXString(strconv.FormatInt(q, 10)))
}

func (b *msgBuilder) price(p refdata.Price) {
	if p <= 0 {
		b.fail("price %s is not positive", p)
		return
	}
	// quickfix keeps the slice it is given, so it gets its own.
	b.m.Body.SetBytes(tag.Price, p.Append(make([]byte, 0, 24)))
	b.m.Body.SetField(tag.OrdType, quickfix.FIXString("2")) // limit
}

func (b *msgBuilder) transactTime(t time.Time) {
	b.m.Body.SetField(tag.TransactTime, quickfix.FIXUTCTimestamp{Time: t.UTC(), Precision: quickfix.Millis})
}

func (b *msgBuilder) done() (*quickfix.Message, error) {
	if b.err != nil {
		return nil, b.err
	}
	return b.m, nil
}

func encodeNewOrder(o *NewOrder, now time.Time) (*quickfix.Message, error) {
	b := newBuilder("D")
	b.str(tag.ClOrdID, "ClOrdID", o.ClOrdID, true)
	b.str(tag.Account, "Account", o.Account, true)
	b.m.Body.SetField(tag.HandlInst, quickfix.FIXString("1")) // automated, no intervention
	b.symbol(o.Symbol)
	b.side(o.Side)
	b.qty(o.Qty)
	b.price(o.Price)
	b.m.Body.SetField(tag.TimeInForce, quickfix.FIXString("0")) // day
	if o.TransactTime.IsZero() {
		b.transactTime(now)
	} else {
		b.transactTime(o.TransactTime)
	}
	if o.PossResend {
		b.m.Header.SetField(tag.PossResend, quickfix.FIXBoolean(true))
	}
	return b.done()
}

func encodeCancel(c *CancelRequest, now time.Time) (*quickfix.Message, error) {
	b := newBuilder("F")
	b.str(tag.ClOrdID, "ClOrdID", c.ClOrdID, true)
	b.str(tag.OrigClOrdID, "OrigClOrdID", c.OrigClOrdID, true)
	b.str(tag.Account, "Account", c.Account, false)
	b.symbol(c.Symbol)
	b.side(c.Side)
	b.qty(c.Qty)
	b.transactTime(now)
	return b.done()
}

func encodeReplace(r *ReplaceRequest, now time.Time) (*quickfix.Message, error) {
	b := newBuilder("G")
	b.str(tag.ClOrdID, "ClOrdID", r.ClOrdID, true)
	b.str(tag.OrigClOrdID, "OrigClOrdID", r.OrigClOrdID, true)
	b.str(tag.Account, "Account", r.Account, false)
	b.m.Body.SetField(tag.HandlInst, quickfix.FIXString("1"))
	b.symbol(r.Symbol)
	b.side(r.Side)
	b.qty(r.Qty)
	b.price(r.Price)
	b.transactTime(now)
	return b.done()
}

func encodeStatus(s *StatusRequest) (*quickfix.Message, error) {
	b := newBuilder("H")
	b.str(tag.ClOrdID, "ClOrdID", s.ClOrdID, true)
	b.symbol(s.Symbol)
	b.side(s.Side)
	return b.done()
}
