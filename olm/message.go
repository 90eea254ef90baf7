package olm

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/sicher-go/sicher/internal/aessha2"
	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
)

// Wire constants (olm.md "The Olm Message format"; libolm src/message.cpp).
const (
	// protocolVersion is the version byte of Olm v1 messages.
	protocolVersion = 3
	// macSize is the length of the truncated MAC ending a normal message.
	macSize = aessha2.TagSize

	// versionV2 is the version byte of a normal message of vodozemac's
	// experimental session config v2 (vodozemac
	// src/olm/messages/message.rs), which ends with the whole MAC,
	// macSizeV2 bytes. Its pre-key message keeps version 3.
	versionV2 = 4
	macSizeV2 = 32

	fieldRatchetKey = 1 // Message: 0x0A
	fieldIndex      = 2 // Message: 0x10
	fieldCiphertext = 4 // Message: 0x22

	fieldOneTimeKey  = 1 // PreKeyMessage: 0x0A
	fieldBaseKey     = 2 // PreKeyMessage: 0x12
	fieldIdentityKey = 3 // PreKeyMessage: 0x1A
	fieldMessage     = 4 // PreKeyMessage: 0x22
)

// The "type" of an Olm message in m.room.encrypted events
// (EncryptedMessage.Type).
const (
	// TypePreKey is a PreKeyMessage: what a session sends until it has
	// decrypted a message from its peer.
	TypePreKey = 0
	// TypeMessage is a normal Message.
	TypeMessage = 1
)

// Message is a normal Olm message (type 1): the sender's ratchet key, the
// index on that chain, the AES-256-CBC ciphertext and an 8-byte MAC over
// everything before it. All of it is public. A message of vodozemac's
// session config v2 (see SessionConfig) has version 4 and a 32-byte MAC.
//
// A parsed Message keeps a copy of the bytes it was parsed from, and its
// MAC is checked over those exact bytes.
type Message struct {
	RatchetKey key.Curve25519
	Index      uint32
	Ciphertext []byte // part of the message's own copy of its encoding

	raw []byte // the complete encoding, MAC included
}

// Version returns the message's protocol version: 3 for Olm v1, 4 for
// vodozemac's session config v2.
func (m *Message) Version() uint8 { return m.raw[0] }

// macLen returns the length of the message's MAC, which its version fixes.
func (m *Message) macLen() int {
	if m.raw[0] == versionV2 {
		return macSizeV2
	}
	return macSize
}

// PreKeyMessage is an Olm pre-key message (type 0): the keys that set up
// the session (Bob's one-time key, Alice's base and identity keys) and the
// first normal message. All of it is public.
type PreKeyMessage struct {
	OneTimeKey  key.Curve25519
	BaseKey     key.Curve25519
	IdentityKey key.Curve25519 // zero if the message omits it (libolm allows that; InboundOptions.TheirIdentityKey then supplies it)
	Message     *Message

	hasIdentityKey bool
	raw            []byte
}

// Version returns the pre-key message's protocol version (3, the only one
// parsed, also for session config v2: see Message.Version for the inner
// message's).
func (m *PreKeyMessage) Version() uint8 { return m.raw[0] }

func checkVersion(b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: empty", ErrMalformed)
	}
	switch b[0] {
	case protocolVersion:
		return nil
	case versionV2:
		return fmt.Errorf("%w: pre-key message version 4 (vodozemac's session config v2 keeps version 3 here)", ErrUnsupportedVersion)
	default:
		return fmt.Errorf("%w: version %d, want 3", ErrUnsupportedVersion, b[0])
	}
}

// ParseMessage parses a normal Olm message. Fields may come in any order
// and unknown varint or length-delimited fields are skipped, as libolm and
// vodozemac do; the ratchet key must be 32 bytes, the index must fit in 32
// bits, and the ciphertext must be a non-empty multiple of 16 bytes.
// Version 3 and version 4 (session config v2, 32-byte MAC) parse; whether
// a session accepts version 4 is decided when it decrypts. The
// result keeps a copy of b, never b itself. Errors wrap ErrMalformed or
// ErrUnsupportedVersion (also for a version 4 message that does not parse
// in the v2 layout).
func ParseMessage(b []byte) (*Message, error) {
	m := new(Message)
	if err := m.parse(bytes.Clone(b)); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Message) parse(b []byte) error {
	if len(b) > 0 && b[0] == versionV2 {
		if err := m.parseLayout(b, macSizeV2); err != nil {
			return fmt.Errorf("%w: version 4 (session config v2): %w", ErrUnsupportedVersion, err)
		}
		return nil
	}
	if err := checkVersion(b); err != nil {
		return err
	}
	return m.parseLayout(b, macSize)
}

// parseLayout parses a normal message ending with a MAC of macLen bytes.
func (m *Message) parseLayout(b []byte, macLen int) error {
	if len(b) < 1+macLen+2 {
		return fmt.Errorf("%w: %d bytes is too short", ErrMalformed, len(b))
	}
	rd := wire.Reader(b[1 : len(b)-macLen])
	var haveKey, haveIndex, haveCT bool
	for !rd.Empty() {
		var f wire.Field
		if !rd.ReadField(&f) {
			return fmt.Errorf("%w: bad field encoding", ErrMalformed)
		}
		switch {
		case f.IsBytes(fieldRatchetKey):
			if len(f.Bytes) != key.Curve25519Size {
				return fmt.Errorf("%w: ratchet key is %d bytes", ErrMalformed, len(f.Bytes))
			}
			m.RatchetKey = key.Curve25519(f.Bytes)
			haveKey = true
		case f.IsVarint(fieldIndex):
			idx, ok := wire.Uint32(f.Varint)
			if !ok {
				return fmt.Errorf("%w: message index %d overflows 32 bits", ErrMalformed, f.Varint)
			}
			m.Index, haveIndex = idx, true
		case f.IsBytes(fieldCiphertext):
			m.Ciphertext, haveCT = f.Bytes, true
		}
	}
	switch {
	case !haveKey:
		return fmt.Errorf("%w: no ratchet key", ErrMalformed)
	case !haveIndex:
		return fmt.Errorf("%w: no message index", ErrMalformed)
	case !haveCT:
		return fmt.Errorf("%w: no ciphertext", ErrMalformed)
	case len(m.Ciphertext) == 0 || len(m.Ciphertext)%aessha2.BlockSize != 0:
		return fmt.Errorf("%w: ciphertext is %d bytes", ErrMalformed, len(m.Ciphertext))
	}
	m.raw = b
	return nil
}

// ParsePreKeyMessage parses an Olm pre-key message and the normal message
// inside it. Fields may come in any order and unknown fields are skipped;
// the one-time key, base key and message are required, the identity key
// is optional (see PreKeyMessage.IdentityKey). The result keeps a copy of b, never b
// itself. Errors wrap ErrMalformed or ErrUnsupportedVersion.
func ParsePreKeyMessage(b []byte) (*PreKeyMessage, error) {
	m := new(PreKeyMessage)
	if err := m.parse(bytes.Clone(b)); err != nil {
		return nil, err
	}
	return m, nil
}

// parse parses b into m, aliasing b.
func (m *PreKeyMessage) parse(b []byte) error {
	if err := checkVersion(b); err != nil {
		return err
	}
	m.raw = b
	rd := wire.Reader(b[1:])
	var haveOTK, haveBase, haveMsg bool
	var inner []byte
	for !rd.Empty() {
		var f wire.Field
		if !rd.ReadField(&f) {
			return fmt.Errorf("%w: bad field encoding", ErrMalformed)
		}
		var dst *key.Curve25519
		switch {
		case f.IsBytes(fieldOneTimeKey):
			dst, haveOTK = &m.OneTimeKey, true
		case f.IsBytes(fieldBaseKey):
			dst, haveBase = &m.BaseKey, true
		case f.IsBytes(fieldIdentityKey):
			dst, m.hasIdentityKey = &m.IdentityKey, true
		case f.IsBytes(fieldMessage):
			inner, haveMsg = f.Bytes, true
		}
		if dst != nil {
			if len(f.Bytes) != key.Curve25519Size {
				return fmt.Errorf("%w: key field %d is %d bytes", ErrMalformed, f.Num, len(f.Bytes))
			}
			// X25519 ignores the top bit of a public key (RFC 7748 §5),
			// so a key with it set is a second encoding of another key:
			// accepting it would let anyone on the path turn Alice's
			// first message into one that makes a session with another
			// identity key or session id (and burns the one-time key).
			// No X25519 implementation produces such keys.
			if f.Bytes[key.Curve25519Size-1]&0x80 != 0 {
				return fmt.Errorf("%w: key field %d is not canonical (top bit set)", ErrMalformed, f.Num)
			}
			*dst = key.Curve25519(f.Bytes)
		}
	}
	switch {
	case !haveOTK:
		return fmt.Errorf("%w: no one-time key", ErrMalformed)
	case !haveBase:
		return fmt.Errorf("%w: no base key", ErrMalformed)
	case !haveMsg:
		return fmt.Errorf("%w: no inner message", ErrMalformed)
	}
	m.Message = new(Message)
	return m.Message.parse(inner)
}

// messageLen returns the length of a normal message with the given index
// and ciphertext length, ending with a MAC of macLen bytes.
func messageLen(index uint32, ctLen, macLen int) int {
	return 1 + wire.BytesFieldLen(fieldRatchetKey, key.Curve25519Size) +
		wire.VarintFieldLen(fieldIndex, uint64(index)) +
		wire.BytesFieldLen(fieldCiphertext, ctLen) + macLen
}

// appendMessageHeader appends everything of a version 3 normal message up
// to the ciphertext bytes (version, ratchet key, index, ciphertext tag and
// length).
func appendMessageHeader(dst []byte, ratchetKey *key.Curve25519, index uint32, ctLen int) []byte {
	return appendMessageHeaderVersion(dst, protocolVersion, ratchetKey, index, ctLen)
}

// appendMessageHeaderVersion is appendMessageHeader for a message of the
// given version.
func appendMessageHeaderVersion(dst []byte, version uint8, ratchetKey *key.Curve25519, index uint32, ctLen int) []byte {
	b := wire.NewBuilder(dst)
	b.AddUint8(version)
	b.AddBytesField(fieldRatchetKey, ratchetKey[:])
	b.AddVarintField(fieldIndex, uint64(index))
	b.AddUvarint(fieldCiphertext<<3 | wire.TypeBytes)
	b.AddUvarint(uint64(ctLen))
	return b.Bytes()
}

// appendPreKeyHeader appends a pre-key message up to the inner message
// bytes, in libolm's field order.
func appendPreKeyHeader(dst []byte, otk, base, identity *key.Curve25519, innerLen int) []byte {
	b := wire.NewBuilder(dst)
	b.AddUint8(protocolVersion)
	b.AddBytesField(fieldOneTimeKey, otk[:])
	b.AddBytesField(fieldBaseKey, base[:])
	b.AddBytesField(fieldIdentityKey, identity[:])
	b.AddUvarint(fieldMessage<<3 | wire.TypeBytes)
	b.AddUvarint(uint64(innerLen))
	return b.Bytes()
}

func preKeyHeaderLen(innerLen int) int {
	return 1 + 3*wire.BytesFieldLen(fieldOneTimeKey, key.Curve25519Size) +
		wire.BytesFieldLen(fieldMessage, innerLen) - innerLen
}

// EncryptedMessage is an Olm message as it travels in an m.room.encrypted
// event's ciphertext map: its type (TypePreKey or TypeMessage) and its
// body. Its JSON form is {"type": 0|1, "body": "<unpadded base64>"}. It
// holds no secret.
type EncryptedMessage struct {
	Type int
	Body []byte
}

type encryptedJSON struct {
	Type int    `json:"type"`
	Body string `json:"body"`
}

// MarshalJSON implements json.Marshaler.
func (m EncryptedMessage) MarshalJSON() ([]byte, error) {
	return json.Marshal(encryptedJSON{m.Type, b64.Encode(m.Body)})
}

// UnmarshalJSON implements json.Unmarshaler. The type must be 0 or 1 and
// the body valid base64; the body is parsed only on use.
func (m *EncryptedMessage) UnmarshalJSON(b []byte) error {
	var j encryptedJSON
	if err := jsonstrict.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if j.Type != TypePreKey && j.Type != TypeMessage {
		return fmt.Errorf("%w: unknown message type %d", ErrMalformed, j.Type)
	}
	body, err := b64.Decode(j.Body)
	if err != nil {
		return fmt.Errorf("%w: body: %w", ErrMalformed, err)
	}
	m.Type, m.Body = j.Type, body
	return nil
}
