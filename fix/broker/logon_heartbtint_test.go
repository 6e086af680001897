package broker

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/quickfixgo/quickfix"
)

// TestLogonHeartBtInt logs on with HeartBtInt (108) values a broker's
// engine may send. Before, a Logon with 0 or a negative value was
// answered with a Logon echoing it and the session dropped within a
// millisecond ("Session Timeout" in the log): the broker's engine logged
// on and was cut again at every retry, and neither side was told why. One
// of days (1000000 s) was taken: a hung broker's session stayed logged on
// for 2.4 times that, refusing the broker's reconnections ("Already
// connected") and keeping cancel-on-disconnect from ever firing. The gate
// now refuses a HeartBtInt outside 1 to MaxHeartBtInt seconds with a
// Logout saying so, leaving the session's sequence numbers untouched, unless
// the acceptor overrides the broker's value (Config.HeartBtInt). A Logon
// without HeartBtInt, or giving it twice, the last out of range, was
// answered with 108=0 and dropped alike (the gate read the first, quickfix
// the last): it is refused too.
func TestLogonHeartBtInt(t *testing.T) {
	tests := []struct {
		name     string
		value    string
		fields   string // the Logon's HeartBtInt fields; "" means 108=value
		override time.Duration
		refused  bool
	}{
		{name: "zero", value: "0", refused: true},
		{name: "negative", value: "-5", refused: true},
		{name: "days", value: "1000000", refused: true},
		{name: "not a number", value: "abc", refused: true},
		{name: "usual", value: "30"},
		{name: "the most", value: fmt.Sprint(int(MaxHeartBtInt / time.Second))},
		{name: "zero under an override", value: "0", override: 5 * time.Second},
		{name: "missing", fields: "-", refused: true},
		{name: "missing under an override", fields: "-", override: 5 * time.Second},
		{name: "twice, the last zero", value: "0", fields: "108=30|108=0", refused: true},
		{name: "twice, the last usual", value: "30", fields: "108=0|108=30"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runAcceptor(t, func(c *Config) { c.HeartBtInt = tc.override })
			now := time.Now().UTC().Format("20060102-15:04:05.000")
			hb := "|108=" + tc.value
			switch tc.fields {
			case "":
			case "-":
				hb = ""
			default:
				hb = "|" + tc.fields
			}
			logon := frame("FIX.4.4", fmt.Sprintf("35=A|49=%s|56=%s|34=1|52=%s|98=0%s|554=right",
				r.broker, r.gateway, now, hb))
			reply := strings.ReplaceAll(firstReply(t, r.a.Addr(), logon), "\x01", "|")
			t.Logf("reply: %q", reply)
			rejects := testutil.ToFloat64(r.a.m.logonRejects.WithLabelValues(reasonHeartBtInt))
			if !tc.refused {
				if !strings.Contains(reply, "|35=A|") || rejects != 0 {
					t.Errorf("HeartBtInt %s: reply %q, %v refusals; want a Logon", tc.value, reply, rejects)
				}
				return
			}
			if strings.Contains(reply, "|35=A|") || !strings.Contains(reply, "|35=5|") || !strings.Contains(reply, "HeartBtInt (108)") {
				t.Errorf("HeartBtInt %s: reply %q; want a Logout naming HeartBtInt (108), no Logon", tc.value, reply)
			}
			if rejects != 1 {
				t.Errorf("gateway_broker_logon_rejects_total{reason=%q} = %v, want 1", reasonHeartBtInt, rejects)
			}
			sid := quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: r.gateway, TargetCompID: r.broker}
			sender, err1 := quickfix.GetExpectedSenderNum(sid)
			target, err2 := quickfix.GetExpectedTargetNum(sid)
			if err1 != nil || err2 != nil || sender != 1 || target != 1 {
				t.Errorf("after the refused Logon the session expects to send %d and receive %d (%v %v); want 1 and 1",
					sender, target, err1, err2)
			}
		})
	}
}

// firstReply writes b on a new connection to addr and returns what comes
// back up to the end of the first message, or until the connection closes.
func firstReply(t *testing.T, addr string, b []byte) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(await))
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	var got []byte
	buf := make([]byte, 4096)
	for !strings.Contains(string(got), "\x0110=") || !strings.HasSuffix(string(got), "\x01") {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	return string(got)
}
