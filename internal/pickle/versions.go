package pickle

// Object versions: the u8 that starts the plaintext of each object's
// own-format pickle (see Seal). Each package parses its bodies with a
// switch on it, and every version listed here stays readable.
//
// Version 0 is, for the objects below, the format written before objects
// carried a u8 version: a u32 big-endian version 1, whose first byte is 0.
// Its remaining three bytes (0, 0, 1) start the body.
const (
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
