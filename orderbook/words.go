package orderbook

import "unsafe"

// Sizes in 8-byte words of the values copied by loadWords and storeWords.
// Each type is a multiple of 8 bytes (checked in words_test.go).
const (
	levelWords  = unsafe.Sizeof(Level{}) / 8
	updateWords = unsafe.Sizeof(Update{}) / 8
	topWords    = unsafe.Sizeof(topData{}) / 8
	bookWords   = unsafe.Sizeof(viewBook{}) / 8
	tradesWords = unsafe.Sizeof(viewTrades{}) / 8
)

// loadLevels copies published levels src into dst (len(dst) levels).
func loadLevels(dst, src []Level) {
	if len(dst) > 0 {
		loadWords(unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), uintptr(len(dst))*levelWords)
	}
}

// alignedSlice returns n zero values of T starting on a 64-byte boundary,
// so that per-symbol published slots whose size is a multiple of 64 bytes
// each own whole cache lines. T must not contain pointers: the memory is
// allocated as bytes, which the garbage collector does not scan (the
// returned slice still keeps it alive).
func alignedSlice[T any](n int) []T {
	var zero T
	size := unsafe.Sizeof(zero)
	raw := make([]byte, uintptr(n)*size+cacheLine)
	p := unsafe.Pointer(unsafe.SliceData(raw))
	p = unsafe.Add(p, (cacheLine-uintptr(p)%cacheLine)%cacheLine)
	return unsafe.Slice((*T)(p), n)
}

const cacheLine = 64
