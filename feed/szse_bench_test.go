package feed

import (
	"testing"
	"time"

	"sgw/feed/szse"
)

// BenchmarkSZSEArbiter measures what an SZSE feed does per record between
// the read buffer and the sink in steady state: framing and decode
// (checksum included) and per-channel arbitration. One op is one record:
// from the primary alone, or from both sources (one delivery and one
// duplicate). The sink discards. Every 4096 records the channel and the
// sources' streams are rewound, outside any record's work.
func BenchmarkSZSEArbiter(b *testing.B) {
	const batch = 4096
	var frames [][]byte
	for seq := int64(1); seq <= batch; seq++ {
		frames = append(frames, record(2011, seq))
	}
	for _, bc := range []struct {
		name string
		srcs []int
	}{
		{name: "primary", srcs: []int{Primary}},
		{name: "primary+backup", srcs: []int{Primary, Backup}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			fd, err := NewSZSE(Config{Name: "bench", Primary: SourceConfig{Addr: "127.0.0.1:1"}, Backup: SourceConfig{Addr: "127.0.0.1:2"}}, nopSink{}, nil)
			if err != nil {
				b.Fatal(err)
			}
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
					if n, serr := ss.consume(frames[i], now); serr != nil || n != len(frames[i]) {
						b.Fatalf("record %d: consumed %d, %v", i+1, n, serr)
					}
				}
				i++
			}
			if st := fd.Status(); st.SinkErrors != 0 || st.Overflow != 0 {
				b.Fatalf("status %+v", st)
			}
		})
	}
}

// nopSink discards what the feed delivers.
type nopSink struct{}

func (nopSink) ApplySZSE(*szse.Message, int64) error { return nil }
func (nopSink) ResetChannel(uint16) error            { return nil }
func (nopSink) ChannelLive(uint16) error             { return nil }
