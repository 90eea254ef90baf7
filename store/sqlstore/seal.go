package sqlstore

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"golang.org/x/crypto/chacha20poly1305"
)

// KeySize is the size of a store key.
const KeySize = chacha20poly1305.KeySize

// Key is the 32-byte key that seals a store's secret columns. It is secret: fmt and log/slog
// print a placeholder, and encoding/json sees no exported field. Keep it outside the database
// (an OS keyring, a key derived from the user's passphrase).
type Key struct {
	b [KeySize]byte
}

// NewKey returns the key with bytes b, which must be KeySize long.
func NewKey(b []byte) (Key, error) {
	var k Key
	if len(b) != KeySize {
		return k, fmt.Errorf("sqlstore: store key is %d bytes, want %d", len(b), KeySize)
	}
	copy(k.b[:], b)
	return k, nil
}

// GenerateKey returns a random key read from crypto/rand.
func GenerateKey() Key {
	var k Key
	rand.Read(k.b[:])
	return k
}

// Format prints a placeholder for every verb.
func (Key) Format(f fmt.State, verb rune) { fmt.Fprint(f, "sqlstore.Key(redacted)") }

// LogValue prints a placeholder.
func (Key) LogValue() slog.Value { return slog.StringValue("sqlstore.Key(redacted)") }

// A sealed column is
//
//	0x01 ‖ nonce (24) ‖ XChaCha20-Poly1305(plaintext)
//
// with the row's identity as associated data: a fixed label, the table, the column, then the
// owner and the primary key, each length-prefixed (u32 big endian). A sealed value moved to any
// other row, column, table or owner does not open. XChaCha20-Poly1305 takes a random 192-bit
// nonce, so the number of seals under one key (every ratchet step re-seals its session) puts no
// practical bound on nonce collisions.
const sealVersion = 1

var errSeal = errors.New("seal does not open")

type sealer struct {
	key Key
}

func rowAD(table, column string, pk []string) []byte {
	ad := make([]byte, 0, 64)
	put := func(s string) {
		ad = binary.BigEndian.AppendUint32(ad, uint32(len(s)))
		ad = append(ad, s...)
	}
	put("sicher store row")
	put(table)
	put(column)
	for _, p := range pk {
		put(p)
	}
	return ad
}

func (s *sealer) seal(table, column string, pk []string, plaintext []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(s.key.b[:])
	if err != nil {
		panic("sqlstore: internal error: " + err.Error())
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("sqlstore: reading a nonce: %w", err)
	}
	return aead.Seal(out, out[1:], plaintext, rowAD(table, column, pk)), nil
}

func (s *sealer) open(table, column string, pk []string, sealed []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(s.key.b[:])
	if err != nil {
		panic("sqlstore: internal error: " + err.Error())
	}
	n := aead.NonceSize()
	if len(sealed) < 1+n+aead.Overhead() || sealed[0] != sealVersion {
		return nil, errSeal
	}
	pt, err := aead.Open(nil, sealed[1:1+n], sealed[1+n:], rowAD(table, column, pk))
	if err != nil {
		return nil, errSeal
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}
