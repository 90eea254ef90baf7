package keybackup

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/key"
)

// MegolmAlgorithm is the algorithm of every session this backup version
// stores.
const MegolmAlgorithm = "m.megolm.v1.aes-sha2"

// encryptedSessionDataJSON is the wire form of EncryptedSessionData.
type encryptedSessionDataJSON struct {
	Ephemeral  string `json:"ephemeral"`
	Ciphertext string `json:"ciphertext"`
	MAC        string `json:"mac"`
}

// MarshalJSON encodes d as {"ephemeral", "ciphertext", "mac"} in unpadded
// base64.
func (d EncryptedSessionData) MarshalJSON() ([]byte, error) {
	return json.Marshal(encryptedSessionDataJSON{d.EphemeralString(), d.CiphertextString(), d.MACString()})
}

// UnmarshalJSON decodes the session_data object; see
// ParseEncryptedSessionData.
func (d *EncryptedSessionData) UnmarshalJSON(b []byte) error {
	var j encryptedSessionDataJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("%w: session_data: %v", ErrMalformed, err)
	}
	v, err := ParseEncryptedSessionData(j.Ephemeral, j.Ciphertext, j.MAC)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// KeyBackupData is one session's entry in a backup as the server stores
// it (rooms.<room>.sessions.<session id>): cleartext metadata the server
// uses to keep the better of two copies, and the encrypted session data.
type KeyBackupData struct {
	FirstMessageIndex int                  `json:"first_message_index"`
	ForwardedCount    int                  `json:"forwarded_count"`
	IsVerified        bool                 `json:"is_verified"`
	SessionData       EncryptedSessionData `json:"session_data"`
}

// Better reports whether d should replace other as the stored copy of the
// same session, by the server's rule (spec "Server-side key backups"):
// a verified key beats an unverified one, then the lower
// first_message_index wins, then the lower forwarded_count.
func (d KeyBackupData) Better(other KeyBackupData) bool {
	if d.IsVerified != other.IsVerified {
		return d.IsVerified
	}
	if d.FirstMessageIndex != other.FirstMessageIndex {
		return d.FirstMessageIndex < other.FirstMessageIndex
	}
	return d.ForwardedCount < other.ForwardedCount
}

// AuthData is the auth_data of an m.megolm_backup.v1.curve25519-aes-sha2
// backup version: the backup's public key and the signatures over it
// (verify them with the signing package before uploading any key).
type AuthData struct {
	PublicKey  key.Curve25519               `json:"public_key"`
	Signatures map[string]map[string]string `json:"signatures,omitempty"`
}

// SessionData is the plaintext of a backed-up Megolm session
// (BackedUpSessionData). The session key is secret and kept unexported;
// fmt prints the other fields only.
type SessionData struct {
	// Algorithm is the session's algorithm, m.megolm.v1.aes-sha2.
	Algorithm string
	// SenderKey is the Curve25519 key of the device that created the
	// session, in unpadded base64 as the backup holds it (kept as text:
	// a malformed value must not make a usable session unrestorable; see
	// ParsedSenderKey).
	SenderKey string
	// SenderClaimedKeys are the keys the sending device claimed, by
	// algorithm: {"ed25519": "<Ed25519 key>"}.
	SenderClaimedKeys map[string]string
	// ForwardingCurve25519KeyChain lists the Curve25519 keys of the
	// devices that forwarded the session, oldest first. Entries written
	// by old matrix-js-sdk as forwardingCurve25519KeyChain are read too;
	// a missing chain is empty.
	ForwardingCurve25519KeyChain []string
	// SharedHistory is the shared_history flag (MSC3061, spec v1.19).
	SharedHistory bool

	sessionKey []byte // the exported session key, decoded; secret
}

// NewSessionData returns session data for a session whose exported
// session key (export format, 0x01 ‖ index ‖ ratchet ‖ signing key; 165
// bytes) is sessionKey. sessionKey is copied.
func NewSessionData(senderKey key.Curve25519, claimedEd25519 key.Ed25519, sessionKey []byte) *SessionData {
	return &SessionData{
		Algorithm:                    MegolmAlgorithm,
		SenderKey:                    senderKey.String(),
		SenderClaimedKeys:            map[string]string{"ed25519": claimedEd25519.String()},
		ForwardingCurve25519KeyChain: []string{},
		sessionKey:                   bytes.Clone(sessionKey),
	}
}

// SessionKey returns a copy of the exported session key bytes (pass them
// to megolm.ExportedSessionKeyFromBytes). The copy is secret.
func (s *SessionData) SessionKey() []byte { return bytes.Clone(s.sessionKey) }

// ParsedSenderKey returns SenderKey as a Curve25519 key.
func (s *SessionData) ParsedSenderKey() (key.Curve25519, error) {
	k, err := key.ParseCurve25519(s.SenderKey)
	if err != nil {
		return key.Curve25519{}, fmt.Errorf("%w: sender_key: %v", ErrMalformed, err)
	}
	return k, nil
}

// ClaimedEd25519 returns the sender's claimed Ed25519 key.
func (s *SessionData) ClaimedEd25519() (key.Ed25519, error) {
	v, ok := s.SenderClaimedKeys["ed25519"]
	if !ok {
		return key.Ed25519{}, fmt.Errorf("%w: no claimed ed25519 key", ErrMalformed)
	}
	k, err := key.ParseEd25519(v)
	if err != nil {
		return key.Ed25519{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return k, nil
}

// Format prints the public fields only, for every verb.
func (s SessionData) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "keybackup.SessionData{Algorithm: %q, SenderKey: %q, SenderClaimedKeys: %v, ForwardingCurve25519KeyChain: %v, SharedHistory: %v, SessionKey: REDACTED}",
		s.Algorithm, s.SenderKey, s.SenderClaimedKeys, s.ForwardingCurve25519KeyChain, s.SharedHistory)
}

type sessionDataJSON struct {
	Algorithm         string            `json:"algorithm"`
	ForwardingChain   []string          `json:"forwarding_curve25519_key_chain"`
	SenderKey         *string           `json:"sender_key"`
	SenderClaimedKeys map[string]string `json:"sender_claimed_keys"`
	SessionKey        string            `json:"session_key"`
	SharedHistory     bool              `json:"shared_history,omitempty"`
}

// MarshalJSON encodes the session data as a backup stores it, with the
// session key in unpadded base64. The result is secret.
func (s SessionData) MarshalJSON() ([]byte, error) {
	chain := s.ForwardingCurve25519KeyChain
	if chain == nil {
		chain = []string{}
	}
	claimed := s.SenderClaimedKeys
	if claimed == nil {
		claimed = map[string]string{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(sessionDataJSON{
		Algorithm:         s.Algorithm,
		ForwardingChain:   chain,
		SenderKey:         &s.SenderKey,
		SenderClaimedKeys: claimed,
		SessionKey:        b64.EncodeSecret(s.sessionKey),
		SharedHistory:     s.SharedHistory,
	})
	if err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON decodes backed-up session data (errors wrap
// ErrMalformed). algorithm, sender_key and session_key are required; the session key must be base64 (padded or
// not; decoded in constant time). Unknown fields are ignored.
func (s *SessionData) UnmarshalJSON(b []byte) error {
	var j struct {
		sessionDataJSON
		LegacyChain []string `json:"forwardingCurve25519KeyChain"`
	}
	// json.Unmarshal refuses trailing data itself, and allocates less than
	// a Decoder (this runs for every session of a backup).
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if j.Algorithm == "" || j.SenderKey == nil || j.SessionKey == "" {
		return fmt.Errorf("%w: session data lacks algorithm, sender_key or session_key", ErrMalformed)
	}
	sk, err := b64.DecodeSecret(j.SessionKey)
	if err != nil {
		return fmt.Errorf("%w: session_key is not base64", ErrMalformed)
	}
	chain := j.ForwardingChain
	if chain == nil {
		chain = j.LegacyChain
	}
	if chain == nil {
		chain = []string{}
	}
	*s = SessionData{
		Algorithm:                    j.Algorithm,
		SenderKey:                    *j.SenderKey,
		SenderClaimedKeys:            j.SenderClaimedKeys,
		ForwardingCurve25519KeyChain: chain,
		SharedHistory:                j.SharedHistory,
		sessionKey:                   sk,
	}
	return nil
}

// EncryptSession encrypts session data to the backup public key; see
// Encrypt.
func EncryptSession(backupKey key.Curve25519, s *SessionData, r io.Reader) (EncryptedSessionData, error) {
	pt, err := s.MarshalJSON()
	if err != nil {
		return EncryptedSessionData{}, fmt.Errorf("keybackup: encoding session data: %w", err)
	}
	defer clear(pt)
	return Encrypt(backupKey, pt, r)
}

// DecryptSession decrypts and parses one backed-up session. Besides the
// errors of Decrypt, plaintext that is not valid session data gives
// ErrDecrypt, indistinguishable from a padding failure. The session is unauthenticated: see the package
// documentation.
func (k *DecryptionKey) DecryptSession(d EncryptedSessionData) (*SessionData, error) {
	pt, err := k.Decrypt(d)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	s := new(SessionData)
	if err := s.UnmarshalJSON(pt); err != nil {
		// The same error as for bad padding, with no detail: the
		// ciphertext is unauthenticated (no padding oracle).
		return nil, ErrDecrypt
	}
	return s, nil
}
