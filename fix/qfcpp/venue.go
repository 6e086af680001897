package qfcpp

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startTimeout bounds the start of a peer until it listens, on a loaded
// machine.
const startTimeout = time.Minute

// portAttempts bounds the ports tried by a venue that cannot listen.
const portAttempts = 5

// bindFailure is what QuickFIX C++ prints (and the examples pass on to
// stdout before exiting) when the acceptor cannot listen.
const bindFailure = "Unable to create, bind, or listen to port"

// Venue configures an executor or ordermatch process: the sessions it
// accepts, all on one port.
type Venue struct {
	// BeginString, SenderCompID (the venue's) and TargetCompID (the
	// gateway's) name its first session; see Session.
	BeginString, SenderCompID, TargetCompID string
	// More are further sessions on the same port, such as a second
	// participant trading against the gateway on ordermatch.
	More []Session
	// Settings are added to the [DEFAULT] section of the QuickFIX settings
	// and override the kit's: {"ResetOnLogon": "Y"}, or {"UseDataDictionary":
	// "Y", "DataDictionary": path} to validate messages against a
	// dictionary, QuickFIX's (the path DataDictionary returns) or one of
	// your own. Nil adds nothing.
	Settings map[string]string
}

// sessions returns the venue's sessions with defaults filled.
func (v Venue) sessions(defaultBegin string) ([]Session, error) {
	all := append([]Session{{BeginString: v.BeginString, SenderCompID: v.SenderCompID, TargetCompID: v.TargetCompID}}, v.More...)
	for i, s := range all {
		s, err := s.check(defaultBegin)
		if err != nil {
			return nil, err
		}
		all[i] = s
	}
	return all, nil
}

// venueKind is what tells the two example venues apart.
type venueKind struct {
	name         string
	defaultBegin string
	// versions are the BeginStrings it serves.
	versions []string
	// ready is the line it prints once it listens; probe, if not empty, is
	// written to its stdin to make it print that line.
	ready, probe string
}

var (
	executorKind = venueKind{name: "executor", defaultBegin: FIX44, versions: []string{FIX42, FIX44},
		ready: "Type Ctrl-C to quit"}
	// ordermatch reads commands on stdin once its acceptor listens; the
	// answer to #symbols says it does. Its stdin stays open: on end of
	// input it would spin.
	orderMatchKind = venueKind{name: "ordermatch", defaultBegin: FIX42, versions: []string{FIX42},
		ready: "SYMBOLS:", probe: "#symbols"}
	// statusVenueKind is ours (statusvenue/statusvenue.cpp). Its stdin
	// stays open: it exits at the end of its input.
	statusVenueKind = venueKind{name: "statusvenue", defaultBegin: FIX44, versions: []string{FIX42, FIX44},
		ready: "statusvenue: listening"}
)

// Proc is a running venue. Its methods are safe for concurrent use.
type Proc struct {
	p    *process
	kind venueKind
	port int
}

// StartExecutor starts QuickFIX's example executor, which fills every
// limit NewOrderSingle in full at its price (see the package
// documentation for what it answers). BeginString defaults to FIX.4.4. It
// returns once the executor listens, and kills it when tb ends; a failed
// tb logs its output.
func (k *Kit) StartExecutor(tb testing.TB, v Venue) *Proc {
	tb.Helper()
	return k.startVenue(tb, executorKind, v)
}

// StartOrderMatch starts QuickFIX's example ordermatch, a FIX 4.2 limit
// order book per symbol (see the package documentation). BeginString
// defaults to FIX.4.2, the only version it serves. It returns once
// ordermatch listens, and kills it when tb ends; a failed tb logs its
// output.
func (k *Kit) StartOrderMatch(tb testing.TB, v Venue) *Proc {
	tb.Helper()
	return k.startVenue(tb, orderMatchKind, v)
}

// StartStatusVenue starts the kit's own venue, statusvenue, which rests
// every order, cancels it and answers OrderStatusRequest with its status
// (see the package documentation). BeginString defaults to FIX.4.4. It
// returns once the venue listens, and kills it when tb ends; a failed tb
// logs its output.
func (k *Kit) StartStatusVenue(tb testing.TB, v Venue) *Proc {
	tb.Helper()
	return k.startVenue(tb, statusVenueKind, v)
}

func (k *Kit) startVenue(tb testing.TB, kind venueKind, v Venue) *Proc {
	tb.Helper()
	sessions, err := v.sessions(kind.defaultBegin)
	if err != nil {
		tb.Fatal(err)
	}
	var sections []map[string]string
	for _, s := range sessions {
		ok := false
		for _, b := range kind.versions {
			ok = ok || s.BeginString == b
		}
		if !ok {
			tb.Fatalf("qfcpp: %s serves %v only, not %s", kind.name, kind.versions, s.BeginString)
		}
		sections = append(sections, s.settings())
	}
	dir := tb.TempDir()
	vp := &Proc{kind: kind, p: &process{
		name: kind.name,
		bin:  k.path(kind.name),
		args: []string{filepath.Join(dir, "venue.cfg")},
		dir:  dir,
	}}
	vp.p.cleanup(tb)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			tb.Fatal(err)
		}
		defaults := commonSettings(time.Now())
		defaults["ConnectionType"] = "acceptor"
		defaults["SocketAcceptPort"] = strconv.Itoa(port)
		defaults["FileStorePath"] = filepath.Join(dir, "store")
		maps.Copy(defaults, v.Settings)
		if err := (settingsFile{defaults: defaults, sessions: sections}).write(vp.p.args[0]); err != nil {
			tb.Fatal(err)
		}
		vp.port = port
		err = vp.startRun(ctx)
		if err == nil {
			return vp
		}
		if !errors.Is(err, errBind) || attempt == portAttempts {
			tb.Fatal(err)
		}
		tb.Logf("qfcpp: %s: port %d was taken, trying another", kind.name, port)
	}
}

// startRun kills the current run, if any, starts a new one and waits until
// it listens.
func (v *Proc) startRun(ctx context.Context) error {
	p := v.p
	p.mu.Lock()
	defer p.mu.Unlock()
	p.killLocked()
	r, err := p.start()
	if err != nil {
		return err
	}
	if v.kind.probe != "" {
		// Read once the acceptor listens; an early exit makes it fail,
		// and the wait below says why.
		_, _ = r.stdin.Write([]byte(v.kind.probe + "\n"))
	}
	bind := false
	err = p.await(ctx, r, "it to listen on port "+strconv.Itoa(v.port), func(line string) bool {
		bind = bind || strings.Contains(line, bindFailure)
		// Contains, not ==: a log entry of an early connection may be
		// printed into the same line.
		return strings.Contains(line, v.kind.ready)
	})
	switch {
	case err == nil:
		return nil
	case bind:
		p.killLocked()
		return fmt.Errorf("%w %d: %w", errBind, v.port, err)
	default:
		p.killLocked()
		return err
	}
}

// Addr returns the venue's address on loopback, 127.0.0.1:port. The port
// stays the same across Restart.
func (v *Proc) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(v.port))
}

// Dir returns the venue's directory: its settings (venue.cfg) and its file
// store (store/), kept across Restart.
func (v *Proc) Dir() string { return v.p.dir }

// Kill kills the venue abruptly (SIGKILL, as a crash) and waits until it
// has exited. The file store keeps what it had written: sequence numbers
// and sent messages; a request answered but not yet counted is asked for
// and executed again after Restart (see the package documentation).
// Killing a venue that is not running does nothing.
func (v *Proc) Kill() { v.p.kill() }

// Restart kills the venue if it runs and starts it again on the same port,
// settings and store, so its sessions continue their sequence numbers. It
// returns once the venue listens. Its order book and id counters start
// afresh: the examples keep them in memory. Restart ends tb with Fatal on
// failure, so call it from the test's goroutine.
func (v *Proc) Restart(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := v.startRun(ctx); err != nil {
		tb.Fatal(err)
	}
}

// Entry kinds of a venue's screen log.
const (
	Incoming     = "incoming" // a message received
	Outgoing     = "outgoing" // a message sent
	SessionEvent = "event"    // a session event, such as "Received logon request"
)

// Entry is one entry of a venue's screen log: QuickFIX's ScreenLog on
// stdout, the only log the examples keep.
type Entry struct {
	Time    string // UTC, as logged: 20260102-09:30:00.123456789
	Session string // FIX.4.2:EXEC->GW, or GLOBAL
	Kind    string // Incoming, Outgoing or SessionEvent
	// Text is the event's text, or the message with '|' between fields.
	Text string
	// Msg is the message of an Incoming or Outgoing entry.
	Msg Message
}

// parseEntry reads an entry from its two lines:
//
//	<20260102-09:30:00.123456789, FIX.4.2:EXEC->GW, incoming>
//	  (8=FIX.4.2^A9=...^A10=123^A)
func parseEntry(header, body string) (Entry, bool) {
	text, ok := strings.CutPrefix(body, "  (")
	if !ok || !strings.HasSuffix(text, ")") {
		return Entry{}, false
	}
	text = text[:len(text)-1]
	inner, ok := strings.CutPrefix(header, "<")
	if !ok || !strings.HasSuffix(inner, ">") {
		return Entry{}, false
	}
	parts := strings.Split(inner[:len(inner)-1], ", ")
	if len(parts) != 3 {
		return Entry{}, false
	}
	e := Entry{Time: parts[0], Session: parts[1], Kind: parts[2], Text: text}
	switch e.Kind {
	case Incoming, Outgoing:
		m, err := ParseMessage(text, 0x01)
		if err != nil {
			return Entry{}, false
		}
		e.Msg, e.Text = m, m.String()
	case SessionEvent:
	default:
		return Entry{}, false
	}
	return e, true
}

// Await returns the first entry of the current run's screen log for which
// match returns true, waiting for it until ctx ends or the venue exits
// (ErrExited). match sees each entry once, in order, from the first
// entry of the run (a Restart begins a new run); it runs on the caller's
// goroutine.
func (v *Proc) Await(ctx context.Context, match func(Entry) bool) (Entry, error) {
	r := v.p.current()
	var found Entry
	prev := ""
	err := v.p.await(ctx, r, "a log entry", func(line string) bool {
		e, ok := parseEntry(prev, line)
		prev = line
		if ok && match(e) {
			found = e
			return true
		}
		return false
	})
	return found, err
}

// Entries returns the entries of the current run's screen log so far.
func (v *Proc) Entries() []Entry {
	r := v.p.current()
	lines, _ := v.p.out.since(r.from)
	var out []Entry
	for i := 1; i < len(lines); i++ {
		if e, ok := parseEntry(lines[i-1], lines[i]); ok {
			out = append(out, e)
		}
	}
	return out
}
