// Package keyexport reads and writes Megolm session key export files, the
// "-----BEGIN MEGOLM SESSION DATA-----" files with which Element, other
// Matrix clients and sicher move room keys between devices (spec
// Client-Server API, "Key exports"; reference matrix-e2ee-formats.md §11).
//
// A file is the armored base64 of
//
//	0x01 ‖ salt (16) ‖ IV (16) ‖ rounds (u32 BE) ‖ AES-256-CTR ciphertext ‖ HMAC-SHA-256 (32)
//
// where PBKDF2-HMAC-SHA-512(passphrase, salt, rounds) gives the AES key and
// the HMAC key, and the MAC covers everything before it. The counter wraps
// its low 64 bits as WebCrypto does, so files with any IV decrypt as Element
// wrote them. The plaintext is a JSON array of exported sessions, modelled
// by [Session].
//
// Most users call [Export] to write a file from megolm.InboundSessions and
// [Import] to read one back (the entries become sessions with
// [Session.InboundSession]); [Encrypt] and [Decrypt] handle the armored
// envelope around any plaintext, and [ParseHeader] reads the round count
// before the user is asked for the passphrase.
//
// The passphrase, the derived keys, the decrypted JSON and every
// Session's session key are secret. A Session keeps its key in an
// unexported field, writes it only in its JSON encoding, and is redacted
// by fmt. Decryption checks the MAC in constant time before decrypting and
// refuses round counts above Options.MaxRounds, so a hostile file cannot
// stall the importer.
package keyexport
