package sas

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/key"
)

// Method and option names of m.sas.v1 (spec "Short Authentication String
// (SAS) verification").
const (
	MethodSAS = "m.sas.v1"

	KeyAgreementHKDFSHA256 = "curve25519-hkdf-sha256"
	// KeyAgreementCurve25519 is the deprecated "curve25519" protocol,
	// whose SAS info string has no separators and no keys
	// ([LegacySASInfo]).
	KeyAgreementCurve25519 = "curve25519"

	HashSHA256 = "sha256"

	SASDecimal = "decimal"
	SASEmoji   = "emoji"
)

// Device names one side of a verification: a user and one of its devices.
type Device struct {
	UserID   string
	DeviceID string
}

// SASInfo returns the HKDF info for the short authentication string with
// the curve25519-hkdf-sha256 key agreement:
//
//	MATRIX_KEY_VERIFICATION_SAS|<starter user>|<starter device>|<starter key>|
//	<accepter user>|<accepter device>|<accepter key>|<transaction id>
//
// (one line), where the starter sent m.key.verification.start and the
// accepter m.key.verification.accept, the keys are the ephemeral SAS keys
// in unpadded base64, and transactionID is the transaction_id or, in a
// room, the event ID of the request. Both sides build the same string.
func SASInfo(starter Device, starterKey key.Curve25519, accepter Device, accepterKey key.Curve25519, transactionID string) string {
	return strings.Join([]string{
		"MATRIX_KEY_VERIFICATION_SAS",
		starter.UserID, starter.DeviceID, starterKey.String(),
		accepter.UserID, accepter.DeviceID, accepterKey.String(),
		transactionID,
	}, "|")
}

// LegacySASInfo returns the SAS info of the deprecated "curve25519" key
// agreement: the fields concatenated without separators and without keys.
func LegacySASInfo(starter, accepter Device, transactionID string) string {
	return "MATRIX_KEY_VERIFICATION_SAS" + starter.UserID + starter.DeviceID +
		accepter.UserID + accepter.DeviceID + transactionID
}

// keyIDsMACSuffix is the key ID in the MAC info of the "keys" field.
const keyIDsMACSuffix = "KEY_IDS"

// macInfo returns the HKDF info for the MAC of one key (keyID, e.g.
// "ed25519:DEVICEID") or, with keyIDsMACSuffix, of the key list:
//
//	MATRIX_KEY_VERIFICATION_MAC<sender user><sender device><receiver user>
//	<receiver device><transaction id><key id>
//
// without separators, where the sender is the device sending the
// m.key.verification.mac event (whose keys are MACed).
func macInfo(sender, receiver Device, transactionID, keyID string) string {
	return "MATRIX_KEY_VERIFICATION_MAC" + sender.UserID + sender.DeviceID +
		receiver.UserID + receiver.DeviceID + transactionID + keyID
}

// keyIDsMessage returns the input of the "keys" MAC: the key IDs sorted
// lexicographically and joined with commas. checkKeyID has refused every
// ID with a comma, so the list is unambiguous.
func keyIDsMessage(keyIDs []string) string {
	s := slices.Clone(keyIDs)
	slices.Sort(s)
	return strings.Join(s, ",")
}

// errKeyID is wrapped by the errors for a key ID that the m.sas.v1 MAC
// event may not carry.
var errKeyID = errors.New("sas: key ID not allowed in a MAC event")

// checkKeyID enforces the key-ID namespace of the m.key.verification.mac
// event (spec "Short Authentication String (SAS) verification",
// https://spec.matrix.org/v1.19/client-server-api/#short-authentication-string-sas-verification):
// the MACed keys are Ed25519 keys, named "ed25519:<device ID>" for a
// device key or "ed25519:<unpadded base64 public key>" for a cross-signing
// master key. The part after the colon must be non-empty and printable
// ASCII without a comma: the key list MAC joins IDs with commas, and an ID
// holding one would let a man in the middle drop keys from the list
// without changing the MACed text.
func checkKeyID(id string) error {
	rest, ok := strings.CutPrefix(id, "ed25519:")
	if !ok || rest == "" {
		return fmt.Errorf("%w: %q is not an ed25519:<device ID or key> ID", errKeyID, id)
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c <= ' ' || c >= 0x7f || c == ',' {
			return fmt.Errorf("%w: %q holds a comma, space or non-ASCII byte", errKeyID, id)
		}
	}
	return nil
}

// Commitment returns the commitment the accepting device sends in
// m.key.verification.accept: unpadded base64 of SHA-256 of its SAS public
// key in unpadded base64 followed by the canonical JSON of the whole
// content of the m.key.verification.start event as received (including
// transaction_id or m.relates_to). startCanonicalJSON must already be
// canonical (signing.Canonical produces it); this package does not
// re-encode it.
func Commitment(accepterKey key.Curve25519, startCanonicalJSON []byte) string {
	h := commitmentHash(accepterKey, startCanonicalJSON)
	return b64.Encode(h[:])
}

// VerifyCommitment checks, in constant time, that commitment (from the
// accept event) matches the accepter's key (from its key event) and the
// start content this device sent. A mismatch returns
// ErrCommitmentMismatch: cancel with m.mismatched_commitment.
func VerifyCommitment(commitment string, accepterKey key.Curve25519, startCanonicalJSON []byte) error {
	var got [sha256.Size]byte
	if len(commitment) > 44 || b64.DecodeInto(got[:], commitment) != nil {
		return fmt.Errorf("%w: not a base64 SHA-256 hash", ErrCommitmentMismatch)
	}
	want := commitmentHash(accepterKey, startCanonicalJSON)
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return ErrCommitmentMismatch
	}
	return nil
}

func commitmentHash(k key.Curve25519, start []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(k.String()))
	h.Write(start)
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// MACContent is the content of an m.key.verification.mac event, without
// its transaction_id or m.relates_to.
type MACContent struct {
	// MAC maps key IDs ("ed25519:DEVICEID", "ed25519:<master key>") to the
	// MAC of the key.
	MAC map[string]string `json:"mac"`
	// Keys is the MAC of the sorted, comma-joined key IDs of MAC.
	Keys string `json:"keys"`
}

// UnmarshalJSON decodes the content strictly: member names must match
// exactly and duplicate names, even ones differing only in case, are
// refused, so every client reads the same key IDs.
func (c *MACContent) UnmarshalJSON(b []byte) error {
	type plain MACContent
	var p plain
	if err := jsonstrict.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("sas: MAC content: %w", err)
	}
	*c = MACContent(p)
	return nil
}

// MACKeys computes the mac event content by which this device (sender)
// vouches for its keys to receiver: keys maps each key ID to the key as
// sent in events (an Ed25519 key in unpadded base64). The list of key IDs
// is MACed as well. Use the method both sides agreed on. Every key ID
// must be "ed25519:" followed by a device ID or an unpadded base64 key,
// without commas, spaces or non-ASCII bytes; others are refused.
func (e *Established) MACKeys(m MACMethod, sender, receiver Device, transactionID string, keys map[string]string) (MACContent, error) {
	if len(keys) == 0 {
		return MACContent{}, fmt.Errorf("%w: no keys to MAC", errKeyID)
	}
	for id := range keys {
		if err := checkKeyID(id); err != nil {
			return MACContent{}, err
		}
	}
	c := MACContent{MAC: make(map[string]string, len(keys))}
	ids := make([]string, 0, len(keys))
	for id, k := range keys {
		mac, err := e.MAC(m, []byte(k), macInfo(sender, receiver, transactionID, id))
		if err != nil {
			return MACContent{}, err
		}
		c.MAC[id] = mac
		ids = append(ids, id)
	}
	var err error
	c.Keys, err = e.MAC(m, []byte(keyIDsMessage(ids)), macInfo(sender, receiver, transactionID, keyIDsMACSuffix))
	if err != nil {
		return MACContent{}, err
	}
	return c, nil
}

// VerifyKeys checks a received mac event from sender: first the MAC of
// its key list, then, for every key ID in it that known holds (this
// device's own pinned copies of the sender's keys, in event form), the
// MAC over that copy. Key IDs the receiver does not know are skipped, as
// the spec asks. It returns the key IDs whose MACs verified, sorted, or
// an error: ErrAuthentication (cancel with m.key_mismatch) if any checked
// MAC is wrong or any key ID is outside the namespace [Established.MACKeys]
// allows (a comma in an ID would make the key list MAC ambiguous),
// ErrNoKnownKeys if no key could be checked.
func (e *Established) VerifyKeys(m MACMethod, sender, receiver Device, transactionID string, got MACContent, known map[string]string) ([]string, error) {
	ids := make([]string, 0, len(got.MAC))
	for id := range got.MAC {
		if err := checkKeyID(id); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrAuthentication, err)
		}
		ids = append(ids, id)
	}
	if err := e.VerifyMAC(m, []byte(keyIDsMessage(ids)), macInfo(sender, receiver, transactionID, keyIDsMACSuffix), got.Keys); err != nil {
		return nil, fmt.Errorf("sas: key list: %w", err)
	}
	slices.Sort(ids)
	var verified []string
	for _, id := range ids {
		k, ok := known[id]
		if !ok {
			continue
		}
		if err := e.VerifyMAC(m, []byte(k), macInfo(sender, receiver, transactionID, id), got.MAC[id]); err != nil {
			return nil, fmt.Errorf("sas: key %q: %w", id, err)
		}
		verified = append(verified, id)
	}
	if len(verified) == 0 {
		return nil, ErrNoKnownKeys
	}
	return verified, nil
}

// Methods lists the options of one side, as in the start event's
// key_agreement_protocols, hashes, message_authentication_codes and
// short_authentication_string.
type Methods struct {
	KeyAgreementProtocols      []string `json:"key_agreement_protocols"`
	Hashes                     []string `json:"hashes"`
	MessageAuthenticationCodes []string `json:"message_authentication_codes"`
	ShortAuthenticationString  []string `json:"short_authentication_string"`
}

// Supported returns everything this package implements, most preferred
// first: what a start event should offer when legacy clients must be
// verified too. New deployments may drop the legacy MAC names.
func Supported() Methods {
	return Methods{
		KeyAgreementProtocols: []string{KeyAgreementHKDFSHA256, KeyAgreementCurve25519},
		Hashes:                []string{HashSHA256},
		MessageAuthenticationCodes: []string{
			nameHKDFHMACSHA256V2, nameHKDFHMACSHA256V2Unstable,
			nameLegacyHKDFHMACSHA256, nameLegacyHMACSHA256,
		},
		ShortAuthenticationString: []string{SASDecimal, SASEmoji},
	}
}

// Agreement is the outcome of Negotiate: the values of the accept event.
type Agreement struct {
	KeyAgreementProtocol string `json:"key_agreement_protocol"`
	Hash                 string `json:"hash"`
	// MessageAuthenticationCode is the MAC method's name; ParseMACMethod
	// turns it into the MACMethod to pass to Established.MACKeys.
	MessageAuthenticationCode string   `json:"message_authentication_code"`
	ShortAuthenticationString []string `json:"short_authentication_string"`
}

// Negotiate picks, for each option, the first entry of ours (in our order
// of preference) that theirs lists too; ours is typically Supported() or a
// subset, theirs the start event's lists. The SAS methods are all common
// ones. Names this package does not implement are ignored. If an option
// has no common entry, or the SAS methods have none, the error wraps
// ErrUnknownMethod (cancel with m.unknown_method).
//
// A legacy MAC method is chosen only if no v2 name is common to both
// sides, whatever the order of ours: the spec forbids hkdf-hmac-sha256
// when both support hkdf-hmac-sha256.v2.
func Negotiate(ours, theirs Methods) (Agreement, error) {
	var a Agreement
	var ok bool
	if a.KeyAgreementProtocol, ok = pick(ours.KeyAgreementProtocols, theirs.KeyAgreementProtocols, KeyAgreementHKDFSHA256, KeyAgreementCurve25519); !ok {
		return Agreement{}, fmt.Errorf("%w: no common key agreement protocol", ErrUnknownMethod)
	}
	if a.Hash, ok = pick(ours.Hashes, theirs.Hashes, HashSHA256); !ok {
		return Agreement{}, fmt.Errorf("%w: no common hash", ErrUnknownMethod)
	}
	v2 := []string{nameHKDFHMACSHA256V2, nameHKDFHMACSHA256V2Unstable}
	if a.MessageAuthenticationCode, ok = pick(ours.MessageAuthenticationCodes, theirs.MessageAuthenticationCodes, v2...); !ok {
		a.MessageAuthenticationCode, ok = pick(ours.MessageAuthenticationCodes, theirs.MessageAuthenticationCodes, nameLegacyHKDFHMACSHA256, nameLegacyHMACSHA256)
		if !ok {
			return Agreement{}, fmt.Errorf("%w: no common MAC method", ErrUnknownMethod)
		}
	}
	for _, s := range ours.ShortAuthenticationString {
		if (s == SASDecimal || s == SASEmoji) && slices.Contains(theirs.ShortAuthenticationString, s) && !slices.Contains(a.ShortAuthenticationString, s) {
			a.ShortAuthenticationString = append(a.ShortAuthenticationString, s)
		}
	}
	if len(a.ShortAuthenticationString) == 0 {
		return Agreement{}, fmt.Errorf("%w: no common short authentication string method", ErrUnknownMethod)
	}
	return a, nil
}

// pick returns the first entry of ours that is in theirs and in allowed.
func pick(ours, theirs []string, allowed ...string) (string, bool) {
	for _, o := range ours {
		if slices.Contains(allowed, o) && slices.Contains(theirs, o) {
			return o, true
		}
	}
	return "", false
}
