package gateway

import (
	"testing"

	"sgw/orderbook"
)

// TestChecksumAt: the checksum a resume from each seq the history covers
// must match is the book's after that seq's update, for both depths'
// checksums, from an empty history to a full one that has dropped its
// oldest updates many times over.
func TestChecksumAt(t *testing.T) {
	ck := func(seq uint64) (uint32, uint32) { return uint32(1000 + seq), uint32(5000 + seq) }
	for _, size := range []int{1, 2, 4, 7} {
		s := &symState{hist: make([]orderbook.Update, size)}
		s.seq = 10
		s.ck10, s.ck5 = ck(10)
		s.clearHistory()
		for s.seq < 40 {
			for seq := s.seq - uint64(s.histLen); seq <= s.seq; seq++ {
				w10, w5 := ck(seq)
				if g10, g5 := s.checksumAt(seq, 10), s.checksumAt(seq, 5); g10 != w10 || g5 != w5 {
					t.Fatalf("history of %d at seq %d (%d held): checksums at %d are %d/%d, want %d/%d",
						size, s.seq, s.histLen, seq, g10, g5, w10, w5)
				}
			}
			u := orderbook.Update{Seq: s.seq + 1}
			u.Checksum, u.Checksum5 = ck(u.Seq)
			s.seq, s.ck10, s.ck5 = u.Seq, u.Checksum, u.Checksum5
			s.remember(&u)
		}
	}
}
