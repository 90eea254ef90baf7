package olm

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/internal/ratchet"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
)

// PickleKeySize is the size of the key for sicher's own pickles.
const PickleKeySize = pickle.KeySize

// DerivePickleKey derives a key for sicher's own pickles from secret, a
// byte string of any length: a libolm-style pickle key, as stores such as
// mautrix's keep them. It is HKDF-SHA-256 (RFC 5869) with an empty salt
// and the info "sicher pickle key v1", the construction libolm's pickle
// envelope uses on the same kind of key (with the info "Pickle",
// src/pickle_encoding.c); the same secret always gives the same key. The
// key also fits megolm's pickles (megolm.PickleKeySize is the same size).
// HKDF does not stretch a guessable passphrase: secret should be a random
// key. An empty secret gives a fixed, public key.
func DerivePickleKey(secret []byte) *[PickleKeySize]byte {
	k, err := hkdf.Key(sha256.New, secret, nil, "sicher pickle key v1", PickleKeySize)
	if err != nil {
		panic("olm: internal error: HKDF-SHA-256 of 32 bytes failed: " + err.Error())
	}
	var out [PickleKeySize]byte
	copy(out[:], k)
	clear(k)
	return &out
}

// The Ed25519 identity key's form in an account pickle.
const (
	ed25519Seed     = 0
	ed25519Expanded = 1
)

// Sizes in an account pickle.
const (
	// pickledKeySize is one one-time or fallback key: u32 id ‖ u8
	// published ‖ private 32 ‖ public 32.
	pickledKeySize = 4 + 1 + 32 + 32
	// accountFixedSize bounds the rest of an account pickle: version, key
	// form, the expanded Ed25519 key and its public half, the Curve25519
	// key pair, the key id counter, the one-time key count and the
	// fallback key count.
	accountFixedSize = 1 + 1 + key.ExpandedSigningKeySize + 32 + 32 + 32 + 4 + 4 + 1
)

// Pickle encrypts the complete account state under a 32-byte key in
// sicher's own pickle format: AES-256-GCM with a random nonce from
// crypto/rand. The body (version 3) is:
//
//	u8 Ed25519 form (0 seed 32 | 1 libolm expanded 64) ‖ key
//	‖ Ed25519 public 32 ‖ Curve25519 private 32 ‖ Curve25519 public 32
//	‖ u32 last key id ‖ u32 one-time key count
//	‖ per key (ascending id): u32 id ‖ u8 published ‖ private 32 ‖ public 32
//	‖ u8 fallback count (0..2) ‖ per key (current first): same shape
func (a *Account) Pickle(pickleKey *[PickleKeySize]byte) (string, error) {
	return a.pickleFrom(nil, pickleKey)
}

// pickleFrom is Pickle with the nonce read from rand (nil means
// crypto/rand).
func (a *Account) pickleFrom(rand io.Reader, pickleKey *[PickleKeySize]byte) (string, error) {
	pt := a.appendState(pickle.Buffer(accountFixedSize + (len(a.otks)+2)*pickledKeySize))
	s, err := pickle.SealBuffer(rand, pickleKey, pickle.KindOlmAccount, pt)
	if err != nil {
		return "", fmt.Errorf("olm: %w", err)
	}
	return s, nil
}

// appendState appends the version byte and the body of a version 2
// account pickle.
func (a *Account) appendState(dst []byte) []byte {
	b := wire.NewBuilder(dst)
	b.AddUint8(pickle.OlmAccountV2)
	if seed, ok := a.signing.Seed(); ok {
		b.AddUint8(ed25519Seed)
		b.AddBytes(seed)
		clear(seed)
	} else {
		b.AddUint8(ed25519Expanded)
		exp := a.signing.Expanded()
		b.AddBytes(exp[:])
		clear(exp[:])
	}
	pub := a.signing.Public()
	b.AddBytes(pub[:])
	b.AddBytes(a.identity.priv[:])
	b.AddBytes(a.identity.pub[:])
	b.AddUint32(a.lastID)
	b.AddUint32(uint32(len(a.otks)))
	for i := range a.otks {
		addKey(b, &a.otks[i])
	}
	fb := a.fallbackKeys()
	b.AddUint8(uint8(len(fb)))
	for _, k := range fb {
		addKey(b, k)
	}
	return b.Bytes()
}

// fallbackKeys returns the fallback keys held, the current one first.
func (a *Account) fallbackKeys() []*oneTimeKey {
	var fb []*oneTimeKey
	for _, k := range []*oneTimeKey{a.fallback, a.previous} {
		if k != nil {
			fb = append(fb, k)
		}
	}
	return fb
}

func addKey(b *wire.Builder, k *oneTimeKey) {
	b.AddUint32(uint32(k.id))
	b.AddBool(k.published)
	b.AddBytes(k.priv[:])
	b.AddBytes(k.pub[:])
}

func readKey(rd *wire.Reader, k *oneTimeKey) bool {
	var id uint32
	ok := rd.ReadUint32(&id) && rd.ReadBool(&k.published) && rd.CopyBytes(k.priv[:]) && rd.CopyBytes(k.pub[:])
	k.id = key.KeyID(id)
	return ok
}

// UnpickleAccount decrypts and parses an account pickled by
// Account.Pickle, of any version. Version 2 stores the identity keys'
// public halves, which are taken as stored (the pickle authenticated, and
// sicher derived them); version 1 derives them. A one-time key's halves
// are checked when a session first uses it. Every error
// wraps ErrBadPickle.
func UnpickleAccount(pickleKey *[PickleKeySize]byte, s string) (*Account, error) {
	opened, err := pickle.OpenScratch(pickleKey, pickle.KindOlmAccount, s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPickle, err)
	}
	defer opened.Release()
	version, body := opened.Version, opened.Body
	switch version {
	case pickle.OlmAccountV1:
		return parseAccount(body, false)
	case pickle.OlmAccountV2:
		return parseAccount(body, true)
	default:
		return nil, fmt.Errorf("%w: account: unknown version %d", ErrBadPickle, version)
	}
}

// parseAccount parses the body of an account pickle. Version 1 stored no
// public identity keys (withPublic false): they are derived. Version 2
// stores them, and they must match.
func parseAccount(body []byte, withPublic bool) (*Account, error) {
	rd := wire.Reader(body)
	bad := func(what string) (*Account, error) {
		return nil, fmt.Errorf("%w: account: %s", ErrBadPickle, what)
	}
	var form uint8
	if !rd.ReadUint8(&form) {
		return bad("truncated")
	}
	var priv []byte
	switch form {
	case ed25519Seed:
		if !rd.ReadBytes(&priv, key.SigningKeySeedSize) {
			return bad("truncated")
		}
	case ed25519Expanded:
		if !rd.ReadBytes(&priv, key.ExpandedSigningKeySize) {
			return bad("truncated")
		}
	default:
		return bad(fmt.Sprintf("unknown Ed25519 key form %d", form))
	}
	var edPub key.Ed25519
	if withPublic && !rd.CopyBytes(edPub[:]) {
		return bad("truncated")
	}
	var curvePriv []byte
	var curvePub key.Curve25519
	if !rd.ReadBytes(&curvePriv, 32) || withPublic && !rd.CopyBytes(curvePub[:]) {
		return bad("truncated")
	}
	a := new(Account)
	var err error
	if withPublic {
		// The pickle authenticated under the caller's pickle key, and
		// sicher wrote these public keys from their private halves: they
		// are taken as stored, which saves two scalar multiplications per
		// load (libolm pickles, written by other software, are checked).
		if a.signing, err = key.NewSigningKeyWithPublic(priv, edPub); err != nil {
			return bad(err.Error())
		}
		a.loadIdentity(curvePriv, curvePub)
	} else {
		if form == ed25519Seed {
			a.signing, err = key.NewSigningKey(priv)
		} else {
			a.signing, err = key.NewExpandedSigningKey(priv)
		}
		if err != nil {
			return bad(err.Error())
		}
		copy(a.identity.priv[:], curvePriv)
		if err := a.identity.derive(); err != nil {
			return bad(err.Error())
		}
	}
	var n uint32
	if !rd.ReadUint32(&a.lastID) || !rd.ReadUint32(&n) {
		return bad("truncated")
	}
	if n > MaxOneTimeKeys || int(n) > rd.Len()/pickledKeySize {
		return bad(fmt.Sprintf("%d one-time keys", n))
	}
	a.otks = make([]oneTimeKey, n)
	for i := range a.otks {
		if !readKey(&rd, &a.otks[i]) {
			return bad("truncated one-time key")
		}
		if i > 0 && a.otks[i].id <= a.otks[i-1].id {
			return bad("one-time key ids out of order")
		}
	}
	var nf uint8
	if !rd.ReadUint8(&nf) || nf > 2 {
		return bad("bad fallback key count")
	}
	for i := range int(nf) {
		k := new(oneTimeKey)
		if !readKey(&rd, k) {
			return bad("truncated fallback key")
		}
		if i == 0 {
			a.fallback = k
		} else {
			a.previous = k
		}
	}
	if !rd.Empty() {
		return bad(fmt.Sprintf("%d trailing bytes", rd.Len()))
	}
	return a, nil
}

// Pickle encrypts the complete session state under a 32-byte key in
// sicher's own pickle format: AES-256-GCM with a random nonce from
// crypto/rand. The body (version 3) is: u8 received-message ‖ I_A 32 ‖
// E_A 32 ‖ E_B 32 ‖ u8 peer known ‖ [the peer's identity key 32] ‖ the
// Double Ratchet state with its own version byte (a blank session, see
// Session, has the single byte 0 there). A session loaded from a format
// without the peer and not yet bound (see BindPeer) stays so.
func (s *Session) Pickle(pickleKey *[PickleKeySize]byte) (string, error) {
	return s.pickleFrom(nil, pickleKey)
}

// pickleFrom is Pickle with the nonce read from rand (nil means
// crypto/rand).
func (s *Session) pickleFrom(rand io.Reader, pickleKey *[PickleKeySize]byte) (string, error) {
	pt := s.appendState(pickle.Buffer(sessionPickleCap))
	out, err := pickle.SealBuffer(rand, pickleKey, pickle.KindOlmSession, pt)
	if err != nil {
		return "", fmt.Errorf("olm: %w", err)
	}
	return out, nil
}

// blankRatchetState stands for the Double Ratchet state of a blank session
// in a version 2 or 3 session pickle: a version the state never has.
const blankRatchetState = 0

// sessionPickleCap is the initial capacity for a session's pickle
// plaintext: enough for a session with a few receiver chains and skipped
// keys, so that serialising it allocates once.
const sessionPickleCap = 512

// appendState appends the version byte and the body of a version 3
// session pickle.
func (s *Session) appendState(dst []byte) []byte {
	b := wire.NewBuilder(dst)
	b.AddUint8(s.config.pickleVersion())
	b.AddBool(s.received)
	b.AddBytes(s.aliceIdentity[:])
	b.AddBytes(s.aliceBase[:])
	b.AddBytes(s.bobOneTime[:])
	b.AddBool(s.bound)
	if s.bound {
		b.AddBytes(s.peer[:])
	}
	if s.r == nil {
		// A blank session: the byte 0 where the ratchet state (whose
		// versions start at 1) would be.
		b.AddUint8(blankRatchetState)
		return b.Bytes()
	}
	return s.r.AppendState(b.Bytes())
}

// UnpickleSession decrypts and parses a session pickled by
// Session.Pickle, of any version. Versions 2 and 3 store the peer's
// identity key (3 also the sending ratchet key's public half); a session of version 1 comes back without it (PeerIdentityKey
// reports false) until BindPeer. Every error wraps ErrBadPickle.
func UnpickleSession(pickleKey *[PickleKeySize]byte, p string) (*Session, error) {
	opened, err := pickle.OpenScratch(pickleKey, pickle.KindOlmSession, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPickle, err)
	}
	defer opened.Release()
	version, body := opened.Version, opened.Body
	return parseSession(version, body)
}

// parseSession parses the body of a session pickle of the given version.
func parseSession(version uint8, body []byte) (*Session, error) {
	rd := wire.Reader(body)
	s := new(Session)
	var err error
	if !rd.ReadBool(&s.received) || !rd.CopyBytes(s.aliceIdentity[:]) || !rd.CopyBytes(s.aliceBase[:]) || !rd.CopyBytes(s.bobOneTime[:]) {
		return nil, fmt.Errorf("%w: session: truncated", ErrBadPickle)
	}
	switch version {
	case pickle.OlmSessionV1:
		s.r, err = ratchet.ParseUnversionedState(rd)
	case pickle.OlmSessionV2, pickle.OlmSessionV3, pickle.OlmSessionV3ConfigV2:
		// Version 3 differs only in the ratchet state's own version.
		s.config = configOfPickleVersion(version)
		if !rd.ReadBool(&s.bound) || s.bound && !rd.CopyBytes(s.peer[:]) {
			return nil, fmt.Errorf("%w: session: truncated", ErrBadPickle)
		}
		if rd.Len() == 1 && rd[0] == blankRatchetState {
			return s, nil // a blank session
		}
		s.r, err = ratchet.ParseState(rd)
	default:
		return nil, fmt.Errorf("%w: session: unknown version %d", ErrBadPickle, version)
	}
	if err != nil {
		return nil, ratchetError(err)
	}
	return s, nil
}
