package libolm

import "testing"

// TestLoopbackReference replays libolm tests/test_olm.cpp "Loopback" with
// MockRandom A/B and checks the transcript recorded in the reference study
// (§3.4), proving the binding and MockRandom are faithful.
func TestLoopbackReference(t *testing.T) {
	ra, rb := &MockRandom{'A', 0}, &MockRandom{'B', 0x80}
	a, err := NewAccount(ra.Bytes(64))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewAccount(rb.Bytes(64))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.GenerateOneTimeKeys(42, rb.Bytes(42*32)); err != nil {
		t.Fatal(err)
	}
	ac, ae := a.IdentityKeys()
	bc, be := b.IdentityKeys()
	if ac != "3i6dF5tK4UMB+RSgHR1g6Hi9hSKpp0z8alUrYyn9dUw" || ae != "OfRjBf2SJfVkaURpFX6Iltf3Kozh2qcL636eF2VoQ54" {
		t.Fatalf("A identity %s %s", ac, ae)
	}
	if bc != "oCmRYwQWRRFfWPpquDAiEA3yRbur6emb4fF7lRgB6m8" || be != "ewBGvl0kEcP/+7XjqHfcZGHts+y6QIoosz0YTrBwKCk" {
		t.Fatalf("B identity %s %s", bc, be)
	}
	otk := b.OneTimeKeys()[0]
	if otk.ID != "AAAAKg" || otk.Key != "GPifSqNX5o/gxYSEJ4ZgkWCK7it8c3XYfrSUXbBFaCw" {
		t.Fatalf("otk %+v", otk)
	}
	sa, err := NewOutboundSession(a, bc, otk.Key, ra.Bytes(64))
	if err != nil {
		t.Fatal(err)
	}
	typ, m1, err := sa.Encrypt([]byte("Hello, World"), nil)
	if err != nil || typ != 0 {
		t.Fatal(typ, err)
	}
	if m1 != "AwogGPifSqNX5o/gxYSEJ4ZgkWCK7it8c3XYfrSUXbBFaCwSIFDwi4mQecAUHmDUkrlRqKVXelMZjLEO9htQCKZrbfxRGiDeLp0Xm0rhQwH5FKAdHWDoeL2FIqmnTPxqVStjKf11TCI/Awog1g5NLrb43IU10JaIrjRx+lHYHfjHyMVXBLqnUeJN3RIQACIQTKAMw5MASbuBfb+MP1bBRy2I95Uk5RwC" {
		t.Fatalf("message_1 %s", m1)
	}
	sb, err := NewInboundSession(b, m1)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := sb.Decrypt(0, m1)
	if err != nil || string(pt) != "Hello, World" {
		t.Fatal(string(pt), err)
	}
	if sa.ID() != "I/pzQ59c24PJ3DoKqpjMZjgR6AjwOAwgH3TaAJHJW6Y" || sb.ID() != sa.ID() {
		t.Fatal(sa.ID(), sb.ID())
	}
	typ, m2, err := sb.Encrypt([]byte("Hello, World"), rb.Bytes(sb.EncryptRandomLength()))
	if err != nil || typ != 1 || m2 != "AwogMUrVCqfHn1z7/NJ+5cvvI1SSuCt/y9U3BGVUBHieBUQQACIQ3toh8/x4vYHo++al5vFGTSDT4eWldhZD" {
		t.Fatal(typ, m2, err)
	}
	if _, err := sa.Decrypt(1, m2); err != nil {
		t.Fatal(err)
	}
	if _, err := sa.Decrypt(1, m2); Code(err) != BadMessageMAC {
		t.Fatalf("replay: %v", err)
	}
}
