package orderbook

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

func TestLayout(t *testing.T) {
	tests := []struct {
		name      string
		size      uintptr
		want      uintptr // exact size, or 0 for any multiple of 8
		alignedTo uintptr
	}{
		{name: "Level", size: unsafe.Sizeof(Level{})},
		{name: "Update", size: unsafe.Sizeof(Update{})},
		{name: "topData", size: unsafe.Sizeof(topData{})},
		{name: "viewBook", size: unsafe.Sizeof(viewBook{})},
		{name: "viewTrades", size: unsafe.Sizeof(viewTrades{})},
		{name: "topSlot", size: unsafe.Sizeof(topSlot{}), want: 64},
		{name: "viewSlot", size: unsafe.Sizeof(viewSlot{}), want: 64},
		{name: "viewBuf", size: unsafe.Sizeof(viewBuf{}), want: 128},
		{name: "ringSlot", size: unsafe.Sizeof(ringSlot{}), want: 256},
		{name: "qslot", size: unsafe.Sizeof(qslot{}), want: 64},
		{name: "8 levels", size: 8 * unsafe.Sizeof(Level{}), want: 3 * cacheLine},
	}
	for _, tc := range tests {
		if tc.size%8 != 0 || (tc.want != 0 && tc.size != tc.want) {
			t.Errorf("%s: %d bytes, want %d (a multiple of 8)", tc.name, tc.size, tc.want)
		}
	}
	for _, n := range []int{1, 3, 100} {
		s := alignedSlice[topSlot](n)
		if len(s) != n || uintptr(unsafe.Pointer(&s[0]))%cacheLine != 0 {
			t.Errorf("alignedSlice(%d) not aligned", n)
		}
	}
}

func TestOrderTable(t *testing.T) {
	tab := newOrderTable(4)
	ref := map[uint64]int32{}
	rng := rand.New(rand.NewPCG(1, 1))
	keys := []uint64{}
	for i := range 200000 {
		if len(keys) > 0 && rng.IntN(100) < 48 {
			j := rng.IntN(len(keys))
			k := keys[j]
			keys[j] = keys[len(keys)-1]
			keys = keys[:len(keys)-1]
			if !tab.del(k) {
				t.Fatalf("del %d: missing", k)
			}
			delete(ref, k)
			continue
		}
		k := uint64(i)*7 + uint64(rng.IntN(7))
		if rng.IntN(10) == 0 {
			k = rng.Uint64()
		}
		if _, dup := ref[k]; dup {
			continue
		}
		tab.put(k, int32(i))
		ref[k] = int32(i)
		keys = append(keys, k)
	}
	if tab.n != len(ref) {
		t.Fatalf("%d entries, want %d", tab.n, len(ref))
	}
	for k, v := range ref {
		if got, ok := tab.get(k); !ok || got != v {
			t.Fatalf("get(%d) = %d, %v; want %d", k, got, ok, v)
		}
	}
	if _, ok := tab.get(1 << 62); ok || tab.del(1<<62) {
		t.Fatal("absent key found")
	}
}
