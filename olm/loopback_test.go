package olm

import (
	"testing"

	"github.com/sicher-go/sicher/internal/b64"
)

// TestLoopbackLibolm replays the "Loopback" test of libolm's
// tests/test_olm.cpp (libolm 3.2.13) with its MockRandom generators: A =
// MockRandom('A', 0), B = MockRandom('B', 0x80); A and B create accounts,
// B creates 42 one-time keys, A starts a session to B's newest one
// (AAAAKg) and sends "Hello, World", B creates the inbound session and
// decrypts, and replies "Hello, World". The expected values are what
// Debian's libolm 3.2.13 produces for the same randomness.
func TestLoopbackLibolm(t *testing.T) {
	const (
		wantACurve   = "3i6dF5tK4UMB+RSgHR1g6Hi9hSKpp0z8alUrYyn9dUw"
		wantAEd      = "OfRjBf2SJfVkaURpFX6Iltf3Kozh2qcL636eF2VoQ54"
		wantBCurve   = "oCmRYwQWRRFfWPpquDAiEA3yRbur6emb4fF7lRgB6m8"
		wantBEd      = "ewBGvl0kEcP/+7XjqHfcZGHts+y6QIoosz0YTrBwKCk"
		wantOTK      = "GPifSqNX5o/gxYSEJ4ZgkWCK7it8c3XYfrSUXbBFaCw"
		wantMessage1 = "AwogGPifSqNX5o/gxYSEJ4ZgkWCK7it8c3XYfrSUXbBFaCwSIFDwi4mQecAUHmDUkrlRqKVXelMZjLEO9htQCKZrbfxRGiDeLp0Xm0rhQwH5FKAdHWDoeL2FIqmnTPxqVStjKf11TCI/Awog1g5NLrb43IU10JaIrjRx+lHYHfjHyMVXBLqnUeJN3RIQACIQTKAMw5MASbuBfb+MP1bBRy2I95Uk5RwC"
		wantID       = "I/pzQ59c24PJ3DoKqpjMZjgR6AjwOAwgH3TaAJHJW6Y"
		wantMessage2 = "AwogMUrVCqfHn1z7/NJ+5cvvI1SSuCt/y9U3BGVUBHieBUQQACIQ3toh8/x4vYHo++al5vFGTSDT4eWldhZD"
		plaintext    = "Hello, World"
	)
	randA, randB := newMockRandom('A', 0), newMockRandom('B', 0x80)
	alice, err := NewAccountFrom(randA)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := NewAccountFrom(randB)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %s, want %s", what, got, want)
		}
	}
	check("A curve25519", alice.Curve25519().String(), wantACurve)
	check("A ed25519", alice.Ed25519().String(), wantAEd)
	check("B curve25519", bob.Curve25519().String(), wantBCurve)
	check("B ed25519", bob.Ed25519().String(), wantBEd)

	created, evicted, err := bob.GenerateOneTimeKeysFrom(randB, 42)
	if err != nil || len(created) != 42 || len(evicted) != 0 {
		t.Fatalf("GenerateOneTimeKeys: %d created, %d evicted, %v", len(created), len(evicted), err)
	}
	otk := created[41]
	check("B one-time key id", otk.ID.String(), "AAAAKg")
	check("B one-time key", otk.Key.String(), wantOTK)

	aSession, err := alice.NewOutboundSessionFrom(randA, bob.Curve25519(), otk.Key)
	if err != nil {
		t.Fatal(err)
	}
	m1, err := aSession.EncryptFrom(failReader{}, nil, []byte(plaintext)) // draws no randomness
	if err != nil {
		t.Fatal(err)
	}
	if m1.Type != TypePreKey {
		t.Errorf("message 1 type %d, want 0", m1.Type)
	}
	check("message 1", b64.Encode(m1.Body), wantMessage1)
	check("A session id", aSession.ID(), wantID)

	pk, err := ParsePreKeyMessage(m1.Body)
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := preKeySessionID(pk); !ok || id != wantID {
		t.Errorf("PreKeyMessage.SessionID = %q, %v", id, ok)
	}
	aCurve := alice.Curve25519()
	bSession, pt, err := bob.NewInboundSession(pk, &InboundOptions{TheirIdentityKey: &aCurve})
	if err != nil {
		t.Fatal(err)
	}
	check("B plaintext", string(pt), plaintext)
	check("B session id", bSession.ID(), wantID)
	if bob.StoredOneTimeKeys() != 41 {
		t.Errorf("B holds %d one-time keys after the session, want 41", bob.StoredOneTimeKeys())
	}
	if !bSession.Matches(pk, &aCurve) {
		t.Error("B session does not match message 1")
	}

	m2, err := bSession.EncryptFrom(randB, nil, []byte(plaintext))
	if err != nil {
		t.Fatal(err)
	}
	if m2.Type != TypeMessage {
		t.Errorf("message 2 type %d, want 1", m2.Type)
	}
	check("message 2", b64.Encode(m2.Body), wantMessage2)
	pt, err = aSession.Decrypt(nil, m2)
	if err != nil {
		t.Fatal(err)
	}
	check("A plaintext", string(pt), plaintext)
	if !aSession.HasReceivedMessage() {
		t.Error("A has not received a message")
	}
}
