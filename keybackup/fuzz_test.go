package keybackup

import (
	"bytes"
	"errors"
	"testing"

	"github.com/sicher-go/sicher/internal/pickle"
)

// FuzzPicklePlaintext reaches the pickle parser shared by both
// formats with arbitrary plaintexts (sealed here, as a corrupted store with
// the right key would hand them over): refusals wrap ErrBadPickle, and what
// parses is canonical, so it pickles back to exactly the same plaintext in
// libolm's format and round-trips through sicher's own.
func FuzzPicklePlaintext(f *testing.F) {
	k, err := NewDecryptionKey(bytes.Repeat([]byte{7}, KeySize))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(append(append([]byte{0, 0, 0, 1}, k.pub[:]...), k.priv.Bytes()...))
	f.Add([]byte{0, 0, 0, 1})
	lkey := []byte("fuzz pickle key")
	var okey [PickleKeySize]byte
	f.Fuzz(func(t *testing.T, pt []byte) {
		d, err := UnpickleLibolm(lkey, pickle.SealLibolm(lkey, pt))
		if err != nil {
			if d != nil || !errors.Is(err, ErrBadPickle) {
				t.Fatalf("refusal: %v (key %v)", err, d != nil)
			}
			return
		}
		back, err := pickle.OpenLibolm(lkey, mustPickleLibolm(t, d, lkey))
		if err != nil || !bytes.Equal(back, pt) {
			t.Fatalf("libolm pickle is not canonical: %x -> %x (%v)", pt, back, err)
		}
		own, err := d.Pickle(&okey)
		if err != nil {
			t.Fatal(err)
		}
		d2, err := Unpickle(&okey, own)
		if err != nil || d2.Bytes() != d.Bytes() || d2.PublicKey() != d.PublicKey() {
			t.Fatalf("own pickle does not round-trip: %v", err)
		}
	})
}
