package olm

import (
	"crypto/rand"
	"fmt"
	"io"

	"github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/ratchet"
)

// PickleKeySize is the size of the key for sicher's own pickles.
const PickleKeySize = pickle.KeySize

// Pickle kinds (the additional data of the AEAD), so an account pickle
// never opens as a session and the other way round.
const (
	kindAccount = "olm.Account"
	kindSession = "olm.Session"
)

// Versions of the plaintexts inside sicher's own pickles.
const (
	// Version 2 of the account stores the identity keys' public halves
	// too, so that loading derives neither; version 1 is still read.
	accountPickleVersion = 2
	sessionPickleVersion = 1
)

const (
	ed25519Seed     = 0
	ed25519Expanded = 1
)

// Pickle encrypts the complete account state under a 32-byte key in
// sicher's own pickle format (AES-256-GCM with a random nonce from
// crypto/rand). See PickleFrom.
func (a *Account) Pickle(pickleKey *[PickleKeySize]byte) (string, error) {
	return a.PickleFrom(rand.Reader, pickleKey)
}

// PickleFrom is Pickle with the 12-byte nonce read from rand. The
// plaintext is versioned:
//
//	u8 version 2 ‖ u8 Ed25519 form (0 seed 32 | 1 libolm expanded 64) ‖ key
//	‖ Ed25519 public 32 ‖ Curve25519 private 32 ‖ Curve25519 public 32
//	‖ u32 last key id ‖ u32 one-time key count
//	‖ per key (ascending id): u32 id ‖ u8 published ‖ private 32 ‖ public 32
//	‖ u8 fallback count (0..2) ‖ per key (current first): same shape
func (a *Account) PickleFrom(rand io.Reader, pickleKey *[PickleKeySize]byte) (string, error) {
	pt := a.appendState(make([]byte, 0, 174+len(a.otks)*69+2*69))
	defer clear(pt)
	s, err := pickle.Seal(rand, pickleKey, kindAccount, pt[0], pt[1:])
	if err != nil {
		return "", fmt.Errorf("olm: %w", err)
	}
	return s, nil
}

func (a *Account) appendState(dst []byte) []byte {
	b := wire.NewBuilder(dst)
	b.AddUint8(accountPickleVersion)
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
	var fb []*oneTimeKey
	for _, k := range []*oneTimeKey{a.fallback, a.previous} {
		if k != nil {
			fb = append(fb, k)
		}
	}
	b.AddUint8(uint8(len(fb)))
	for _, k := range fb {
		addKey(b, k)
	}
	return b.Bytes()
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
// Account.Pickle. Every error wraps ErrBadPickle.
func UnpickleAccount(pickleKey *[PickleKeySize]byte, s string) (*Account, error) {
	version, body, err := pickle.Open(pickleKey, kindAccount, s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPickle, err)
	}
	pt := append([]byte{version}, body...) // TODO(api-v1): parse by version
	clear(body)
	defer clear(pt)
	return parseAccountState(pt)
}

func parseAccountState(pt []byte) (*Account, error) {
	rd := wire.Reader(pt)
	bad := func(what string) (*Account, error) {
		return nil, fmt.Errorf("%w: account: %s", ErrBadPickle, what)
	}
	var version, form uint8
	if !rd.ReadUint8(&version) {
		return bad("empty")
	}
	if version != 1 && version != accountPickleVersion {
		return bad(fmt.Sprintf("unknown version %d", version))
	}
	// Version 1 stored no public keys: they are derived. Version 2's are
	// taken as stored and checked on first use, as for libolm pickles
	// (see Account.CheckIdentityKeys).
	withPublic := version == 2
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
	a := new(Account)
	var err error
	switch {
	case form == ed25519Seed && withPublic:
		a.signing, err = key.NewSigningKeyWithPublic(priv, edPub)
	case form == ed25519Seed:
		a.signing, err = key.NewSigningKey(priv)
	case withPublic:
		a.signing, err = key.NewExpandedSigningKeyWithPublic(priv, edPub)
	default:
		a.signing, err = key.NewExpandedSigningKey(priv)
	}
	if err != nil {
		return bad(err.Error())
	}
	if !rd.CopyBytes(a.identity.priv[:]) || withPublic && !rd.CopyBytes(a.identity.pub[:]) {
		return bad("truncated")
	}
	switch {
	case !withPublic:
		a.identity.derivePublic()
	case a.identity.pub == key.Curve25519{}:
		return bad("Curve25519 public key does not match its private key")
	}
	var n uint32
	if !rd.ReadUint32(&a.lastID) || !rd.ReadUint32(&n) {
		return bad("truncated")
	}
	if n > MaxOneTimeKeys || int(n) > rd.Len()/69 {
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
// sicher's own pickle format (AES-256-GCM with a random nonce from
// crypto/rand). See PickleFrom.
func (s *Session) Pickle(pickleKey *[PickleKeySize]byte) (string, error) {
	return s.PickleFrom(rand.Reader, pickleKey)
}

// PickleFrom is Pickle with the 12-byte nonce read from rand. The
// plaintext is versioned: u8 version 1 ‖ u8 received-message ‖ I_A 32 ‖
// E_A 32 ‖ E_B 32 ‖ the ratchet state (ratchet.Ratchet.AppendState).
func (s *Session) PickleFrom(rand io.Reader, pickleKey *[PickleKeySize]byte) (string, error) {
	pt := s.appendState(make([]byte, 0, sessionPickleCap))
	defer clear(pt)
	out, err := pickle.Seal(rand, pickleKey, kindSession, pt[0], pt[1:])
	if err != nil {
		return "", fmt.Errorf("olm: %w", err)
	}
	return out, nil
}

// sessionPickleCap is the initial capacity for a session's pickle
// plaintext: enough for a session with a few receiver chains and skipped
// keys, so that serialising it allocates once.
const sessionPickleCap = 512

func (s *Session) appendState(dst []byte) []byte {
	b := wire.NewBuilder(dst)
	b.AddUint8(sessionPickleVersion)
	b.AddBool(s.received)
	b.AddBytes(s.aliceIdentity[:])
	b.AddBytes(s.aliceBase[:])
	b.AddBytes(s.bobOneTime[:])
	return s.r.AppendState(b.Bytes())
}

// UnpickleSession decrypts and parses a session pickled by
// Session.Pickle. Every error wraps ErrBadPickle.
func UnpickleSession(pickleKey *[PickleKeySize]byte, p string) (*Session, error) {
	version, body, err := pickle.Open(pickleKey, kindSession, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPickle, err)
	}
	pt := append([]byte{version}, body...) // TODO(api-v1): parse by version
	clear(body)
	defer clear(pt)
	return parseSessionState(pt)
}

func parseSessionState(pt []byte) (*Session, error) {
	rd := wire.Reader(pt)
	var version uint8
	s := new(Session)
	if !rd.ReadUint8(&version) || version != sessionPickleVersion {
		return nil, fmt.Errorf("%w: session: unknown version", ErrBadPickle)
	}
	if !rd.ReadBool(&s.received) || !rd.CopyBytes(s.aliceIdentity[:]) || !rd.CopyBytes(s.aliceBase[:]) || !rd.CopyBytes(s.bobOneTime[:]) {
		return nil, fmt.Errorf("%w: session: truncated", ErrBadPickle)
	}
	var err error
	if s.r, err = ratchet.ParseState(rd); err != nil {
		return nil, fmt.Errorf("%w: session: %w", ErrBadPickle, err)
	}
	return s, nil
}
