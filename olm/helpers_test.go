package olm

import (
	"fmt"
	"testing"

	"github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/key"
)

// testIdentityKeys are an account's public identity keys, for tests.
type testIdentityKeys struct {
	Curve25519 key.Curve25519
	Ed25519    key.Ed25519
}

func (a *Account) identityKeys() testIdentityKeys {
	return testIdentityKeys{a.Curve25519(), a.Ed25519()}
}

// parseAccountState parses a pickle plaintext: the version byte, then the
// body.
func parseAccountState(pt []byte) (*Account, error) {
	if len(pt) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadPickle)
	}
	switch pt[0] {
	case 1:
		return parseAccount(pt[1:], false)
	case 2:
		return parseAccount(pt[1:], true)
	}
	return nil, fmt.Errorf("%w: unknown version", ErrBadPickle)
}

// parseSessionState parses a pickle plaintext: the version byte, then the
// body.
func parseSessionState(pt []byte) (*Session, error) {
	if len(pt) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadPickle)
	}
	return parseSession(pt[0], pt[1:])
}

// preKeySessionID returns the id of the session a pre-key message sets up,
// or false if it carries no identity key.
func preKeySessionID(m *PreKeyMessage) (string, bool) {
	if !m.hasIdentityKey {
		return "", false
	}
	return sessionID(&m.IdentityKey, &m.BaseKey, &m.OneTimeKey), true
}

// sameSigningKey reports whether two signing keys sign identically.
func sameSigningKey(a, b *key.SigningKey) bool { return a.Expanded() == b.Expanded() }

// kindOf returns the pickle kind of "account" or "session".
func kindOf(object string) string {
	if object == "account" {
		return pickle.KindOlmAccount
	}
	return pickle.KindOlmSession
}

// sealRaw seals a pickle plaintext (version byte first).
func sealRaw(t testing.TB, pk *[PickleKeySize]byte, kind string, pt []byte) string {
	t.Helper()
	s, err := pickle.SealRaw(zeroReader{}, pk, kind, pt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
