package feed_test

import (
	"errors"
	"strings"
	"testing"

	"sgw/feed"
	"sgw/feed/capture"
	"sgw/feed/szse"
)

// nopSZSESink accepts everything.
type nopSZSESink struct{}

func (nopSZSESink) ApplySZSE(*szse.Message, int64) error { return nil }
func (nopSZSESink) ResetChannel(uint16) error            { return nil }
func (nopSZSESink) ChannelLive(uint16) error             { return nil }

// TestProtocolConfig: the login fields are checked per protocol, and each
// error names the key; capture is taken by feeds of both protocols.
func TestProtocolConfig(t *testing.T) {
	src := func(edit func(*feed.SourceConfig)) feed.SourceConfig {
		s := feed.SourceConfig{Addr: "127.0.0.1:9000"}
		edit(&s)
		return s
	}
	tests := []struct {
		name     string
		protocol string
		primary  feed.SourceConfig
		capture  bool   // capture on, to a temporary directory
		fsync    string // the capture's fsync policy
		want     string // "" for valid
	}{
		{name: "itch defaults", protocol: "", primary: src(func(s *feed.SourceConfig) { s.Username, s.Password = "gw", "0123456789" })},
		{name: "itch password too long", protocol: "itch", primary: src(func(s *feed.SourceConfig) { s.Password = "01234567890" }), want: "primary.password: 11 characters, at most 10"},
		{name: "itch username too long", protocol: "itch", primary: src(func(s *feed.SourceConfig) { s.Username = "1234567" }), want: "primary.username"},
		{name: "itch has no comp ids", protocol: "itch", primary: src(func(s *feed.SourceConfig) { s.SenderCompID = "GW" }), want: "primary.sender_comp_id: not used by protocol itch"},
		{name: "szse login", protocol: "szse", primary: src(func(s *feed.SourceConfig) {
			s.SenderCompID, s.TargetCompID, s.Password = "GATEWAY0123456789012", "MDGW", "0123456789abcdef"
		})},
		{name: "szse sender too long", protocol: "szse", primary: src(func(s *feed.SourceConfig) { s.SenderCompID = strings.Repeat("x", 21) }), want: "primary.sender_comp_id: 21 characters, at most 20"},
		{name: "szse target too long", protocol: "szse", primary: src(func(s *feed.SourceConfig) { s.TargetCompID = strings.Repeat("x", 21) }), want: "primary.target_comp_id"},
		{name: "szse password too long", protocol: "szse", primary: src(func(s *feed.SourceConfig) { s.Password = strings.Repeat("x", 17) }), want: "primary.password: 17 characters, at most 16"},
		{name: "szse has no username", protocol: "szse", primary: src(func(s *feed.SourceConfig) { s.Username = "gw" }), want: "primary.username: not used by protocol szse"},
		{name: "szse has no session", protocol: "szse", primary: src(func(s *feed.SourceConfig) { s.Session = "DAY" }), want: "primary.session: not used by protocol szse"},
		{name: "unknown protocol", protocol: "fix", primary: src(func(*feed.SourceConfig) {}), want: `protocol "fix"`},
		{name: "itch capture", protocol: "itch", primary: src(func(*feed.SourceConfig) {}), capture: true},
		{name: "szse capture", protocol: "szse", primary: src(func(*feed.SourceConfig) {}), capture: true},
		{name: "szse capture fsync", protocol: "szse", primary: src(func(*feed.SourceConfig) {}), capture: true, fsync: "always", want: `fsync: "always"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := feed.Config{Name: "x", Protocol: tc.protocol, Primary: tc.primary}
			if tc.capture {
				cfg.Capture = capture.Config{Dir: t.TempDir(), Fsync: tc.fsync}
			}
			var err error
			if tc.protocol == "szse" {
				_, err = feed.NewSZSE(cfg, nopSZSESink{}, nil)
			} else {
				_, err = feed.New(cfg, nil, nil)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("valid config refused: %v", err)
			case tc.want != "" && (err == nil || !errors.Is(err, feed.ErrConfig) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want ErrConfig naming %q", err, tc.want)
			}
		})
	}
}

// TestProtocolBuilder: each protocol has its builder; the other refuses
// the config.
func TestProtocolBuilder(t *testing.T) {
	base := feed.Config{Name: "x", Primary: feed.SourceConfig{Addr: "127.0.0.1:9000"}}
	szseCfg, itchCfg := base, base
	szseCfg.Protocol, itchCfg.Protocol = feed.ProtocolSZSE, feed.ProtocolITCH
	if _, err := feed.New(szseCfg, nil, nil); !errors.Is(err, feed.ErrConfig) || !strings.Contains(err.Error(), "NewSZSE") {
		t.Errorf("New with protocol szse: %v", err)
	}
	if _, err := feed.NewSZSE(itchCfg, nopSZSESink{}, nil); !errors.Is(err, feed.ErrConfig) {
		t.Errorf("NewSZSE with protocol itch: %v", err)
	}
	if _, err := feed.NewSZSE(base, nopSZSESink{}, nil); err != nil {
		t.Errorf("NewSZSE with no protocol: %v", err)
	}
	if _, err := feed.NewSZSE(base, nil, nil); !errors.Is(err, feed.ErrConfig) {
		t.Errorf("NewSZSE without a sink: %v", err)
	}
}
