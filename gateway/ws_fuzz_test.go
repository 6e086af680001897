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
		`{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100,"op":"ping"}`,
		`{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","id":{"qty":1,"QTY":2},"qty":100}`,
		`{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","ſide":"buy","price":"1700.00","id":"}{,\"qty\\","qty":100}`,
		`{"op":"order.status","clOrdId":"c1","account":"A1","to\u212aen":"a","toKen":"b"}`,
		`{"op":"order.status","clOrdId":"c1","account":"A1","id":[{"op":1},"op",["op"]],"ıd":1}`,
		`{"op":"ping","x":1,"x":2,"\u006fp":"ping"}`,
		`{"op":"account","account":"A1","ACCOUNT":"A2"}`,
		`{"op":"subscribe","channel":"book","symbols":["600519.SH"],"\u0073ymbols":["000001.SZ"]}`,
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
		if f := repeatedDecodedField(b); f != "" {
			t.Fatalf("accepted %s giving %q twice (as encoding/json matches keys)", r.Op, f)
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
// field of request and killRequest, so that jsonkey.RepeatedField knows each key
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
// jsonkey.RepeatedField scans it.
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

// TestDecodeRequestRepeatedFieldScan checks jsonkey.RepeatedField's scan through
// decodeRequest: a key inside a nested value, or text that looks like one
// inside a string, is not a top-level key; a key matches a field exactly
// as encoding/json matches it (escapes, and Unicode simple folding: the
// Kelvin sign K is k, the long s ſ is s, the dotless ı is not i); "op"
// given twice is refused whichever op is last, with the order's ref, and
// any request giving a field of the protocol twice is refused.
func TestDecodeRequestRepeatedFieldScan(t *testing.T) {
	const head = `{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","price":"1700.00"`
	for _, tc := range []struct{ name, raw, code string }{
		{"plain", head + `,"side":"buy","qty":100}`, ""},
		{"keys inside id", head + `,"side":"buy","qty":100,"id":{"qty":1,"QTY":2,"side":{"qty":3}}}`, ""},
		{"keys inside an array id", head + `,"side":"buy","id":[{"qty":1},{"qty":2},["qty","qty"]],"qty":100}`, ""},
		{"keys inside resume", head + `,"side":"buy","resume":{"qty":1,"side":2},"qty":100}`, ""},
		{"brackets in an id string", head + `,"side":"buy","id":"}{,\"qty\":[","qty":100}`, ""},
		{"escaped backslash before a key", head + `,"side":"buy","id":"\\","qty":100}`, ""},
		{"escaped backslash and quote", head + `,"side":"buy","id":"\\\"qty\\","qty":100}`, ""},
		{"empty object id", head + `,"side":"buy","id":{},"qty":100}`, ""},
		{"empty array id then key", head + `,"side":"buy","id":[],"qty":100}`, ""},
		{"white space between tokens", "{ \"op\" : \"order.new\" ,\n\"clOrdId\":\"c1\",\t\"account\":\"A1\",\"symbol\":\"600519.SH\",\"price\":\"1700.00\",\"side\":\"buy\" , \"qty\" : 100 }\n", ""},
		{"long s once", head + `,"ſide":"buy","qty":100}`, ""},
		{"Kelvin sign once", `{"op":"order.status","clOrdId":"c1","account":"A1","to\u212aen":"t"}`, ""},
		{"dotless i is not i", head + `,"side":"buy","qty":100,"ıd":1}`, codeBadJSON},
		{"qty twice after a nested qty", head + `,"side":"buy","id":{"qty":1},"qty":100,"qty":100000}`, codeBadJSON},
		{"qty twice after a string with a quote", head + `,"side":"buy","id":"\"","qty":100,"qty":100000}`, codeBadJSON},
		{"long s and s", head + `,"side":"buy","ſide":"sell","qty":100}`, codeBadJSON},
		{"escaped long s and s", head + `,"side":"buy","\u017fide":"sell","qty":100}`, codeBadJSON},
		{"Kelvin sign and k", `{"op":"order.status","clOrdId":"c1","account":"A1","token":"a","to\u212aen":"b"}`, codeBadJSON},
		{"raw Kelvin sign and K", `{"op":"order.status","clOrdId":"c1","account":"A1","toKen":"a","toKEN":"b"}`, codeBadJSON},
		{"escaped quote key", head + `,"side":"buy","\u0071\u0074\u0079":100,"qty":1}`, codeBadJSON},
		{"id twice", head + `,"side":"buy","qty":100,"id":1,"ID":2}`, codeBadJSON},
		{"op twice, an order op last", `{"op":"ping","op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100}`, codeBadJSON},
		{"op twice, an order op first", head + `,"side":"buy","qty":100,"op":"ping"}`, codeBadJSON},
		{"op twice, account last", head + `,"side":"buy","qty":100,"OP":"account"}`, codeBadJSON},
		{"trailing second value", head + `,"side":"buy","qty":100} {}`, codeBadJSON},
		{"trailing garbage", head + `,"side":"buy","qty":100}x`, codeBadJSON},
		{"an unknown empty name in an order", head + `,"side":"buy","qty":100,"":"x"}`, codeBadJSON},
		{"ping with an unknown empty name", `{"op":"ping","":1}`, ""},
		{"ping with an unknown field", `{"op":"ping","x":1,"x":2}`, ""},
		{"account twice", `{"op":"account","account":"A1","ACCOUNT":"A2"}`, codeBadJSON},
		{"symbols twice", `{"op":"subscribe","channel":"book","symbols":["600519.SH"],"symbols":["000001.SZ"]}`, codeBadJSON},
		{"channel twice", `{"op":"subscribe","channel":"book","symbols":["600519.SH"],"Channel":"trades"}`, codeBadJSON},
		{"subscribe with an unknown field twice", `{"op":"subscribe","channel":"book","symbols":["600519.SH"],"app":1,"app":2}`, ""},
		{"subscribe", `{"op":"subscribe","channel":"book","symbols":["600519.SH"],"depth":5,"resume":{"600519.SH":812}}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := decodeRequest([]byte(tc.raw))
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.code != "" && (err == nil || err.code != tc.code):
				t.Fatalf("got %v (op %q), want %s", err, r.Op, tc.code)
			case err != nil && strings.Contains(tc.raw, `"clOrdId":"c1"`) && err.ref != "c1":
				t.Fatalf("refused %v without ref c1", err)
			}
		})
	}
}

// repeatedDecodedField returns the JSON name of a field of request that two
// top-level keys of the JSON object b decode into, or "". Unlike
// repeatedKey it asks encoding/json itself which field each key sets
// (decoding the key alone into a copy of request whose fields all take
// any value), not a case folding of the test's choice.
func repeatedDecodedField(b []byte) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return ""
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return ""
		}
		f := decodedField(tok.(string))
		if f != "" && seen[f] {
			return f
		}
		seen[f] = true
	}
	return ""
}

// probeType is request with every JSON field a json.RawMessage.
var probeType = func() reflect.Type {
	rt := reflect.TypeFor[request]()
	var fs []reflect.StructField
	for i := range rt.NumField() {
		if tag := rt.Field(i).Tag.Get("json"); tag != "" {
			fs = append(fs, reflect.StructField{Name: rt.Field(i).Name, Type: reflect.TypeFor[json.RawMessage](), Tag: rt.Field(i).Tag})
		}
	}
	return reflect.StructOf(fs)
}()

// decodedField returns the JSON name of the field of request that
// encoding/json decodes the key k into, or "".
func decodedField(k string) string {
	q, _ := json.Marshal(k)
	p := reflect.New(probeType)
	if json.Unmarshal([]byte("{"+string(q)+":0}"), p.Interface()) != nil {
		return ""
	}
	for i := range probeType.NumField() {
		if p.Elem().Field(i).Len() > 0 {
			return strings.Split(probeType.Field(i).Tag.Get("json"), ",")[0]
		}
	}
	return ""
}
