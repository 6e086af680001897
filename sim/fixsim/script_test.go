package fixsim

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/refdata"
	"sgw/sim/match"
)

// TestScripts replays the wire scripts in testdata/*.script against the
// venue (the order logic behind the FIX sessions, without sockets). Each
// line is one of:
//
//	# comment
//	begin FIX.4.2                 first line only: the sessions' version
//	> PARTY 35=D 11=b1 ...        a message from PARTY (35/43/97 go in the header)
//	< PARTY 35=8 150=0 58~text !41 the next message to PARTY must match
//	sim B|S QTY SYMBOL PRICE      a direct Sim.Submit (owner SIM), then a feed poll
//	xcancel PARTY CLORDID         a direct Sim.Cancel of the party's order, then a poll
//	halt SYMBOL / resume SYMBOL   Sim.Halt
//	seen CLORDID FRESH POSSDUP    Seen counts
//	resting SYMBOL N              resting orders in SYMBOL's book
//
// Parties are CORE and MARGIN. Every message sent must be expected before
// the next command that is not an expectation.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.script")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runScript(t, f) })
	}
}

type sent struct {
	p *party
	m *quickfix.Message
}

func runScript(t *testing.T, path string) {
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	var (
		v    *venue
		s    = newSim(t)
		out  []sent
		line int
	)
	setup := func(begin string) {
		cfg, err := Config{TargetCompIDs: []string{"CORE", "MARGIN"}, BeginString: begin}.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		v = newVenue(s, cfg, testLogger())
		v.send = func(p *party, m *quickfix.Message) error {
			out = append(out, sent{p, m})
			return nil
		}
	}
	flushed := func() {
		if len(out) > 0 {
			t.Fatalf("%s:%d: unexpected message to %s: %s", path, line, out[0].p.name, show(out[0].m))
		}
	}
	party := func(name string) *party {
		p := v.parties[name]
		if p == nil {
			t.Fatalf("%s:%d: no party %q", path, line, name)
		}
		return p
	}
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		w := strings.Fields(text)
		if w[0] == "begin" {
			if v != nil {
				t.Fatalf("%s:%d: begin after the first command", path, line)
			}
			setup(w[1])
			continue
		}
		if v == nil {
			setup("")
		}
		if w[0] != "<" {
			flushed()
		}
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("%s:%d: %s: %s", path, line, text, fmt.Sprintf(format, args...))
		}
		switch w[0] {
		case ">":
			p := party(w[1])
			if rej := v.handle(p, fixMsg(w[2:]...)); rej != nil {
				m := fixMsg("35=3", "58="+rej.Error())
				if rt := rej.RefTagID(); rt != nil {
					m.Body.SetInt(tag.RefTagID, int(*rt))
				}
				out = append(out, sent{p, m})
			}
		case "<":
			if len(out) == 0 {
				fail("no message sent")
			}
			got := out[0]
			out = out[1:]
			if got.p.name != w[1] {
				fail("message went to %s: %s", got.p.name, show(got.m))
			}
			if err := matchFields(got.m, w[2:]); err != nil {
				fail("%v\n got %s", err, show(got.m))
			}
		case "sim":
			qty, _ := strconv.ParseInt(w[2], 10, 64)
			px, err := refdata.ParsePrice(w[4])
			if err != nil {
				fail("%v", err)
			}
			if _, err := s.Submit(match.Order{Symbol: w[3], Side: match.Side(w[1][0]), Price: px, Qty: qty, Owner: "SIM"}); err != nil {
				fail("%v", err)
			}
			v.poll()
		case "xcancel":
			o := party(w[1]).orders[w[2]]
			if o == nil || o.ref == 0 {
				fail("no resting order")
			}
			if _, err := s.Cancel(o.ref, 0); err != nil {
				fail("%v", err)
			}
			v.poll()
		case "halt", "resume":
			if err := s.Halt(w[1], w[0] == "halt"); err != nil {
				fail("%v", err)
			}
		case "seen":
			fresh, dup := v.seenCounts(w[1])
			if got := fmt.Sprint(fresh, dup); got != w[2]+" "+w[3] {
				fail("seen %s", got)
			}
		case "resting":
			bids, asks := s.Orders(w[1])
			if got := strconv.Itoa(len(bids) + len(asks)); got != w[2] {
				fail("%s resting", got)
			}
		default:
			fail("unknown command")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	flushed()
}
