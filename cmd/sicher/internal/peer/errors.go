package peer

import (
	"errors"

	"github.com/sicher-go/sicher/attachment"
	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/recoverykey"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/keyexport"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/sas"
	"github.com/sicher-go/sicher/secretstorage"
	"github.com/sicher-go/sicher/signing"
)

// errorClasses maps library errors (by errors.Is) to the error_type of a
// failed response; the first match wins, so the event layer's reasons come
// before the olm and megolm errors they wrap. A failure that matches
// none is "Error"; a failure of the request itself is "PeerError".
var errorClasses = []struct {
	err   error
	class string
}{
	// Keys and base64.
	{key.ErrNonContributory, "NonContributoryKey"},
	{key.ErrBadSignature, "BadSignature"},
	{key.ErrWeakKey, "BadSignature"},
	{key.ErrMalformed, "InvalidKey"},
	{b64.ErrInvalid, "InvalidBase64"},

	// Attachments, key export files, secret storage.
	{attachment.ErrAuthentication, "HashMismatch"},
	{attachment.ErrUnsupportedVersion, "UnsupportedVersion"},
	{attachment.ErrMalformed, "BadEncryptedFile"},
	{keyexport.ErrAuthentication, "BadMessageMAC"},
	{keyexport.ErrBadRounds, "BadExportFile"},
	{keyexport.ErrUnsupportedVersion, "UnsupportedVersion"},
	{keyexport.ErrMalformed, "BadExportFile"},
	{secretstorage.ErrAuthentication, "BadMessageMAC"},
	{secretstorage.ErrMalformed, "BadMessageFormat"},

	// The event layer (Olm and Megolm events).
	// A *event.ValidationError matches another with the same Rule.
	{&event.ValidationError{Rule: "sender"}, "WrongSender"},
	{&event.ValidationError{Rule: "keys.ed25519"}, "WrongSender"},
	{&event.ValidationError{Rule: "recipient"}, "WrongRecipient"},
	{&event.ValidationError{Rule: "recipient_keys.ed25519"}, "WrongRecipientKey"},
	{&event.ValidationError{Rule: "sender_device_keys"}, "BadSenderDeviceKeys"},
	{&event.ValidationError{Rule: "sender_key"}, "SenderKeyMismatch"},
	{&event.ValidationError{Rule: "room_id"}, "WrongRoom"},
	{event.ErrReplay, "ReplayedMessageIndex"},
	{event.ErrNotOlmEncrypted, "NotOlmEncrypted"},
	{event.ErrNotForThisDevice, "NotForThisDevice"},
	{event.ErrWithheld, "Withheld"},
	{event.ErrAlgorithm, "UnsupportedAlgorithm"},
	{event.ErrUnknownIndex, "UnknownMessageIndex"},
	{event.ErrNoSession, "NoSession"},
	{event.ErrAuthentication, "BadMessageMAC"},
	{event.ErrMalformed, "BadEventFormat"},

	// Signed JSON.
	// A *signing.NumberError ("CanonicalJSONNumber") is matched in
	// errorType; ErrNotSigned and ErrChain wrap ErrAuthentication, so they
	// come first.
	{signing.ErrNotSigned, "NotSigned"},
	{signing.ErrChain, "CrossSigningChain"},
	{signing.ErrAuthentication, "BadSignature"},
	{signing.ErrMalformed, "InvalidJSON"},

	// Megolm.
	// megolm reports a failed signature and a failed MAC as one error and
	// every parse failure as another; the megolm handlers add the finer
	// classes (errBadSignature, errBadSessionKey) libolm names.
	{errBadSignature, "BadSignature"},
	{errBadSessionKey, "BadSessionKey"},
	{megolm.ErrUnknownIndex, "UnknownMessageIndex"},
	{megolm.ErrAuthentication, "BadMessageMAC"},
	{megolm.ErrUnsupportedVersion, "BadMessageVersion"},
	{megolm.ErrMalformed, "BadMessageFormat"},
	{megolm.ErrUnconnected, "UnconnectedSessions"},
	{megolm.ErrBadPickle, "BadPickle"},

	// Olm.
	{olm.ErrAuthentication, "BadMessageMAC"},
	{olm.ErrUnknownMessageIndex, "UnknownMessageIndex"},
	{olm.ErrMessageGap, "TooBigMessageGap"},
	{olm.ErrUnsupportedVersion, "BadMessageVersion"},
	{olm.ErrMalformed, "BadMessageFormat"},
	{olm.ErrUnknownOneTimeKey, "BadMessageKeyID"},
	{olm.ErrIdentityKeyMismatch, "MismatchedIdentityKey"},
	{olm.ErrBadPickle, "BadPickle"},

	// PK (key backup v1).
	// keybackup reports a bad recovery key as ErrMalformed; the codec's
	// error inside it names the check, so those come first.
	{recoverykey.ErrBadCharacter, "BadRecoveryKeyCharacter"},
	{recoverykey.ErrBadLength, "BadRecoveryKeyLength"},
	{recoverykey.ErrBadPrefix, "BadRecoveryKeyPrefix"},
	{recoverykey.ErrBadParity, "BadRecoveryKeyParity"},
	{keybackup.ErrAuthentication, "BadMessageMAC"},
	{keybackup.ErrDecrypt, "BadMessageDecryption"},
	{keybackup.ErrBadPickle, "BadPickle"},
	{keybackup.ErrMalformed, "BadMessageFormat"},

	// SAS.
	{sas.ErrUnknownMethod, "UnknownMethod"},
	{sas.ErrAuthentication, "BadMessageMAC"},
}

// errorType is the error_type of a failed response.
func errorType(err error) string {
	var pe *peerError
	if errors.As(err, &pe) {
		return "PeerError"
	}
	var ne *signing.NumberError
	if errors.As(err, &ne) {
		return "CanonicalJSONNumber"
	}
	for _, c := range errorClasses {
		if errors.Is(err, c.err) {
			return c.class
		}
	}
	return "Error"
}
