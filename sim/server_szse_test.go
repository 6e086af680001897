package sim

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"sgw/feed/itch"
	"sgw/feed/szse"
)

func TestSZSEConfig(t *testing.T) {
	tests := []struct {
		name string
		mod  func(c *Config)
		want string // "" when New must accept it
	}{
		{name: "defaults", mod: func(c *Config) {}},
		{name: "no .SZ instrument", mod: func(c *Config) { c.Instruments = c.Instruments[:1] }, want: "ends in"},
		{name: "long sender", mod: func(c *Config) { c.SZSE.SenderCompID = strings.Repeat("S", 21) }, want: "sender_comp_id"},
		{name: "spaced target", mod: func(c *Config) { c.SZSE.TargetCompID = "A B" }, want: "target_comp_id"},
		{name: "long password", mod: func(c *Config) { c.SZSE.Password = strings.Repeat("p", 17) }, want: "password"},
		{name: "bad addr", mod: func(c *Config) { c.SZSE.Backup.Addr = "nope" }, want: "szse: addr"},
		{name: "tls half", mod: func(c *Config) { c.SZSE.Backup.TLS = TLSConfig{KeyFile: "k"} }, want: "cert_file"},
		{name: "tlcp half", mod: func(c *Config) { c.SZSE.Backup.TLCP = TLCPConfig{EncKeyFile: "k"} }, want: "enc_key_file go together"},
		{name: "negative channel heartbeat", mod: func(c *Config) { c.SZSE.ChannelHeartbeatInterval = -1 }, want: "channel_heartbeat_interval"},
		{name: "negative max retransmit", mod: func(c *Config) { c.SZSE.MaxRetransmit = -1 }, want: "max_retransmit"},
		{name: "huge max retransmit", mod: func(c *Config) { c.SZSE.MaxRetransmit = 2_000_000 }, want: "max_retransmit"},
		{name: "disabled ignores the rest", mod: func(c *Config) {
			c.SZSE = SZSEConfig{Primary: ListenerConfig{Addr: "nope"}, MaxRetransmit: -1}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := szseTestConfig()
			tc.mod(&c)
			s, err := New(c)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatal("New accepted a bad config")
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrConfig mentioning %q", err, tc.want)
			}
		})
	}
}

// TestSZSEOff checks that without SZSE mode nothing of it exists and every
// instrument, ".SZ" ones included, is on ITCH.
func TestSZSEOff(t *testing.T) {
	cfg := szseTestConfig()
	cfg.SZSE = SZSEConfig{}
	s := newSim(t, cfg)
	for _, src := range []Source{SZSEPrimary, SZSEBackup} {
		if s.Addr(src) != nil {
			t.Errorf("%s listens", src)
		}
		for name, err := range map[string]error{
			"StopSource": s.StopSource(src),
			"DropRange":  s.DropRange(src, 1, 2),
			"Delay":      s.Delay(src, 0),
			"Garbage":    s.Garbage(src, GarbageLength),
		} {
			if !errors.Is(err, ErrBadSource) {
				t.Errorf("%s(%s) = %v, want ErrBadSource", name, src, err)
			}
		}
	}
	if s.SZSEChannel() != 0 || s.SZSELast() != 0 || s.SZSERecords(1, 10) != nil {
		t.Fatal("SZSE reads outside SZSE mode")
	}
	var dir []string
	for _, m := range decodeAll(t, s.Messages(1, s.Next()-1)) {
		if m.Type == itch.TypeStockDirectory {
			dir = append(dir, m.Symbol())
		}
	}
	if want := []string{"600519", "300750", "ST0001", "000001"}; !reflect.DeepEqual(dir, want) {
		t.Fatalf("directory %v, want %v", dir, want)
	}
}

// TestSZSEStartOfDay checks that ITCH loses the ".SZ" instruments, which
// keep their locate codes on the engine, and that SZSE starts empty.
func TestSZSEStartOfDay(t *testing.T) {
	s := newSim(t, szseTestConfig())
	var got []string
	for _, m := range decodeAll(t, s.Messages(1, s.Next()-1)) {
		switch m.Type {
		case itch.TypeStockDirectory:
			got = append(got, "R"+m.Symbol()+string(rune('0'+m.StockLocate)))
		case itch.TypeTradingAction:
			got = append(got, "H"+m.Symbol())
		}
	}
	if want := []string{"R6005191", "RST00013", "H600519", "HST0001"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ITCH start of day %v, want %v", got, want)
	}
	if s.SZSELast() != 0 || s.SZSEChannel() != DefaultSZSEChannel {
		t.Fatalf("SZSE last %d channel %d", s.SZSELast(), s.SZSEChannel())
	}
}

func TestSZSELogon(t *testing.T) {
	cfg := szseTestConfig()
	cfg.SZSE.SenderCompID, cfg.SZSE.TargetCompID, cfg.SZSE.Password = "GW", "SIMSZ", "pw"
	cfg.HeartbeatInterval = 2 * time.Second
	s := startSim(t, cfg)
	tests := []struct {
		name   string
		send   []byte
		status int32 // 0: logon accepted
	}{
		{name: "ok", send: logonFrame("GW", "SIMSZ", "pw", 30, "1.02")},
		{name: "bad password", send: logonFrame("GW", "SIMSZ", "nope", 30, "1.02"), status: szseStatusBadLogon},
		{name: "bad sender", send: logonFrame("XX", "SIMSZ", "pw", 30, "1.02"), status: szseStatusBadLogon},
		{name: "bad target", send: logonFrame("GW", "OTHER", "pw", 30, "1.02"), status: szseStatusBadLogon},
		{name: "heartbeat first", send: szse.AppendHeartbeat(nil), status: szseStatusBadMessage},
		{name: "bad checksum", send: corrupt(logonFrame("GW", "SIMSZ", "pw", 30, "1.02")), status: szseStatusBadMessage},
		{name: "lying length", send: []byte{0, 0, 0, 1, 0, 0, 0, 10, 1, 2, 3}, status: szseStatusBadMessage},
		{name: "too long", send: []byte{0, 0, 0, 9, 0, 0, 0x10, 0}, status: szseStatusBadMessage},
		{name: "unknown type", send: unknownFrame(), status: szseStatusBadMessage},
	}
	rejected := 0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, src := range []Source{SZSEPrimary, SZSEBackup} {
				c := dialSZSE(t, s.Addr(src))
				c.send(tc.send)
				_, m := c.must()
				if tc.status == 0 {
					if m.Type != szse.TypeLogon {
						t.Fatalf("%s: got %s, want a logon", src, m.Type)
					}
					l := m.Logon
					if got := string(szse.TrimString(l.SenderCompID[:])); got != "SIMSZ" {
						t.Errorf("SenderCompID %q", got)
					}
					if got := string(szse.TrimString(l.TargetCompID[:])); got != "GW" {
						t.Errorf("TargetCompID %q", got)
					}
					if l.HeartBtInt != 30 || string(szse.TrimString(l.DefaultApplVerID[:])) != "1.02" {
						t.Errorf("logon answer %+v", l)
					}
					continue
				}
				rejected++
				if m.Type != szse.TypeLogout || m.Logout.SessionStatus != tc.status {
					t.Fatalf("%s: got %s %+v, want logout %d", src, m.Type, m.Logout.SessionStatus, tc.status)
				}
				c.closed()
			}
		})
	}
	if st := s.Stats(SZSEPrimary); st.Logins != 1 || st.Rejected != uint64(rejected/2) {
		t.Fatalf("stats %+v", st)
	}
	t.Run("defaults in the answer", func(t *testing.T) {
		s := startSim(t, szseTestConfig())
		c := dialSZSE(t, s.Addr(SZSEPrimary))
		c.send(logonFrame("GW", "", "", 0, ""))
		l := c.logonAnswer()
		if string(szse.TrimString(l.SenderCompID[:])) != DefaultSZSECompID || l.HeartBtInt != 1 ||
			string(szse.TrimString(l.DefaultApplVerID[:])) != szseVersion {
			t.Fatalf("logon answer %+v", l)
		}
	})
}

// corrupt returns a copy of frame with a wrong checksum.
func corrupt(frame []byte) []byte {
	b := bytes.Clone(frame)
	b[len(b)-1] ^= 0x0f
	return b
}

// unknownFrame is an intact frame of a type the codec does not know.
func unknownFrame() []byte {
	b := []byte{0, 0, 0, 7, 0, 0, 0, 2, 'h', 'i'}
	sum := szse.Checksum(b)
	return append(b, 0, 0, 0, byte(sum))
}

func TestSZSEMalformedAfterLogon(t *testing.T) {
	s := startSim(t, szseTestConfig())
	tests := []struct {
		name string
		send []byte
	}{
		{name: "second logon", send: logonFrame("GW", "", "", 5, "")},
		{name: "order from a client", send: szse.AppendOrder(nil, &szse.Order{})},
		{name: "unknown type", send: unknownFrame()},
		{name: "bad checksum", send: corrupt(szse.AppendHeartbeat(nil))},
		{name: "heartbeat with a body", send: []byte{0, 0, 0, 3, 0, 0, 0, 1, 'x', 0, 0, 0, 124}},
		{name: "too long", send: []byte{0, 0x05, 0xf5, 0xce, 0, 0, 0x20, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialSZSE(t, s.Addr(SZSEPrimary))
			c.logon()
			c.send(tc.send)
			m := c.want(szse.TypeLogout)
			if m.Logout.SessionStatus != szseStatusBadMessage || len(szse.TrimString(m.Logout.Text[:])) == 0 {
				t.Fatalf("logout %d %q", m.Logout.SessionStatus, m.Logout.Text)
			}
			c.closed()
		})
	}
}

func TestSZSEHeartbeatsAndLogout(t *testing.T) {
	cfg := szseTestConfig()
	cfg.HeartbeatInterval = 20 * time.Millisecond
	cfg.SZSE.ChannelHeartbeatInterval = 20 * time.Millisecond
	s := startSim(t, cfg)
	if err := s.Step(20); err != nil {
		t.Fatal(err)
	}
	c := dialSZSE(t, s.Addr(SZSEPrimary))
	c.logon()
	var hb, chb int
	for hb < 3 || chb < 3 {
		c.send(szse.AppendHeartbeat(nil))
		_, m := c.must()
		switch m.Type {
		case szse.TypeHeartbeat:
			hb++
		case szse.TypeChannelHeartbeat:
			chb++
			h := m.ChannelHeartbeat
			if h.ChannelNo != DefaultSZSEChannel || h.ApplLastSeqNum != s.SZSELast() || h.EndOfChannel != 0 {
				t.Fatalf("channel heartbeat %+v, last %d", h, s.SZSELast())
			}
		default:
			t.Fatalf("got %s", m.Type)
		}
	}
	if st := s.Stats(SZSEPrimary); st.Heartbeats < 3 || st.ChannelHeartbeats < 3 {
		t.Fatalf("stats %+v", st)
	}
	c.send(logoutFrame())
	if m := c.want(szse.TypeLogout); m.Logout.SessionStatus != szseStatusLogoutDone {
		t.Fatalf("logout answer %d", m.Logout.SessionStatus)
	}
	c.closed()
}

func TestSZSETimeouts(t *testing.T) {
	cfg := szseTestConfig()
	cfg.HeartbeatInterval = 20 * time.Millisecond
	cfg.ClientTimeout = 100 * time.Millisecond
	cfg.LoginTimeout = 100 * time.Millisecond
	s := startSim(t, cfg)
	t.Run("silent client is closed", func(t *testing.T) {
		c := dialSZSE(t, s.Addr(SZSEPrimary))
		c.logon()
		c.closed()
	})
	t.Run("no logon is closed", func(t *testing.T) {
		c := dialSZSE(t, s.Addr(SZSEBackup))
		c.closed()
	})
}

func TestSZSETLS(t *testing.T) {
	cfg := szseTestConfig()
	cfg.SZSE.Backup.TLS.SelfSigned = true
	cfg.Backup.TLS.SelfSigned = true // one CA for both
	s := startSim(t, cfg)
	if err := s.Step(30); err != nil {
		t.Fatal(err)
	}
	c := dialSZSETLS(t, s.Addr(SZSEBackup), s.CACertPEM())
	c.logon()
	last := s.SZSELast()
	c.send(reTransmitFrame(szse.ResendTypeTick, DefaultSZSEChannel, 1, 0))
	if m := c.want(szse.TypeReTransmit); m.ReTransmit.ResendStatus != szse.ResendStatusDone || m.ReTransmit.ApplEndSeqNum != last {
		t.Fatalf("answer %+v", m.ReTransmit)
	}
	if got := c.records(last); !reflect.DeepEqual(got, s.SZSERecords(1, last)) {
		t.Fatalf("got %d records over TLS, want %d", len(got), last)
	}
	// Plain TCP on the TLS listener gets no logon.
	p := dialSZSE(t, s.Addr(SZSEBackup))
	p.send(logonFrame("GW", "", "", 5, ""))
	if _, m, err := p.next(); err == nil && m.Type == szse.TypeLogon {
		t.Fatal("plain logon accepted on a TLS listener")
	}
}
