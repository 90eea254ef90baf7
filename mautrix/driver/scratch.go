package driver

import "sync"

// maxScratch bounds the buffers kept for reuse. A Matrix event is at most
// 65,536 bytes (https://spec.matrix.org/v1.19/client-server-api/#size-limits),
// so every message of a real event fits.
const maxScratch = 1 << 17

// scratchPool holds buffers for the binary form of a message between
// base64 and sicher's API: a received message after decoding, a sent one
// before encoding. They only ever hold ciphertext, never a plaintext or a
// key, so reusing them leaks nothing.
var scratchPool = sync.Pool{New: func() any { return new([]byte) }}

// getScratch returns a buffer of length n from the pool.
func getScratch(n int) *[]byte {
	b := scratchPool.Get().(*[]byte)
	if cap(*b) < n {
		*b = make([]byte, n)
	}
	*b = (*b)[:n]
	return b
}

// putScratch returns b to the pool unless it is too large to keep.
func putScratch(b *[]byte) {
	if cap(*b) <= maxScratch {
		scratchPool.Put(b)
	}
}
