package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"regexp"
	"slices"
	"testing"
	"time"

	"sgw/feed/capture"
	"sgw/feed/soupbin"
	"sgw/feed/szse"
	"sgw/internal/syncbuf"
)

// TestReplayCommand runs `gateway replay` on a capture of the simulator's
// feed (the fuzz seed, recorded by the feed) and logs in as a SoupBinTCP
// client: it receives every recorded message, in order and under its
// recorded sequence number, and then End of Session.
func TestReplayCommand(t *testing.T) {
	const file = "feed/capture/testdata/arbitrated.cap"
	var want [][]byte
	if _, err := capture.Scan([]string{file}, func(m capture.Message) error {
		want = append(want, slices.Clone(m.Data))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"max", []string{"replay", "-capture", file, "-speed", "max", "-listen", "127.0.0.1:0"}},
		{"1000x", []string{"replay", "-capture", file, "-speed", "1000", "-listen", "127.0.0.1:0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
			done := make(chan error, 1)
			go func() { done <- run(ctx, tc.args, stdout, stderr) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("replay: %v; stderr %s", err, stderr)
				}
			}()
			addrRE := regexp.MustCompile(`on (127\.0\.0\.1:\d+)`)
			waitFor(t, "the listen address", func() bool { return addrRE.MatchString(stdout.String()) })
			c, err := net.Dial("tcp", addrRE.FindStringSubmatch(stdout.String())[1])
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			login, _ := soupbin.AppendLoginRequest(nil, soupbin.LoginRequest{Sequence: 1})
			if _, err := c.Write(login); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(15 * time.Second)) // a bound for a broken test, not a wait
			var (
				buf   []byte
				got   [][]byte
				tmp   = make([]byte, 4096)
				ended bool
			)
			for !ended {
				n, err := c.Read(tmp)
				if err != nil {
					t.Fatalf("read after %d messages: %v", len(got), err)
				}
				buf = append(buf, tmp[:n]...)
				for {
					p, k, err := soupbin.Parse(buf, 4096)
					if err != nil {
						t.Fatal(err)
					}
					if k == 0 {
						break
					}
					switch p.Type {
					case soupbin.TypeLoginAccepted:
						if _, seq, _ := soupbin.ParseLoginAccepted(p.Payload); seq != 1 {
							t.Fatalf("login accepted at %d", seq)
						}
					case soupbin.TypeSequenced:
						got = append(got, slices.Clone(p.Payload))
					case soupbin.TypeEndOfSession:
						ended = true
					}
					buf = buf[k:]
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%d messages, want %d", len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("message %d differs", i+1)
				}
			}
		})
	}
}

// TestReplayCommandSZSE runs `gateway replay` on a capture of an SZSE
// feed (the fuzz seed, recorded by the feed from the simulator) and logs
// on as an SZSE Binary client: it receives every recorded record and
// snapshot, in order, then a ChannelHeartbeat with EndOfChannel.
func TestReplayCommandSZSE(t *testing.T) {
	const file = "feed/capture/testdata/szse-arbitrated.cap"
	var want [][]byte
	if _, err := capture.Scan([]string{file}, func(m capture.Message) error {
		want = append(want, slices.Clone(m.Data))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"replay", "-capture", file, "-speed", "max", "-listen", "127.0.0.1:0",
			"-sender-comp-id", "GW01", "-target-comp-id", "MDGW", "-password", "secret"}, stdout, stderr)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("replay: %v; stderr %s", err, stderr)
		}
	}()
	addrRE := regexp.MustCompile(`szse capture file\(s\) from .* on (127\.0\.0\.1:\d+)`)
	waitFor(t, "the listen address", func() bool { return addrRE.MatchString(stdout.String()) })
	c, err := net.Dial("tcp", addrRE.FindStringSubmatch(stdout.String())[1])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var logon szse.Logon
	_ = szse.PutString(logon.SenderCompID[:], "GW01")
	_ = szse.PutString(logon.TargetCompID[:], "MDGW")
	_ = szse.PutString(logon.Password[:], "secret")
	_ = szse.PutString(logon.DefaultApplVerID[:], "1.02")
	logon.HeartBtInt = 5
	if _, err := c.Write(szse.AppendLogon(nil, &logon)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(15 * time.Second)) // a bound for a broken test, not a wait
	var (
		buf   []byte
		got   [][]byte
		tmp   = make([]byte, 4096)
		m     szse.Message
		ended bool
	)
	for !ended {
		n, err := c.Read(tmp)
		if err != nil {
			t.Fatalf("read after %d frames: %v", len(got), err)
		}
		buf = append(buf, tmp[:n]...)
		for {
			k, err := szse.Decode(buf, &m)
			if errors.Is(err, szse.ErrTruncated) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			switch m.Type {
			case szse.TypeLogout:
				t.Fatalf("logout: %s", szse.TrimString(m.Logout.Text[:]))
			case szse.TypeOrder, szse.TypeTrade, szse.TypeSnapshot:
				got = append(got, slices.Clone(buf[:k]))
			case szse.TypeChannelHeartbeat:
				ended = ended || m.ChannelHeartbeat.EndOfChannel == 1
			}
			buf = buf[k:]
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("frame %d differs", i+1)
		}
	}
}

func TestReplayCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no capture", []string{"replay"}},
		{"bad speed", []string{"replay", "-capture", "feed/capture/testdata", "-speed", "0"}},
		{"missing", []string{"replay", "-capture", "no/such/dir"}},
		{"numbering not held", []string{"replay", "-capture", "feed/capture/testdata/arbitrated.cap", "-speed", "max", "-numbering", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := run(context.Background(), tc.args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
				t.Error("no error")
			}
		})
	}
}
