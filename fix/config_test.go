package fix

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"sgw/netsec"
)

func validConfig() UpstreamConfig {
	return UpstreamConfig{Name: "core", SenderCompID: "GW", TargetCompID: "CORE", StoreDir: "/tmp/x",
		Lines: []LineConfig{{Name: "carrierA", Addr: "10.0.0.1:9000", Tunnel: "ipsec carrierA"},
			{Name: "carrierB", Addr: "10.0.1.1:9000", TLS: &netsec.ClientTLSConfig{}}}}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := validConfig().withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BeginString != "FIX.4.4" || cfg.HeartBtInt != time.Second || cfg.ReconnectInterval != 500*time.Millisecond ||
		cfg.DialTimeout != time.Second || cfg.LogonTimeout != 3*time.Second || cfg.QueueSize != 1<<16 ||
		cfg.SendWindow != 64 {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestConfigInvalid(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*UpstreamConfig)
		want string
	}{
		{"no name", func(c *UpstreamConfig) { c.Name = "" }, "name"},
		{"no comp id", func(c *UpstreamConfig) { c.TargetCompID = "" }, "comp_id"},
		{"no store", func(c *UpstreamConfig) { c.StoreDir = "" }, "store_dir"},
		{"no lines", func(c *UpstreamConfig) { c.Lines = nil }, "line"},
		{"repeated line", func(c *UpstreamConfig) { c.Lines[1].Name = "carrierA" }, "repeated"},
		{"bad addr", func(c *UpstreamConfig) { c.Lines[0].Addr = "nowhere" }, "addr"},
		{"fractional heartbeat", func(c *UpstreamConfig) { c.HeartBtInt = 1500 * time.Millisecond }, "heart_bt_int"},
		{"begin string", func(c *UpstreamConfig) { c.BeginString = "FIXT.1.1" }, "begin_string"},
		{"negative queue", func(c *UpstreamConfig) { c.QueueSize = -1 }, "queue_size"},
		{"negative window", func(c *UpstreamConfig) { c.SendWindow = -1 }, "send_window -1 is outside 1..1024"},
		{"window too wide", func(c *UpstreamConfig) { c.SendWindow = 1025 }, "send_window 1025"},
		{"plain text off loopback", func(c *UpstreamConfig) { c.Lines[0].Tunnel = "" }, "line carrierA 10.0.0.1:9000 would carry plain text across a network"},
		{"TLS 1.1", func(c *UpstreamConfig) { c.Lines[1].TLS.MinVersion = "1.1" }, "lines[1].tls.min_version"},
		{"client key without certificate", func(c *UpstreamConfig) { c.Lines[1].TLS.KeyFile = "/k" }, "cert_file and key_file go together"},
		{"schedule without end", func(c *UpstreamConfig) { c.Schedule = &SessionSchedule{Start: "07:00:00"} }, `schedule.end "" is not a time of day`},
		{"schedule start not a time", func(c *UpstreamConfig) { c.Schedule = &SessionSchedule{Start: "7am", End: "06:59:59"} }, `schedule.start "7am"`},
		{"schedule hour 24", func(c *UpstreamConfig) { c.Schedule = &SessionSchedule{Start: "24:00:00", End: "06:59:59"} }, `schedule.start "24:00:00"`},
		{"schedule unknown zone", func(c *UpstreamConfig) {
			c.Schedule = &SessionSchedule{Start: "07:00:00", End: "06:59:59", TimeZone: "Asia/Nowhere"}
		}, `schedule.time_zone "Asia/Nowhere"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := validConfig()
			c.edit(&cfg)
			_, err := NewUpstream(cfg, newRecorder(), prometheus.NewRegistry(), nil)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want ErrConfig naming %q", err, c.want)
			}
		})
	}
}

func TestConfigYAML(t *testing.T) {
	const doc = `
name: margin
sender_comp_id: GW
target_comp_id: MARGIN
begin_string: FIX.4.2
lines:
  - {name: carrierA, addr: "10.0.0.1:9001", tunnel: ipsec carrierA}
  - name: carrierB
    addr: "10.0.1.1:9001"
    tls: {ca_file: /etc/sgw/margin-ca.pem, server_name: margin.example, min_version: "1.2"}
heart_bt_int: 2s
reconnect_interval: 250ms
store_dir: /var/lib/sgw/fix/margin
reset_on_logon: false
schedule: {start: "07:00:00", end: "06:59:59", time_zone: Asia/Shanghai}
`
	var cfg UpstreamConfig
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "margin" || cfg.BeginString != "FIX.4.2" || len(cfg.Lines) != 2 || cfg.Lines[1].Name != "carrierB" ||
		cfg.Lines[0].Tunnel != "ipsec carrierA" || cfg.Lines[1].TLS == nil || cfg.Lines[1].TLS.ServerName != "margin.example" ||
		cfg.HeartBtInt != 2*time.Second || cfg.ReconnectInterval != 250*time.Millisecond || cfg.StoreDir == "" ||
		cfg.Schedule == nil || *cfg.Schedule != (SessionSchedule{Start: "07:00:00", End: "06:59:59", TimeZone: "Asia/Shanghai"}) {
		t.Errorf("decoded %+v", cfg)
	}
}

// TestScheduleSettings: a schedule reaches quickfix's session settings,
// and none leaves the session without period (it never resets).
func TestScheduleSettings(t *testing.T) {
	for _, c := range []struct {
		name  string
		sched *SessionSchedule
		want  map[string]string // setting -> value; "" absent
	}{
		{"none", nil, map[string]string{"StartTime": "", "EndTime": "", "TimeZone": ""}},
		{"Shanghai", &SessionSchedule{Start: "07:00:00", End: "06:59:59", TimeZone: "Asia/Shanghai"},
			map[string]string{"StartTime": "07:00:00", "EndTime": "06:59:59", "TimeZone": "Asia/Shanghai"}},
		{"UTC, 24 hours", &SessionSchedule{Start: "00:00:00", End: "00:00:00"},
			map[string]string{"StartTime": "00:00:00", "EndTime": "00:00:00", "TimeZone": ""}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := validConfig()
			cfg.Schedule = c.sched
			cfg, err := cfg.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			s, err := cfg.settings("127.0.0.1:1")
			if err != nil {
				t.Fatal(err)
			}
			for _, ss := range s.SessionSettings() {
				for k, want := range c.want {
					got, err := ss.Setting(k)
					if want == "" && ss.HasSetting(k) || want != "" && (err != nil || got != want) {
						t.Errorf("%s = %q (%v), want %q", k, got, err, want)
					}
				}
			}
		})
	}
}

func TestMetricsSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	for _, name := range []string{"core", "margin"} {
		cfg := validConfig()
		cfg.Name = name
		if _, err := NewUpstream(cfg, newRecorder(), reg, nil); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if v := metricValue(t, reg, "gateway_fix_line_up", map[string]string{"session": "margin", "line": "carrierB"}); v != 0 {
		t.Errorf("margin carrierB up = %v, want 0", v)
	}
}

// TestSchedulePeriods: samePeriod decides as quickfix does (its
// TimeRange.IsInSameRange, to the second), so that a session that ends
// with its period is told from a line that failed.
func TestSchedulePeriods(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	at := func(day, h, m, s, ms int, loc *time.Location) time.Time {
		return time.Date(2026, 12, day, h, m, s, ms*1e6, loc)
	}
	wrap := &SessionSchedule{Start: "07:00:00", End: "06:59:59", TimeZone: "Asia/Shanghai"}
	allDay := &SessionSchedule{Start: "00:00:00", End: "00:00:00"}
	office := &SessionSchedule{Start: "09:00:00", End: "17:00:00"}
	for _, c := range []struct {
		name   string
		sc     *SessionSchedule
		t1, t2 time.Time
		same   bool
	}{
		{"wrap: within", wrap, at(4, 8, 0, 0, 0, cst), at(5, 6, 59, 58, 0, cst), true},
		{"wrap: across the start", wrap, at(4, 8, 0, 0, 0, cst), at(5, 7, 0, 0, 0, cst), false},
		{"wrap: in the end's second", wrap, at(4, 6, 59, 59, 200, cst), at(4, 6, 59, 59, 800, cst), false},
		{"wrap: either order", wrap, at(5, 6, 59, 58, 0, cst), at(4, 8, 0, 0, 0, cst), true},
		{"wrap: UTC instants", wrap, at(4, 0, 0, 0, 0, time.UTC), at(4, 22, 59, 58, 0, time.UTC), true},
		{"24 hours: within", allDay, at(4, 23, 0, 0, 0, time.UTC), at(4, 23, 59, 59, 999, time.UTC), true},
		{"24 hours: across midnight", allDay, at(4, 23, 0, 0, 0, time.UTC), at(5, 0, 0, 1, 0, time.UTC), false},
		{"office: within", office, at(4, 10, 0, 0, 0, time.UTC), at(4, 16, 0, 0, 0, time.UTC), true},
		{"office: after the end", office, at(4, 10, 0, 0, 0, time.UTC), at(4, 18, 0, 0, 0, time.UTC), false},
		{"office: the next day", office, at(4, 10, 0, 0, 0, time.UTC), at(5, 10, 0, 0, 0, time.UTC), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.sc.samePeriod(c.t1, c.t2); got != c.same {
				t.Errorf("samePeriod(%v, %v) = %v, want %v", c.t1, c.t2, got, c.same)
			}
		})
	}
}
