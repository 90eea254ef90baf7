// Package key defines the public keys, signatures and key identifiers that
// travel in Matrix events, and the two key operations every protocol
// package shares: strict Ed25519 verification and contributory X25519.
//
// Public values are fixed-size arrays: comparable, usable as map keys, and
// impossible to build with the wrong length. Their text form is Matrix's
// unpadded standard base64 (spec appendices, "Unpadded Base64"); parsing
// accepts padded input too and rejects anything else. Secret keys do not
// live here as values: [SigningKey] keeps its key material unexported, and
// Curve25519 private keys are *ecdh.PrivateKey from crypto/ecdh.
//
// # Security
//
// [Ed25519.Verify] is strict (as vodozemac's): besides the canonical-S check
// of crypto/ed25519 it rejects small-order public keys and small-order R,
// which crypto/ed25519 accepts (the identity key with an all-zero signature
// verifies any message there). [X25519] rejects non-contributory results
// with [ErrNonContributory], so every protocol refuses low-order peer keys
// the same way.
//
// # Randomness
//
// [GenerateSigningKey] and [GenerateCurve25519] take the reader first so
// that protocol packages can replay libolm's draw order byte for byte; a
// nil reader means crypto/rand. No function panics on any reader, and a
// reader that fails gives an error that wraps the reader's error.
//
// # Errors
//
// [ErrMalformed] for text that does not parse, [ErrBadSignature] for a
// signature that does not verify, [ErrWeakKey] for an Ed25519 key that is
// no point or of small order, [ErrNonContributory] for a low-order X25519
// key. Messages start with "key:".
//
// # Secrets
//
// Parsed values are arrays, so they never alias their input. A
// [SigningKey] prints (fmt) and logs (log/slog) its public key only and
// has no JSON or text form; its private halves leave only through Seed
// and Expanded, whose results the caller wipes.
package key
