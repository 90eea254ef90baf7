// Package signing implements Matrix's canonical JSON and signed JSON (spec
// appendices, "Canonical JSON" and "Signing JSON"), the signed key objects
// built on them (device keys, signed one-time and fallback keys: client-
// server API "End-to-end encryption", "Device keys" and "Key algorithms"),
// and verification of cross-signing chains ("Cross-signing": master →
// self-signing → device, and our user-signing key → another user's
// master key), given the keys and without any network access.
//
// Most callers need four things: [Canonical] to encode JSON the way
// signatures see it; [Sign] and [Verify] for any signed object;
// [VerifyDeviceKeys] and [VerifySignedKey] before creating an Olm session
// with another device; and [VerifyDevice] / [VerifyUserDevice] to decide
// whether a device is cross-signed.
//
// # Canonical JSON
//
// The encoder is a validating one-pass parser over arbitrary JSON text: it
// accepts exactly RFC 8259 JSON in UTF-8, refuses repeated object keys,
// unpaired surrogate escapes and nesting deeper than 512, and writes
// integers only (a literal such as 1e10 or -0 whose value is an integer in
// [-(2^53)+1, 2^53-1] is written as that integer; anything else is a
// [*NumberError]). Unlike encoding/json it never escapes HTML characters,
// U+2028 or U+2029.
//
// # Signatures
//
// Signing removes the top-level "signatures" and "unsigned" members,
// signs the canonical JSON of the rest with Ed25519, and stores the
// unpadded base64 signature under signatures[user]["ed25519:<key name>"],
// where the key name is a device ID or, for cross-signing keys, the
// unpadded base64 public key. Numbers inside the top-level "unsigned"
// member, which no signature covers, may be floats; everywhere else the
// canonical-JSON rules hold. Verification is strict (key.Ed25519.Verify:
// canonical S, no small-order key or R).
//
// Nothing in this package holds secret material: signing keys are passed
// in as a [Signer] (a *key.SigningKey or an Olm account). Functions are
// safe for concurrent use; methods that add signatures are writes.
package signing
