package fix

import (
	"errors"
	"testing"

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
