package feed_test

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"sgw/feed"
	"sgw/feed/szse"
)

// szseFake is an SZSE server that misbehaves as a script says. On each
// connection it reads the Logon, writes what the script returns, then
// sends a Heartbeat every 50 ms (unless silent) until the connection
// closes.
type szseFake struct {
	ln     net.Listener
	script func() []byte
	silent bool
	done   chan struct{}
	wg     sync.WaitGroup
}

func newSZSEFake(t *testing.T, silent bool, script func() []byte) *szseFake {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &szseFake{ln: ln, script: script, silent: silent, done: make(chan struct{})}
	f.wg.Go(f.serve)
	t.Cleanup(func() { close(f.done); ln.Close(); f.wg.Wait() })
	return f
}

func (f *szseFake) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Go(func() {
			defer c.Close()
			var hdr [szse.HeaderLen]byte
			if _, err := io.ReadFull(c, hdr[:]); err != nil || binary.BigEndian.Uint32(hdr[:]) != uint32(szse.TypeLogon) {
				return
			}
			if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(hdr[4:]))+szse.TrailerLen); err != nil {
				return
			}
			if _, err := c.Write(f.script()); err != nil {
				return
			}
			closed := make(chan struct{})
			go func() { _, _ = io.Copy(io.Discard, c); close(closed) }()
			t := time.NewTicker(50 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-f.done:
					return
				case <-closed:
					return
				case <-t.C:
					if f.silent {
						continue
					}
					if _, err := c.Write(szse.AppendHeartbeat(nil)); err != nil {
						return
					}
				}
			}
		})
	}
}

// logonAnswer is the MDGW's answer to the rig's Logon.
func logonAnswer() []byte {
	var l szse.Logon
	_ = szse.PutString(l.SenderCompID[:], "MDGW")
	_ = szse.PutString(l.TargetCompID[:], "GW01")
	_ = szse.PutString(l.DefaultApplVerID[:], "1.02")
	l.HeartBtInt = 1
	return szse.AppendLogon(nil, &l)
}

// TestSZSEBadInputFromOneSource: a primary that sends bytes that cannot
// be framed, a record going backwards, a ChannelHeartbeat beyond any day's
// numbering or ahead of its own stream, data before its Logon answer or a
// Logout, or that stays silent (no Logon answer, no heartbeats) is reset
// (counted by reason); the backup carries on and the books end equal to
// the reference. A well-formed message of an unknown type is counted and
// skipped, without a reset.
func TestSZSEBadInputFromOneSource(t *testing.T) {
	var r *szseRig // set before the fake is first connected to
	var ready sync.WaitGroup
	packets := func(from, to uint64) []byte {
		var b []byte
		for seq := from; seq <= to; seq++ {
			p, ok := r.pf.Packet(2011, seq)
			if !ok {
				panic("no packet")
			}
			b = append(b, p...)
		}
		return b
	}
	header := func(t szse.MsgType, bodyLen uint32) []byte {
		return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(t)), bodyLen)
	}
	tests := []struct {
		name   string
		reason string // the primary's error reason
		silent bool   // no heartbeats after the script
		script func() []byte
	}{
		{name: "bad checksum", reason: "checksum", script: func() []byte {
			b := append(logonAnswer(), packets(1, 6)...)
			b[len(b)-1] ^= 0x5a
			return b
		}},
		{name: "BodyLength over the limit", reason: "length", script: func() []byte {
			return append(append(logonAnswer(), packets(1, 3)...), header(szse.TypeOrder, 1<<20)...)
		}},
		{name: "BodyLength wrong for the type", reason: "length", script: func() []byte {
			return append(append(append(logonAnswer(), packets(1, 3)...), header(szse.TypeOrder, 40)...), make([]byte, 44)...)
		}},
		{name: "ApplSeqNum backwards", reason: "backwards", script: func() []byte {
			return append(append(logonAnswer(), packets(1, 6)...), packets(4, 4)...)
		}},
		{name: "ChannelHeartbeat beyond any day", reason: "malformed", script: func() []byte {
			b := append(logonAnswer(), packets(1, 3)...)
			return szse.AppendChannelHeartbeat(b, &szse.ChannelHeartbeat{ChannelNo: 2011, ApplLastSeqNum: 1 << 62})
		}},
		{name: "ChannelHeartbeat ahead of the stream", reason: "backwards", script: func() []byte {
			b := append(logonAnswer(), packets(1, 3)...)
			b = szse.AppendChannelHeartbeat(b, &szse.ChannelHeartbeat{ChannelNo: 2011, ApplLastSeqNum: 1000})
			return append(b, packets(4, 6)...)
		}},
		{name: "data before the Logon answer", reason: "protocol", script: func() []byte {
			return packets(1, 2)
		}},
		{name: "logout", reason: "logout", script: func() []byte {
			l := szse.Logout{SessionStatus: 5}
			_ = szse.PutString(l.Text[:], "invalid password")
			return szse.AppendLogout(nil, &l)
		}},
		{name: "no Logon answer", reason: "login_timeout", silent: true, script: func() []byte { return nil }},
		{name: "silent after the Logon answer", reason: "heartbeat_timeout", silent: true, script: logonAnswer},
		{name: "unknown type skipped", reason: "unknown_type", script: func() []byte {
			unknown := header(309011, 20)
			unknown = append(unknown, make([]byte, 20)...)
			unknown = binary.BigEndian.AppendUint32(unknown, szse.Checksum(unknown))
			return append(append(append(logonAnswer(), packets(1, 3)...), unknown...), packets(4, 6)...)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ready.Add(1)
			fake := newSZSEFake(t, tc.silent, func() []byte { ready.Wait(); return tc.script() })
			r = newSZSERig(t, szseRigOpts{prePublish: 300, primaryAddr: fake.ln.Addr().String(), tune: func(c *feed.Config) {
				c.CatchUpLag = 10
			}})
			ready.Done()
			r.waitFor("the primary's "+tc.reason+" counted", func() bool { return r.source("primary").Errors[tc.reason] > 0 })
			r.publish(300)
			r.caughtUp()
			if !r.source("backup").Up {
				t.Errorf("the backup is not up: %+v", r.feed.Status())
			}
			primary := r.source("primary")
			if tc.reason == "unknown_type" {
				if len(primary.Errors) != 1 || primary.State != "live" {
					t.Errorf("the primary was reset for a message it could skip: %+v", primary)
				}
				return
			}
			if primary.Up {
				t.Errorf("a misbehaving primary counts as up: %+v", primary)
			}
			if tc.reason == "logout" && !r.logs.has("feed source reset", "SessionStatus 5", "invalid password") {
				t.Error("the Logout's SessionStatus and Text were not logged")
			}
		})
	}
}
