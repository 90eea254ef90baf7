// Package signing implements Matrix's canonical JSON and signed JSON (spec
// appendices, "Canonical JSON",
// https://spec.matrix.org/v1.19/appendices/#canonical-json, and "Signing
// JSON", https://spec.matrix.org/v1.19/appendices/#signing-json), the
// signed key objects built on them (device keys and signed one-time and
// fallback keys: client-server API, "Device keys",
// https://spec.matrix.org/v1.19/client-server-api/#device-keys, and "Key
// algorithms", https://spec.matrix.org/v1.19/client-server-api/#key-algorithms),
// and verification of cross-signing chains (client-server API,
// "Cross-signing", https://spec.matrix.org/v1.19/client-server-api/#cross-signing:
// master → self-signing → device, and our user-signing key → another
// user's master key), given the keys and without any network access.
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
// keys equal under Unicode simple case folding (the folding of
// strings.EqualFold), unpaired surrogate escapes and nesting deeper than
// 512, and writes integers only (a literal such as 1e10 or -0 whose value
// is an integer in [-(2^53)+1, 2^53-1] is written as that integer; anything
// else is a [*NumberError]). Unlike encoding/json it never escapes HTML
// characters, U+2028 or U+2029.
//
// # Strict member names
//
// Everything this package reads from the network (device keys,
// cross-signing keys, signed keys, any signed object) goes through that
// parser before any field is read, and fields are matched by their exact
// names. An object with two members whose names are equal under case
// folding ("user_id" and "uſer_id" with U+017F, "keys" and "\u212aeys"
// with the Kelvin sign, "usage" and "USAGE"), at any depth, is refused:
// other clients read the exact name, encoding/json the last case variant,
// and one validly signed object must not name two users.
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
// # Errors
//
// Input that does not parse gives an error wrapping [ErrMalformed]; a
// signature that is missing ([ErrNotSigned]), malformed or wrong, device
// keys for another user or device, and a cross-signing chain that does not
// hold ([ErrChain]) give one wrapping [ErrAuthentication]. The key
// package's own error (key.ErrBadSignature, key.ErrWeakKey) is wrapped
// too.
//
// Nothing in this package holds secret material: signing keys are passed
// in as a [Signer] (a *key.SigningKey or an Olm account). Functions are
// safe for concurrent use; methods that add signatures are writes.
package signing
