package megolm

import (
	"fmt"

	"github.com/sicher-go/sicher/internal/aessha2"
	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/wire"
	"github.com/sicher-go/sicher/key"
)

const (
	messageVersion   = 3 // m.megolm.v1.aes-sha2
	messageVersionV2 = 4 // vodozemac's experimental session config v2 (see SessionConfigV2)

	fieldIndex      = 1 // 0x08: varint message index
	fieldCiphertext = 2 // 0x12: length-delimited ciphertext

	macSize       = aessha2.TagSize
	macSizeV2     = 32 // session config v2 keeps the whole HMAC-SHA-256
	signatureSize = key.Ed25519SignatureSize
	trailerSize   = macSize + signatureSize

	// minMessageSize is the version byte, the two field tags with the
	// shortest values (index 0, one byte of length) and the trailer. A real
	// message is longer: the ciphertext is at least one AES block.
	minMessageSize = 1 + 2 + 2 + trailerSize
)

// maxMessageSize bounds the messages ParseMessage and Decrypt accept: 1 MiB
// of binary message, far above Matrix's 64 KiB event limit.
const maxMessageSize = 1 << 20

// Message is a parsed Megolm message (megolm.md "Message format"):
//
//	0x03 ‖ 0x08 varint index ‖ 0x12 varint len ‖ ciphertext ‖ MAC (8) ‖ signature (64)
//
// The MAC (HMAC-SHA-256 truncated to 8 bytes) covers the version and the
// fields; the Ed25519 signature covers everything before it, MAC included.
// A message of vodozemac's session config v2 has the version byte 0x04
// and the whole 32-byte MAC, and is otherwise the same (vodozemac
// src/megolm/message.rs); see [SessionConfig].
// Parsing checks structure only: [InboundSession.Decrypt] verifies the
// signature and the MAC over the bytes exactly as received.
//
// A Message holds no secrets: it travels in room events. It is immutable
// and safe for concurrent use.
type Message struct {
	index      uint32
	ciphertext []byte // a view of raw
	raw        []byte // the message as received
}

// ParseMessage parses a binary Megolm message. It copies b: the Message does
// not alias it. Unknown fields of wire types 0 and 2 are skipped and a
// repeated field replaces the earlier one, as in libolm; an index that does
// not fit in 32 bits (which libolm would truncate) and an empty ciphertext
// are rejected. Version 3 and version 4 (session config v2, see
// [SessionConfig]) parse; whether a session accepts a version 4 message is
// decided by [InboundSession.Decrypt]. Errors wrap [ErrMalformed] (and
// [ErrUnsupportedVersion] for a version other than 3 and 4).
func ParseMessage(b []byte) (*Message, error) {
	m := new(Message)
	if err := parseMessage(append([]byte(nil), b...), m); err != nil {
		return nil, err
	}
	return m, nil
}

// parseMessage parses b into m without copying: m aliases b. A version 4
// message that does not parse in the v2 layout (32-byte MAC) is reported
// as an unsupported version too: libolm's parser says
// BAD_MESSAGE_VERSION for every version 4 message, and one built in the v1
// layout with the version byte changed is no v2 message either.
func parseMessage(b []byte, m *Message) error {
	err := parseLayout(b, m)
	if err != nil && len(b) > 0 && b[0] == messageVersionV2 {
		return fmt.Errorf("%w: version 4 (session config v2): %w", ErrUnsupportedVersion, err)
	}
	return err
}

// parseLayout is parseMessage without the version 4 error wrapping.
func parseLayout(b []byte, m *Message) error {
	trailer := trailerSize
	switch {
	case len(b) == 0:
		return fmt.Errorf("%w: empty", ErrMalformed)
	case b[0] == messageVersionV2:
		trailer = macSizeV2 + signatureSize
	case b[0] != messageVersion:
		return fmt.Errorf("%w: %w: version %d", ErrMalformed, ErrUnsupportedVersion, b[0])
	}
	switch {
	case len(b) > maxMessageSize:
		return fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	case len(b) < minMessageSize-trailerSize+trailer:
		return fmt.Errorf("%w: %d bytes is too short", ErrMalformed, len(b))
	}
	body := len(b) - trailer
	r := wire.Reader(b[1:body])
	var (
		f                 wire.Field
		haveIndex, haveCT bool
		index             uint32
		ciphertext        []byte
		ok                bool
	)
	for !r.Empty() {
		if !r.ReadField(&f) {
			return fmt.Errorf("%w: bad field encoding", ErrMalformed)
		}
		switch {
		case f.IsVarint(fieldIndex):
			if index, ok = wire.Uint32(f.Varint); !ok {
				return fmt.Errorf("%w: message index does not fit in 32 bits", ErrMalformed)
			}
			haveIndex = true
		case f.IsBytes(fieldCiphertext):
			ciphertext, haveCT = f.Bytes, true
		}
	}
	if !haveIndex {
		return fmt.Errorf("%w: missing message index", ErrMalformed)
	}
	if !haveCT || len(ciphertext) == 0 {
		return fmt.Errorf("%w: missing ciphertext", ErrMalformed)
	}
	*m = Message{index: index, ciphertext: ciphertext, raw: b}
	return nil
}

// Version returns the message's version byte (3 for m.megolm.v1.aes-sha2,
// 4 for vodozemac's session config v2).
func (m *Message) Version() uint8 { return m.raw[0] }

// Index returns the message index: the sender's ratchet counter.
func (m *Message) Index() uint32 { return m.index }

// MAC returns a copy of the HMAC-SHA-256 tag: 8 bytes (truncated) for
// version 3, 32 for version 4.
func (m *Message) MAC() []byte { return append([]byte(nil), m.mac()...) }

// Bytes returns a copy of the message as it was parsed (its base64 is the
// "ciphertext" of an m.room.encrypted event).
func (m *Message) Bytes() []byte { return append([]byte(nil), m.raw...) }

// macLen returns the length of the message's MAC, which its version fixes.
func (m *Message) macLen() int {
	if m.raw[0] == messageVersionV2 {
		return macSizeV2
	}
	return macSize
}

func (m *Message) mac() []byte {
	return m.raw[len(m.raw)-signatureSize-m.macLen() : len(m.raw)-signatureSize]
}
func (m *Message) signature() []byte { return m.raw[len(m.raw)-signatureSize:] }

// UnmarshalText implements encoding.TextUnmarshaler: it decodes base64
// (unpadded or padded) and parses the message as [ParseMessage] does.
func (m *Message) UnmarshalText(text []byte) error {
	if len(text) > b64.EncodedLen(maxMessageSize)+2 {
		return fmt.Errorf("%w: %d characters", ErrMalformed, len(text))
	}
	b, err := b64.Decode(string(text))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var v Message
	if err := parseMessage(b, &v); err != nil {
		return err
	}
	*m = v
	return nil
}

// macInput returns the bytes the MAC covers: version and fields.
func (m *Message) macInput() []byte { return m.raw[:len(m.raw)-signatureSize-m.macLen()] }

// signatureInput returns the bytes the signature covers: all but itself.
func (m *Message) signatureInput() []byte { return m.raw[:len(m.raw)-signatureSize] }

// messageLen returns the encoded length of a version 3 message with index
// and n plaintext bytes.
func messageLen(index uint32, n int) int { return messageLenMAC(index, n, macSize) }

// messageLenMAC is messageLen for a message with a MAC of macLen bytes.
func messageLenMAC(index uint32, n, macLen int) int {
	return 1 + wire.VarintFieldLen(fieldIndex, uint64(index)) +
		wire.BytesFieldLen(fieldCiphertext, aessha2.CiphertextLen(n)) + macLen + signatureSize
}
