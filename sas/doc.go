// Package sas implements short authentication string (SAS) verification,
// the m.sas.v1 method of Matrix device verification (spec "Short
// Authentication String (SAS) verification",
// https://spec.matrix.org/v1.19/client-server-api/#short-authentication-string-sas-verification),
// byte-compatible with libolm's OlmSAS (src/sas.c) and vodozemac's Sas
// (src/sas.rs).
//
// Each side makes an ephemeral X25519 key with [New] and sends
// [SAS.PublicKey] in its m.key.verification.key event. Setting the other
// side's key with [SAS.SetTheirKey] yields an [*Established] SAS; only an
// established SAS can produce the short authentication string (the same
// seven emoji or three numbers on both devices, computed with
// [Established.Emoji] or [Established.Decimals] from the info string that
// [SASInfo] builds) and the MACs of the m.key.verification.mac event
// ([Established.MACKeys] and [Established.VerifyKeys]).
//
// Before that, the device that accepts a verification commits to its key
// ([Commitment]); the starting device checks the commitment when the key
// arrives ([VerifyCommitment]). [Negotiate] picks the methods of the
// accept event from what both sides support.
//
// # Randomness
//
// [New] reads crypto/rand. [NewFrom] takes the reader first (nil means
// crypto/rand) and exists to replay libolm transcripts byte for byte. A
// reader that fails gives an error wrapping the reader's error.
//
// # Errors
//
// [ErrAuthentication] is a MAC that does not verify, or a MAC event with a
// key ID outside the spec's "ed25519:<device ID or master key>" namespace
// (cancel with m.key_mismatch). [ErrCommitmentMismatch] is a commitment
// that does not match (m.mismatched_commitment), [ErrUnknownMethod] a
// method nobody implements (m.unknown_method) and [ErrNoKnownKeys] a MAC
// event naming no key the receiver knows.
//
// # MAC methods
//
// [HKDFHMACSHA256V2] (hkdf-hmac-sha256.v2) is the default and the only
// method new deployments should use. [LegacyHKDFHMACSHA256]
// (hkdf-hmac-sha256) and [LegacyHMACSHA256] (hmac-sha256) exist only to
// verify against old clients: they reproduce libolm's output bit for bit,
// including its in-place base64 encoding, which lets only 6 of the 32 HMAC
// bytes (48 bits) influence the encoded MAC (the rest of the text is
// base64 of text already written); they are therefore much weaker than
// the 256-bit MAC they appear to be. Negotiate
// never picks them when both sides support v2.
//
// # Secrets
//
// The private key of a [SAS] and the shared secret of an [Established]
// SAS are secret; neither is ever printed by fmt or log/slog. Both types
// are immutable after they are made and safe for concurrent use.
package sas
