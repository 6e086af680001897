package feed

import (
	"testing"
	"time"

	"sgw/feed/capture"
	"sgw/feed/itch"
	"sgw/feed/soupbin"
)

// soupStream returns n Sequenced Data packets carrying ITCH add orders
// numbered from 1, as a source sends them.
func soupStream(b *testing.B, n int) []byte {
	var out []byte
	m := itch.Message{Type: itch.TypeAddOrder, StockLocate: 1, Timestamp: 34200000000000, Side: 'B', Shares: 100, Price: 17000000}
	m.Stock, _ = itch.StockOf("600519")
	for i := 1; i <= n; i++ {
		m.TrackingNumber, m.OrderRef = uint16(i), uint64(i)
		msg, err := itch.Append(nil, &m)
		if err != nil {
			b.Fatal(err)
		}
		out = soupbin.AppendSequenced(out, msg)
	}
	return out
}

// BenchmarkIngest measures what a feed does per message between the socket
// buffer and the books: SoupBinTCP framing, the tracking-number check and
// arbitration, with both sources delivering every message (so half the
// messages are duplicates). The sink discards.
func BenchmarkIngest(b *testing.B) { benchIngest(b, capture.Config{}) }

// BenchmarkIngestCapture is BenchmarkIngest with capture on (both
// sources' raw bytes and the arbitrated stream, written to a temporary
// directory by the recorder's writer goroutine): the difference is the
// capture's cost on the ingest goroutine. It reports the share of records
// dropped because the writer fell behind (0: everything was written).
func BenchmarkIngestCapture(b *testing.B) {
	benchIngest(b, capture.Config{Dir: b.TempDir(), MaxFileBytes: 64 << 20, MaxFiles: 2})
}

func benchIngest(b *testing.B, cc capture.Config) {
	const batch = 4096
	stream := soupStream(b, batch)
	fd, err := New(Config{Name: "bench", Primary: SourceConfig{Addr: "127.0.0.1:1"}, Backup: SourceConfig{Addr: "127.0.0.1:2"}, Capture: cc}, discardSink{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	fd.rec.Start()
	login := func(s *source) uint64 {
		s.state = stateDialing
		s.onOpen(s.gen, &nopLink{})
		s.onData(s.gen, soupbin.AppendLoginAccepted(nil, "SIM", s.asked), time.Now()) // accepted where asked
		return s.gen
	}
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	msgs := 0
	for b.Loop() {
		// Each round replays the same packets with fresh sequence numbers:
		// log both sources in again at the arbiter's next sequence.
		for _, s := range fd.srcs {
			gen := login(s)
			s.pos = fd.arb.Next()
			fd.arb.SourceLive(s.idx, s.pos)
			rebase(stream, s.pos)
			if used, closed := s.onData(gen, stream, now); closed || used != len(stream) {
				b.Fatalf("used %d of %d, closed %v: %+v", used, len(stream), closed, s.errs.snapshot())
			}
		}
		msgs += batch
	}
	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(msgs), "ns/msg")
	b.StopTimer()
	if fd.rec != nil {
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
}

// rebase rewrites the tracking numbers of a packet stream to start at seq.
func rebase(stream []byte, seq uint64) {
	for i := 0; i < len(stream); {
		n := int(stream[i])<<8 | int(stream[i+1])
		p := stream[i+3 : i+2+n]
		p[3], p[4] = byte(seq>>8), byte(seq)
		seq++
		i += 2 + n
	}
}
