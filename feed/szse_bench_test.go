package feed

import (
	"testing"
	"time"

	"sgw/feed/capture"
	"sgw/feed/szse"
)

// BenchmarkSZSEArbiter measures what an SZSE feed does per record between
// the read buffer and the sink in steady state (records dated, as real
// ones are): framing and decode
// (checksum included) and per-channel arbitration. One op is one record:
// from the primary alone, or from both sources (one delivery and one
// duplicate), and from the primary with capture on (each record recorded
// raw, as if read alone, and in the arbitrated stream, by the recorder's
// writer to a temporary directory meanwhile). The sink discards. Every
// 4096 records the channel and the sources' streams are rewound, outside
// any record's work.
func BenchmarkSZSEArbiter(b *testing.B) {
	const batch = 4096
	var frames [][]byte
	for seq := int64(1); seq <= batch; seq++ {
		frames = append(frames, datedRecord(2011, seq, 20261204))
	}
	for _, bc := range []struct {
		name    string
		srcs    []int
		capture bool
	}{
		{name: "primary", srcs: []int{Primary}},
		{name: "primary+backup", srcs: []int{Primary, Backup}},
		{name: "primary+capture", srcs: []int{Primary}, capture: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := Config{Name: "bench", Primary: SourceConfig{Addr: "127.0.0.1:1"}, Backup: SourceConfig{Addr: "127.0.0.1:2"}}
			if bc.capture {
				cfg.Capture = capture.Config{Dir: b.TempDir(), MaxFileBytes: 64 << 20, MaxFiles: 2}
			}
			fd, err := NewSZSE(cfg, nopSink{}, nil)
			if err != nil {
				b.Fatal(err)
			}
			fd.rec.Start()
			defer func() {
				if err := fd.rec.Close(); err != nil {
					b.Error(err)
				}
			}()
			var sessions []*szseSession
			for _, i := range bc.srcs {
				ss := &szseSession{s: fd.srcs[i]}
				if _, serr := ss.consume(szse.AppendLogon(nil, &szse.Logon{}), time.Now()); serr != nil || !ss.loggedOn {
					b.Fatalf("logon: %v", serr)
				}
				sessions = append(sessions, ss)
			}
			now := time.Now()
			rewind := func() {
				for _, i := range bc.srcs {
					fd.arb.SourceLive(i)
				}
				for _, ch := range fd.arb.channels() {
					ch.next.Store(1)
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i == batch {
					rewind()
					i = 0
				}
				for _, ss := range sessions {
					fd.rec.Raw(uint8(ss.s.idx), now.UnixNano(), frames[i])
					if n, serr := ss.consume(frames[i], now); serr != nil || n != len(frames[i]) {
						b.Fatalf("record %d: consumed %d, %v", i+1, n, serr)
					}
				}
				i++
			}
			b.StopTimer()
			if st := fd.Status(); st.SinkErrors != 0 || st.Overflow != 0 {
				b.Fatalf("status %+v", st)
			}
			if bc.capture {
				if err := fd.rec.Close(); err != nil {
					b.Fatal(err)
				}
				st := fd.rec.Stats()
				var dropped uint64
				for _, n := range st.Dropped {
					dropped += n
				}
				b.ReportMetric(float64(dropped)/float64(dropped+st.Records), "dropped/record")
			}
		})
	}
}

// nopSink discards what the feed delivers.
type nopSink struct{}

func (nopSink) ApplySZSE(*szse.Message, int64) error { return nil }
func (nopSink) ResetChannel(uint16) error            { return nil }
func (nopSink) ChannelLive(uint16) error             { return nil }
