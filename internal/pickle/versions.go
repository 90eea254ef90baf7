package pickle

// The objects stored in sicher's own format: each kind (the additional
// data of Seal) and every version of its body ever written. Every version
// listed stays readable.
const (
	// KindOlmAccount is an olm.Account.
	KindOlmAccount = "olm.Account"
	// OlmAccountV1 stores the identity keys' private halves only.
	OlmAccountV1 = 1
	// OlmAccountV2 stores both halves of the identity keys.
	OlmAccountV2 = 2

	// KindOlmSession is an olm.Session.
	KindOlmSession = "olm.Session"
	// OlmSessionV1 stores the handshake keys and the Double Ratchet state
	// without a version of its own.
	OlmSessionV1 = 1
	// OlmSessionV2 adds the peer's identity key (when known) and stores
	// the Double Ratchet state with its own version byte.
	OlmSessionV2 = 2
)
