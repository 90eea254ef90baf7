package keybackup

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/sicher-go/sicher/internal/hmacsha256"
	"github.com/sicher-go/sicher/internal/jsonstrict"
)

// Authenticated backup entries (MSC4048, "Authenticated key backup",
// https://github.com/matrix-org/matrix-spec-proposals/pull/4048).
//
// Backup v1 lets anyone who knows the backup's public key write entries; MSC4048 adds a MAC
// under a key derived from the backup decryption key, so only a holder of that key can write an
// entry that verifies. The MAC is HMAC-SHA-256 over the canonical JSON of session_data without
// its signatures, under backup_mac_key = HKDF-SHA-256(salt "", decryption key,
// "MATRIX_BACKUP_MAC_KEY", 32 bytes), and is stored as a signature:
// session_data.signatures.<user id>.<MACKeyID>.

// The names MSC4048 uses until it is merged (its "Unstable prefix" section), and the stable
// ones, which VerifySessionData accepts too.
const (
	// MACKeyID is the signature key id SignSessionData writes.
	MACKeyID = "org.matrix.msc4048.hmac-sha-256:backup_mac_key"
	// MACKeyIDStable is the signature key id of the merged MSC.
	MACKeyIDStable = "hmac-sha-256:backup_mac_key"
	// MACKeySecretName is the secret-storage name of the backup MAC key.
	MACKeySecretName = "org.matrix.msc4048.mac"
	// MACKeySize is the size of the backup MAC key.
	MACKeySize = 32
)

const macKeyInfo = "MATRIX_BACKUP_MAC_KEY"

// ErrNotAuthenticated is returned (wrapped) by VerifySessionData for session_data without an
// MSC4048 MAC by userID, with a MAC that does not verify, or with members the MAC check cannot
// cover: the entry must be treated as an unauthenticated v1 entry.
var ErrNotAuthenticated = errors.New("keybackup: backup entry not authenticated (MSC4048)")

// MACKey is an MSC4048 backup MAC key. It is secret: fmt and log/slog print it redacted. It is
// immutable and safe for concurrent use.
type MACKey struct{ k [MACKeySize]byte }

// MACKey derives the backup MAC key from k (MSC4048: HKDF-SHA-256 with an empty salt and the
// info "MATRIX_BACKUP_MAC_KEY").
func (k *DecryptionKey) MACKey() *MACKey {
	priv := k.Bytes()
	defer clear(priv[:])
	m := new(MACKey)
	hmacsha256.HKDF(m.k[:], nil, priv[:], macKeyInfo)
	return m
}

// Format redacts the key for every verb.
func (MACKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, "keybackup.MACKey{REDACTED}") }

// LogValue implements slog.LogValuer: the key redacted.
func (MACKey) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// signedSessionDataJSON is the session_data object: the v1 members and the MSC4048 signatures.
type signedSessionDataJSON struct {
	Ciphertext string                       `json:"ciphertext"`
	Ephemeral  string                       `json:"ephemeral"`
	MAC        string                       `json:"mac"`
	Signatures map[string]map[string]string `json:"signatures,omitempty"`
}

// macInput is the canonical JSON of the three members: object keys sorted, no whitespace, and
// base64 strings, which canonical JSON writes unescaped.
func macInput(ciphertext, ephemeral, mac string) []byte {
	b := make([]byte, 0, 48+len(ciphertext)+len(ephemeral)+len(mac))
	b = append(b, `{"ciphertext":"`...)
	b = append(b, ciphertext...)
	b = append(b, `","ephemeral":"`...)
	b = append(b, ephemeral...)
	b = append(b, `","mac":"`...)
	b = append(b, mac...)
	return append(b, `"}`...)
}

// SignSessionData returns d's session_data JSON with userID's MSC4048 MAC under MACKeyID.
func (mk *MACKey) SignSessionData(d EncryptedSessionData, userID string) (json.RawMessage, error) {
	enc := base64.RawStdEncoding.EncodeToString
	j := signedSessionDataJSON{Ciphertext: enc(d.Ciphertext), Ephemeral: d.Ephemeral.String(), MAC: enc(d.MAC[:])}
	tag := hmacsha256.Sum(mk.k[:], macInput(j.Ciphertext, j.Ephemeral, j.MAC))
	j.Signatures = map[string]map[string]string{userID: {MACKeyID: enc(tag[:])}}
	return json.Marshal(j)
}

// VerifySessionData checks the MSC4048 MAC by userID on a session_data object (as the server
// returns it) in constant time, under MACKeyID or MACKeyIDStable, and returns the entry. An
// entry without a valid MAC, or with members beyond ciphertext, ephemeral, mac, signatures and
// unsigned (which this check cannot put in canonical form), gives ErrNotAuthenticated; one that
// does not parse, ErrMalformed.
func (mk *MACKey) VerifySessionData(sessionData []byte, userID string) (EncryptedSessionData, error) {
	var members map[string]json.RawMessage
	if err := jsonstrict.Unmarshal(sessionData, &members); err != nil {
		return EncryptedSessionData{}, fmt.Errorf("%w: session_data: %v", ErrMalformed, err)
	}
	var j signedSessionDataJSON
	if err := jsonstrict.Unmarshal(sessionData, &j); err != nil {
		return EncryptedSessionData{}, fmt.Errorf("%w: session_data: %v", ErrMalformed, err)
	}
	d, err := ParseEncryptedSessionData(j.Ephemeral, j.Ciphertext, j.MAC)
	if err != nil {
		return EncryptedSessionData{}, err
	}
	for name := range members {
		switch name {
		case "ciphertext", "ephemeral", "mac", "signatures", "unsigned":
		default:
			return d, fmt.Errorf("%w: member %q", ErrNotAuthenticated, name)
		}
	}
	sig, ok := j.Signatures[userID][MACKeyID]
	if !ok {
		sig, ok = j.Signatures[userID][MACKeyIDStable]
	}
	if !ok {
		return d, fmt.Errorf("%w: no MAC by %s", ErrNotAuthenticated, userID)
	}
	got, err := base64.RawStdEncoding.DecodeString(trimPad(sig))
	if err != nil || len(got) != hmacsha256.Size {
		return d, fmt.Errorf("%w: MAC is not 32 bytes of base64", ErrNotAuthenticated)
	}
	want := hmacsha256.Sum(mk.k[:], macInput(j.Ciphertext, j.Ephemeral, j.MAC))
	if !hmac.Equal(got, want[:]) {
		return d, fmt.Errorf("%w: MAC does not match", ErrNotAuthenticated)
	}
	return d, nil
}

func trimPad(s string) string {
	for len(s) > 0 && s[len(s)-1] == '=' {
		s = s[:len(s)-1]
	}
	return s
}
