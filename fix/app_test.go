package fix

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"
)

// TestToAppDropsResentStatusRequests: a resent OrderStatusRequest is
// gap-filled (ErrDoNotSend); resent orders and fresh status requests go.
func TestToAppDropsResentStatusRequests(t *testing.T) {
	u := newTestUpstream(t, UpstreamConfig{Name: "core", SenderCompID: "G", TargetCompID: "V",
		Lines: []LineConfig{{Name: "a", Addr: "127.0.0.1:1"}}, StoreDir: t.TempDir()}, newRecorder())
	for _, c := range []struct {
		msgType string
		possDup bool
		want    error
	}{
		{"H", true, quickfix.ErrDoNotSend},
		{"H", false, nil},
		{"D", true, nil},
		{"F", true, nil},
	} {
		m := quickfix.NewMessage()
		m.Header.SetString(tag.MsgType, c.msgType)
		m.Header.SetInt(tag.MsgSeqNum, 7)
		m.Body.SetString(tag.ClOrdID, "ord1")
		if c.possDup {
			m.Header.SetString(tag.PossDupFlag, "Y")
		}
		if err := (app{u}).ToApp(m, quickfix.SessionID{}); !errors.Is(err, c.want) && err != c.want {
			t.Errorf("ToApp(%s, PossDup %v) = %v; want %v", c.msgType, c.possDup, err, c.want)
		}
	}
}

// TestToAdminProbesAfterResendRequest: a ResendRequest the session sends
// is followed by a probe on the pacer's queue; other admin messages are
// not.
func TestToAdminProbesAfterResendRequest(t *testing.T) {
	u := newTestUpstream(t, UpstreamConfig{Name: "core", SenderCompID: "G", TargetCompID: "V",
		Lines: []LineConfig{{Name: "a", Addr: "127.0.0.1:1"}}, StoreDir: t.TempDir()}, newRecorder())
	for _, mt := range []string{"0", "A", "4", "2", "5"} {
		m := quickfix.NewMessage()
		m.Header.SetString(tag.MsgType, mt)
		(app{u}).ToAdmin(m, quickfix.SessionID{})
	}
	if n := len(u.pacer.queue); n != 1 {
		t.Fatalf("%d messages queued; want the one probe after the ResendRequest", n)
	}
	om := <-u.pacer.queue
	if id, err := om.m.Body.GetString(tag.TestReqID); !om.m.IsMsgTypeOf("1") || err != nil || id != rttProbePrefix {
		t.Errorf("queued %v; want a TestRequest probe", om.m)
	}
}

// TestRejectReasonLoggedAsWords feeds a session-level Reject and a
// BusinessMessageReject to the upstream's application with slog's JSON
// handler: each reason is logged as FIX names it, its code beside it.
func TestRejectReasonLoggedAsWords(t *testing.T) {
	u := newTestUpstream(t, UpstreamConfig{Name: "core", SenderCompID: "G", TargetCompID: "V",
		Lines: []LineConfig{{Name: "a", Addr: "127.0.0.1:1"}}, StoreDir: t.TempDir()}, newRecorder())
	var buf bytes.Buffer // written by this goroutine only
	u.log = slog.New(slog.NewJSONHandler(&buf, nil))
	session := quickfix.NewMessage()
	session.Header.SetString(tag.MsgType, "3")
	session.Body.SetInt(tag.RefSeqNum, 7)
	session.Body.SetInt(tag.SessionRejectReason, 5)
	(app{u}).FromAdmin(session, quickfix.SessionID{})
	business := quickfix.NewMessage()
	business.Header.SetString(tag.MsgType, "j")
	business.Body.SetInt(tag.RefSeqNum, 8)
	business.Body.SetInt(tag.BusinessRejectReason, 3)
	(app{u}).FromApp(business, quickfix.SessionID{})
	want := map[string]string{
		"fix: upstream rejected a message": "value is incorrect (out of range) for this tag",
		"fix: upstream business reject":    "unsupported message type",
	}
	for line := range strings.Lines(buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		msg, _ := rec["msg"].(string)
		if w, ok := want[msg]; ok {
			if rec["reason"] != w || rec["reason_code"] == nil {
				t.Errorf("%q: reason %v (%T), code %v; want %q", msg, rec["reason"], rec["reason"], rec["reason_code"], w)
			}
			delete(want, msg)
		}
	}
	if len(want) > 0 {
		t.Errorf("not logged: %v", want)
	}
}

func TestRejectReasonName(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Reject
		want string
	}{
		{"session", Reject{Session: true, Reason: 1}, "required tag missing"},
		{"session other", Reject{Session: true, Reason: 99}, "other"},
		{"business", Reject{Reason: 18}, "invalid price increment"},
		{"business gap", Reject{Reason: 9}, "reason(9)"},
		{"negative", Reject{Reason: -1}, "reason(-1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.ReasonName(); got != tc.want {
				t.Errorf("%q, want %q", got, tc.want)
			}
		})
	}
}

// TestToAppAsksAgainForResentStatusRequests: the resend of a status
// request this run sent is gap-filled and the request queued afresh
// (no PossDupFlag, behind the resend), since its asker still awaits the
// answer; one found in the store at start (nobody awaits it) or never
// recorded is only gap-filled.
func TestToAppAsksAgainForResentStatusRequests(t *testing.T) {
	u := newTestUpstream(t, UpstreamConfig{Name: "core", SenderCompID: "G", TargetCompID: "V",
		Lines: []LineConfig{{Name: "a", Addr: "127.0.0.1:1"}}, StoreDir: t.TempDir()}, newRecorder())
	u.pacer.setUp(true)
	want := StatusRequest{ClOrdID: "ord1", Symbol: "600519.SH", Side: Sell}
	statusMsg := func(seq int, possDup bool) *quickfix.Message {
		m, err := encode(want, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		m.Header.SetInt(tag.MsgSeqNum, seq)
		if possDup {
			m.Header.SetString(tag.PossDupFlag, "Y")
		}
		return m
	}
	// Sent in this run as seq 7 (the pacer's submission, recorded by ToApp).
	live := statusMsg(7, false)
	u.submitting(live, Prepared{req: want})
	if err := (app{u}).ToApp(live, quickfix.SessionID{}); err != nil {
		t.Fatal(err)
	}
	u.submitting(nil, nil)
	// Found in the store at start as seq 9.
	u.sent.add(sentMsg{seq: 9, msgType: 'H', clOrdID: "ord2"})

	for _, seq := range []int{9, 8, 7} {
		if err := (app{u}).ToApp(statusMsg(seq, true), quickfix.SessionID{}); !errors.Is(err, quickfix.ErrDoNotSend) {
			t.Fatalf("ToApp(resent status request %d) = %v; want ErrDoNotSend", seq, err)
		}
	}
	if n := len(u.pacer.queue); n != 1 {
		t.Fatalf("%d messages queued; want the status request of seq 7 asked again", n)
	}
	om := <-u.pacer.queue
	if got, ok := om.req.(StatusRequest); !ok || got != want {
		t.Fatalf("queued request %#v; want %#v", om.req, want)
	}
	if dup, _ := PossDup(om.m); dup || !om.m.IsMsgTypeOf("H") || om.m.Header.Has(tag.MsgSeqNum) {
		t.Fatalf("queued %v; want a fresh OrderStatusRequest", om.m)
	}
	if id, _ := om.m.Body.GetString(tag.ClOrdID); id != want.ClOrdID {
		t.Fatalf("queued ClOrdID %q; want %q", id, want.ClOrdID)
	}
}
