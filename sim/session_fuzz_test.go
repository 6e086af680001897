package sim

import (
	"io"
	"net"
	"testing"
	"time"

	"sgw/feed/soupbin"
)

// FuzzSession feeds arbitrary client bytes to a session and checks that it
// ends cleanly (no panic, no hang) when the client goes away.
func FuzzSession(f *testing.F) {
	login := mustLogin(f)
	f.Add(login)
	f.Add(append(append([]byte(nil), login...), soupbin.AppendClientHeartbeat(nil)...))
	f.Add(append(append([]byte(nil), login...), soupbin.AppendLogoutRequest(nil)...))
	f.Add(append(append([]byte(nil), login...), login...))
	f.Add(soupbin.AppendClientHeartbeat(nil))
	f.Add([]byte{0, 0})
	f.Add([]byte{0xff, 0xff, 'L'})
	cfg := testConfig()
	cfg.LoginTimeout = time.Second
	cfg.ClientTimeout = time.Second
	s, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		cli, srv := net.Pipe()
		c := newConn(&s.feedServer, s.srv[Primary], srv)
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

func BenchmarkStep(b *testing.B) {
	s, err := New(testConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Step(1); err != nil {
			b.Fatal(err)
		}
	}
}
