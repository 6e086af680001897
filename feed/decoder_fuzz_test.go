package feed

import (
	"testing"

	"sgw/orderbook"
)

// Operations of FuzzITCHDecodeApply's input: each is an op byte, and for
// opApply a length byte and that many bytes of an ITCH message.
const (
	opApply = iota
	opRestart
	opReplay // Replay(the next byte)
	opRebuilt
	opCount
)

// FuzzITCHDecodeApply feeds arbitrary ITCH messages, among the Restarts,
// Replays and Rebuilts of rebuilds, through the ITCH decoder into books:
// whatever the messages say (locates no directory mapped, directories
// again or of stocks not carried, timestamps out of order, executions
// repeated), nothing panics, every book keeps its invariants, and none
// that holds anything is valid between a Restart and its Rebuilt. Seeded
// with a day of two instruments, one's directory missed, and its
// rebuilds.
func FuzzITCHDecodeApply(f *testing.F) {
	day, dir2 := directoryDay(f)
	frame := func(ops []byte, msgs [][]byte) []byte {
		for _, m := range msgs {
			ops = append(append(ops, opApply, byte(len(m))), m...)
		}
		return ops
	}
	f.Add(frame(nil, day))
	missed := frame(nil, without(day, dir2))
	f.Add(frame(append(append(missed, opRestart), opReplay, byte(len(day))), day))
	f.Add(frame(append(append(frame(append(missed, opRestart, opReplay, 3), day[:3]), opRestart), opReplay, byte(len(day))), day))
	f.Add(frame([]byte{opRestart}, day)) // each directory first maps its instrument in a rebuild
	f.Fuzz(func(t *testing.T, data []byte) {
		sink := newBooksSink(t)
		d := NewITCHDecoder(twoSymbols{}, sink)
		for len(data) > 0 {
			op := data[0] % opCount
			data = data[1:]
			switch op {
			case opApply:
				if len(data) == 0 || int(data[0]) > len(data)-1 {
					return
				}
				n := int(data[0])
				_ = d.Apply(data[1:1+n], 0) // an error is an answer, not a failure
				data = data[1+n:]
			case opRestart:
				if err := d.Restart(); err != nil {
					t.Fatal(err)
				}
			case opReplay:
				if len(data) == 0 {
					return
				}
				d.Replay(uint64(data[0]))
				data = data[1:]
			case opRebuilt:
				if err := d.Rebuilt(); err != nil {
					t.Fatal(err)
				}
			}
			for i, b := range sink.books {
				if d.restarted && !b.b.Stale() && (b.b.Orders() != 0 || b.b.Volume() != 0) {
					t.Fatalf("book %d built in a rebuild's middle served valid", i)
				}
				for _, side := range []orderbook.Side{orderbook.Bid, orderbook.Ask} {
					for _, l := range b.b.Depth(side, 50, nil) {
						if l.Qty <= 0 || l.Orders <= 0 || l.Price <= 0 {
							t.Fatalf("%s level %+v", side, l)
						}
					}
				}
			}
		}
	})
}
