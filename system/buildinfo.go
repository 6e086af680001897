package system

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// version, when set at link time, is the version the binary reports
// instead of the one the go command recorded:
//
//	go build -ldflags "-X sgw/system.version=v1.4.2" .
//
// It is never assigned at run time.
var version string

// Build is what the binary knows of its own build, from the go command's
// record (runtime/debug.ReadBuildInfo) and the link-time version.
type Build struct {
	// Version is the link-time version if set, else the main module's
	// version as the go command recorded it: a tag ("v1.4.2"), a
	// pseudo-version ("v0.0.0-20260102150405-0123456789ab", "+dirty" when
	// modified), or "(devel)" when it recorded none (go run, go test).
	Version string
	// Revision, Time and Modified are the version control state of the
	// source tree: the commit, its time (RFC 3339) and whether the tree
	// had uncommitted changes. Revision and Time are "" when the build
	// recorded none (go run, go test, -buildvcs=false, a tree without
	// .git).
	Revision, Time string
	Modified       bool
	// GoVersion is the toolchain that built the binary ("go1.26.8").
	GoVersion string
	// Module is the main module's path ("sgw").
	Module string
}

// ReadBuild returns the running binary's Build.
func ReadBuild() Build {
	bi, _ := debug.ReadBuildInfo()
	return buildOf(bi, version)
}

// buildOf returns the Build recorded in bi (nil: none recorded) with the
// link-time version override ("" for none).
func buildOf(bi *debug.BuildInfo, override string) Build {
	b := Build{Version: override}
	if bi != nil {
		b.GoVersion, b.Module = bi.GoVersion, bi.Main.Path
		if b.Version == "" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	return b
}

// String is the build as `gateway version` prints it: the version on the
// first line, then one "key: value" line each.
func (b Build) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "gateway %s\n", b.Version)
	orNone := func(v string) string {
		if v == "" {
			return "unknown"
		}
		return v
	}
	fmt.Fprintf(&s, "  module:   %s\n", orNone(b.Module))
	fmt.Fprintf(&s, "  revision: %s\n", orNone(b.Revision))
	fmt.Fprintf(&s, "  time:     %s\n", orNone(b.Time))
	fmt.Fprintf(&s, "  modified: %t\n", b.Modified)
	fmt.Fprintf(&s, "  go:       %s\n", orNone(b.GoVersion))
	return s.String()
}

// Collector returns the gauge gateway_build_info{version, revision,
// goversion}, always 1, the convention that lets a query join the build
// to any other series. An unknown revision is "unknown"; a modified tree's
// revision ends in "-modified".
func (b Build) Collector() prometheus.Collector {
	rev := b.Revision
	switch {
	case rev == "":
		rev = "unknown"
	case b.Modified:
		rev += "-modified"
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "gateway_build_info",
		Help:        "The gateway's build: version, VCS revision and Go version, as labels; always 1.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": rev, "goversion": b.GoVersion}})
	g.Set(1)
	return g
}
