package testvectors

import (
	"crypto/sha256"
	"encoding/binary"
)

// ---------------------------------------------------------------- primitives

// Primitive is a known answer for one primitive (primitives/crypto.json).
// Op is one of "x25519" (Key = private, Peer = public, Output = shared
// secret), "x25519_public" (Key → Output), "hkdf_sha256" (Key = IKM, Salt,
// Info, Output of len(Output)), "hmac_sha256" (Key, Input → Output),
// "sha256" (Input → Output), "aes256_cbc_pkcs7" (Key, IV, Input →
// Output), "ed25519_seed" (Key = seed → Output = public key, Input signed →
// Signature).
type Primitive struct {
	Meta
	Op        string `json:"op"`
	Key       Hex    `json:"key,omitempty"`
	Peer      Hex    `json:"peer,omitempty"`
	Salt      Hex    `json:"salt,omitempty"`
	Info      Hex    `json:"info,omitempty"`
	IV        Hex    `json:"iv,omitempty"`
	Input     Hex    `json:"input,omitempty"`
	Output    Hex    `json:"output"`
	Signature Hex    `json:"signature,omitempty"`
}

// Base64 is a decoding case (primitives/base64.json): Input decodes to
// Output (Expect OK) or is rejected. Kind is "base64" (any length),
// "curve25519" or "ed25519" (32 bytes), "signature" (64 bytes) or "key_id"
// (libolm's 4-byte big-endian one-time key id, Output then holds the id).
type Base64 struct {
	Meta
	Kind   string `json:"kind"`
	Input  string `json:"input"`
	Output Hex    `json:"output,omitempty"`
}

// ---------------------------------------------------------------- megolm

// MegolmRatchet is a raw Megolm ratchet case (megolm/ratchet.json):
// megolm_init(Initial, Counter), then each op in turn; after each op the
// ratchet's 128 bytes and counter equal the op's Data and Counter.
type MegolmRatchet struct {
	Meta
	Initial Hex        `json:"initial"`
	Counter uint32     `json:"counter"`
	Ops     []MegolmOp `json:"ops"`
}

// MegolmOp is "advance" (one step) or "advance_to" To, and the state after.
type MegolmOp struct {
	Op      string `json:"op"`
	To      uint32 `json:"to,omitempty"`
	Data    Hex    `json:"data"`
	Counter uint32 `json:"counter"`
}

// MegolmRatchetDigest is an accumulated ratchet test
// (megolm/ratchet_digest.json): Pairs pseudo-random (initial, start,
// target) triples from [MegolmRatchetDigest.Each]; for each, init at
// start, advance_to target, and feed data(128) ‖ counter (u32 BE) into one
// SHA-256, whose sum is Digest.
type MegolmRatchetDigest struct {
	Meta
	Seed   string `json:"seed"`
	Pairs  int    `json:"pairs"`
	Digest Hex    `json:"digest"`
}

// Each calls f for the vector's cases in order. The stream is SHA-256(seed
// ‖ u32 BE block number) blocks; each case reads 128 bytes of initial
// ratchet, a u32 BE start, a u32 BE x and a mode byte, and the target is
// start + (x & 0xFF), start + (x & 0xFFFF), start + (x & 0xFFFFFF) (each
// mod 2^32) or x, for mode % 4 = 0, 1, 2, 3.
func (v MegolmRatchetDigest) Each(f func(initial *[128]byte, start, target uint32)) {
	s := NewStream(v.Seed)
	var buf [128 + 4 + 4 + 1]byte
	for range v.Pairs {
		s.Read(buf[:])
		var initial [128]byte
		copy(initial[:], buf[:128])
		start := binary.BigEndian.Uint32(buf[128:])
		x := binary.BigEndian.Uint32(buf[132:])
		var target uint32
		switch buf[136] % 4 {
		case 0:
			target = start + (x & 0xFF)
		case 1:
			target = start + (x & 0xFFFF)
		case 2:
			target = start + (x & 0xFFFFFF)
		default:
			target = x
		}
		f(&initial, start, target)
	}
}

// Stream is the corpus's deterministic byte stream: SHA-256 in counter
// mode over a seed string. It is not a cryptographic generator.
type Stream struct {
	seed  string
	block uint32
	buf   []byte
}

// NewStream returns the stream for seed.
func NewStream(seed string) *Stream { return &Stream{seed: seed} }

// Read fills p; it never fails.
func (s *Stream) Read(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(s.buf) == 0 {
			h := sha256.New()
			h.Write([]byte(s.seed))
			h.Write(binary.BigEndian.AppendUint32(nil, s.block))
			s.block++
			s.buf = h.Sum(nil)
		}
		c := copy(p, s.buf)
		p, s.buf = p[c:], s.buf[c:]
	}
	return n, nil
}

// MegolmDecrypt is one inbound Megolm case (megolm/sessions.json): create
// the session from SessionKey (signed, olm_init_inbound_group_session) or
// ExportedKey (olm_import_inbound_group_session); if Message is empty,
// Expect applies to that creation. Otherwise creation succeeds with
// SessionID and FirstKnownIndex, and Expect applies to decrypting Message,
// which yields Plaintext at MessageIndex. Verified is libolm's
// signing-key-verified flag after the decrypt: true after init, and after
// any successful decrypt even of an imported session. vodozemac and sicher
// never mark an imported session verified, so for them the flag is
// Verified && SessionKey != "".
type MegolmDecrypt struct {
	Meta
	SessionKey      string `json:"session_key,omitempty"`
	ExportedKey     string `json:"exported_key,omitempty"`
	SessionID       string `json:"session_id,omitempty"`
	FirstKnownIndex uint32 `json:"first_known_index"`
	Message         string `json:"message,omitempty"`
	Plaintext       Hex    `json:"plaintext,omitempty"`
	MessageIndex    uint32 `json:"message_index"`
	Verified        bool   `json:"verified"`
	// ExportAtFirst is the inbound session's export at its first known
	// index (before the decrypt), when creation succeeds.
	ExportAtFirst string `json:"export_at_first,omitempty"`
}

// MegolmOutbound is an outbound session (megolm/outbound.json). It is
// created from Random (160 bytes: ratchet ‖ Ed25519 seed, index 0) when
// present, or from the libolm Pickle under PickleKey (which is how the
// sessions at large indices are reached). It starts at Index with
// SessionID and SessionKey; encrypting each message's Plaintext in turn
// yields its Message (deterministic: the IV comes from the ratchet).
type MegolmOutbound struct {
	Meta
	Random     Hex                     `json:"random,omitempty"`
	Pickle     string                  `json:"pickle"`
	PickleKey  Hex                     `json:"pickle_key"`
	Index      uint32                  `json:"index"`
	SessionID  string                  `json:"session_id"`
	SessionKey string                  `json:"session_key"`
	Messages   []MegolmOutboundMessage `json:"messages"`
}

// MegolmOutboundMessage is one encrypted message.
type MegolmOutboundMessage struct {
	Index     uint32 `json:"index"`
	Plaintext Hex    `json:"plaintext"`
	Message   string `json:"message"`
}

// ---------------------------------------------------------------- olm

// OlmTranscript is a deterministic Olm conversation (olm/transcripts.json).
// Actors are accounts by name ("alice", "bob"); sessions are named too.
// Replaying the steps in order with each step's Random as the only
// randomness must reproduce every output and every failure; a failing
// step leaves the session unchanged (the following steps depend on it).
// A step's Expect is OK or a failure class (Accept lists equally correct
// classes); a transcript whose failing step has LibolmExpect "ok" ends
// there, because libolm carried on where a hardened implementation stops.
type OlmTranscript struct {
	Meta
	Steps []OlmStep `json:"steps"`
}

// OlmStep is one operation of a transcript. Op and its fields:
//
//   - "create_account" (Random 64) → IdentityKeys
//   - "generate_one_time_keys" (Count, Random 32·Count) → OneTimeKeys (all
//     unpublished keys after the call, libolm order: newest first)
//   - "generate_fallback_key" (Random 32) → FallbackKey (unpublished)
//   - "mark_keys_as_published", "forget_old_fallback_key"
//   - "sign" (Plaintext) → Signature
//   - "create_outbound_session" (Session, TheirIdentityKey, TheirOneTimeKey,
//     Random 64) → SessionID
//   - "create_inbound_session" (Session, Body of a pre-key message;
//     TheirIdentityKey if set must match) → SessionID. When it succeeds
//     the next step of that session decrypts the same Body: an
//     implementation that decrypts while creating (vodozemac, sicher)
//     checks that step's Plaintext there and skips the step.
//   - "remove_one_time_keys" (Session): a no-op for implementations that
//     remove the key when creating the inbound session
//   - "encrypt" (Session, Plaintext, Random 0 or 32) → Type, Body. With
//     Repeat > 1 the same plaintext is encrypted Repeat times and the
//     outputs are discarded (Body empty): messages that are never delivered.
//   - "decrypt" (Session, Type, Body) → Plaintext, or Expect's failure
//   - "pickle_session" (Session, PickleKey) → Pickle: libolm's pickle; a
//     replaying implementation may check it byte for byte and continue
//     from its own unpickled copy.
//   - "session_state" (Session) → HasReceivedMessage
//   - "matches_inbound_session" (Session, Body of a pre-key message,
//     TheirIdentityKey if set) → Matches: whether the message belongs to
//     the session (olm_matches_inbound_session[_from])
type OlmStep struct {
	Actor            string        `json:"actor"`
	Op               string        `json:"op"`
	Session          string        `json:"session,omitempty"`
	Random           Hex           `json:"random,omitempty"`
	Count            int           `json:"count,omitempty"`
	Repeat           int           `json:"repeat,omitempty"`
	TheirIdentityKey string        `json:"their_identity_key,omitempty"`
	TheirOneTimeKey  string        `json:"their_one_time_key,omitempty"`
	Plaintext        Hex           `json:"plaintext,omitempty"`
	Type             int           `json:"type"`
	Body             string        `json:"body,omitempty"`
	PickleKey        Hex           `json:"pickle_key,omitempty"`
	Expect           string        `json:"expect"`
	Accept           []string      `json:"accept,omitempty"`
	LibolmError      string        `json:"libolm_error,omitempty"`
	LibolmExpect     string        `json:"libolm_expect,omitempty"`
	Comment          string        `json:"comment,omitempty"`
	IdentityKeys     *IdentityKeys `json:"identity_keys,omitempty"`
	OneTimeKeys      []KeyEntry    `json:"one_time_keys,omitempty"`
	FallbackKey      []KeyEntry    `json:"fallback_key,omitempty"`
	Signature        string        `json:"signature,omitempty"`
	SessionID        string        `json:"session_id,omitempty"`
	Pickle           string        `json:"pickle,omitempty"`
	// HasReceivedMessage is reported by "session_state".
	HasReceivedMessage bool `json:"has_received_message,omitempty"`
	// Matches is reported by "matches_inbound_session".
	Matches bool `json:"matches,omitempty"`
}

// IdentityKeys are an account's public identity keys (unpadded base64).
type IdentityKeys struct {
	Curve25519 string `json:"curve25519"`
	Ed25519    string `json:"ed25519"`
}

// KeyEntry is a one-time or fallback key: libolm's id text ("AAAAAQ") and
// the unpadded base64 Curve25519 public key.
type KeyEntry struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

// OlmMessage is a wire-format case (olm/messages.json): Body (unpadded
// base64) of message Type parses (Expect OK) into the fields, or fails.
// For a pre-key message (Type 0) the inner normal message is Inner.
type OlmMessage struct {
	Meta
	Type        int         `json:"type"`
	Body        string      `json:"body"`
	Version     uint8       `json:"version,omitempty"`
	RatchetKey  Hex         `json:"ratchet_key,omitempty"`
	ChainIndex  uint32      `json:"chain_index,omitempty"`
	Ciphertext  Hex         `json:"ciphertext,omitempty"`
	MAC         Hex         `json:"mac,omitempty"`
	OneTimeKey  Hex         `json:"one_time_key,omitempty"`
	BaseKey     Hex         `json:"base_key,omitempty"`
	IdentityKey Hex         `json:"identity_key,omitempty"`
	Inner       *OlmMessage `json:"inner,omitempty"`
}

// OlmDecrypt decrypts Body (type Type) with the session restored from the
// libolm Pickle under PickleKey (olm/decrypt.json). BodyRaw, when set,
// replaces Body: the bytes handed to olm_decrypt as they are (libolm's own
// malformed-message vectors are not valid base64).
type OlmDecrypt struct {
	Meta
	Pickle    string `json:"pickle"`
	PickleKey Hex    `json:"pickle_key"`
	Type      int    `json:"type"`
	Body      string `json:"body,omitempty"`
	BodyRaw   Hex    `json:"body_raw,omitempty"`
	Plaintext Hex    `json:"plaintext,omitempty"`
}

// ---------------------------------------------------------------- sas, pk

// SAS is a short-authentication-string case (sas/sas.json): our X25519
// Private key (libolm's 32 random bytes) with Public, agreeing with
// TheirPublic.
type SAS struct {
	Meta
	Private     Hex        `json:"private"`
	Public      string     `json:"public"`
	TheirPublic string     `json:"their_public"`
	Bytes       []SASBytes `json:"bytes,omitempty"`
	MACs        []SASMAC   `json:"macs,omitempty"`
}

// SASBytes is HKDF output for Info; Emoji (7 indices 0..63) and Decimal (3
// numbers 1000..9191) are derived from it when it is long enough.
type SASBytes struct {
	Info    string `json:"info"`
	Output  Hex    `json:"output"`
	Emoji   []int  `json:"emoji,omitempty"`
	Decimal []int  `json:"decimal,omitempty"`
}

// SASMAC is the MAC of Input under Info in libolm's three variants: MAC
// (olm_sas_calculate_mac_fixed_base64, method "hkdf-hmac-sha256.v2"),
// MACLegacy (olm_sas_calculate_mac, the broken base64 of
// "hkdf-hmac-sha256") and MACLongKDF (olm_sas_calculate_mac_long_kdf).
type SASMAC struct {
	Input      string `json:"input"`
	Info       string `json:"info"`
	MAC        string `json:"mac"`
	MACLegacy  string `json:"mac_legacy"`
	MACLongKDF string `json:"mac_long_kdf"`
}

// PK is a backup-v1 (m.megolm_backup.v1.curve25519-aes-sha2) case
// (pk/pk.json). Encrypting Plaintext to RecipientPublic with
// EphemeralPrivate as the random input yields Ephemeral, Ciphertext and
// MAC (all unpadded base64); decrypting those with RecipientPrivate yields
// Plaintext, or Expect's failure (EphemeralPrivate empty: decrypt only).
type PK struct {
	Meta
	RecipientPrivate Hex    `json:"recipient_private"`
	RecipientPublic  string `json:"recipient_public"`
	EphemeralPrivate Hex    `json:"ephemeral_private,omitempty"`
	Plaintext        Hex    `json:"plaintext,omitempty"`
	Ephemeral        string `json:"ephemeral"`
	Ciphertext       string `json:"ciphertext"`
	MAC              string `json:"mac"`
}

// Signing is an Ed25519 case (pk/signing.json): with Seed, the key is
// libolm's PkSigning (or an account's) key Public and Signature signs
// Message; without Seed, Expect says whether Signature verifies under
// Public (olm_ed25519_verify).
type Signing struct {
	Meta
	Seed      Hex    `json:"seed,omitempty"`
	Public    string `json:"public"`
	Message   Hex    `json:"message"`
	Signature string `json:"signature"`
}

// ---------------------------------------------------------------- pickles

// Pickle is a libolm pickle (pickle/*.json): Object ("account",
// "session", "outbound_group_session", "inbound_group_session",
// "pk_decryption") at Version, under Key. Plaintext is the decrypted
// content. With Expect OK the object restores and every check that is set
// holds; Repickle is libolm's pickle of the restored object under the same
// key (the latest version: equal to Pickle when Version is the latest).
// The checks that use the object run in this order: decrypt (DecryptBody
// or the Pk fields), then encrypt (EncryptPlaintext), then sign.
type Pickle struct {
	Meta
	Object    string `json:"object"`
	Version   uint32 `json:"version"`
	Key       Hex    `json:"key"`
	Pickle    string `json:"pickle"`
	Plaintext Hex    `json:"plaintext,omitempty"`
	Repickle  string `json:"repickle,omitempty"`

	// Account checks.
	IdentityKeys *IdentityKeys `json:"identity_keys,omitempty"`
	OneTimeKeys  []KeyEntry    `json:"one_time_keys,omitempty"`
	// FallbackKey is the unpublished fallback key (possibly none);
	// CurrentFallbackKey the current one regardless of publication.
	FallbackKey        []KeyEntry `json:"fallback_key,omitempty"`
	CurrentFallbackKey []KeyEntry `json:"current_fallback_key,omitempty"`
	SignMessage        Hex        `json:"sign_message,omitempty"`
	Signature          string     `json:"signature,omitempty"`
	// NextKeyID is the id the next generated one-time key gets.
	NextKeyID uint32 `json:"next_key_id,omitempty"`
	// MaxOneTimeKeys is how many one-time keys the pickle may hold.
	MaxOneTimeKeys int `json:"max_one_time_keys,omitempty"`

	// Session and group session checks.
	SessionID          string `json:"session_id,omitempty"`
	HasReceivedMessage *bool  `json:"has_received_message,omitempty"`
	// Encrypt: the restored session encrypts EncryptPlaintext with
	// EncryptRandom into (EncryptType,) EncryptBody.
	EncryptPlaintext Hex    `json:"encrypt_plaintext,omitempty"`
	EncryptRandom    Hex    `json:"encrypt_random,omitempty"`
	EncryptType      int    `json:"encrypt_type,omitempty"`
	EncryptBody      string `json:"encrypt_body,omitempty"`
	// Decrypt: the restored object decrypts DecryptBody (of DecryptType)
	// into DecryptPlaintext (at DecryptIndex for Megolm).
	DecryptType      int    `json:"decrypt_type,omitempty"`
	DecryptBody      string `json:"decrypt_body,omitempty"`
	DecryptPlaintext Hex    `json:"decrypt_plaintext,omitempty"`
	DecryptIndex     uint32 `json:"decrypt_index,omitempty"`
	// Megolm state.
	MessageIndex    *uint32 `json:"message_index,omitempty"`
	FirstKnownIndex *uint32 `json:"first_known_index,omitempty"`
	Verified        *bool   `json:"verified,omitempty"`
	SessionKey      string  `json:"session_key,omitempty"`
	ExportedKey     string  `json:"exported_key,omitempty"`
	// PublicKey is a PkDecryption's public key.
	PublicKey string `json:"public_key,omitempty"`
	// PkPK, when set, is a backup message the restored PkDecryption opens.
	PkEphemeral  string `json:"pk_ephemeral,omitempty"`
	PkCiphertext string `json:"pk_ciphertext,omitempty"`
	PkMAC        string `json:"pk_mac,omitempty"`
}
