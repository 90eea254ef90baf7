package keybackup

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
)

// encryptedSessionDataJSON is the wire form of EncryptedSessionData.
type encryptedSessionDataJSON struct {
	Ephemeral  string `json:"ephemeral"`
	Ciphertext string `json:"ciphertext"`
	MAC        string `json:"mac"`
}

// MarshalJSON encodes d as {"ephemeral", "ciphertext", "mac"} in unpadded
// base64.
func (d EncryptedSessionData) MarshalJSON() ([]byte, error) {
	return json.Marshal(encryptedSessionDataJSON{d.Ephemeral.String(), b64.Encode(d.Ciphertext), b64.Encode(d.MAC[:])})
}

// UnmarshalJSON decodes the session_data object strictly (exact member
// names, no duplicates); see ParseEncryptedSessionData.
func (d *EncryptedSessionData) UnmarshalJSON(b []byte) error {
	var j encryptedSessionDataJSON
	if err := jsonstrict.Unmarshal(b, &j); err != nil {
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

// UnmarshalJSON decodes auth_data strictly (exact member names;
// duplicates, also under case folding, refused), whichever JSON package
// calls it.
func (a *AuthData) UnmarshalJSON(b []byte) error {
	type plain AuthData
	if err := jsonstrict.Unmarshal(b, (*plain)(a)); err != nil {
		return fmt.Errorf("%w: auth_data: %w", ErrMalformed, err)
	}
	return nil
}

// sessionDataJSON is BackedUpSessionData, the plaintext of a backup entry:
// an exported session without room_id and session_id, which the entry's
// URL carries.
type sessionDataJSON struct {
	Algorithm         string            `json:"algorithm"`
	ForwardingChain   []string          `json:"forwarding_curve25519_key_chain"`
	SenderKey         string            `json:"sender_key"`
	SenderClaimedKeys map[string]string `json:"sender_claimed_keys"`
	SessionKey        string            `json:"session_key"`
	SharedHistory     bool              `json:"shared_history,omitempty"`
}

// marshalSession encodes s as a backup stores it (BackedUpSessionData).
// The result is secret.
func marshalSession(s *megolm.ExportedSession) ([]byte, error) {
	sk := s.SessionKey()
	if sk == nil {
		return nil, fmt.Errorf("%w: session without a session key", ErrMalformed)
	}
	chain := s.ForwardingCurve25519KeyChain
	if chain == nil {
		chain = []string{}
	}
	claimed := s.SenderClaimedKeys
	if claimed == nil {
		claimed = map[string]string{}
	}
	sender := s.RawSenderKey
	if s.SenderKey != (key.Curve25519{}) || sender == "" {
		sender = s.SenderKey.String()
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(sessionDataJSON{
		Algorithm:         s.Algorithm,
		ForwardingChain:   chain,
		SenderKey:         sender,
		SenderClaimedKeys: claimed,
		SessionKey:        sk.Base64(),
		SharedHistory:     s.SharedHistory,
	})
	if err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// EncryptSession encrypts an exported session (megolm.NewExportedSession
// of an InboundSession's ExportAtFirstKnownIndex) to the backup public key
// as BackedUpSessionData; see Encrypt.
func EncryptSession(backupKey key.Curve25519, s *megolm.ExportedSession) (EncryptedSessionData, error) {
	return EncryptSessionFrom(nil, backupKey, s)
}

// EncryptSessionFrom is EncryptSession reading the ephemeral key from rand
// (nil means crypto/rand), for reproducible transcripts.
func EncryptSessionFrom(rand io.Reader, backupKey key.Curve25519, s *megolm.ExportedSession) (EncryptedSessionData, error) {
	pt, err := marshalSession(s)
	if err != nil {
		return EncryptedSessionData{}, fmt.Errorf("keybackup: encoding session data: %w", err)
	}
	defer clear(pt)
	return EncryptFrom(rand, backupKey, pt)
}

// DecryptSession decrypts and parses one backed-up session (lenient about
// a malformed sender_key, which is kept as text; see
// megolm.ParseExportedSession). Restore it with its InboundSession method,
// which gives an unverified session. Besides the errors of Decrypt,
// plaintext that is not valid session data gives ErrDecrypt,
// indistinguishable from a padding failure. The session is
// unauthenticated: see the package documentation.
func (k *DecryptionKey) DecryptSession(d EncryptedSessionData) (*megolm.ExportedSession, error) {
	pt, err := k.Decrypt(d)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	s, err := megolm.ParseExportedSession(pt)
	if err != nil {
		// The same error as for bad padding, with no detail: the
		// ciphertext is unauthenticated (no padding oracle).
		return nil, ErrDecrypt
	}
	return s, nil
}
