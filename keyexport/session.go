package keyexport

import (
	"bytes"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
)

// MaxSessions bounds the number of entries ParseSessions accepts.
const MaxSessions = 1_000_000

// EntryError reports an entry of a session list that was skipped.
type EntryError struct {
	Index int // position in the JSON array
	Err   error
}

// Error implements error.
func (e *EntryError) Error() string { return fmt.Sprintf("keyexport: entry %d: %v", e.Index, e.Err) }

// Unwrap returns the reason the entry was skipped.
func (e *EntryError) Unwrap() error { return e.Err }

// parseEntry parses one entry (spec ExportedSessionData) with
// megolm.ParseExportedSession and adds what a key export requires beyond
// it: the Megolm algorithm and a valid sender_key.
func parseEntry(raw []byte) (*megolm.ExportedSession, error) {
	e, err := megolm.ParseExportedSession(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if e.Algorithm != megolm.Algorithm {
		return nil, fmt.Errorf("%w: algorithm %q", ErrMalformed, e.Algorithm)
	}
	if _, err := key.ParseCurve25519(e.RawSenderKey); err != nil {
		return nil, fmt.Errorf("%w: sender_key: %w", ErrMalformed, err)
	}
	return e, nil
}

// ParseSessions parses a session list (the plaintext of a key export
// file), decoding every entry strictly (exact member names, no duplicate
// members). Entries that are not valid Megolm sessions (algorithm
// m.megolm.v1.aes-sha2, a valid sender_key, a session_key that parses as
// an exported session key or a signed one, a session_id, if present, that
// matches it) are skipped and reported in skipped (each an *EntryError
// wrapping ErrMalformed), so one bad entry does not block importing the
// rest. err is non-nil only if data is not a JSON array or has more than
// MaxSessions entries. The sessions are secret.
func ParseSessions(data []byte) (sessions []*megolm.ExportedSession, skipped []error, err error) {
	var entries []jsontext.Value
	if err := jsonstrict.Unmarshal(data, &entries); err != nil || entries == nil {
		return nil, nil, fmt.Errorf("%w: session list is not a JSON array", ErrMalformed)
	}
	if len(entries) > MaxSessions {
		return nil, nil, fmt.Errorf("%w: more than %d sessions", ErrMalformed, MaxSessions)
	}
	for i, raw := range entries {
		s, err := parseEntry(raw)
		if err != nil {
			skipped = append(skipped, &EntryError{Index: i, Err: err})
			continue
		}
		sessions = append(sessions, s)
	}
	return sessions, skipped, nil
}

// MarshalSessions encodes sessions as a JSON array (the plaintext of a key
// export file), each with [megolm.ExportedSession.MarshalSecretJSON]. The
// result is secret.
func MarshalSessions(sessions []*megolm.ExportedSession) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, s := range sessions {
		b, err := s.MarshalSecretJSON()
		if err != nil {
			clear(buf.Bytes())
			return nil, fmt.Errorf("keyexport: entry %d: %w", i, err)
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(b)
		clear(b)
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}

// Export encodes sessions and encrypts them into a key export file; see
// Encrypt for opts.
func Export(sessions []*megolm.ExportedSession, passphrase string, opts *Options) ([]byte, error) {
	pt, err := MarshalSessions(sessions)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	return Encrypt(pt, passphrase, opts)
}

// Import decrypts a key export file and parses its session list; see
// Decrypt and ParseSessions for the errors. Make each session an
// (unverified) megolm.InboundSession with
// [megolm.ExportedSession.InboundSession].
func Import(file []byte, passphrase string, opts *Options) (sessions []*megolm.ExportedSession, skipped []error, err error) {
	pt, err := Decrypt(file, passphrase, opts)
	if err != nil {
		return nil, nil, err
	}
	defer clear(pt)
	return ParseSessions(pt)
}
