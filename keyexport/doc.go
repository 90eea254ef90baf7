// Package keyexport reads and writes Megolm session key export files, the
// "-----BEGIN MEGOLM SESSION DATA-----" files with which Element, other
// Matrix clients and sicher move room keys between devices (Matrix
// Client-Server API, "Key exports":
// https://spec.matrix.org/v1.19/client-server-api/#key-exports).
//
// A file is the armored base64 of
//
//	0x01 ‖ salt (16) ‖ IV (16) ‖ rounds (u32 BE) ‖ AES-256-CTR ciphertext ‖ HMAC-SHA-256 (32)
//
// where PBKDF2-HMAC-SHA-512(passphrase, salt, rounds) gives the AES key and
// the HMAC key, and the MAC covers everything before it. The counter wraps
// its low 64 bits as WebCrypto does, so files with any IV decrypt as Element
// wrote them. The plaintext is a JSON array of exported sessions, each a
// megolm.ExportedSession.
//
// Most users call [Export] to write a file from megolm.ExportedSessions
// (megolm.NewExportedSession of an InboundSession's
// ExportAtFirstKnownIndex) and [Import] to read one back; each imported
// entry becomes an unverified megolm.InboundSession with its InboundSession
// method. [Encrypt] and [Decrypt] handle the armored envelope around any
// plaintext, and [ParseHeader] reads the round count before the user is
// asked for the passphrase.
//
// # Randomness
//
// [Encrypt] and [Export] read the salt and IV from crypto/rand.
// [EncryptFrom] takes the reader first (nil means crypto/rand), for
// known-answer tests; a failing reader gives an error that wraps its error.
//
// # Work bound
//
// The PBKDF2 round count is in the file, chosen by whoever wrote it. Decrypt
// refuses counts above [DefaultMaxRounds] (1 000 000, twice Element's
// default) before doing any PBKDF2 work, unless Options.MaxRounds raises the
// ceiling explicitly; Encrypt writes at least [MinRounds] (100 000, the
// specification's recommended minimum) unless
// Options.InsecureAllowLowRounds is set.
//
// # Errors
//
// [ErrMalformed] (no armor, bad base64, too short, a session list that is
// not a JSON array, an invalid entry inside an [EntryError]),
// [ErrUnsupportedVersion], [ErrBadRounds] and [ErrAuthentication] (wrong
// passphrase or tampered file; the MAC is checked in constant time before
// anything is decrypted). Session lists are decoded strictly: exact member
// names, no duplicate members.
//
// # Secrets
//
// The passphrase, the derived keys, the decrypted JSON and every session
// key are secret. megolm.ExportedSession keeps its key in an unexported
// field and is redacted by fmt, log/slog and encoding/json; only
// [MarshalSessions] (through its MarshalSecretJSON) writes the keys.
// Returned slices are new: nothing aliases the caller's input.
package keyexport
