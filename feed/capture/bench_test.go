package capture

import "testing"

// BenchmarkRecorderMessage measures Recorder.Message, what the arbiter
// pays per delivered message with capture on: a leaf lock, a copy into the
// queued batch and, once per 64 KiB, a hand-off to the writer goroutine,
// which writes to a temporary directory meanwhile. It reports the share
// of records dropped because the writer fell behind.
func BenchmarkRecorderMessage(b *testing.B) {
	benchRecorder(b, func(r *Recorder, i uint64, msg []byte) { r.Message(Primary, i, int64(i), msg) }, 36)
}

// BenchmarkRecorderRaw measures Recorder.Raw for a 1,500-byte read of a
// source's connection.
func BenchmarkRecorderRaw(b *testing.B) {
	benchRecorder(b, func(r *Recorder, i uint64, data []byte) { r.Raw(Primary, int64(i), data) }, 1500)
}

func benchRecorder(b *testing.B, rec func(*Recorder, uint64, []byte), size int) {
	r, err := New(Config{Dir: b.TempDir(), MaxFileBytes: 64 << 20, MaxFiles: 2}, "bench", "itch", nil)
	if err != nil {
		b.Fatal(err)
	}
	r.Start()
	data := make([]byte, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	i := uint64(0)
	for b.Loop() {
		i++
		rec(r, i, data)
	}
	b.StopTimer()
	if err := r.Close(); err != nil {
		b.Fatal(err)
	}
	st := r.Stats()
	var dropped uint64
	for _, n := range st.Dropped {
		dropped += n
	}
	b.ReportMetric(float64(dropped)/float64(dropped+st.Records), "dropped/record")
}
