package pickle

import (
	"bytes"
	"crypto/cipher"
	"crypto/subtle"
	"sync"
	"sync/atomic"

	"github.com/sicher-go/sicher/internal/aessha2"
)

// A process pickles and unpickles under one or two keys, over and over:
// every Olm decryption through a store loads and saves a session, every
// room event loads an inbound group session. What a key determines is
// therefore computed once and kept: for libolm's envelope the HKDF
// expansion, the AES key schedule and the HMAC pad states; for the own
// format the AES-GCM instance. The caches hold the last few keys (the key
// and what it derives stay in memory as long as an entry does, as they do
// in the caller that passes the key on every call), and a lookup compares
// keys in constant time. Entries are never modified once made, and the
// cipher.Block and cipher.AEAD in them are read-only, so concurrent calls
// share them.

// cacheSize is the number of keys each cache remembers.
const cacheSize = 4

type libolmEntry struct {
	key  []byte
	keys *aessha2.Prepared
}

type ownEntry struct {
	key  [KeySize]byte
	aead cipher.AEAD
}

var (
	libolmCache [cacheSize]atomic.Pointer[libolmEntry]
	ownCache    [cacheSize]atomic.Pointer[ownEntry]
	libolmNext  atomic.Uint32
	ownNext     atomic.Uint32
)

// libolmKeys returns the prepared envelope keys of a libolm pickle key.
func libolmKeys(key []byte) *aessha2.Prepared {
	for i := range libolmCache {
		if e := libolmCache[i].Load(); e != nil && len(e.key) == len(key) && subtle.ConstantTimeCompare(e.key, key) == 1 {
			return e.keys
		}
	}
	k := aessha2.Derive(key, aessha2.InfoPickle)
	e := &libolmEntry{key: bytes.Clone(key), keys: k.Prepare()}
	k = aessha2.Keys{}
	libolmCache[libolmNext.Add(1)%cacheSize].Store(e)
	return e.keys
}

// ownAEAD returns the AES-256-GCM instance of an own-format pickle key.
func ownAEAD(key *[KeySize]byte) cipher.AEAD {
	for i := range ownCache {
		if e := ownCache[i].Load(); e != nil && subtle.ConstantTimeCompare(e.key[:], key[:]) == 1 {
			return e.aead
		}
	}
	e := &ownEntry{key: *key, aead: newGCM(key)}
	ownCache[ownNext.Add(1)%cacheSize].Store(e)
	return e.aead
}

// Scratch buffers. Pickling builds the plaintext in a buffer that is
// encrypted in place and encoded; unpickling decodes into a buffer that is
// decrypted in place and parsed. Neither buffer outlives the call, so they
// come from pools of fixed-size arrays (a slice converts back to its array
// pointer without unsafe, so putting a buffer back allocates nothing) and
// are cleared before they go back. Larger buffers are allocated as needed.
var (
	pool512  = sync.Pool{New: func() any { return new([512]byte) }}
	pool2K   = sync.Pool{New: func() any { return new([2 << 10]byte) }}
	pool8K   = sync.Pool{New: func() any { return new([8 << 10]byte) }}
	pool32K  = sync.Pool{New: func() any { return new([32 << 10]byte) }}
	maxClass = 32 << 10
)

// scratch returns an empty buffer with a capacity of at least n.
func scratch(n int) []byte {
	switch {
	case n <= 512:
		return pool512.Get().(*[512]byte)[:0]
	case n <= 2<<10:
		return pool2K.Get().(*[2 << 10]byte)[:0]
	case n <= 8<<10:
		return pool8K.Get().(*[8 << 10]byte)[:0]
	case n <= maxClass:
		return pool32K.Get().(*[32 << 10]byte)[:0]
	}
	return make([]byte, 0, n)
}

// release clears the first used bytes of buf, a buffer from scratch (the
// rest is still clear), and returns it to its pool. A buffer of another
// capacity (one that outgrew its class) is cleared and left to the
// garbage collector.
func release(buf []byte, used int) {
	clear(buf[:used])
	switch cap(buf) {
	case 512:
		pool512.Put((*[512]byte)(buf[:512]))
	case 2 << 10:
		pool2K.Put((*[2 << 10]byte)(buf[:2<<10]))
	case 8 << 10:
		pool8K.Put((*[8 << 10]byte)(buf[:8<<10]))
	case 32 << 10:
		pool32K.Put((*[32 << 10]byte)(buf[:32<<10]))
	}
}
