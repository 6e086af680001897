package gateway

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeRequest feeds arbitrary client messages to the request decoder:
// it must never panic, must answer every rejection with a protocol code,
// and must only accept requests whose fields are within the protocol.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"op":"auth","token":"eyJzdWIiOiJ1MSJ9.c2ln"}`,
		`{"op":"subscribe","channel":"book","symbols":["600519.SH"],"depth":10,"id":7}`,
		`{"op":"subscribe","channel":"book","symbols":["600519.SH"],"depth":5,"resume":{"600519.SH":812}}`,
		`{"op":"subscribe","channel":"quote","symbols":["600519.SH","000001.SZ"]}`,
		`{"op":"unsubscribe","channel":"trades","symbols":["600519.SH"],"id":"a"}`,
		`{"op":"ping","id":1}`,
		`{"op":"subscribe","channel":"book","depth":7}`,
		`[1]`, `{`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	codes := map[string]bool{codeBadJSON: true, codeUnknownOp: true, codeUnknownChannel: true, codeBadDepth: true, codeBadToken: true}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRequest(b)
		if err != nil {
			if !codes[err.code] || err.msg == "" {
				t.Fatalf("rejection without a protocol code: %+v", err)
			}
			return
		}
		switch r.Op {
		case opSubscribe, opUnsubscribe:
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
		case opPing:
		default:
			t.Fatalf("accepted op %q", r.Op)
		}
		if len(r.ID) > 0 && !json.Valid(r.ID) {
			t.Fatalf("accepted id %q", r.ID)
		}
	})
}
