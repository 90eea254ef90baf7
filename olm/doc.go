// Package olm implements Olm, Matrix's 1:1 encryption between devices
// (m.olm.v1.curve25519-aes-sha2; Matrix spec "End-to-End Encryption",
// olm-megolm/olm.md), byte-compatible with libolm 3.2.13 and vodozemac.
//
// An [Account] holds a device's identity keys (Ed25519 for signing,
// Curve25519 for key agreement), its one-time keys and its fallback keys
// (MSC2732). Alice starts a [Session] with [Account.NewOutboundSession]
// from Bob's identity key and one of his one-time keys; her messages are
// pre-key messages until she hears back. Bob calls
// [Account.NewInboundSession] with the first pre-key message: it creates
// the session and decrypts the message in one step, and removes the
// one-time key only if decryption succeeded. After that both sides call
// [Session.Encrypt] and [Session.Decrypt].
//
// The handshake is the triple Diffie-Hellman of olm.md ("Initial setup");
// the Double Ratchet lives in package ratchet, with libolm's and
// vodozemac's limits (5 receiver chains, a message gap of at most 2000, 40
// skipped message keys per chain). Every X25519 rejects low-order keys
// with key.ErrNonContributory.
//
// # Randomness
//
// Every function that needs randomness has a variant ending in From that
// reads it from an io.Reader, in the order and amounts libolm reads it:
// 64 bytes for an account (Ed25519 seed, Curve25519 key), 32 per one-time
// or fallback key, 64 for an outbound session (base key, ratchet key), 32
// when an encryption starts a new sending chain. Given the same bytes,
// sicher produces libolm's keys, session ids and ciphertexts. The plain
// variants use crypto/rand.
//
// # Safety
//
// Wire input never panics and never changes state unless it
// authenticates: the MAC is verified over the received bytes and the
// padding checked before a session changes, and a failed decryption leaves
// the session exactly as it was. Private keys and ratchet state are
// secret; they sit in unexported fields and fmt prints only public keys
// and counters. Accounts and sessions are not safe for concurrent use.
//
// # Pickles
//
// [Account.Pickle] and [Session.Pickle] store state in sicher's own
// format: a versioned plaintext sealed with AES-256-GCM under a 32-byte
// key with a random nonce. libolm's pickle format (an IV derived from the
// key, any key length) is available for migration and interoperability
// through [Account.PickleLibolm], [UnpickleLibolmAccount],
// [Session.PickleLibolm] and [UnpickleLibolmSession]: accounts of pickle
// versions 2 to 4 (version 1 is refused, as libolm refuses it), sessions of
// versions 1 and 0x80000001; export writes account version 4 and session
// version 1.
package olm
