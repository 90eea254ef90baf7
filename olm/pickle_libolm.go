package olm

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/internal/ratchet"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
)

// libolm's pickle versions and capacities (src/account.cpp,
// src/session.cpp, include/olm/account.hh).
const (
	libolmAccountVersion       = 4
	libolmSessionVersion       = 1
	libolmSessionVersionLegacy = 0x80000001 // adds a trailing dummy chain index
	libolmMaxOneTimeKeys       = 100
	libolmOneTimeKeyLen        = 4 + 1 + 32 + 32
)

// PickleLibolm returns the account as a libolm 3.2.13 account pickle
// (version 4) under pickleKey, a key of any length (libolm's "pickle key",
// often a passphrase; empty is allowed).
//
// The conversion can lose data, as vodozemac's does: libolm stores at
// most 100 one-time keys (the newest 100 are kept) and only the expanded
// form of the Ed25519 key (the seed is not exported). The libolm envelope
// derives its IV from the key, so equal states give equal pickles; prefer
// Pickle for storage and use this for migration and interoperability.
func (a *Account) PickleLibolm(pickleKey []byte) string {
	// Sized for the whole plaintext and for encrypting it in place.
	n := min(len(a.otks), libolmMaxOneTimeKeys)
	pt := a.appendLibolm(pickle.LibolmBuffer(4 + 32 + 64 + 32 + 32 + 4 + n*libolmOneTimeKeyLen + 1 + 2*libolmOneTimeKeyLen + 4))
	return pickle.SealLibolmInPlace(pickleKey, pt) // consumes pt
}

func (a *Account) appendLibolm(dst []byte) []byte {
	b := wire.NewBuilder(dst)
	b.AddUint32(libolmAccountVersion)
	pub := a.signing.Public()
	b.AddBytes(pub[:])
	exp := a.signing.Expanded()
	b.AddBytes(exp[:])
	clear(exp[:])
	b.AddBytes(a.identity.pub[:])
	b.AddBytes(a.identity.priv[:])
	// libolm lists one-time keys newest first.
	n := min(len(a.otks), libolmMaxOneTimeKeys)
	b.AddUint32(uint32(n))
	for i := len(a.otks) - 1; i >= len(a.otks)-n; i-- {
		addLibolmKey(b, &a.otks[i])
	}
	fb := a.fallbackKeys()
	b.AddUint8(uint8(len(fb)))
	for _, k := range fb {
		addLibolmKey(b, k)
	}
	b.AddUint32(a.lastID)
	return b.Bytes()
}

func addLibolmKey(b *wire.Builder, k *oneTimeKey) {
	b.AddUint32(uint32(k.id))
	b.AddBool(k.published)
	b.AddBytes(k.pub[:])
	b.AddBytes(k.priv[:])
}

func readLibolmKey(rd *wire.Reader, k *oneTimeKey) error {
	// One bounds check for the whole entry: id ‖ published ‖ public ‖
	// private (an account holds up to 100 of them).
	var b []byte
	if !rd.ReadBytes(&b, libolmOneTimeKeyLen) {
		return fmt.Errorf("%w: account: truncated key", ErrBadPickle)
	}
	// libolm writes 0 or 1 but reads any non-zero byte as true.
	k.id, k.published = key.KeyID(binary.BigEndian.Uint32(b)), b[4] != 0
	copy(k.pub[:], b[5:5+32])
	copy(k.priv[:], b[5+32:])
	// The public half is checked against the private half when the key is
	// first used (oneTimeKey.x25519): checking all of them here would cost
	// a scalar multiplication per key on every load.
	return nil
}

// UnpickleLibolmAccount imports a libolm account pickle (versions 2, 3 and
// 4) encrypted under pickleKey. Version 1 is refused: its Ed25519 key was
// stored truncated, and libolm itself tells users to consider such
// accounts compromised. More than 100 one-time keys (which libolm would
// silently overwrite) and trailing bytes are rejected. The identity keys'
// public halves must be the keys of their private halves (libolm itself
// never checks); a one-time or fallback key's halves are checked when a
// session first uses it, so that loading costs no scalar multiplication
// per key. Every error wraps ErrBadPickle.
func UnpickleLibolmAccount(pickleKey []byte, p string) (*Account, error) {
	opened, err := pickle.OpenLibolmScratch(pickleKey, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPickle, err)
	}
	defer opened.Release()
	pt := opened.Body
	return parseLibolmAccount(pt)
}

func parseLibolmAccount(pt []byte) (*Account, error) {
	rd := wire.Reader(pt)
	bad := func(format string, args ...any) (*Account, error) {
		return nil, fmt.Errorf("%w: libolm account: %s", ErrBadPickle, fmt.Sprintf(format, args...))
	}
	var version uint32
	if !rd.ReadUint32(&version) {
		return bad("empty")
	}
	switch version {
	case 2, 3, 4:
	case 1:
		return bad("version 1 stored a truncated Ed25519 key; libolm refuses it (BAD_LEGACY_ACCOUNT_PICKLE): consider the account compromised and create a new one")
	default:
		return bad("unknown version %d", version)
	}
	var edPub key.Ed25519
	var exp, curvePriv []byte
	var curvePub key.Curve25519
	if !rd.CopyBytes(edPub[:]) || !rd.ReadBytes(&exp, key.ExpandedSigningKeySize) ||
		!rd.CopyBytes(curvePub[:]) || !rd.ReadBytes(&curvePriv, 32) {
		return bad("truncated identity keys")
	}
	a := new(Account)
	var err error
	// The Ed25519 public key is taken as stored, as libolm does: Sign hashes
	// the public key it computes from the private half on first use, so a
	// wrong stored key (broken software) makes signatures fail to verify
	// and never reaches the signature hash.
	if a.signing, err = key.NewSigningKeyWithPublic(exp, edPub); err != nil {
		return bad("identity key: %v", err)
	}
	a.loadIdentity(curvePriv, curvePub)
	var n uint32
	if !rd.ReadUint32(&n) || n > libolmMaxOneTimeKeys {
		return bad("bad one-time key count")
	}
	a.otks = make([]oneTimeKey, n)
	// libolm lists the keys newest first: filled from the end, a list
	// libolm wrote is already in id order and needs no sort.
	for i := len(a.otks) - 1; i >= 0; i-- {
		if err := readLibolmKey(&rd, &a.otks[i]); err != nil {
			return nil, err
		}
	}
	byID := func(x, y oneTimeKey) int { return cmp.Compare(x.id, y.id) }
	if !slices.IsSortedFunc(a.otks, byID) {
		slices.SortFunc(a.otks, byID)
	}
	for i := 1; i < len(a.otks); i++ {
		if a.otks[i].id == a.otks[i-1].id {
			return bad("duplicate one-time key id %s", a.otks[i].id)
		}
	}
	switch version {
	case 3:
		// Version 3 always stored two fallback entries; how many were real
		// is inferred from their published flags, as libolm does.
		var cur, prev oneTimeKey
		if err := readLibolmFallbackV3(&rd, &cur); err != nil {
			return nil, err
		}
		if err := readLibolmFallbackV3(&rd, &prev); err != nil {
			return nil, err
		}
		if cur.published {
			a.fallback = &cur
			if prev.published {
				a.previous = &prev
			}
		}
	case 4:
		var nf uint8
		if !rd.ReadUint8(&nf) || nf > 2 {
			return bad("bad fallback key count")
		}
		for i := range int(nf) {
			k := new(oneTimeKey)
			if err := readLibolmKey(&rd, k); err != nil {
				return nil, err
			}
			if i == 0 {
				a.fallback = k
			} else {
				a.previous = k
			}
		}
	}
	if !rd.ReadUint32(&a.lastID) {
		return bad("truncated key id counter")
	}
	if !rd.Empty() {
		return bad("%d trailing bytes", rd.Len())
	}
	return a, nil
}

// readLibolmFallbackV3 reads one of version 3's two fallback slots. An
// unused slot may hold zeros.
func readLibolmFallbackV3(rd *wire.Reader, k *oneTimeKey) error {
	var id uint32
	var published uint8
	if !rd.ReadUint32(&id) || !rd.ReadUint8(&published) || !rd.CopyBytes(k.pub[:]) || !rd.CopyBytes(k.priv[:]) {
		return fmt.Errorf("%w: libolm account: truncated fallback key", ErrBadPickle)
	}
	// A published key's halves are checked when it is first used (see
	// keyPair.x25519), as for one-time keys: not at every load.
	k.id, k.published = key.KeyID(id), published != 0
	return nil
}

// PickleLibolm returns the session as a libolm 3.2.13 session pickle
// (version 1) under pickleKey, a key of any length. libolm keeps at most
// 40 skipped message keys for all chains; if the session holds more, the
// newest chains' keys are kept. See Account.PickleLibolm about the IV.
// libolm has no session config: a session of SessionConfigV2 comes back
// as v1, which refuses its peer's v2 messages with ErrSessionConfigV2.
func (s *Session) PickleLibolm(pickleKey []byte) string {
	b := wire.NewBuilder(pickle.LibolmBuffer(sessionPickleCap))
	b.AddUint32(libolmSessionVersion)
	b.AddBool(s.received)
	b.AddBytes(s.aliceIdentity[:])
	b.AddBytes(s.aliceBase[:])
	b.AddBytes(s.bobOneTime[:])
	var pt []byte
	if s.r == nil {
		// A blank session: a zero root key and no chains, as libolm
		// pickles an uninitialised session.
		b.AddBytes(make([]byte, 32))
		b.AddUint32(0)
		b.AddUint32(0)
		b.AddUint32(0)
		pt = b.Bytes()
	} else {
		pt = s.r.AppendLibolmState(b.Bytes())
	}
	return pickle.SealLibolmInPlace(pickleKey, pt) // consumes pt
}

// UnpickleLibolmSession imports a libolm session pickle (version 1, and
// 0x80000001 with its trailing dummy chain index) encrypted under
// pickleKey. Lists longer than libolm's capacities and trailing bytes are
// rejected. libolm's session pickle does not store the peer's identity key
// (only the initiator's, which is ours for an outbound session), so the
// session comes back unbound: call Session.BindPeer with the keys the
// caller stored it under before it decrypts. A pickle with no chains (a
// blank session, see Session) loads as a blank session. Every error wraps
// ErrBadPickle.
func UnpickleLibolmSession(pickleKey []byte, p string) (*Session, error) {
	opened, err := pickle.OpenLibolmScratch(pickleKey, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPickle, err)
	}
	defer opened.Release()
	pt := opened.Body
	return parseLibolmSession(pt)
}

// isBlankLibolmState reports whether a libolm ratchet state is an
// uninitialised one (a blank session): a zero root key, no chains, no
// skipped keys, nothing after them.
func isBlankLibolmState(rd wire.Reader) bool {
	const n = 32 + 3*4
	if rd.Len() != n {
		return false
	}
	for _, b := range rd {
		if b != 0 {
			return false
		}
	}
	return true
}

func parseLibolmSession(pt []byte) (*Session, error) {
	rd := wire.Reader(pt)
	var version uint32
	if !rd.ReadUint32(&version) {
		return nil, fmt.Errorf("%w: libolm session: empty", ErrBadPickle)
	}
	switch version {
	case libolmSessionVersion:
	case libolmSessionVersionLegacy:
		if rd.Len() < 4 {
			return nil, fmt.Errorf("%w: libolm session: truncated", ErrBadPickle)
		}
		rd = rd[:rd.Len()-4] // the dummy chain index
	default:
		return nil, fmt.Errorf("%w: libolm session: unknown version %#x", ErrBadPickle, version)
	}
	s := new(Session)
	var received uint8
	if !rd.ReadUint8(&received) || !rd.CopyBytes(s.aliceIdentity[:]) || !rd.CopyBytes(s.aliceBase[:]) || !rd.CopyBytes(s.bobOneTime[:]) {
		return nil, fmt.Errorf("%w: libolm session: truncated", ErrBadPickle)
	}
	s.received = received != 0
	if isBlankLibolmState(rd) {
		return s, nil
	}
	var err error
	if s.r, err = ratchet.ParseLibolmState(rd); err != nil {
		return nil, ratchetError(err)
	}
	return s, nil
}
