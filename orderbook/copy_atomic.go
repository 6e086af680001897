//go:build race || !amd64

package orderbook

import (
	"sync/atomic"
	"unsafe"
)

// The copies between the writer and the readers of published data
// (seqlocked views and ring slots), done one word at a time with
// sync/atomic. The copies race by design (the seqlock version or slot
// sequence read afterwards tells a reader to discard a torn copy). Plain
// copies would be reported by the race detector, and on CPUs weaker than
// x86-TSO they could be reordered around the version checks; atomic words
// are sequentially consistent in Go's memory model, which makes the
// seqlock correct everywhere. copy_plain.go has the fast amd64 version.

// loadWords copies n 8-byte words from published memory src to dst.
func loadWords(dst, src unsafe.Pointer, n uintptr) {
	d := unsafe.Slice((*uint64)(dst), n)
	s := unsafe.Slice((*uint64)(src), n)
	for i := range d {
		d[i] = atomic.LoadUint64(&s[i])
	}
}

// storeWords copies n 8-byte words from src to published memory dst.
func storeWords(dst, src unsafe.Pointer, n uintptr) {
	d := unsafe.Slice((*uint64)(dst), n)
	s := unsafe.Slice((*uint64)(src), n)
	for i := range d {
		atomic.StoreUint64(&d[i], s[i])
	}
}

// storeLevel writes one published level.
func storeLevel(dst *Level, l Level) {
	storeWords(unsafe.Pointer(dst), unsafe.Pointer(&l), levelWords)
}
