package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"sgw/refdata"
)

// FuzzDecodeRequest feeds arbitrary client messages (market data and order
// entry) to the request decoder:
// it must never panic, must answer every rejection with a protocol code,
// and must only accept requests whose fields are within the protocol.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"op":"auth","token":"eyJzdWIiOiJ1MSJ9.c2ln"}`,
		`{"op":"subscribe","channel":"book","symbols":["600519.SH"],"depth":10,"id":7}`,
		`{"op":"subscribe","channel":"book","symbols":["600519.SH"],"depth":5,"resume":{"600519.SH":812}}`,
		`{"op":"subscribe","channel":"book","symbols":["600519.SH"],"resume":{"600519.SH":812},"checksums":{"600519.SH":3310521915}}`,
		`{"op":"subscribe","channel":"quote","symbols":["600519.SH","000001.SZ"]}`,
		`{"op":"unsubscribe","channel":"trades","symbols":["600519.SH"],"id":"a"}`,
		`{"op":"ping","id":1}`,
		`{"op":"subscribe","channel":"book","depth":7}`,
		`{"op":"subscribe","channel":"orders","accounts":["A1"]}`,
		`{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","type":"limit","price":"1700.00","qty":100}`,
		`{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"sell","price":"1700.0001","qty":-1}`,
		`{"op":"order.cancel","clOrdId":"x1","origClOrdId":"c1","account":"A1"}`,
		`{"op":"order.replace","clOrdId":"r1","origClOrdId":"c1","account":"A1","price":"1699.00","qty":200}`,
		`{"op":"order.status","clOrdId":"c1","account":"A1"}`,
		`{"op":"orders.list","account":"A1"}`,
		`{"op":"order.new","clOrdId":"c1\u000135=8","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100}`,
		`{"op":"order.cancel","clOrdId":"x1|58=filled","origClOrdId":"c1","account":"A1"}`,
		`{"op":"subscribe","channel":"orders","accounts":["A1","B\n2"]}`,
		`{"op":"orders.list","account":"A1","cursor":"100","limit":50}`,
		`{"op":"account","account":"A1","id":3}`,
		`{"op":"order.trades","account":"A1","clOrdId":"c1","id":5}`,
		`{"op":"order.trades","account":"A1","clOrdId":"r1","cursor":"2","limit":2,"id":6}`,
		`{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100,"QTY":100000}`,
		`{"op":"order.cancel","clOrdId":"x1","origClOrdId":"c1","account":"A1","o\u0072igClOrdId":"c2"}`,
		`{"op":"order.status","clOrdId":"c1","account":"A1"} {"op":"ping"}`,
		`[1]`, `{`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	codes := map[string]bool{codeBadJSON: true, codeUnknownOp: true, codeUnknownChannel: true, codeBadDepth: true, codeBadToken: true, codeBadOrder: true, codeBadID: true, codeBadCursor: true}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRequest(b)
		if err != nil {
			if !codes[err.code] || err.msg == "" {
				t.Fatalf("rejection without a protocol code: %+v", err)
			}
			return
		}
		if e := acceptedIDs(r); e != "" {
			t.Fatal(e)
		}
		if !json.Valid(b) {
			t.Fatalf("accepted %q, not one JSON value", b)
		}
		if isOrderOp(r.Op) {
			if k := repeatedKey(b); k != "" {
				t.Fatalf("accepted %s giving %q twice", r.Op, k)
			}
		}
		switch r.Op {
		case opSubscribe, opUnsubscribe:
			if r.Channel == chOrders {
				if len(r.Accounts) == 0 || len(r.Accounts) > 64 {
					t.Fatalf("accepted %d accounts", len(r.Accounts))
				}
				break
			}
			if len(r.Symbols) == 0 || len(r.Symbols) > maxSymbolsPerRequest {
				t.Fatalf("accepted %d symbols", len(r.Symbols))
			}
			if r.Channel == chBook && r.Depth != 5 && r.Depth != 10 && r.Depth != 20 {
				t.Fatalf("accepted depth %d", r.Depth)
			}
		case opAuth:
			if r.Token == "" {
				t.Fatal("accepted auth without a token")
			}
		case opOrdersList, opOrderTrades:
			if r.Limit < 0 || len(r.Cursor) > maxCursorLen {
				t.Fatalf("accepted limit %d, cursor of %d bytes", r.Limit, len(r.Cursor))
			}
			if r.Op == opOrderTrades && (r.Account == "" || r.ClOrdID == "") {
				t.Fatalf("accepted %+v", r)
			}
		case opPing:
		case opOrderNew, opOrderReplace:
			if r.price <= 0 || r.Qty <= 0 || r.Account == "" || r.ClOrdID == "" {
				t.Fatalf("accepted order %+v", r)
			}
			if r.Op == opOrderNew && r.Side != "buy" && r.Side != "sell" {
				t.Fatalf("accepted side %q", r.Side)
			}
		case opOrderCancel, opOrderStatus:
			if r.Account == "" || r.ClOrdID == "" {
				t.Fatalf("accepted %+v", r)
			}
		case opAccount:
			if r.Account == "" {
				t.Fatalf("accepted %+v", r)
			}
		default:
			t.Fatalf("accepted op %q", r.Op)
		}
		if len(r.ID) > 0 && !json.Valid(r.ID) {
			t.Fatalf("accepted id %q", r.ID)
		}
	})
}

// acceptedIDs checks the identifiers of an accepted request against the
// identifier rule, and describes the first that breaks it.
func acceptedIDs(r request) string {
	check := func(field, v string, max int) string {
		if !refdata.ValidID(v, max) {
			return fmt.Sprintf("accepted %s %s %q", r.Op, field, v)
		}
		return ""
	}
	var e []string
	switch r.Op {
	case opAccount:
		e = append(e, check("account", r.Account, refdata.MaxAccountLen))
	case opOrderNew, opOrderCancel, opOrderReplace, opOrderStatus, opOrdersList, opOrderTrades:
		e = append(e, check("account", r.Account, refdata.MaxAccountLen))
		if r.Op != opOrdersList {
			e = append(e, check("clOrdId", r.ClOrdID, refdata.MaxClOrdIDLen))
		}
		if r.Op == opOrderCancel || r.Op == opOrderReplace {
			e = append(e, check("origClOrdId", r.OrigClOrdID, refdata.MaxClOrdIDLen))
		}
		if r.Op == opOrderNew {
			e = append(e, check("symbol", r.Symbol, refdata.MaxSymbolLen))
		}
	case opSubscribe, opUnsubscribe:
		if r.Channel == chOrders {
			for _, a := range r.Accounts {
				e = append(e, check("account", a, refdata.MaxAccountLen))
			}
		}
	}
	for _, s := range e {
		if s != "" {
			return s
		}
	}
	return ""
}

// TestRequestFieldsMatchTags: requestFields and killFields name every JSON
// field of request and killRequest, so that repeatedField knows each key
// their decoders accept.
func TestRequestFieldsMatchTags(t *testing.T) {
	for _, tc := range []struct {
		typ    reflect.Type
		fields []string
	}{
		{reflect.TypeFor[request](), requestFields[:]},
		{reflect.TypeFor[killRequest](), killFields[:]},
	} {
		var tags []string
		for i := range tc.typ.NumField() {
			if tag := tc.typ.Field(i).Tag.Get("json"); tag != "" {
				tags = append(tags, strings.Split(tag, ",")[0])
			}
		}
		if !slices.Equal(tags, tc.fields) || len(tags) > 64 {
			t.Errorf("%v's JSON fields are %q; the list has %q", tc.typ, tags, tc.fields)
		}
	}
}

// isOrderOp reports whether op is an order request's (order.*, orders.list).
func isOrderOp(op string) bool {
	switch op {
	case opOrderNew, opOrderCancel, opOrderReplace, opOrderStatus, opOrdersList, opOrderTrades:
		return true
	}
	return false
}

// repeatedKey returns a top-level key of the JSON object b that another
// key equals without regard to case (as encoding/json matches keys to
// fields), or "". It reads b with json.Decoder's tokens, not as
// repeatedField scans it.
func repeatedKey(b []byte) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return ""
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		k := tok.(string)
		for _, o := range keys {
			if strings.EqualFold(o, k) {
				return k
			}
		}
		keys = append(keys, k)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return ""
		}
	}
	return ""
}
