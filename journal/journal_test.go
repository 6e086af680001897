package journal

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	path := tempPath(t)
	var syncs, synced atomic.Int64
	j := mustOpen(t, Config{Path: path, OnSync: func(records, bytes int, took time.Duration) {
		syncs.Add(1)
		synced.Add(int64(records))
	}})
	if got := j.Recovered(); got != (Recovered{}) {
		t.Errorf("new file Recovered = %+v, want zero", got)
	}
	before := time.Now().UnixNano()
	for i := uint64(1); i <= 10; i++ {
		seq, err := j.Append(byte(i%7), testBody(i))
		if err != nil || seq != i {
			t.Fatalf("Append = %d, %v; want %d, nil", seq, err, i)
		}
	}
	after := time.Now().UnixNano()
	recs, err := collect(t, j.Replay)
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	checkTestRecords(t, recs, 10)
	for _, r := range recs {
		if r.Time < before || r.Time > after {
			t.Errorf("record %d Time %d outside [%d, %d]", r.Seq, r.Time, before, after)
		}
	}
	if syncs.Load() == 0 || synced.Load() != 10 {
		t.Errorf("OnSync saw %d records in %d calls, want 10 records", synced.Load(), syncs.Load())
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	recs, err = collect(t, func(fn func(Record) error) error { return ReadFile(path, fn) })
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	checkTestRecords(t, recs, 10)
}

func TestReopenContinuesSequence(t *testing.T) {
	path := tempPath(t)
	writeRecords(t, path, 5)
	j := mustOpen(t, Config{Path: path})
	if got, want := j.Recovered(), (Recovered{Records: 5}); got != want {
		t.Errorf("Recovered = %+v, want %+v", got, want)
	}
	if got := j.LastSeq(); got != 5 {
		t.Errorf("LastSeq = %d, want 5", got)
	}
	recs, err := collect(t, j.Replay)
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	checkTestRecords(t, recs, 5)
	if seq, err := j.Append(6%7, testBody(6)); err != nil || seq != 6 {
		t.Fatalf("Append after reopen = %d, %v; want 6, nil", seq, err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	writeRecords(t, path, 8)
	recs, err = collect(t, func(fn func(Record) error) error { return ReadFile(path, fn) })
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	checkTestRecords(t, recs, 8)
}

func TestConcurrentAppends(t *testing.T) {
	const goroutines, each = 16, 100
	path := tempPath(t)
	var syncs, synced atomic.Int64
	j := mustOpen(t, Config{Path: path, OnSync: func(records, bytes int, took time.Duration) {
		syncs.Add(1)
		synced.Add(int64(records))
	}})
	seqs := make([][]uint64, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				body := []byte{byte(g), byte(i)}
				seq, err := j.Append(byte(g), body)
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				body[0], body[1] = 0xEE, 0xEE // the journal must have copied it
				seqs[g] = append(seqs[g], seq)
			}
		})
	}
	// A replay running alongside the appends sees a dense durable prefix.
	wg.Go(func() {
		var last uint64
		if err := j.Replay(func(r Record) error {
			if r.Seq != last+1 {
				t.Errorf("concurrent Replay: seq %d after %d", r.Seq, last)
			}
			last = r.Seq
			return nil
		}); err != nil {
			t.Errorf("concurrent Replay: %v", err)
		}
	})
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// Each goroutine's sequence numbers increase; together they are 1..N.
	var all []uint64
	for g, s := range seqs {
		if !slices.IsSorted(s) {
			t.Errorf("goroutine %d got decreasing sequence numbers", g)
		}
		all = append(all, s...)
	}
	slices.Sort(all)
	for i, s := range all {
		if s != uint64(i+1) {
			t.Fatalf("sorted sequence numbers[%d] = %d, want %d", i, s, i+1)
		}
	}
	if synced.Load() != goroutines*each {
		t.Errorf("OnSync counted %d records, want %d", synced.Load(), goroutines*each)
	}
	t.Logf("%d records in %d fsyncs (%.1f per fsync)", synced.Load(), syncs.Load(), float64(synced.Load())/float64(syncs.Load()))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened, every record is there with the body its sequence number
	// was returned for.
	bySeq := make(map[uint64][2]byte)
	for g, s := range seqs {
		for i, seq := range s {
			bySeq[seq] = [2]byte{byte(g), byte(i)}
		}
	}
	j = mustOpen(t, Config{Path: path})
	defer j.Close()
	n := 0
	if err := j.Replay(func(r Record) error {
		want := bySeq[r.Seq]
		if r.Type != want[0] || !bytes.Equal(r.Body, want[:]) {
			t.Errorf("record %d = type %d body %v, want type %d body %v", r.Seq, r.Type, r.Body, want[0], want[:])
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != goroutines*each {
		t.Errorf("replayed %d records, want %d", n, goroutines*each)
	}
}

func TestAppendAsync(t *testing.T) {
	path := tempPath(t)
	j := mustOpen(t, Config{Path: path})
	const n = 50
	var mu sync.Mutex
	var got []uint64
	var wg sync.WaitGroup
	wg.Add(n)
	body := make([]byte, 8)
	for i := range n {
		copy(body, testBody(uint64(i+1))) // reused: AppendAsync must copy
		if err := j.AppendAsync(1, body, func(seq uint64, err error) {
			defer wg.Done()
			if err != nil {
				t.Errorf("done(%d, %v)", seq, err)
			}
			if d := j.durable.Load(); d < headerSize+int64(seq)*int64(minFrameSize+len(body)) {
				t.Errorf("done(%d) before the record was durable (durable end %d)", seq, d)
			}
			mu.Lock()
			got = append(got, seq)
			mu.Unlock()
		}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i, s := range got {
		if s != uint64(i+1) {
			t.Fatalf("callbacks in order %v, want 1..%d", got, n)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := collect(t, func(fn func(Record) error) error { return ReadFile(path, fn) })
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if want := testBody(uint64(i + 1))[:8]; !bytes.Equal(r.Body, want) {
			t.Fatalf("record %d body %q, want %q", r.Seq, r.Body, want)
		}
	}
}

func TestTooLarge(t *testing.T) {
	j := mustOpen(t, Config{Path: tempPath(t), MaxRecord: 100})
	defer j.Close()
	if _, err := j.Append(1, make([]byte, 101)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Append(101 bytes) err = %v, want ErrTooLarge", err)
	}
	if err := j.AppendAsync(1, make([]byte, 101), func(uint64, error) { t.Error("callback for a refused record") }); !errors.Is(err, ErrTooLarge) {
		t.Errorf("AppendAsync(101 bytes) err = %v, want ErrTooLarge", err)
	}
	// Refused records use no sequence number.
	if seq, err := j.Append(1, make([]byte, 100)); err != nil || seq != 1 {
		t.Errorf("Append(100 bytes) = %d, %v; want 1, nil", seq, err)
	}
	if seq, err := j.Append(1, nil); err != nil || seq != 2 {
		t.Errorf("Append(empty body) = %d, %v; want 2, nil", seq, err)
	}
}

func TestDefaultMaxRecord(t *testing.T) {
	j := mustOpen(t, Config{Path: tempPath(t), NoSync: true})
	defer j.Close()
	if _, err := j.Append(1, make([]byte, DefaultMaxRecord)); err != nil {
		t.Errorf("Append(DefaultMaxRecord bytes): %v", err)
	}
	if _, err := j.Append(1, make([]byte, DefaultMaxRecord+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Append(DefaultMaxRecord+1 bytes) err = %v, want ErrTooLarge", err)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir() + "/j"
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "no path", cfg: Config{}},
		{name: "negative MaxRecord", cfg: Config{Path: dir, MaxRecord: -1}},
		{name: "MaxRecord above limit", cfg: Config{Path: dir, MaxRecord: MaxRecordLimit + 1}},
		{name: "negative CommitInterval", cfg: Config{Path: dir, CommitInterval: -time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Open(tt.cfg); !errors.Is(err, ErrConfig) {
				t.Errorf("Open err = %v, want ErrConfig", err)
			}
		})
	}
}

func TestLocked(t *testing.T) {
	path := tempPath(t)
	j := mustOpen(t, Config{Path: path})
	if _, err := Open(Config{Path: path}); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open err = %v, want ErrLocked", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = mustOpen(t, Config{Path: path}) // the lock went with Close
	j.Close()
}

func TestClose(t *testing.T) {
	path := tempPath(t)
	j := mustOpen(t, Config{Path: path})
	if _, err := j.Append(1, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := j.Append(1, []byte("b")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close err = %v, want ErrClosed", err)
	}
	if err := j.AppendAsync(1, []byte("c"), func(uint64, error) { t.Error("callback after Close") }); !errors.Is(err, ErrClosed) {
		t.Errorf("AppendAsync after Close err = %v, want ErrClosed", err)
	}
	if err := j.Replay(func(Record) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Replay after Close err = %v, want ErrClosed", err)
	}
	if err := j.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close err = %v, want ErrClosed", err)
	}
}

// TestCloseCommitsPending checks that Close commits appends still waiting
// out a long CommitInterval and releases their callers first.
func TestCloseCommitsPending(t *testing.T) {
	path := tempPath(t)
	var synced atomic.Int64
	j := mustOpen(t, Config{Path: path, CommitInterval: time.Hour, OnSync: func(records, bytes int, took time.Duration) {
		synced.Add(int64(records))
	}})
	const blocking, async = 8, 40
	var wg sync.WaitGroup
	for range blocking {
		wg.Go(func() {
			if _, err := j.Append(1, []byte("blocking")); err != nil {
				t.Errorf("Append: %v", err)
			}
		})
	}
	var done atomic.Int64
	for range async {
		if err := j.AppendAsync(2, []byte("async"), func(_ uint64, err error) {
			if err != nil {
				t.Errorf("AppendAsync done: %v", err)
			}
			done.Add(1)
		}); err != nil {
			t.Fatal(err)
		}
	}
	for j.LastSeq() < blocking+async { // wait until the blocking appends are queued
		time.Sleep(time.Millisecond)
	}
	if synced.Load() != 0 {
		t.Fatalf("%d records committed before Close with CommitInterval 1h", synced.Load())
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if done.Load() != async {
		t.Errorf("Close returned with %d of %d AppendAsync callbacks made", done.Load(), async)
	}
	wg.Wait()
	n := 0
	if err := ReadFile(path, func(Record) error { n++; return nil }); err != nil || n != blocking+async {
		t.Errorf("file holds %d records (err %v), want %d", n, err, blocking+async)
	}
}

// TestCommitIntervalFlushesFullBatch checks that a batch passing flushBytes
// is committed without waiting out the CommitInterval.
func TestCommitIntervalFlushesFullBatch(t *testing.T) {
	j := mustOpen(t, Config{Path: tempPath(t), CommitInterval: time.Hour, NoSync: true})
	defer j.Close()
	body := make([]byte, DefaultMaxRecord)
	// Exactly as many records as make the batch pass flushBytes: a record
	// after that one would open the next batch, which waits out the hour.
	frame := minFrameSize + len(body)
	n := (flushBytes + frame - 1) / frame
	done := make(chan error, n)
	for range n {
		if err := j.AppendAsync(1, body, func(_ uint64, err error) { done <- err }); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a full batch was not committed")
		}
	}
}

func TestReplayStopsOnCallbackError(t *testing.T) {
	path := tempPath(t)
	writeRecords(t, path, 5)
	j := mustOpen(t, Config{Path: path})
	defer j.Close()
	stop := errors.New("stop")
	n := 0
	err := j.Replay(func(r Record) error {
		n++
		if r.Seq == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Errorf("Replay = %v after %d records, want stop after 3", err, n)
	}
}

// TestShortCommitInterval checks that a batch waiting out a short
// CommitInterval is committed and released.
func TestShortCommitInterval(t *testing.T) {
	path := tempPath(t)
	j := mustOpen(t, Config{Path: path, CommitInterval: time.Millisecond})
	for i := uint64(1); i <= 3; i++ {
		if _, err := j.Append(byte(i%7), testBody(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := collect(t, func(fn func(Record) error) error { return ReadFile(path, fn) })
	if err != nil {
		t.Fatal(err)
	}
	checkTestRecords(t, recs, 3)
}
