package testvectors

// SessionConfigV2 is a conversation in vodozemac's experimental "session
// config v2" (sessionconfig/v2.json), or the v1 control built by the same
// generator: Protocol is "olm" or "megolm", SessionConfig 2 or 1. Every
// random input is recorded in the order libolm reads it, so an
// implementation that takes caller-supplied randomness re-encrypts every
// message byte for byte.
//
// For "olm": Alice's and Bob's accounts come from AliceAccountRandom and
// BobAccountRandom (Ed25519 seed ‖ Curve25519 private key), Bob's one
// one-time key from BobOneTimeKeyRandom, and Alice's outbound session
// from AliceSessionRandom (base key ‖ first ratchet key); the public keys
// are given to check that. Messages are in sending order; each has From
// ("alice" or "bob"), Type (0 pre-key, 1 normal), Body and Plaintext, and
// Random, the 32-byte ratchet key of a message that starts a new chain.
//
// For "megolm": the outbound session comes from OutboundRandom (128
// ratchet bytes ‖ Ed25519 seed); SessionKey is its signed session key at
// index 0 (which does not carry the config) and Messages are its first
// messages with their Index.
type SessionConfigV2 struct {
	Meta
	Protocol      string `json:"protocol"`
	SessionConfig int    `json:"session_config"`

	AliceAccountRandom  Hex                    `json:"alice_account_random,omitempty"`
	BobAccountRandom    Hex                    `json:"bob_account_random,omitempty"`
	BobOneTimeKeyRandom Hex                    `json:"bob_one_time_key_random,omitempty"`
	AliceSessionRandom  Hex                    `json:"alice_session_random,omitempty"`
	AliceIdentityKey    string                 `json:"alice_identity_key,omitempty"`
	BobIdentityKey      string                 `json:"bob_identity_key,omitempty"`
	BobOneTimeKey       string                 `json:"bob_one_time_key,omitempty"`
	OutboundRandom      Hex                    `json:"outbound_random,omitempty"`
	SessionID           string                 `json:"session_id,omitempty"`
	SessionKey          string                 `json:"session_key,omitempty"`
	Messages            []SessionConfigMessage `json:"messages"`
}

// SessionConfigMessage is one message of a SessionConfigV2 vector.
type SessionConfigMessage struct {
	From      string `json:"from,omitempty"`
	Type      int    `json:"type"`
	Index     uint32 `json:"index"`
	Random    Hex    `json:"random,omitempty"`
	Body      string `json:"body"`
	Plaintext Hex    `json:"plaintext"`
}
