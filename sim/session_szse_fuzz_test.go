package sim

import (
	"io"
	"net"
	"testing"
	"time"

	"sgw/feed/szse"
)

// FuzzSZSESession feeds arbitrary client bytes to an SZSE session and
// checks that it ends cleanly (no panic, no hang) when the client goes
// away.
func FuzzSZSESession(f *testing.F) {
	logon := logonFrame("GW", "MDGW", "pw", 5, "1.02")
	cat := func(frames ...[]byte) []byte {
		var b []byte
		for _, fr := range frames {
			b = append(b, fr...)
		}
		return b
	}
	f.Add(logon)
	f.Add(cat(logon, szse.AppendHeartbeat(nil)))
	f.Add(cat(logon, reTransmitFrame(szse.ResendTypeTick, DefaultSZSEChannel, 1, 0)))
	f.Add(cat(logon, reTransmitFrame(szse.ResendTypeTick, DefaultSZSEChannel, 2, 5), szse.AppendHeartbeat(nil), logoutFrame()))
	f.Add(cat(logon, reTransmitFrame(szse.ResendTypeNews, 1, -1, -9)))
	f.Add(cat(logon, logon))
	f.Add(cat(logon, corrupt(szse.AppendHeartbeat(nil))))
	f.Add(cat(logon, unknownFrame()))
	f.Add(szse.AppendHeartbeat(nil))
	f.Add([]byte{0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff})
	cfg := szseTestConfig()
	cfg.LoginTimeout = time.Second
	cfg.ClientTimeout = time.Second
	s, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	if err := s.Step(50); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cli, srv := net.Pipe()
		c := newSZSEConn(s.szs, s.srv[SZSEPrimary], srv)
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.serve()
		}()
		go io.Copy(io.Discard, cli)
		cli.SetWriteDeadline(time.Now().Add(ioTimeout))
		cli.Write(data)
		cli.Close()
		<-done
	})
}
