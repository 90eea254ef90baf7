package driver

import (
	sicherolm "github.com/sicher-go/sicher/olm"
	"maunium.net/go/mautrix/crypto/olm"
)

// pickleKey returns the key for sicher's own format derived from
// mautrix's pickle key.
func pickleKey(k []byte) *[sicherolm.PickleKeySize]byte { return sicherolm.DerivePickleKey(k) }

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
	if v, err := own(pickleKey(key), string(pickled)); err == nil {
		return v, nil
	}
	v, err := libolm(key, string(pickled))
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
