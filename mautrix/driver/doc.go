// Package driver implements mautrix-go's olm driver seam (package
// maunium.net/go/mautrix/crypto/olm: the Account, Session,
// InboundGroupSession, OutboundGroupSession and PKSigning interfaces and
// the Init* hooks) with sicher, a pure-Go implementation of Olm and Megolm
// byte-compatible with libolm.
//
// Most programs import the register package for its side effect instead
// of calling Register themselves; see that package and docs/mautrix.md
// for the one-line switch.
//
// # Pickles
//
// mautrix stores every object as a pickle under a pickle key of any
// length. A Driver writes sicher's own format by default
// (Driver.Pickles == SicherPickles): AES-256-GCM with a random nonce,
// under a 32-byte key derived from mautrix's pickle key with
// olm.DerivePickleKey (HKDF-SHA-256). It reads both that format and
// libolm's, so a store written by the libolm or goolm driver keeps working
// and migrates one object at a time as mautrix rewrites it. LibolmPickles
// writes libolm's format instead, which the libolm and goolm drivers read:
// use it to switch back (see docs/mautrix.md).
//
// libolm's account pickle keeps at most 100 one-time keys and only the
// expanded form of the Ed25519 key, so an account that went through a
// libolm-format store cannot make an MSC3814 dehydrated device; sicher's
// format keeps the seed.
//
// # Errors
//
// Errors wrap both sicher's sentinel (olm.ErrAuthentication,
// megolm.ErrUnknownIndex, ...) and the mautrix sentinel that the libolm
// and goolm drivers return for the same failure, so errors.Is works
// with either; in particular a Megolm message older than the session's
// first known index matches mautrix's olm.ErrUnknownMessageIndex. Empty
// inputs are refused with mautrix's olm.ErrEmptyInput, and an empty pickle
// key with olm.ErrNoKeyProvided where goolm refuses it (accounts and Olm
// sessions; group sessions map an empty key to " ", as goolm does).
package driver
