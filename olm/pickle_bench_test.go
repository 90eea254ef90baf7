package olm

import "testing"

// BenchmarkUnpickleSession loads a session that has a sending chain (the
// state after encrypting), in sicher's format and in libolm's: the load of
// every decryption through a store.
func BenchmarkUnpickleSession(b *testing.B) {
	d := newDuo(b)
	d.send(d.as, "a sending chain")
	var pk [PickleKeySize]byte
	own, err := d.as.Pickle(&pk)
	if err != nil {
		b.Fatal(err)
	}
	lo := d.as.PickleLibolm(pk[:])
	b.Run("sicher", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := UnpickleSession(&pk, own); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("libolm", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := UnpickleLibolmSession(pk[:], lo); err != nil {
				b.Fatal(err)
			}
		}
	})
}
