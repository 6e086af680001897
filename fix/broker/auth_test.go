package broker

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"
)

func TestAllowedAddr(t *testing.T) {
	for _, tc := range []struct {
		allowed []string
		remote  string
		want    bool
	}{
		{allowed: nil, remote: "127.0.0.1:5000", want: true},
		{allowed: nil, remote: "127.8.9.10:5000", want: true},
		{allowed: nil, remote: "[::1]:5000", want: true},
		{allowed: nil, remote: "10.0.0.1:5000", want: false},
		{allowed: []string{"203.0.113.7"}, remote: "203.0.113.7:1", want: true},
		{allowed: []string{"203.0.113.7"}, remote: "203.0.113.8:1", want: false},
		{allowed: []string{"203.0.113.7"}, remote: "[::ffff:203.0.113.7]:1", want: true},
		{allowed: []string{"198.51.100.0/28"}, remote: "198.51.100.15:1", want: true},
		{allowed: []string{"198.51.100.0/28"}, remote: "198.51.100.16:1", want: false},
		{allowed: []string{"::ffff:198.51.100.0/120"}, remote: "198.51.100.200:1", want: true},
		{allowed: []string{"2001:db8::/32"}, remote: "[2001:db8::1]:1", want: true},
		{allowed: []string{"2001:db8::/32"}, remote: "127.0.0.1:1", want: false},
	} {
		sc := SessionConfig{TargetCompID: "B", Password: "p", Accounts: []string{"A"}, AllowedAddrs: tc.allowed}
		sp, err := sc.spec("", false)
		if err != nil {
			t.Fatal(err)
		}
		addr, err := net.ResolveTCPAddr("tcp", tc.remote)
		if err != nil {
			t.Fatal(err)
		}
		if got := allowedAddr(addr, sp.allowed); got != tc.want {
			t.Errorf("allowed %v, remote %s: %v; want %v", tc.allowed, tc.remote, got, tc.want)
		}
	}
}

// TestValidator checks the connection validator: an unknown session gets a
// Logout with the reason, a known one from a wrong address nothing.
func TestValidator(t *testing.T) {
	h := newHarness(t)
	v := validator{h.a}
	for _, tc := range []struct {
		name   string
		sid    quickfix.SessionID
		remote string
		ok     bool
		logout bool
	}{
		{name: "known", sid: quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "SGW", TargetCompID: "BROKER1"}, remote: "127.0.0.1:9", ok: true},
		{name: "wrong version", sid: quickfix.SessionID{BeginString: "FIX.4.2", SenderCompID: "SGW", TargetCompID: "BROKER1"}, remote: "127.0.0.1:9", logout: true},
		{name: "unknown broker", sid: quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "SGW", TargetCompID: "NOBODY"}, remote: "127.0.0.1:9", logout: true},
		{name: "wrong gateway id", sid: quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "XYZ", TargetCompID: "BROKER1"}, remote: "127.0.0.1:9", logout: true},
		{name: "with a SubID", sid: quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "SGW", TargetCompID: "BROKER1", TargetSubID: "desk1"}, remote: "127.0.0.1:9", logout: true},
		{name: "wrong address", sid: quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "SGW", TargetCompID: "BROKER1"}, remote: "192.0.2.1:9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			local, remote := net.Pipe()
			defer local.Close()
			got := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(remote)
				got <- b
			}()
			err := v.Validate(addrConn{Conn: local, remote: tc.remote}, tc.sid)
			local.Close()
			reply := <-got
			if (err == nil) != tc.ok {
				t.Fatalf("Validate = %v; want ok %v", err, tc.ok)
			}
			if !tc.logout {
				if len(reply) > 0 {
					t.Fatalf("reply %q; want none", reply)
				}
				return
			}
			m := quickfix.NewMessage()
			if err := quickfix.ParseMessage(m, bytes.NewBuffer(reply)); err != nil {
				t.Fatalf("reply %q: %v", reply, err)
			}
			if field(m, tag.MsgType) != "5" || !strings.HasPrefix(field(m, tag.Text), "unknown session") ||
				field(m, tag.SenderCompID) != tc.sid.SenderCompID || field(m, tag.TargetCompID) != tc.sid.TargetCompID ||
				field(m, tag.BeginString) != tc.sid.BeginString {
				t.Errorf("reply %s", m)
			}
		})
	}
	if n := counter(t, h, "gateway_broker_logon_rejects_total", reasonSession); n != 4 {
		t.Errorf("session rejects %v", n)
	}
	if n := counter(t, h, "gateway_broker_logon_rejects_total", ReasonAddress); n != 1 {
		t.Errorf("address rejects %v", n)
	}
}

// addrConn is a net.Conn with a remote address of the test's choosing.
type addrConn struct {
	net.Conn
	remote string
}

func (c addrConn) RemoteAddr() net.Addr {
	a, _ := net.ResolveTCPAddr("tcp", c.remote)
	return a
}

func (c addrConn) SetReadDeadline(time.Time) error  { return nil }
func (c addrConn) SetWriteDeadline(time.Time) error { return nil }

// TestCheckLogon checks the Password of Logons.
func TestCheckLogon(t *testing.T) {
	h := newHarness(t)
	s := h.session(t, "BROKER1")
	for _, tc := range []struct {
		name, body string
		ok         bool
	}{
		{name: "right", body: "98=0|108=30|554=pw1", ok: true},
		{name: "with a username", body: "98=0|108=30|553=u|554=pw1", ok: true},
		{name: "wrong", body: "98=0|108=30|554=pw2"},
		{name: "prefix", body: "98=0|108=30|554=pw"},
		{name: "missing", body: "98=0|108=30"},
	} {
		rej := s.checkLogon(inbound(t, "FIX.4.4", "A", tc.body))
		if (rej == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, rej)
		}
		if rej != nil {
			if _, ok := rej.(quickfix.RejectLogon); !ok || rej.Error() != "bad password" {
				t.Errorf("%s: %#v; want RejectLogon \"bad password\"", tc.name, rej)
			}
		}
	}
	if n := counter(t, h, "gateway_broker_logon_rejects_total", reasonPassword); n != 3 {
		t.Errorf("password rejects %v", n)
	}
}

// TestFilterListener closes connections from addresses no session allows
// before anything is read, and keeps accepting.
func TestFilterListener(t *testing.T) {
	h := newHarness(t)
	h.a.anyAllowed = AllowedAddrs{} // nobody: the test connects from loopback
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fl := filterListener{Listener: ln, a: h.a}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := fl.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := bufio.NewReader(c).ReadByte(); err != io.EOF {
		t.Fatalf("read %v; want EOF", err)
	}
	if n := counter(t, h, "gateway_broker_logon_rejects_total", ReasonAddress); n != 1 {
		t.Errorf("address rejects %v", n)
	}
	ln.Close()
	if c, ok := <-accepted; ok {
		t.Fatalf("accepted %v", c.RemoteAddr())
	}
}
