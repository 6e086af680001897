package broker

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"sgw/fix"
	"sgw/netsec"
)

func TestConfig(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	openPwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(openPwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(openPwFile, 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "pw")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ok := func() Config {
		return Config{StoreDir: "/tmp/x", Sessions: []SessionConfig{{TargetCompID: "B1", Password: "p", Accounts: []string{"A1"}}}}
	}
	for _, tc := range []struct {
		name  string
		edit  func(c *Config)
		want  string // part of the error; "" for valid
		check func(t *testing.T, c Config, specs []*sessionSpec)
	}{
		{name: "defaults", edit: func(*Config) {}, check: func(t *testing.T, c Config, specs []*sessionSpec) {
			s := c.Sessions[0]
			if c.Listen != DefaultListen || c.QueueSize != DefaultQueueSize || s.SenderCompID != "SGW" || s.BeginString != "FIX.4.4" ||
				c.MaxMessageBytes != DefaultMaxMessageBytes || c.LogonTimeout != DefaultLogonTimeout ||
				c.MaxConnections != DefaultMaxConnections || c.MaxWaitingConnections != DefaultMaxWaiting {
				t.Errorf("defaults not filled: %+v", c)
			}
			if len(specs[0].allowed) != 2 || !specs[0].accounts["A1"] {
				t.Errorf("spec %+v", specs[0])
			}
		}},
		{name: "password file", edit: func(c *Config) { c.Sessions[0].Password, c.Sessions[0].PasswordFile = "", pwFile },
			check: func(t *testing.T, _ Config, specs []*sessionSpec) {
				if specs[0].password != sha256.Sum256([]byte("s3cret")) {
					t.Error("password file not read without its newline")
				}
			}},
		{name: "no store", edit: func(c *Config) { c.StoreDir = "" }, want: "store_dir is required"},
		{name: "bad listen", edit: func(c *Config) { c.Listen = "nowhere" }, want: "listen"},
		{name: "fractional heartbeat", edit: func(c *Config) { c.HeartBtInt = 1500 * time.Millisecond }, want: "heart_bt_int"},
		{name: "negative queue", edit: func(c *Config) { c.QueueSize = -1 }, want: "queue_size"},
		{name: "no sessions", edit: func(c *Config) { c.Sessions = nil }, want: "at least one session"},
		{name: "no target", edit: func(c *Config) { c.Sessions[0].TargetCompID = "" }, want: "sessions[0].target_comp_id is empty"},
		{name: "target with a space", edit: func(c *Config) { c.Sessions[0].TargetCompID = "B 1" }, want: "target_comp_id"},
		{name: "target equals sender", edit: func(c *Config) { c.Sessions[0].TargetCompID = "SGW" }, want: "equals sender_comp_id"},
		{name: "schedule without start", edit: func(c *Config) { c.Sessions[0].Schedule = &fix.SessionSchedule{End: "06:59:59"} }, want: `sessions[0].schedule.start "" is not a time of day`},
		{name: "schedule unknown zone", edit: func(c *Config) {
			c.Sessions[0].Schedule = &fix.SessionSchedule{Start: "07:00:00", End: "07:00:00", TimeZone: "Mars/Olympus"}
		}, want: `sessions[0].schedule.time_zone "Mars/Olympus"`},
		{name: "repeated target", edit: func(c *Config) { c.Sessions = append(c.Sessions, c.Sessions[0]) }, want: "repeated"},
		{name: "FIX 5", edit: func(c *Config) { c.Sessions[0].BeginString = "FIXT.1.1" }, want: "begin_string"},
		{name: "no password", edit: func(c *Config) { c.Sessions[0].Password = "" }, want: "password"},
		{name: "both passwords", edit: func(c *Config) { c.Sessions[0].PasswordFile = pwFile }, want: "exclusive"},
		{name: "missing password file", edit: func(c *Config) { c.Sessions[0].Password, c.Sessions[0].PasswordFile = "", "/nonexistent/pw" }, want: "password_file"},
		{name: "password file others may read", edit: func(c *Config) { c.Sessions[0].Password, c.Sessions[0].PasswordFile = "", openPwFile },
			want: "sessions[0].password_file: " + openPwFile + " has permissions 0644"},
		{name: "password file a directory", edit: func(c *Config) { c.Sessions[0].Password, c.Sessions[0].PasswordFile = "", filepath.Dir(pwFile) },
			want: "sessions[0].password_file: " + filepath.Dir(pwFile) + " is not a regular file"},
		{name: "password file a named pipe", edit: func(c *Config) { c.Sessions[0].Password, c.Sessions[0].PasswordFile = "", fifo },
			want: "sessions[0].password_file: " + fifo + " is not a regular file"},
		{name: "bad address", edit: func(c *Config) { c.Sessions[0].AllowedAddrs = []string{"10.0.0.300"} }, want: "allowed_addrs"},
		{name: "bad prefix", edit: func(c *Config) { c.Sessions[0].AllowedAddrs = []string{"10.0.0.0/33"} }, want: "allowed_addrs"},
		{name: "no accounts", edit: func(c *Config) { c.Sessions[0].Accounts = nil }, want: "account"},
		{name: "repeated account", edit: func(c *Config) { c.Sessions[0].Accounts = []string{"A1", "A1"} }, want: "sessions[0].accounts[1] \"A1\" is repeated"},
		{name: "account with a space", edit: func(c *Config) { c.Sessions[0].Accounts = []string{"A1", "A 2"} },
			want: "sessions[0].accounts[1] has a character 0x20"},
		{name: "account too long", edit: func(c *Config) { c.Sessions[0].Accounts = []string{strings.Repeat("A", 21)} },
			want: "sessions[0].accounts[0] is 21 bytes long; the limit is 20"},
		{name: "sender with a pipe", edit: func(c *Config) { c.Sessions[0].SenderCompID = "S|GW" }, want: "sessions[0].sender_comp_id has a character 0x7c"},
		{name: "target too long", edit: func(c *Config) { c.Sessions[0].TargetCompID = strings.Repeat("B", 33) },
			want: "sessions[0].target_comp_id is 33 bytes long; the limit is 32"},
		{name: "second session's key named", edit: func(c *Config) {
			c.Sessions = append(c.Sessions, SessionConfig{TargetCompID: "B2", Password: "p", Accounts: []string{"A1"}, AllowedAddrs: []string{"nowhere"}})
		}, want: "sessions[1].allowed_addrs[0]"},
		{name: "tlcp", edit: func(c *Config) {
			c.TLS = &netsec.ServerTLSConfig{CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/c.key", TLCP: &netsec.ServerTLCPConfig{}}
		}, want: "brokers.tls.tlcp: the brokers' FIX listener serves TLS only"},
		{name: "message limit too small", edit: func(c *Config) { c.MaxMessageBytes = 100 }, want: "max_message_bytes 100"},
		{name: "message limit too large", edit: func(c *Config) { c.MaxMessageBytes = 2 << 20 }, want: "max_message_bytes 2097152"},
		{name: "negative logon timeout", edit: func(c *Config) { c.LogonTimeout = -time.Second }, want: "logon_timeout"},
		{name: "negative max_connections", edit: func(c *Config) { c.MaxConnections = -1 }, want: "max_connections -1 is negative"},
		{name: "negative max_waiting_connections", edit: func(c *Config) { c.MaxWaitingConnections = -1 }, want: "max_waiting_connections -1"},
		{name: "more waiting than connections", edit: func(c *Config) { c.MaxConnections, c.MaxWaitingConnections = 10, 11 },
			want: "max_waiting_connections 11: want 1 to max_connections (10)"},
		{name: "waiting default within a small max_connections", edit: func(c *Config) { c.MaxConnections = 10 },
			check: func(t *testing.T, c Config, _ []*sessionSpec) {
				if c.MaxConnections != 10 || c.MaxWaitingConnections != 10 {
					t.Errorf("max_connections %d, max_waiting_connections %d; want 10, 10", c.MaxConnections, c.MaxWaitingConnections)
				}
			}},
		{name: "connection limits", edit: func(c *Config) { c.MaxConnections, c.MaxWaitingConnections = 20, 5 },
			check: func(t *testing.T, c Config, _ []*sessionSpec) {
				if c.MaxConnections != 20 || c.MaxWaitingConnections != 5 {
					t.Errorf("max_connections %d, max_waiting_connections %d; want 20, 5", c.MaxConnections, c.MaxWaitingConnections)
				}
			}},
		{name: "limits", edit: func(c *Config) { c.MaxMessageBytes, c.LogonTimeout = 64<<10, time.Second },
			check: func(t *testing.T, c Config, _ []*sessionSpec) {
				if c.MaxMessageBytes != 64<<10 || c.LogonTimeout != time.Second {
					t.Errorf("limits %d %v", c.MaxMessageBytes, c.LogonTimeout)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.edit(&c)
			got, specs, err := c.withDefaults()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, got, specs)
				return
			}
			if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want ErrConfig containing %q", err, tc.want)
			}
		})
	}
}

// TestAllowedAddrs checks the union of the sessions' allowed addresses
// that a clustered gateway's follower checks before relaying.
func TestAllowedAddrs(t *testing.T) {
	session := func(target string, addrs ...string) SessionConfig {
		return SessionConfig{TargetCompID: target, Password: "p", Accounts: []string{"A1"}, AllowedAddrs: addrs}
	}
	for _, tc := range []struct {
		name     string
		sessions []SessionConfig
		addr     string
		want     bool
	}{
		{name: "a session's address", sessions: []SessionConfig{session("B1", "203.0.113.7")}, addr: "203.0.113.7:1", want: true},
		{name: "another address", sessions: []SessionConfig{session("B1", "203.0.113.7")}, addr: "203.0.113.8:1"},
		{name: "a second session's prefix", sessions: []SessionConfig{session("B1", "203.0.113.7"), session("B2", "198.51.100.0/24")}, addr: "198.51.100.200:1", want: true},
		{name: "any address", sessions: []SessionConfig{session("B1", "203.0.113.7"), session("B2", "0.0.0.0/0", "::/0")}, addr: "[2001:db8::1]:1", want: true},
		{name: "IPv4-mapped", sessions: []SessionConfig{session("B1", "203.0.113.7")}, addr: "[::ffff:203.0.113.7]:1", want: true},
		{name: "default loopback", sessions: []SessionConfig{session("B1")}, addr: "127.0.0.1:1", want: true},
		{name: "default loopback only", sessions: []SessionConfig{session("B1")}, addr: "203.0.113.7:1"},
		{name: "not an IP address", sessions: []SessionConfig{session("B1", "0.0.0.0/0")}, addr: "pipe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Config{StoreDir: "/tmp/x", Sessions: tc.sessions}.AllowedAddrs()
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Allows(testAddr(tc.addr)); got != tc.want {
				t.Errorf("Allows(%s) = %v; want %v", tc.addr, got, tc.want)
			}
		})
	}
	if _, err := (Config{StoreDir: "/tmp/x"}).AllowedAddrs(); !errors.Is(err, ErrConfig) {
		t.Errorf("no sessions: %v; want ErrConfig", err)
	}
}

// testAddr is a net.Addr with a given String.
type testAddr string

func (a testAddr) Network() string { return "tcp" }
func (a testAddr) String() string  { return string(a) }
