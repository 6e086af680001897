package qfcpp

import (
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

// FIX versions the peers speak.
const (
	FIX42 = "FIX.4.2"
	FIX44 = "FIX.4.4"
)

// Session is one FIX session as the process that runs it sees it.
type Session struct {
	// BeginString is FIX.4.2 or FIX.4.4. Zero means the peer's default.
	BeginString string
	// SenderCompID is the process's own CompID (49 in what it sends).
	// Required.
	SenderCompID string
	// TargetCompID is the counterparty's CompID. Required.
	TargetCompID string
}

// check fills the default BeginString and validates s.
func (s Session) check(defaultBegin string) (Session, error) {
	if s.BeginString == "" {
		s.BeginString = defaultBegin
	}
	switch {
	case s.BeginString != FIX42 && s.BeginString != FIX44:
		return s, fmt.Errorf("qfcpp: session %+v: BeginString is neither %s nor %s", s, FIX42, FIX44)
	case s.SenderCompID == "" || s.TargetCompID == "":
		return s, fmt.Errorf("qfcpp: session %+v: SenderCompID and TargetCompID are required", s)
	}
	return s, nil
}

// settingsFile is a QuickFIX C++ settings file: a [DEFAULT] section and
// one [SESSION] section per session.
type settingsFile struct {
	defaults map[string]string
	sessions []map[string]string
}

func (s Session) settings() map[string]string {
	return map[string]string{"BeginString": s.BeginString, "SenderCompID": s.SenderCompID, "TargetCompID": s.TargetCompID}
}

// write writes the file to path. Keys are sorted, so the file is the same
// for the same settings.
func (f settingsFile) write(path string) error {
	var b strings.Builder
	section := func(name string, kv map[string]string) error {
		fmt.Fprintf(&b, "[%s]\n", name)
		for _, k := range slices.Sorted(maps.Keys(kv)) {
			v := kv[k]
			if k == "" || strings.ContainsAny(k, "=\r\n[]") || strings.ContainsAny(v, "\r\n") {
				return fmt.Errorf("qfcpp: setting %q=%q cannot be written to a QuickFIX settings file", k, v)
			}
			fmt.Fprintf(&b, "%s=%s\n", k, v)
		}
		return nil
	}
	if err := section("DEFAULT", f.defaults); err != nil {
		return err
	}
	for _, s := range f.sessions {
		if err := section("SESSION", s); err != nil {
			return err
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// commonSettings are the defaults of every peer started at now: a daily
// session whose boundary is 12 hours away (sessionTimes), and no data
// dictionary: Debian's libquickfix-dev and libquickfix-doc install no
// FIX42.xml or FIX44.xml, and QuickFIX C++ reads dictionaries from files
// only. StartInitiator sets one (DataDictionary) when it finds it.
func commonSettings(now time.Time) map[string]string {
	start, end := sessionTimes(now)
	return map[string]string{
		"StartTime":         start,
		"EndTime":           end,
		"UseDataDictionary": "N",
	}
}

// sessionTimes returns the StartTime and EndTime (UTC) of a daily session
// that began 12 hours before now and ends a second before it begins
// again. QuickFIX C++ ends a session at its boundary, logging out and
// starting again from sequence number 1 (Session::checkSessionTime): with
// StartTime = EndTime = 00:00:00 that boundary is midnight UTC, and a
// test running across it saw its peer reset mid-test while the gateway
// went on counting (the gateway cannot know the peer's schedule unless it
// is configured: fix.UpstreamConfig.Schedule). A boundary 12 hours away
// falls in no test.
func sessionTimes(now time.Time) (start, end string) {
	s := now.UTC().Add(-12 * time.Hour)
	return s.Format(time.TimeOnly), s.Add(-time.Second).Format(time.TimeOnly)
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
// QuickFIX C++ 1.15 takes only a port number, and listens on every
// interface; a port taken in between makes the peer fail to start, and
// the caller tries another.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("qfcpp: finding a free port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port, nil
}
