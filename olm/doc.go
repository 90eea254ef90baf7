// Package olm implements Olm, Matrix's 1:1 encryption between devices
// (m.olm.v1.curve25519-aes-sha2; Matrix spec "End-to-End Encryption",
// https://spec.matrix.org/v1.19/client-server-api/#molmv1curve25519-aes-sha2,
// and the Olm specification, libolm docs/olm.md), byte-compatible with
// libolm 3.2.13 and vodozemac.
//
// An [Account] holds a device's identity keys (Ed25519 for signing,
// Curve25519 for key agreement), its one-time keys and its fallback keys
// (MSC2732). Alice starts a [Session] with [Account.NewOutboundSession]
// from Bob's identity key and one of his one-time keys; her messages are
// pre-key messages until she hears back. Bob calls
// [Account.NewInboundSession] with the first pre-key message: it creates
// the session and decrypts the message in one step, and removes the
// one-time key only if decryption succeeded. After that both sides call
// [Session.Encrypt] and [Session.Decrypt]. libolm's two-step flow (create
// the session, store it, decrypt later) is [InboundOptions.DeferDecryption]:
// the message must still authenticate before a session exists.
//
// The handshake is the triple Diffie-Hellman of olm.md ("Initial setup");
// the Double Ratchet has libolm's and vodozemac's limits (5 receiver
// chains, a message gap of at most 2000, 40 skipped message keys per
// chain). Every X25519 rejects low-order keys with key.ErrNonContributory.
//
// # Peers
//
// Every session knows the Curve25519 identity key of the device at its
// other end ([Session.PeerIdentityKey]): the key an outbound session was
// opened to, the key of the pre-key message that created an inbound one.
// Only that device can have made what the session decrypts, so a caller
// attributes a message to it and to nobody else (an m.room.encrypted
// event's sender_key must equal it). [Session.Decrypt] refuses a pre-key
// message that is not its session's, and [Account.NewInboundSession] one
// whose identity key is not [InboundOptions.TheirIdentityKey]
// ([ErrIdentityKeyMismatch]). libolm's session pickle does not store the
// peer: a session loaded from it has none until [Session.BindPeer].
//
// # Randomness
//
// The plain form of each randomised operation reads crypto/rand. Its From
// form takes the reader first, for replaying libolm byte for byte; a nil
// reader means crypto/rand, and a failing reader gives an error that wraps
// the reader's error (nothing panics, nothing changes). Randomness is read
// in libolm's order and amounts: 64 bytes for an account (Ed25519 seed,
// Curve25519 key), 32 per one-time or fallback key, 64 for an outbound
// session (base key, ratchet key), 32 when an encryption starts a new
// sending chain.
//
// # Messages and errors
//
// [Session.Encrypt] and [Session.Decrypt] append to dst (nil for a fresh
// slice), as crypto/cipher.AEAD does. [ParseMessage] and
// [ParsePreKeyMessage] copy their input: a parsed message never aliases
// it. Failures are [ErrMalformed] (input that does not parse),
// [ErrUnsupportedVersion], [ErrAuthentication] (a MAC or padding that
// fails, a chain we cannot share), [ErrIdentityKeyMismatch],
// [ErrMessageGap], [ErrUnknownMessageIndex], [ErrUnknownOneTimeKey] and
// [ErrBadPickle]; messages start with "olm:".
//
// # Session config v2
//
// vodozemac's experimental "session config v2" (see [SessionConfig]:
// normal messages of version 4 with the whole 32-byte MAC; not in the
// specification, off by default in vodozemac 0.10) is recognised: a
// session of the default config refuses such a message with
// [ErrSessionConfigV2] (which matches [ErrUnsupportedVersion]) once its MAC
// verified, so the reason is the peer's and never a generic MAC failure,
// and nothing changes. Opt in per session with
// [InboundOptions].AcceptSessionConfigV2 and
// [Account.NewOutboundSessionWithConfig]; sicher's pickles keep the
// config, libolm's cannot.
//
// # Safety
//
// Wire input never panics and never changes state unless it
// authenticates: the MAC is verified over the received bytes and the
// padding checked before a session changes, and a failed decryption leaves
// the session exactly as it was. Private keys and ratchet state are
// secret: they sit in unexported fields, and fmt (Format) and log/slog
// (LogValue) show only public keys and counters. Accounts and sessions are
// not safe for concurrent use. A blank session (the zero Session, or
// libolm's pickle of a session never set up) has no ratchet chain and
// fails with [ErrBlankSession].
//
// # Pickles
//
// [Account.Pickle] and [Session.Pickle] store state in sicher's own
// format: a versioned body sealed with AES-256-GCM under a 32-byte key
// with a random nonce; every version ever written stays readable, and the
// identity keys are checked when an account loads. [DerivePickleKey] makes
// that key from a pickle key of any length (HKDF-SHA-256), for stores
// that keep libolm-style keys. libolm's pickle format
// (an IV derived from the key, any key length) is available for migration
// and interoperability through [Account.PickleLibolm],
// [UnpickleLibolmAccount], [Session.PickleLibolm] and
// [UnpickleLibolmSession]: accounts of pickle versions 2 to 4 (version 1
// is refused, as libolm refuses it), sessions of versions 1 and
// 0x80000001; export writes account version 4 and session version 1.
package olm
