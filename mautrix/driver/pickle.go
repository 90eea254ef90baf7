package driver

import (
	"crypto/subtle"
	"sync/atomic"
	"unsafe"

	sicherolm "github.com/sicher-go/sicher/olm"
	"maunium.net/go/mautrix/crypto/olm"
)

// derivedKey is a pickle key of mautrix's and the key for sicher's own
// format derived from it. Both are secret.
type derivedKey struct {
	secret []byte
	key    [sicherolm.PickleKeySize]byte
}

// derivedKeys caches the pickle keys derived last. A mautrix store pickles
// every object under one key, so deriving it once (HKDF-SHA-256: two
// HMAC computations and their allocations) serves every Pickle and
// Unpickle; a few slots keep a second store in the same process, or
// mautrix's one-off pickle of the account under "tmp", from evicting it.
var (
	derivedKeys [4]atomic.Pointer[derivedKey]
	nextSlot    atomic.Uint32
)

// pickleKey returns the key for sicher's own format derived from
// mautrix's pickle key k. The result is shared: callers only read it.
func pickleKey(k []byte) *[sicherolm.PickleKeySize]byte {
	for i := range derivedKeys {
		if d := derivedKeys[i].Load(); d != nil && subtle.ConstantTimeCompare(d.secret, k) == 1 {
			return &d.key
		}
	}
	d := &derivedKey{secret: append([]byte(nil), k...)}
	dk := sicherolm.DerivePickleKey(k)
	d.key = *dk
	clear(dk[:])
	derivedKeys[nextSlot.Add(1)%uint32(len(derivedKeys))].Store(d)
	return &d.key
}

// groupKey is goolm's rule for group sessions: an empty pickle key
// stands for " ".
func groupKey(k []byte) []byte {
	if len(k) == 0 {
		return []byte(" ")
	}
	return k
}

// unpickle tries sicher's format, then libolm's. The error is libolm's
// (the format of existing stores) when neither opens the pickle.
func unpickle[T any](pickled, key []byte, own func(*[sicherolm.PickleKeySize]byte, string) (T, error), libolm func([]byte, string) (T, error)) (T, error) {
	var zero T
	if len(pickled) == 0 {
		return zero, olm.ErrEmptyInput
	}
	// The pickle is only read during the call (sicher decodes it into
	// buffers of its own; TestUnpickleKeepsNoReference checks it), so a
	// string view of mautrix's bytes spares a copy of the whole pickle.
	p := unsafe.String(&pickled[0], len(pickled))
	if v, err := own(pickleKey(key), p); err == nil {
		return v, nil
	}
	v, err := libolm(key, p)
	if err != nil {
		return zero, err
	}
	return v, nil
}

// errNoKey refuses an empty pickle key where goolm does.
func errNoKey(key []byte) error {
	if len(key) == 0 {
		return olm.ErrNoKeyProvided
	}
	return nil
}
