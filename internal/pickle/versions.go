package pickle

// The objects stored in sicher's own format: each kind (the additional
// data of Seal) and every version of its body ever written. Every version
// listed stays readable.
const (
	// KindOlmAccount is an olm.Account.
	KindOlmAccount = "olm.Account"
	// OlmAccountV1 stores the identity keys' private halves only.
	OlmAccountV1 = 1
	// OlmAccountV2 stores both halves of the identity keys.
	OlmAccountV2 = 2

	// KindOlmSession is an olm.Session.
	KindOlmSession = "olm.Session"
	// OlmSessionV1 stores the handshake keys and the Double Ratchet state
	// without a version of its own.
	OlmSessionV1 = 1
	// OlmSessionV2 adds the peer's identity key (when known) and stores
	// the Double Ratchet state with its own version byte.
	OlmSessionV2 = 2
	// OlmSessionV3 has the body of version 2 with Double Ratchet state
	// version 2, which stores the sending ratchet key's public half so
	// that loading needs no scalar multiplication.
	OlmSessionV3 = 3

	// Version 0 is, for the objects below, the format written before
	// objects carried a u8 version: a u32 big-endian version 1, whose
	// first byte is 0. Its remaining three bytes (0, 0, 1) start the body.

	// megolm.OutboundSession: 0 is the legacy layout (u32 1 ‖ ratchet ‖
	// counter ‖ key form 1 = seed, 2 = expanded ‖ key); 1 is ratchet ‖
	// counter ‖ key form (0 = seed, 1 = expanded, as in olm) ‖ key.
	MegolmOutboundLegacy = 0
	MegolmOutboundV1     = 1

	// megolm.InboundSession: 0 is the legacy layout (u32 1 ‖ body); 1 is
	// initial ratchet ‖ counter ‖ latest ratchet ‖ counter ‖ signing key ‖
	// verified flag.
	MegolmInboundLegacy = 0
	MegolmInboundV1     = 1

	// keybackup.DecryptionKey: 0 is libolm's PkDecryption layout (u32 1 ‖
	// public key ‖ private key); 1 is the 32-byte private key alone.
	BackupKeyLegacy = 0
	BackupKeyV1     = 1
)

// Sessions of vodozemac's experimental session config v2 (olm.SessionConfigV2).
const (
	// OlmSessionV3ConfigV2 is the body of OlmSessionV3 for a session of
	// session config v2 (untruncated MACs). A reader that does not know
	// it refuses the pickle instead of loading the session as v1. It is
	// numbered apart from the sequence of OlmSession versions.
	OlmSessionV3ConfigV2 = 0x43
)
