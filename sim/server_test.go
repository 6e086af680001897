package sim

import (
	"crypto/tls"
	"crypto/x509"
	"reflect"
	"testing"
	"time"

	"sgw/feed/soupbin"
	"sgw/netsec/netsectest"
)

// TestLoginAndStream logs in from 1, reads the backlog, then live messages.
func TestLoginAndStream(t *testing.T) {
	s := startSim(t, testConfig())
	c := dial(t, s.Addr(Primary))
	c.login("", "", "", 1)
	if seq := c.accepted("SIM"); seq != 1 {
		t.Fatalf("accepted seq %d, want 1", seq)
	}
	if err := s.Step(50); err != nil {
		t.Fatal(err)
	}
	last := s.Next() - 1
	got := c.sequenced(last)
	if want := s.Messages(1, last); !reflect.DeepEqual(got, want) {
		t.Fatalf("received %d messages, record has %d (or they differ)", len(got), len(want))
	}
	for i, m := range got {
		if tr := tracking(t, m); tr != uint16(i+1) {
			t.Fatalf("message %d has tracking number %d", i+1, tr)
		}
	}
	// Live: recorded after the client caught up.
	if err := s.Step(10); err != nil {
		t.Fatal(err)
	}
	more := c.sequenced(s.Next() - 1)
	if want := s.Messages(last+1, s.Next()-1); !reflect.DeepEqual(more, want) {
		t.Fatalf("live: got %d messages, want %d", len(more), len(want))
	}
	if st := s.Stats(Primary); st.Logins != 1 || st.Sequenced != uint64(s.Next()-1) || st.Active != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestLoginSequence(t *testing.T) {
	s := startSim(t, Config{Instruments: testInstruments(), Rate: -1, Username: "u1", Password: "pw", Session: "DAY1"})
	if err := s.Step(100); err != nil {
		t.Fatal(err)
	}
	next := s.Next()
	tests := []struct {
		name      string
		requested uint64
		want      uint64
	}{
		{name: "from N", requested: 42, want: 42},
		{name: "one", requested: 1, want: 1},
		{name: "zero means current", requested: 0, want: next},
		{name: "beyond means current", requested: next + 1000, want: next},
		{name: "next", requested: next, want: next},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, src := range []Source{Primary, Backup} {
				c := dial(t, s.Addr(src))
				c.login("u1", "pw", "DAY1", tc.requested)
				if seq := c.accepted("DAY1"); seq != tc.want {
					t.Fatalf("%s: accepted %d, want %d", src, seq, tc.want)
				}
				if tc.want < next {
					got := c.sequenced(next - 1)
					if want := s.Messages(tc.want, next-1); !reflect.DeepEqual(got, want) {
						t.Fatalf("%s: got %d messages from %d, want %d", src, len(got), tc.want, len(want))
					}
				}
			}
		})
	}
}

func TestLoginRejected(t *testing.T) {
	s := startSim(t, Config{Instruments: testInstruments(), Rate: -1, Username: "u1", Password: "pw"})
	tests := []struct {
		name                string
		user, pass, session string
		want                byte
	}{
		{name: "bad password", user: "u1", pass: "nope", want: soupbin.RejectNotAuthorized},
		{name: "bad user", user: "u2", pass: "pw", want: soupbin.RejectNotAuthorized},
		{name: "no credentials", want: soupbin.RejectNotAuthorized},
		{name: "bad session", user: "u1", pass: "pw", session: "OTHER", want: soupbin.RejectSessionUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, s.Addr(Backup))
			c.login(tc.user, tc.pass, tc.session, 1)
			p := c.must()
			if p.Type != soupbin.TypeLoginRejected || len(p.Payload) != 1 || p.Payload[0] != tc.want {
				t.Fatalf("got %s %q, want login rejected %c", soupbin.TypeName(p.Type), p.Payload, tc.want)
			}
			c.closed()
		})
	}
	if st := s.Stats(Backup); st.Rejected != uint64(len(tests)) || st.Logins != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMalformedClient(t *testing.T) {
	s := startSim(t, testConfig())
	tests := []struct {
		name  string
		login bool   // log in first
		send  []byte // then send this
	}{
		{name: "heartbeat before login", send: soupbin.AppendClientHeartbeat(nil)},
		{name: "empty packet", send: []byte{0, 0}},
		{name: "too large", send: []byte{0xff, 0xff, 'L'}},
		{name: "short login", send: soupbin.AppendPacket(nil, soupbin.TypeLoginRequest, []byte("short"))},
		{name: "second login", login: true, send: mustLogin(t)},
		{name: "unknown type", login: true, send: soupbin.AppendPacket(nil, 'x', nil)},
		{name: "heartbeat with payload", login: true, send: soupbin.AppendPacket(nil, soupbin.TypeClientHeartbeat, []byte("x"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, s.Addr(Primary))
			if tc.login {
				c.login("", "", "", 0)
				c.accepted("SIM")
			}
			c.send(tc.send)
			for {
				p := c.must()
				if p.Type == soupbin.TypeServerHeartbeat {
					continue
				}
				if p.Type != soupbin.TypeDebug || len(p.Payload) == 0 {
					t.Fatalf("got %s %q, want debug", soupbin.TypeName(p.Type), p.Payload)
				}
				break
			}
			c.closed()
		})
	}
}

func mustLogin(t testing.TB) []byte {
	t.Helper()
	b, err := soupbin.AppendLoginRequest(nil, soupbin.LoginRequest{Sequence: 1})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHeartbeats(t *testing.T) {
	cfg := testConfig()
	cfg.HeartbeatInterval = 20 * time.Millisecond
	s := startSim(t, cfg)
	c := dial(t, s.Addr(Primary))
	c.login("", "", "", 0)
	c.accepted("SIM")
	for range 3 {
		c.send(soupbin.AppendClientHeartbeat(nil))
		if p := c.must(); p.Type != soupbin.TypeServerHeartbeat {
			t.Fatalf("got %s, want heartbeat", soupbin.TypeName(p.Type))
		}
	}
	if st := s.Stats(Primary); st.Heartbeats < 3 {
		t.Fatalf("stats %+v", st)
	}
	// Logout closes (the client timeout, 15s, is not what closes it).
	c.send(soupbin.AppendLogoutRequest(nil))
	c.closed()
}

func TestTimeouts(t *testing.T) {
	cfg := testConfig()
	cfg.HeartbeatInterval = 20 * time.Millisecond
	cfg.ClientTimeout = 100 * time.Millisecond
	cfg.LoginTimeout = 100 * time.Millisecond
	s := startSim(t, cfg)

	t.Run("silent client is closed", func(t *testing.T) {
		c := dial(t, s.Addr(Primary))
		c.login("", "", "", 0)
		c.accepted("SIM")
		c.closed()
	})
	t.Run("no login is closed", func(t *testing.T) {
		c := dial(t, s.Addr(Backup))
		c.closed()
	})
}

func TestEndSession(t *testing.T) {
	s := startSim(t, testConfig())
	if err := s.Step(20); err != nil {
		t.Fatal(err)
	}
	c := dial(t, s.Addr(Primary))
	c.login("", "", "", 1)
	c.accepted("SIM")
	if err := s.EndSession(); err != nil {
		t.Fatal(err)
	}
	got := c.toEnd()
	if want := s.Messages(1, s.Next()-1); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %d messages before end of session, want %d", len(got), len(want))
	}
	c.closed()
	// A login after the end replays the day and ends it again.
	c2 := dial(t, s.Addr(Backup))
	c2.login("", "", "", s.Next()-1)
	c2.accepted("SIM")
	if p := c2.must(); p.Type != soupbin.TypeSequenced {
		t.Fatalf("got %s", soupbin.TypeName(p.Type))
	}
	if p := c2.must(); p.Type != soupbin.TypeEndOfSession {
		t.Fatalf("got %s, want end of session", soupbin.TypeName(p.Type))
	}
}

func TestTLS(t *testing.T) {
	cfg := testConfig()
	cfg.Primary.TLS.SelfSigned = true
	cfg.Backup.TLS.SelfSigned = true
	s := startSim(t, cfg)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CACertPEM()) {
		t.Fatal("bad CA PEM")
	}
	for _, src := range []Source{Primary, Backup} {
		for _, name := range []string{"127.0.0.1", "localhost"} {
			nc, err := tls.Dial("tcp", s.Addr(src).String(), &tls.Config{RootCAs: pool, ServerName: name})
			if err != nil {
				t.Fatalf("%s %s: %v", src, name, err)
			}
			t.Cleanup(func() { nc.Close() })
			c := &client{t: t, nc: nc, buf: make([]byte, 1<<16+2)}
			c.login("", "", "", 1)
			c.accepted("SIM")
			got := c.sequenced(s.Next() - 1)
			if len(got) != int(s.Next()-1) {
				t.Fatalf("got %d messages", len(got))
			}
		}
	}
	// Plain TCP on a TLS listener gets no feed.
	c := dial(t, s.Addr(Primary))
	c.login("", "", "", 1)
	if p, err := c.next(); err == nil && p.Type == soupbin.TypeLoginAccepted {
		t.Fatal("plain login accepted on a TLS listener")
	}
}

func TestTLSFromFiles(t *testing.T) {
	pki := netsectest.NewPKI(t, "test CA")
	pair := pki.Server("server")
	certFile, keyFile, caPEM := pair.CertFile, pair.KeyFile, pki.CA.CertPEM()
	cfg := testConfig()
	cfg.Backup.TLS = TLSConfig{CertFile: certFile, KeyFile: keyFile}
	s := startSim(t, cfg)
	if s.CACertPEM() != nil {
		t.Fatal("CA PEM without a self-signed listener")
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	nc, err := tls.Dial("tcp", s.Addr(Backup).String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &client{t: t, nc: nc, buf: make([]byte, 1<<16+2)}
	c.login("", "", "", 0)
	if seq := c.accepted("SIM"); seq != s.Next() {
		t.Fatalf("accepted %d", seq)
	}
}
