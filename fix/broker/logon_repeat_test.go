package broker

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
)

// TestDuplicateCompIDInLogon: the logon gate reads the first occurrence
// of SenderCompID (49), TargetCompID (56) and Password (554); quickfix's
// parser keeps the last. A party with one broker's password (BROKERn)
// sends a Logon naming its own session first and another broker's
// (VICTIMn) last. Before, the gate checked BROKERn's password and let the
// Logon through; quickfix handed it to VICTIMn's session, whose
// second-line check (checkLogon) refused it with quickfix's RejectLogon,
// which moved VICTIMn's sequence numbers: what the gate exists to prevent
// (an impostor must not make the real broker's next logon "MsgSeqNum too
// low"). The gate now refuses a Logon repeating a field that names or
// authenticates the session.
func TestDuplicateCompIDInLogon(t *testing.T) {
	var victim string
	r := runAcceptor(t, func(c *Config) {
		victim = strings.Replace(c.Sessions[0].TargetCompID, "BROKER", "VICTIM", 1)
		c.Sessions = append(c.Sessions, SessionConfig{SenderCompID: c.Sessions[0].SenderCompID, TargetCompID: victim,
			Password: "victims-secret", Accounts: []string{"A2"}})
	})
	vsid := quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: r.gateway, TargetCompID: victim}
	now := time.Now().UTC().Format("20060102-15:04:05.000")
	logon := frame("FIX.4.4", fmt.Sprintf("35=A|49=%s|56=%s|34=1|52=%s|49=%s|98=0|108=30|554=right",
		r.broker, r.gateway, now, victim))
	reply := rawConn(t, r.a.Addr(), logon, false)
	t.Logf("reply: %q", strings.ReplaceAll(reply, "\x01", "|"))

	sender, err1 := quickfix.GetExpectedSenderNum(vsid)
	target, err2 := quickfix.GetExpectedTargetNum(vsid)
	if err1 != nil || err2 != nil || sender != 1 || target != 1 {
		t.Errorf("after a Logon the gate let through as %s, %s's session expects to send %d and receive %d (%v %v); want 1 and 1",
			r.broker, victim, sender, target, err1, err2)
	}
}
