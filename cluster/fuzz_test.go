package cluster

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// FuzzDecodeRecord: no input panics Apply, and a record Apply accepts
// leaves a state whose snapshot restores to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range stateRecords() {
		f.Add(r)
	}
	f.Add(groupOf(appendJournalRecord(nil, 'O', 1, []byte("a")), appendJournalRecord(nil, 'F', 2, nil)))
	f.Fuzz(func(t *testing.T, rec []byte) {
		s := NewState()
		if err := s.Apply(1, rec); err != nil {
			return
		}
		b, err := encodeState(s)
		if err != nil {
			t.Fatal(err)
		}
		r := NewState()
		if err := r.Restore(bytes.NewReader(b)); err != nil {
			t.Fatalf("snapshot after record %q does not restore: %v", rec, err)
		}
		if b2, _ := encodeState(r); !bytes.Equal(b, b2) {
			t.Fatal("restored snapshot differs")
		}
	})
}

// FuzzRestore: no input panics Restore or allocates beyond its size, and
// whatever it accepts snapshots back to the same bytes.
func FuzzRestore(f *testing.F) {
	s := NewState()
	empty, _ := encodeState(s)
	f.Add(empty)
	for _, r := range stateRecords() {
		s.Apply(s.AppliedIndex()+1, r)
		b, _ := encodeState(s)
		f.Add(b)
	}
	s.Apply(s.AppliedIndex()+1, groupOf(appendJournalRecord(nil, 'O', 3, []byte("b")), appendJournalRecord(nil, 'O', 4, []byte("c"))))
	grouped, _ := encodeState(s) // journal records sharing an index
	f.Add(grouped)
	f.Fuzz(func(t *testing.T, b []byte) {
		// As given, then with its checksum made right, so that the
		// fuzzer reaches the decoder behind the checksum.
		inputs := [][]byte{b}
		if len(b) >= 4 {
			fixed := bytes.Clone(b)
			binary.BigEndian.PutUint32(fixed[len(b)-4:], crc32.Checksum(fixed[:len(b)-4], castagnoli))
			inputs = append(inputs, fixed)
		}
		for _, in := range inputs {
			st := NewState()
			if err := st.Restore(bytes.NewReader(in)); err != nil {
				continue
			}
			b2, err := encodeState(st)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(in, b2) {
				t.Fatalf("accepted snapshot re-encodes differently:\n%x\n%x", in, b2)
			}
		}
	})
}
