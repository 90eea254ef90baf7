package sas

import (
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/hmacsha256"
	"github.com/sicher-go/sicher/key"
)

// MaxBytes is the most [Established.Bytes] can derive: HKDF-SHA-256's
// limit of 255 hash outputs.
const MaxBytes = 255 * sha256.Size

// Errors returned (wrapped) by this package. Errors from a key agreement
// with a low-order key also match key.ErrNonContributory.
var (
	// errBadLength: a byte count outside 1..MaxBytes.
	errBadLength = errors.New("sas: invalid length")
	// ErrUnknownMethod: a MAC method, key agreement protocol, hash or SAS
	// method this package does not implement, or no method both sides
	// support (cancel with m.unknown_method).
	ErrUnknownMethod = errors.New("sas: unknown or unsupported method")
	// ErrAuthentication: a received MAC does not match, or a MAC event
	// names a key ID the protocol does not allow (cancel with
	// m.key_mismatch).
	ErrAuthentication = errors.New("sas: MAC mismatch")
	// ErrCommitmentMismatch: the commitment does not match the key and
	// start content (cancel with m.mismatched_commitment).
	ErrCommitmentMismatch = errors.New("sas: commitment mismatch")
	// ErrNoKnownKeys: a MAC event names no key the receiver knows.
	ErrNoKnownKeys = errors.New("sas: no known key in MAC event")
)

// SAS is one side's ephemeral X25519 key pair before the other side's key
// is known. Its private key is secret. A SAS is safe for concurrent use.
type SAS struct {
	priv *ecdh.PrivateKey
	pub  key.Curve25519
}

// New returns a SAS with a fresh X25519 key pair read from crypto/rand.
func New() (*SAS, error) { return NewFrom(nil) }

// NewFrom reads 32 bytes from r (crypto/rand if r is nil) and uses them as
// the X25519 private key, exactly as libolm's olm_create_sas does. It
// exists to replay libolm transcripts; use [New] otherwise.
func NewFrom(r io.Reader) (*SAS, error) {
	if r == nil {
		r = rand.Reader
	}
	priv, err := key.GenerateCurve25519(r)
	if err != nil {
		return nil, fmt.Errorf("sas: %w", err)
	}
	return &SAS{priv: priv, pub: key.Curve25519Public(priv)}, nil
}

// PublicKey returns the public key to send in m.key.verification.key.
func (s *SAS) PublicKey() key.Curve25519 { return s.pub }

// SetTheirKey performs the key agreement with the other side's public key
// and returns the established SAS. A low-order key (non-contributory
// agreement) is rejected with an error matching key.ErrNonContributory;
// libolm accepts such keys, vodozemac rejects them. s is not modified and
// may be used again.
func (s *SAS) SetTheirKey(their key.Curve25519) (*Established, error) {
	secret, err := key.X25519(s.priv, their)
	if err != nil {
		return nil, fmt.Errorf("sas: their key: %w", err)
	}
	return &Established{secret: secret, our: s.pub, their: their}, nil
}

// Format redacts the private key for every verb, printing the public key.
func (s SAS) Format(f fmt.State, _ rune) { fmt.Fprintf(f, "sas.SAS{PublicKey: %s}", s.pub) }

// LogValue implements slog.LogValuer: the public key only.
func (s SAS) LogValue() slog.Value { return slog.GroupValue(slog.String("public_key", s.pub.String())) }

// Established is a SAS whose key agreement is done: it holds the shared
// secret, from which the short authentication string and the MACs are
// derived. The shared secret is secret. An Established is safe for
// concurrent use.
type Established struct {
	secret [32]byte
	our    key.Curve25519
	their  key.Curve25519
}

// Bytes returns n bytes of HKDF-SHA-256 output (zero salt, the shared
// secret as input key material) under info, as libolm's
// olm_sas_generate_bytes does. n must be 1..MaxBytes. Build info with
// [SASInfo] for the short authentication string.
func (e *Established) Bytes(info string, n int) ([]byte, error) {
	if n < 1 || n > MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes requested, want 1..%d", errBadLength, n, MaxBytes)
	}
	return e.expand(info, n), nil
}

// Emoji returns the seven emoji both users compare (spec "SAS method:
// emoji"). Each [Emoji] carries its table index in Number. Build info with
// [SASInfo] (or [LegacySASInfo]).
func (e *Established) Emoji(info string) [7]Emoji { return emojiFromBytes(e.shortAuthBytes(info)) }

// Decimals returns the three numbers (each 1000..9191) both users compare
// (spec "SAS method: decimal").
func (e *Established) Decimals(info string) [3]int { return decimalsFromBytes(e.shortAuthBytes(info)) }

// shortAuthBytes returns the six bytes the emoji and decimal forms are
// made of (the first six bytes of Bytes(info, 6)).
func (e *Established) shortAuthBytes(info string) [6]byte {
	var b [6]byte
	hmacsha256.HKDF(b[:], nil, e.secret[:], info)
	return b
}

func (e *Established) expand(info string, n int) []byte {
	b := make([]byte, n)
	hmacsha256.HKDF(b, nil, e.secret[:], info)
	return b
}

// MAC returns the MAC of input under info with method m, encoded as it is
// sent in m.key.verification.mac (43 characters for every method). info
// is built as the spec's "MAC calculation" of SAS verification says
// (https://spec.matrix.org/v1.19/client-server-api/#mac-calculation). An
// unknown method gets ErrUnknownMethod.
func (e *Established) MAC(m MACMethod, input []byte, info string) (string, error) {
	mac, err := e.rawMAC(m, input, info)
	if err != nil {
		return "", err
	}
	return string(m.encode(&mac)), nil
}

// VerifyMAC checks, in constant time, that mac is the MAC of input under
// info with method m. For the v2 method mac may be padded or unpadded
// base64; the legacy methods compare the exact libolm text.
func (e *Established) VerifyMAC(m MACMethod, input []byte, info string, mac string) error {
	want, err := e.rawMAC(m, input, info)
	if err != nil {
		return err
	}
	if m == HKDFHMACSHA256V2 {
		var got [sha256.Size]byte
		if len(mac) > 44 || b64.DecodeInto(got[:], mac) != nil {
			return fmt.Errorf("%w: not a 32-byte base64 MAC", ErrAuthentication)
		}
		if !hmac.Equal(got[:], want[:]) {
			return ErrAuthentication
		}
		return nil
	}
	if !hmac.Equal([]byte(mac), m.encode(&want)) {
		return ErrAuthentication
	}
	return nil
}

// rawMAC computes the 32-byte HMAC-SHA-256 of input with the key that
// method m derives from the shared secret.
func (e *Established) rawMAC(m MACMethod, input []byte, info string) ([sha256.Size]byte, error) {
	// The HMAC key is 32 bytes of HKDF output, or 256 for libolm's
	// olm_sas_calculate_mac_long_kdf.
	var k [256]byte
	var keyLen int
	switch m {
	case HKDFHMACSHA256V2, LegacyHKDFHMACSHA256:
		keyLen = 32
	case LegacyHMACSHA256:
		keyLen = 256
	default:
		return [sha256.Size]byte{}, fmt.Errorf("%w: MAC method %d", ErrUnknownMethod, int(m))
	}
	hmacsha256.HKDF(k[:keyLen], nil, e.secret[:], info)
	out := hmacsha256.Sum(k[:keyLen], input)
	clear(k[:])
	return out, nil
}

// Format redacts the shared secret for every verb, printing the public keys.
func (e Established) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "sas.Established{OurKey: %s, TheirKey: %s}", e.our, e.their)
}

// LogValue implements slog.LogValuer: the two public keys only.
func (e Established) LogValue() slog.Value {
	return slog.GroupValue(slog.String("our_key", e.our.String()), slog.String("their_key", e.their.String()))
}
