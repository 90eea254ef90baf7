package peer

import (
	"errors"

	"github.com/sicher-go/sicher/attachment"
	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/internal/b64"
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
	{attachment.ErrHashMismatch, "HashMismatch"},
	{attachment.ErrUnsupportedVersion, "UnsupportedVersion"},
	{attachment.ErrInvalidFile, "BadEncryptedFile"},
	{keyexport.ErrBadMAC, "BadMessageMAC"},
	{keyexport.ErrNotExportFile, "BadExportFile"},
	{keyexport.ErrTooShort, "BadExportFile"},
	{keyexport.ErrBadRounds, "BadExportFile"},
	{keyexport.ErrUnsupportedVersion, "UnsupportedVersion"},
	{secretstorage.ErrBadMAC, "BadMessageMAC"},
	{secretstorage.ErrMalformed, "BadMessageFormat"},
	{secretstorage.ErrWrongKey, "WrongKey"},

	// The event layer (Olm and Megolm events).
	{event.ErrWrongSender, "WrongSender"},
	{event.ErrWrongRecipient, "WrongRecipient"},
	{event.ErrWrongRecipientKey, "WrongRecipientKey"},
	{event.ErrSenderDeviceKeys, "BadSenderDeviceKeys"},
	{event.ErrSenderKey, "SenderKeyMismatch"},
	{event.ErrWrongRoom, "WrongRoom"},
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
	{signing.ErrNumber, "CanonicalJSONNumber"},
	{signing.ErrInvalidJSON, "InvalidJSON"},
	{signing.ErrNotSigned, "NotSigned"},
	{signing.ErrBadSignature, "BadSignature"},
	{signing.ErrDeviceKeys, "BadDeviceKeys"},
	{signing.ErrCrossSigningKey, "BadCrossSigningKey"},
	{signing.ErrChain, "CrossSigningChain"},

	// Megolm.
	{megolm.ErrUnknownMessageIndex, "UnknownMessageIndex"},
	{megolm.ErrBadSignature, "BadSignature"},
	{megolm.ErrBadMAC, "BadMessageMAC"},
	{megolm.ErrUnsupportedVersion, "BadMessageVersion"},
	{megolm.ErrMalformedMessage, "BadMessageFormat"},
	{megolm.ErrMalformedSessionKey, "BadSessionKey"},
	{megolm.ErrUnconnected, "UnconnectedSessions"},
	{megolm.ErrBadPickle, "BadPickle"},

	// Olm.
	{olm.ErrAuthentication, "BadMessageMAC"},
	{olm.ErrUnknownMessageIndex, "UnknownMessageIndex"},
	{olm.ErrMessageGap, "TooBigMessageGap"},
	{olm.ErrUnsupportedVersion, "BadMessageVersion"},
	{olm.ErrMalformedMessage, "BadMessageFormat"},
	{olm.ErrUnknownOneTimeKey, "BadMessageKeyID"},
	{olm.ErrIdentityKeyMismatch, "MismatchedIdentityKey"},
	{olm.ErrBadPickle, "BadPickle"},
	{olm.ErrTooManyKeys, "TooManyKeys"},

	// PK (key backup v1).
	{keybackup.ErrBadMAC, "BadMessageMAC"},
	{keybackup.ErrDecrypt, "BadMessageDecryption"},
	{keybackup.ErrPickle, "BadPickle"},
	{keybackup.ErrMalformed, "BadMessageFormat"},

	// Recovery keys and SAS.
	{keybackup.ErrRecoveryKeyCharacter, "BadRecoveryKeyCharacter"},
	{keybackup.ErrRecoveryKeyLength, "BadRecoveryKeyLength"},
	{keybackup.ErrRecoveryKeyPrefix, "BadRecoveryKeyPrefix"},
	{keybackup.ErrRecoveryKeyParity, "BadRecoveryKeyParity"},
	{sas.ErrBadLength, "InvalidLength"},
	{sas.ErrUnknownMethod, "UnknownMethod"},
	{sas.ErrMACMismatch, "BadMessageMAC"},
}

// errorType is the error_type of a failed response.
func errorType(err error) string {
	var pe *peerError
	if errors.As(err, &pe) {
		return "PeerError"
	}
	for _, c := range errorClasses {
		if errors.Is(err, c.err) {
			return c.class
		}
	}
	return "Error"
}
