package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"sgw/internal/jsonkey"
	"sgw/orderbook"
	"sgw/orders"
	"sgw/refdata"
)

// Client request operations and channels (docs/PROTOCOL.md).
const (
	opAuth         = "auth"
	opSubscribe    = "subscribe"
	opUnsubscribe  = "unsubscribe"
	opPing         = "ping"
	opOrderNew     = "order.new"
	opOrderCancel  = "order.cancel"
	opOrderReplace = "order.replace"
	opOrderStatus  = "order.status"
	opOrdersList   = "orders.list"
	opOrderTrades  = "order.trades"
	opAccount      = "account"

	chBook   = "book"
	chQuote  = "quote"
	chTrades = "trades"
	chOrders = "orders"
)

// Error codes sent to WebSocket clients. They are part of the protocol and
// stable.
const (
	codeBadJSON        = "bad_json"
	codeTooLarge       = "too_large"
	codeUnknownOp      = "unknown_op"
	codeUnknownChannel = "unknown_channel"
	codeUnknownSymbol  = "unknown_symbol"
	codeBadDepth       = "bad_depth"
	codeTooManySubs    = "too_many_subscriptions"
	codeRateLimited    = "rate_limited"
	codeAuthRequired   = "auth_required"
	codeBadToken       = "bad_token"
	codeNoLeader       = "no_leader" // a cluster node knows no leader to serve order entry: connect again
	codeBadOrder       = "bad_order"
	codeForbidden      = "forbidden_account"
	codeNotEntitled    = "forbidden" // the token's market-data entitlements do not cover the subscription
	codeUnavailable    = "orders_unavailable"
	// codeBadID: an identifier of an order request (clOrdId, origClOrdId,
	// account, symbol) or an account of an orders subscription breaks the
	// identifier rule of refdata.ValidID.
	codeBadID = orders.CodeBadID
	// codeBadCursor: an orders.list or order.trades cursor the server did
	// not hand out.
	codeBadCursor = orders.CodeBadCursor
	// codeStopping: the server takes no more order requests
	// (Server.StopOrders).
	codeStopping = orders.CodeStopping
)

// request is one client message.
type request struct {
	Op      string            `json:"op"`
	ID      json.RawMessage   `json:"id,omitempty"`
	Token   string            `json:"token,omitempty"`
	Channel string            `json:"channel,omitempty"`
	Symbols []string          `json:"symbols,omitempty"`
	Depth   int               `json:"depth,omitempty"`
	Resume  map[string]uint64 `json:"resume,omitempty"`
	// Checksums are, for symbols of Resume, the checksum of the client's
	// copy at its resume seq.
	Checksums map[string]uint32 `json:"checksums,omitempty"`

	// Order entry (docs/PROTOCOL.md, "Orders").
	Accounts    []string `json:"accounts,omitempty"`
	ClOrdID     string   `json:"clOrdId,omitempty"`
	OrigClOrdID string   `json:"origClOrdId,omitempty"`
	Account     string   `json:"account,omitempty"`
	Symbol      string   `json:"symbol,omitempty"`
	Side        string   `json:"side,omitempty"`
	Type        string   `json:"type,omitempty"`
	Price       string   `json:"price,omitempty"`
	Qty         int64    `json:"qty,omitempty"`
	price       refdata.Price

	// orders.list and order.trades paging: the cursor of the page (a
	// "next" the server handed out; empty for the first page) and the
	// most orders (trades) wanted.
	Cursor string `json:"cursor,omitempty"`
	Limit  int    `json:"limit,omitempty"`
}

// protoError is a rejected request: a stable code and a text for people,
// and for an order request the client order id it answers (ref), set only
// when that id is itself valid.
type protoError struct {
	code string
	msg  string
	ref  string
}

func (e *protoError) Error() string { return e.code + ": " + e.msg }

func perr(code, format string, args ...any) *protoError {
	return &protoError{code: code, msg: fmt.Sprintf(format, args...)}
}

// maxSymbolsPerRequest bounds one subscribe request.
const maxSymbolsPerRequest = 100

// decodeRequest parses and checks one client message. It checks the shape
// of the request, not whether symbols exist or the client may use them.
func decodeRequest(b []byte) (request, *protoError) {
	var r request
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return r, perr(codeBadJSON, "a message must be one JSON object")
	}
	unknown, hasUnknown, err := decodeStrict(b, &r)
	if err != nil {
		if err == errSecondValue {
			return r, orderRef(&r, perr(codeBadJSON, "a message must be one JSON object, and this one has more after it"))
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// The other fields are decoded: a refusal of an order
			// request names it (before, bad_json carried no ref).
			return r, orderRef(&r, perr(codeBadJSON, "field %q has the wrong type", te.Field))
		}
		return r, perr(codeBadJSON, "invalid JSON: %v", err)
	}
	if len(r.ID) > 64 {
		// Not echoed: an answer's id is at most 64 bytes (before, the
		// refusal echoed it whole).
		r.ID = nil
		return r, orderRef(&r, perr(codeBadJSON, "id longer than 64 bytes"))
	}
	if len(r.ID) > 0 && !json.Valid(r.ID) {
		return r, perr(codeBadJSON, "bad id")
	}
	switch r.Op {
	case opOrderNew, opOrderCancel, opOrderReplace, opOrderStatus, opOrdersList, opOrderTrades:
		// Every field is checked below.
	default:
		// A field of the protocol given twice has two readings, the
		// last taken: an order.new whose "op" is given again as ping
		// was answered pong, the order neither entered nor refused; an
		// account request naming two accounts was answered for the
		// last. Fields the protocol does not define may repeat (market
		// data ignores fields of the client's own).
		if f := jsonkey.RepeatedField(b, requestFields[:], false); f != "" {
			e := perr(codeBadJSON, "field %q given more than once (names match without regard to case): a request must have one reading", f)
			if refdata.ValidID(r.ClOrdID, refdata.MaxClOrdIDLen) {
				e.ref = r.ClOrdID
			}
			return r, e
		}
	}
	switch r.Op {
	case opAuth:
		if r.Token == "" {
			return r, perr(codeBadToken, "auth needs a token")
		}
	case opSubscribe, opUnsubscribe:
		switch r.Channel {
		case chBook:
			if r.Depth == 0 {
				r.Depth = 10
			}
			if r.Depth != 5 && r.Depth != 10 && r.Depth != 20 {
				return r, perr(codeBadDepth, "depth %d: want 5, 10 or 20", r.Depth)
			}
		case chQuote, chTrades:
			if r.Depth != 0 || len(r.Resume) != 0 || len(r.Checksums) != 0 {
				return r, perr(codeBadJSON, "depth, resume and checksums apply to the book channel only")
			}
		case chOrders:
			if len(r.Accounts) == 0 || len(r.Accounts) > 64 {
				return r, perr(codeBadJSON, "accounts: give 1 to 64")
			}
			return r, checkAccounts(r.Accounts)
		case "":
			return r, perr(codeUnknownChannel, "channel is required")
		default:
			return r, perr(codeUnknownChannel, "unknown channel %q (want book, quote or trades)", r.Channel)
		}
		if len(r.Symbols) == 0 || len(r.Symbols) > maxSymbolsPerRequest {
			return r, perr(codeBadJSON, "symbols: give 1 to %d", maxSymbolsPerRequest)
		}
		if len(r.Resume) > maxSymbolsPerRequest || len(r.Checksums) > maxSymbolsPerRequest {
			return r, perr(codeBadJSON, "resume and checksums: at most %d symbols", maxSymbolsPerRequest)
		}
	case opPing:
	case opOrderNew, opOrderCancel, opOrderReplace, opOrderStatus, opOrdersList, opOrderTrades:
		if hasUnknown {
			return r, orderRef(&r, perr(codeBadJSON, "unknown field %q: an order request takes only the fields docs/PROTOCOL.md lists", unknown))
		}
		if f := jsonkey.RepeatedField(b, requestFields[:], true); f != "" {
			return r, orderRef(&r, perr(codeBadJSON, "field %q given more than once (names match without regard to case): an order request must have one reading", f))
		}
		return r, checkOrder(&r)
	case opAccount:
		return r, checkID(idField{"account", r.Account, refdata.MaxAccountLen})
	case "":
		return r, perr(codeUnknownOp, "op is required")
	default:
		return r, perr(codeUnknownOp, "unknown op %q", r.Op)
	}
	return r, nil
}

// errSecondValue: a message with more after its JSON object.
var errSecondValue = errors.New("more than one JSON value")

// decodeStrict decodes the JSON object b into r. A field no request field
// takes does not fail it: it returns the first such field's name (cut to
// 32 bytes; it may be the empty name, hence has), r decoded with the rest, as encoding/json's lenient decoding
// would have it. An order request is refused for one (decodeRequest): a
// field the gateway does not know is a term it would not apply (a
// "timeInForce" the client meant, ignored, left a day order resting).
// Field names match as encoding/json matches them (case folded). A
// request without such a field is decoded once. A message with more after
// its object is errSecondValue, r decoded from the object.
func decodeStrict(b []byte, r *request) (unknown string, has bool, err error) {
	const prefix = `json: unknown field "`
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err = dec.Decode(r)
	if err == nil && dec.InputOffset() != int64(len(b)) {
		// A second value after the object: json.Decoder reads one
		// value and leaves the rest (json.Unmarshal, before, refused
		// it), and a request must have one reading.
		return "", false, errSecondValue
	}
	if err == nil || !strings.HasPrefix(err.Error(), prefix) {
		return "", false, err
	}
	unknown = strings.TrimSuffix(strings.TrimPrefix(err.Error(), prefix), `"`)
	if len(unknown) > 32 {
		unknown = unknown[:32]
	}
	*r = request{}
	return unknown, true, json.Unmarshal(b, r)
}

// requestFields are the JSON names of request's fields, as its tags give
// them (TestRequestFieldsMatchTags), at most 64.
var requestFields = [...]string{"op", "id", "token", "channel", "symbols", "depth", "resume", "checksums",
	"accounts", "clOrdId", "origClOrdId", "account", "symbol", "side", "type", "price", "qty", "cursor", "limit"}

// idField is an identifier of a request, its wire name and its limit.
type idField struct {
	name, value string
	max         int
}

// checkID checks one identifier of an order request: a missing one is
// bad_order, one that breaks the identifier rule is orders.bad_id.
func checkID(f idField) *protoError {
	if f.value == "" {
		return perr(codeBadOrder, "%s is required", f.name)
	}
	return badID(f)
}

// badID returns an orders.bad_id error if f breaks the identifier rule
// (refdata.ValidID), else nil. The text names the field and what is wrong,
// never the value, which may hold SOH, '|', '=' or line breaks meant for
// a FIX rendering or a log.
func badID(f idField) *protoError {
	err := orders.CheckID(f.name, f.value, f.max)
	if err == nil {
		return nil
	}
	var rej *orders.Reject
	if errors.As(err, &rej) {
		return &protoError{code: codeBadID, msg: rej.Text}
	}
	return perr(codeBadID, "%s is not a valid identifier", f.name)
}

// orderRef sets e.ref to r's clOrdId when r is an order request (not
// orders.list) whose clOrdId is valid: every refusal of an order request
// names it (docs/PROTOCOL.md). It returns e.
func orderRef(r *request, e *protoError) *protoError {
	switch r.Op {
	case opOrderNew, opOrderCancel, opOrderReplace, opOrderStatus, opOrderTrades:
		if refdata.ValidID(r.ClOrdID, refdata.MaxClOrdIDLen) {
			e.ref = r.ClOrdID
		}
	}
	return e
}

// checkOrder checks the fields of an order request. Every identifier is
// checked here, when the request is decoded, so that no malformed id
// reaches the order manager (which checks again) or an answer.
func checkOrder(r *request) *protoError {
	if e := checkOrderFields(r); e != nil {
		return orderRef(r, e)
	}
	return nil
}

// checkOrderFields is checkOrder without the ref.
func checkOrderFields(r *request) *protoError {
	ids := []idField{{"account", r.Account, refdata.MaxAccountLen}}
	if r.Op != opOrdersList {
		ids = append(ids, idField{"clOrdId", r.ClOrdID, refdata.MaxClOrdIDLen})
	}
	if r.Op == opOrderCancel || r.Op == opOrderReplace {
		ids = append(ids, idField{"origClOrdId", r.OrigClOrdID, refdata.MaxClOrdIDLen})
	}
	if r.Op == opOrderNew {
		ids = append(ids, idField{"symbol", r.Symbol, refdata.MaxSymbolLen})
	}
	if e := checkIDs(ids); e != nil {
		return e
	}
	if r.Op == opOrdersList || r.Op == opOrderTrades {
		return checkListPage(r)
	}
	if r.Op == opOrderNew {
		if r.Side != "buy" && r.Side != "sell" {
			return perr(codeBadOrder, "side %q: want buy or sell", r.Side)
		}
		if r.Type != "" && r.Type != "limit" {
			return perr(codeBadOrder, "type %q: only limit orders are accepted", r.Type)
		}
	}
	if r.Op == opOrderNew || r.Op == opOrderReplace {
		p, err := refdata.ParsePrice(r.Price)
		if err != nil || p <= 0 {
			return perr(codeBadOrder, "price %q: want a positive decimal such as \"1700.00\"", r.Price)
		}
		r.price = p
		if r.Qty <= 0 {
			return perr(codeBadOrder, "qty %d: must be positive", r.Qty)
		}
	}
	return nil
}

// maxCursorLen bounds an orders.list or order.trades cursor: the server
// hands out short ones, so a longer one is not one of them.
const maxCursorLen = 64

// checkListPage checks the paging fields of orders.list and order.trades.
// A limit above orders.MaxListLimit is lowered to it when the page is
// read.
func checkListPage(r *request) *protoError {
	if len(r.Cursor) > maxCursorLen {
		return perr(codeBadCursor, "cursor is not one this gateway handed out")
	}
	if r.Limit < 0 {
		return perr(codeBadOrder, "limit %d: want 1 to %d, or none for %d", r.Limit, orders.MaxListLimit, orders.DefaultListLimit)
	}
	return nil
}

// checkIDs checks identifiers in order and returns the first error.
func checkIDs(ids []idField) *protoError {
	for _, f := range ids {
		if e := checkID(f); e != nil {
			return e
		}
	}
	return nil
}

// checkAccounts checks the accounts of an orders subscription; an empty
// one is orders.bad_id.
func checkAccounts(accounts []string) *protoError {
	for i, a := range accounts {
		if e := badID(idField{fmt.Sprintf("accounts[%d]", i), a, refdata.MaxAccountLen}); e != nil {
			return e
		}
	}
	return nil
}

// The encoders below append JSON by hand: each market-data message is
// encoded once per update and shared by every subscriber, so they avoid
// reflection. Symbols and codes are from reference data or constants and
// need no escaping; free text goes through strconv.Quote-like escaping.

func appendLevel(b []byte, l orderbook.Level) []byte {
	b = append(b, `["`...)
	b = l.Price.Append(b)
	b = append(b, `",`...)
	b = strconv.AppendInt(b, l.Qty, 10)
	return append(b, ']')
}

func appendLevels(b []byte, ls []orderbook.Level) []byte {
	b = append(b, '[')
	for i, l := range ls {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendLevel(b, l)
	}
	return append(b, ']')
}

func appendPrice(b []byte, key string, p refdata.Price) []byte {
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":"`...)
	b = p.Append(b)
	return append(b, '"')
}

func appendHeader(b []byte, ch, sym, typ string, seq uint64) []byte {
	b = append(b, `{"ch":"`...)
	b = append(b, ch...)
	b = append(b, `","sym":"`...)
	b = append(b, sym...)
	if typ != "" {
		b = append(b, `","type":"`...)
		b = append(b, typ...)
	}
	b = append(b, `","seq":`...)
	return strconv.AppendUint(b, seq, 10)
}

// encodeSnapshot encodes a book snapshot of depth levels; stale marks a
// book that may be wrong.
func encodeSnapshot(sym string, seq uint64, depth int, bids, asks []orderbook.Level, checksum uint32, resync, stale bool) []byte {
	b := make([]byte, 0, 96+30*(len(bids)+len(asks)))
	b = appendHeader(b, chBook, sym, "snapshot", seq)
	b = append(b, `,"depth":`...)
	b = strconv.AppendInt(b, int64(depth), 10)
	b = append(b, `,"bids":`...)
	b = appendLevels(b, bids)
	b = append(b, `,"asks":`...)
	b = appendLevels(b, asks)
	b = append(b, `,"checksum":`...)
	b = strconv.AppendUint(b, uint64(checksum), 10)
	if resync {
		b = append(b, `,"resync":true`...)
	}
	if stale {
		b = append(b, `,"stale":true`...)
	}
	return append(b, '}')
}

// encodeUpdate encodes the book update u as a depth-limited subscriber
// applies it: the changes within the top depth levels, keyed by price, and
// after a removal within them the level that now fills the bottom. An
// update of a stale book (published State StateStale) is marked so.
func encodeUpdate(sym string, u *orderbook.Update, depth int) []byte {
	b := make([]byte, 0, 160)
	b = appendHeader(b, chBook, sym, "update", u.Seq)
	for _, side := range [2]orderbook.Side{orderbook.Bid, orderbook.Ask} {
		if side == orderbook.Bid {
			b = append(b, `,"bids":[`...)
		} else {
			b = append(b, `,"asks":[`...)
		}
		n, removed := 0, false
		for _, c := range u.Changes[:u.N] {
			if c.Side != side || c.Rank < 0 || int(c.Rank) >= depth {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			b = appendLevel(b, c.Level)
			n++
			removed = removed || c.Level.Qty == 0
		}
		if removed && u.EnterSide == side {
			if l := u.Enter[orderbook.EnterIndex(depth)]; l.Qty != 0 {
				if n > 0 {
					b = append(b, ',')
				}
				b = appendLevel(b, l)
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"checksum":`...)
	ck := u.Checksum
	if depth == 5 {
		ck = u.Checksum5
	}
	b = strconv.AppendUint(b, uint64(ck), 10)
	b = append(b, `,"time":`...)
	b = strconv.AppendUint(b, u.Time, 10)
	if u.State == orderbook.StateStale {
		b = append(b, `,"stale":true`...)
	}
	return append(b, '}')
}

// quote is the level-1 state of a symbol.
type quote struct {
	bid, ask         orderbook.Level
	last             refdata.Price
	volume, turnover int64
	state            orderbook.TradingState
}

// encodeQuote encodes a quote message.
func encodeQuote(sym string, seq uint64, q quote, in *refdata.Instrument) []byte {
	b := make([]byte, 0, 256)
	b = appendHeader(b, chQuote, sym, "", seq)
	b = append(b, `,"bid":`...)
	b = appendLevel(b, q.bid)
	b = append(b, `,"ask":`...)
	b = appendLevel(b, q.ask)
	b = appendPrice(b, "last", q.last)
	b = append(b, `,"volume":`...)
	b = strconv.AppendInt(b, q.volume, 10)
	b = appendPrice(b, "turnover", refdata.Price(q.turnover))
	lo, hi := in.Band()
	b = appendPrice(b, "limitUp", hi)
	b = appendPrice(b, "limitDown", lo)
	b = append(b, `,"state":"`...)
	b = append(b, q.state.String()...)
	return append(b, `"}`...)
}

// encodeTrade encodes a trade print.
func encodeTrade(sym string, u *orderbook.Update) []byte {
	b := make([]byte, 0, 128)
	b = appendHeader(b, chTrades, sym, "", u.Seq)
	b = appendPrice(b, "price", u.TradePrice)
	b = append(b, `,"qty":`...)
	b = strconv.AppendInt(b, u.TradeQty, 10)
	b = append(b, `,"time":`...)
	b = strconv.AppendUint(b, u.Time, 10)
	return append(b, '}')
}

// encodeTradesResync tells a trades subscriber that prints up to seq may
// be missing: its backlog was dropped, the hub reloaded the book from its
// view, or the book's feed rebuilds (reset).
func encodeTradesResync(sym string, seq uint64) []byte {
	b := make([]byte, 0, 64)
	b = appendHeader(b, chTrades, sym, "resync", seq)
	return append(b, '}')
}

// encodeReply encodes a control message (subscribed, unsubscribed, auth,
// error, pong) with encoding/json; these are per client and rare.
func encodeReply(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil { // only plain structs and strings are passed in
		return []byte(`{"type":"error","code":"internal","msg":"encoding failed"}`)
	}
	return b
}

// errorReply is the body of an error message. Ref, the client order id of
// the order request answered, is set only to a valid identifier.
type errorReply struct {
	Type string          `json:"type"`
	Code string          `json:"code"`
	Msg  string          `json:"msg"`
	Ref  string          `json:"ref,omitempty"`
	ID   json.RawMessage `json:"id,omitempty"`
}

// subReply answers subscribe and unsubscribe.
type subReply struct {
	Type    string          `json:"type"`
	Channel string          `json:"channel"`
	Symbols []string        `json:"symbols"`
	Depth   int             `json:"depth,omitempty"`
	ID      json.RawMessage `json:"id,omitempty"`
}

// authReply answers auth.
type authReply struct {
	Type     string          `json:"type"`
	OK       bool            `json:"ok"`
	Subject  string          `json:"sub"`
	Accounts []string        `json:"accounts"`
	Expires  int64           `json:"exp"`
	ID       json.RawMessage `json:"id,omitempty"`
}
