package driver

import (
	"errors"
	"fmt"

	sicherolm "github.com/sicher-go/sicher/olm"
	"maunium.net/go/mautrix/crypto/olm"
)

// PickleFormat selects the format a Driver writes pickles in. Both are
// always read.
type PickleFormat int

const (
	// SicherPickles is sicher's own format (AES-256-GCM, random nonce,
	// the complete state). It is the default.
	SicherPickles PickleFormat = iota
	// LibolmPickles is libolm's format, which the libolm and goolm
	// drivers read: for switching back, or for stores shared with them.
	LibolmPickles
)

// Name is the value Register sets mautrix's olm.Driver to.
const Name = "sicher"

// ErrBlank is returned by a method of a blank account or group session
// (made by mautrix's NewBlank* functions) that needs state; Unpickle
// fills a blank object.
var ErrBlank = errors.New("sicher driver: blank object (unpickle it first)")

// Driver creates mautrix olm objects backed by sicher. Its methods are the
// hooks of mautrix's olm package; the zero value writes sicher's pickles.
type Driver struct {
	// Pickles is the format Pickle writes.
	Pickles PickleFormat
}

// Register installs sicher as mautrix's olm driver, writing sicher's own
// pickle format. It must run after mautrix's crypto package has
// registered its default driver (libolm, or goolm with -tags goolm), as
// the register package arranges, or the default overwrites it.
func Register() { Driver{}.Register() }

// Register installs d as mautrix's olm driver: it sets olm.Driver to Name
// and every olm.Init* hook (and, with mautrix v0.32, olm.GetVersion).
func (d Driver) Register() {
	olm.Driver = Name
	olm.SetPickleKeyImpl = func([]byte) {
		// mautrix's gob/JSON pickling, which this hook configured, is
		// gone (v0.27); sicher keeps no global pickle key.
	}
	registerVersion()

	olm.InitNewAccount = d.NewAccount
	olm.InitBlankAccount = d.NewBlankAccount
	olm.InitNewAccountFromPickled = d.AccountFromPickled

	olm.InitSessionFromPickled = d.SessionFromPickled
	olm.InitNewBlankSession = d.NewBlankSession

	olm.InitInboundGroupSessionFromPickled = d.InboundGroupSessionFromPickled
	olm.InitNewInboundGroupSession = d.NewInboundGroupSession
	olm.InitInboundGroupSessionImport = d.InboundGroupSessionImport
	olm.InitBlankInboundGroupSession = d.NewBlankInboundGroupSession

	olm.InitNewOutboundGroupSessionFromPickled = d.OutboundGroupSessionFromPickled
	olm.InitNewOutboundGroupSession = d.NewOutboundGroupSession
	olm.InitNewBlankOutboundGroupSession = d.NewBlankOutboundGroupSession

	olm.InitNewPKSigning = d.NewPKSigning
	olm.InitNewPKSigningFromSeed = d.NewPKSigningFromSeed
}

// wrap returns an error matching both mautrix's sentinel and err.
func wrap(sentinel, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}

// olmError maps an error of sicher's olm package to the mautrix sentinel
// the libolm and goolm drivers use for the same failure.
func olmError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sicherolm.ErrUnsupportedVersion):
		return wrap(olm.ErrWrongProtocolVersion, err)
	case errors.Is(err, sicherolm.ErrMalformed):
		return wrap(olm.ErrBadMessageFormat, err)
	case errors.Is(err, sicherolm.ErrAuthentication):
		return wrap(olm.ErrBadMAC, err)
	case errors.Is(err, sicherolm.ErrUnknownOneTimeKey):
		return wrap(olm.ErrBadMessageKeyID, err)
	case errors.Is(err, sicherolm.ErrUnknownMessageIndex):
		return wrap(olm.ErrMessageKeyNotFound, err)
	case errors.Is(err, sicherolm.ErrMessageGap):
		return wrap(olm.ErrMsgIndexTooHigh, err)
	case errors.Is(err, sicherolm.ErrIdentityKeyMismatch):
		return wrap(olm.ErrBadMessageKeyID, err)
	case errors.Is(err, sicherolm.ErrBadPickle):
		return wrap(olm.ErrLibolmCorruptedPickle, err)
	case errors.Is(err, sicherolm.ErrBlankSession):
		return wrap(olm.ErrBadInput, err)
	}
	return err
}
