package system

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestBuildOf(t *testing.T) {
	vcs := func(rev, time, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "-trimpath", Value: "true"}, {Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: time}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name     string
		bi       *debug.BuildInfo
		override string
		want     Build
	}{
		{name: "tagged release", bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "sgw", Version: "v1.4.2"},
			Settings: vcs("0123456789abcdef0123456789abcdef01234567", "2026-01-02T15:04:05Z", "false")},
			want: Build{Version: "v1.4.2", Revision: "0123456789abcdef0123456789abcdef01234567", Time: "2026-01-02T15:04:05Z", GoVersion: "go1.26.8", Module: "sgw"}},
		{name: "modified tree", bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "sgw", Version: "v0.0.0-20260102150405-0123456789ab+dirty"},
			Settings: vcs("0123456789abcdef0123456789abcdef01234567", "2026-01-02T15:04:05Z", "true")},
			want: Build{Version: "v0.0.0-20260102150405-0123456789ab+dirty", Revision: "0123456789abcdef0123456789abcdef01234567", Time: "2026-01-02T15:04:05Z", Modified: true, GoVersion: "go1.26.8", Module: "sgw"}},
		{name: "link-time version wins", override: "v2.0.0-rc1", bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "sgw", Version: "(devel)"}},
			want: Build{Version: "v2.0.0-rc1", GoVersion: "go1.26.8", Module: "sgw"}},
		{name: "go run: no VCS", bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "sgw"}},
			want: Build{Version: "(devel)", GoVersion: "go1.26.8", Module: "sgw"}},
		{name: "no build info", want: Build{Version: "(devel)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := buildOf(tc.bi, tc.override); got != tc.want {
				t.Fatalf("buildOf = %+v\nwant      %+v", got, tc.want)
			}
		})
	}
}

func TestBuildString(t *testing.T) {
	b := Build{Version: "v1.4.2", Revision: "0123456789ab", Time: "2026-01-02T15:04:05Z", Modified: true, GoVersion: "go1.26.8", Module: "sgw"}
	want := "gateway v1.4.2\n  module:   sgw\n  revision: 0123456789ab\n  time:     2026-01-02T15:04:05Z\n  modified: true\n  go:       go1.26.8\n"
	if b.String() != want {
		t.Fatalf("String:\n%s\nwant\n%s", b, want)
	}
	if s := (Build{Version: "(devel)"}).String(); !strings.Contains(s, "revision: unknown\n") {
		t.Fatalf("String of an unknown revision:\n%s", s)
	}
}

func TestBuildCollector(t *testing.T) {
	for _, tc := range []struct {
		b    Build
		want string
	}{
		{b: Build{Version: "v1.4.2", Revision: "0123456789ab", GoVersion: "go1.26.8"},
			want: `gateway_build_info{goversion="go1.26.8",revision="0123456789ab",version="v1.4.2"} 1`},
		{b: Build{Version: "v1.4.2", Revision: "0123456789ab", Modified: true, GoVersion: "go1.26.8"},
			want: `gateway_build_info{goversion="go1.26.8",revision="0123456789ab-modified",version="v1.4.2"} 1`},
		{b: Build{Version: "(devel)", GoVersion: "go1.26.8"},
			want: `gateway_build_info{goversion="go1.26.8",revision="unknown",version="(devel)"} 1`},
	} {
		exp := "# HELP gateway_build_info The gateway's build: version, VCS revision and Go version, as labels; always 1.\n" +
			"# TYPE gateway_build_info gauge\n" + tc.want + "\n"
		if err := testutil.CollectAndCompare(tc.b.Collector(), strings.NewReader(exp)); err != nil {
			t.Error(err)
		}
	}
	// The running binary's, as every gateway registers it.
	if b := ReadBuild(); b.GoVersion != runtime.Version() || b.Version == "" || b.Module != "sgw" {
		t.Errorf("ReadBuild = %+v", b)
	}
}
