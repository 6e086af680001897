package broker

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/refdata"
	"sgw/risk"
)

// FuzzHandle feeds arbitrary frames through the decoders and the
// session's handling, seeded with real NewOrderSingle, cancel, replace
// and status frames (testdata/*.fix). Whatever arrives, the acceptor must
// not panic, must answer with at most one ExecutionReport or
// OrderCancelReject (or a reject for quickfix to send), and must pass the
// order manager only well-formed requests for the session's accounts.
func FuzzHandle(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.fix")
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	h := newHarness(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, ok := parse(b)
		if !ok {
			return
		}
		broker := "BROKER1"
		if v, _ := m.Header.GetString(tag.BeginString); v == quickfix.BeginStringFIX42 {
			broker = "BROKER2"
		}
		s := h.session(t, broker)
		h.entry.mu.Lock()
		h.entry.news, h.entry.cancels, h.entry.replaces, h.entry.refused = nil, nil, nil, nil
		h.entry.mu.Unlock()

		rej := s.handle(m)
		out := h.take()

		if rej != nil && len(out) > 0 {
			t.Fatalf("rejected (%v) and answered %s", rej, out[0].m)
		}
		if len(out) > 1 {
			t.Fatalf("%d answers", len(out))
		}
		for _, o := range out {
			for _, id := range []struct {
				t   quickfix.Tag
				max int
			}{{tag.ClOrdID, refdata.MaxClOrdIDLen}, {tag.OrigClOrdID, refdata.MaxClOrdIDLen}, {tag.Account, refdata.MaxAccountLen},
				{tag.Symbol, refdata.MaxSymbolLen}, {tag.SecurityExchange, refdata.MaxSymbolLen}, {tag.OrdStatusReqID, refdata.MaxClOrdIDLen}} {
				// An identifier is echoed only when valid, else as
				// fix.EchoID's placeholder.
				if v := field(o.m, id.t); v != "" && !refdata.ValidID(v, id.max) && (v[0] != '?' || len(v) > 25) {
					t.Fatalf("tag %d echoed as %q", id.t, v)
				}
			}
			switch mt := field(o.m, tag.MsgType); mt {
			case "8":
				if field(o.m, tag.ExecID) == "" || len(field(o.m, tag.ExecType)) != 1 || len(field(o.m, tag.OrdStatus)) != 1 {
					t.Fatalf("bad report %s", o.m)
				}
			case "9":
				if len(field(o.m, tag.OrdStatus)) != 1 || field(o.m, tag.CxlRejReason) == "" {
					t.Fatalf("bad cancel reject %s", o.m)
				}
			default:
				t.Fatalf("answered with MsgType %q", mt)
			}
		}
		h.entry.mu.Lock()
		defer h.entry.mu.Unlock()
		for _, r := range h.entry.cancels {
			if !refdata.ValidID(r.ClOrdID, refdata.MaxClOrdIDLen) || !refdata.ValidID(r.OrigClOrdID, refdata.MaxClOrdIDLen) {
				t.Fatalf("bad cancel passed on: %+v", r)
			}
		}
		for _, r := range h.entry.replaces {
			if !refdata.ValidID(r.ClOrdID, refdata.MaxClOrdIDLen) || !refdata.ValidID(r.OrigClOrdID, refdata.MaxClOrdIDLen) {
				t.Fatalf("bad replace passed on: %+v", r)
			}
		}
		for _, r := range h.entry.news {
			if !refdata.ValidID(r.ClOrdID, refdata.MaxClOrdIDLen) || !refdata.ValidID(r.Symbol, refdata.MaxSymbolLen) ||
				!s.spec.accounts[r.Account] || r.Qty < 0 || r.Price < 0 ||
				(r.Side != risk.Buy && r.Side != risk.Sell) || (r.Type != risk.Limit && r.Type != risk.Market) ||
				r.Source.Kind != "fix" || r.Source.Session != broker {
				t.Fatalf("bad request passed on: %+v", r)
			}
		}
	})
}

// parse parses a frame as quickfix does before handing it to a session.
// quickfix's ParseMessage panics on some inputs its own framer never
// produces (fewer than four fields, such as "8=\x01"); those are skipped.
func parse(b []byte) (m *quickfix.Message, ok bool) {
	if bytes.Count(b, []byte{1}) < 4 {
		return nil, false
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	m = quickfix.NewMessage()
	return m, quickfix.ParseMessage(m, bytes.NewBuffer(b)) == nil
}
