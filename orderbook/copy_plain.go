//go:build !race && amd64

package orderbook

import "unsafe"

// The copies between the writer and the readers of published data
// (seqlocked views and ring slots). They race with each other by design: a
// reader may copy while the writer rewrites, and the seqlock version or
// slot sequence read afterwards tells it to discard the copy. On amd64
// stores become visible in program order and loads are not reordered with
// other loads, and the Go compiler does not move plain memory operations
// across the sync/atomic operations that bracket these copies, so plain
// copies suffice. The race detector would report them, and weaker memory
// models need ordered accesses, so those builds use copy_atomic.go.

// loadWords copies n 8-byte words from published memory src to dst.
func loadWords(dst, src unsafe.Pointer, n uintptr) {
	copy(unsafe.Slice((*uint64)(dst), n), unsafe.Slice((*uint64)(src), n))
}

// storeWords copies n 8-byte words from src to published memory dst.
func storeWords(dst, src unsafe.Pointer, n uintptr) {
	copy(unsafe.Slice((*uint64)(dst), n), unsafe.Slice((*uint64)(src), n))
}

// storeLevel writes one published level.
func storeLevel(dst *Level, l Level) { *dst = l }
