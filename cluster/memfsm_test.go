package cluster

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"sync"
	"testing"
	"time"
)

// memFSM is an in-memory StateMachine: the records applied, in order.
type memFSM struct {
	mu       sync.Mutex
	records  []string
	last     uint64
	restores int
	changed  chan struct{} // closed and replaced on every change
}

var _ StateMachine = (*memFSM)(nil)

func newMemFSM() *memFSM { return &memFSM{changed: make(chan struct{})} }

func (m *memFSM) Apply(index uint64, record []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records = append(m.records, string(record))
	m.last = index
	m.signal()
	return nil
}

// signal wakes waiters. m.mu must be held.
func (m *memFSM) signal() {
	close(m.changed)
	m.changed = make(chan struct{})
}

type memSnapshot struct {
	Records []string
	Last    uint64
}

func (m *memFSM) Snapshot() (io.WriterTo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := json.Marshal(memSnapshot{Records: m.records, Last: m.last})
	return bytes.NewReader(b), err
}

func (m *memFSM) Restore(r io.Reader) error {
	var s memSnapshot
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records, m.last = s.Records, s.Last
	m.restores++
	m.signal()
	return nil
}

// snapshot returns a copy of the applied records and the restore count.
func (m *memFSM) state() ([]string, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.records), m.restores
}

// waitLen waits, on change notifications, until at least n records are
// applied, and returns them.
func (m *memFSM) waitLen(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.NewTimer(waitDeadline)
	defer deadline.Stop()
	for {
		m.mu.Lock()
		got, ch := len(m.records), m.changed
		m.mu.Unlock()
		if got >= n {
			recs, _ := m.state()
			return recs
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("fsm has %d records after %v, want %d", got, waitDeadline, n)
		}
	}
}
