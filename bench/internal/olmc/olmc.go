// Package olmc is a small cgo shim over Debian's libolm 3.2.13 for the parts
// mautrix's crypto/libolm binding does not wrap: SAS, PK encryption (key
// backup) and the raw Megolm ratchet (megolm_init / megolm_advance_to, which
// libolm exports without installing their header).
//
// It exists only to benchmark libolm beside sicher and goolm. Randomness is
// read from crypto/rand, as mautrix's binding does.
package olmc

/*
#cgo LDFLAGS: -lolm -lstdc++
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <olm/olm.h>
#include <olm/sas.h>
#include <olm/pk.h>

// From libolm's include/olm/megolm.h (not installed by libolm-dev; the
// symbols are exported with C linkage).
typedef struct Megolm {
    uint8_t data[4][32];
    uint32_t counter;
} Megolm;
void megolm_init(Megolm *megolm, uint8_t const *random_data, uint32_t counter);
void megolm_advance(Megolm *megolm);
void megolm_advance_to(Megolm *megolm, uint32_t advance_to);
*/
import "C"

import (
	"crypto/rand"
	"errors"
	"unsafe"
)

func random(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(err)
	}
	return b
}

func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// Ratchet is libolm's four-part Megolm ratchet (132 bytes, no pointers).
type Ratchet struct{ m C.Megolm }

// Init sets the ratchet from 128 bytes of ratchet data at counter.
func (r *Ratchet) Init(data *[128]byte, counter uint32) {
	C.megolm_init(&r.m, (*C.uint8_t)(unsafe.Pointer(&data[0])), C.uint32_t(counter))
}

// AdvanceTo advances the ratchet to index i.
func (r *Ratchet) AdvanceTo(i uint32) { C.megolm_advance_to(&r.m, C.uint32_t(i)) }

// Advance advances the ratchet by one.
func (r *Ratchet) Advance() { C.megolm_advance(&r.m) }

// Data returns the ratchet's 128 bytes.
func (r *Ratchet) Data() (out [128]byte) {
	C.memcpy(unsafe.Pointer(&out[0]), unsafe.Pointer(&r.m.data[0][0]), 128)
	return out
}

// Counter returns the ratchet's index.
func (r *Ratchet) Counter() uint32 { return uint32(r.m.counter) }

var errSAS = errors.New("olmc: sas error")

// SAS is libolm's OlmSAS.
type SAS struct {
	mem []byte
	p   *C.OlmSAS
}

// NewSAS creates a SAS object with a fresh X25519 key pair.
func NewSAS() (*SAS, error) { return NewSASFrom(nil) }

// NewSASFrom creates a SAS object whose private key is rnd (32 bytes;
// nil means fresh randomness).
func NewSASFrom(rnd []byte) (*SAS, error) {
	mem := C.malloc(C.olm_sas_size())
	s := &SAS{p: C.olm_sas(mem)}
	if rnd == nil {
		rnd = random(int(C.olm_create_sas_random_length(s.p)))
	}
	if C.olm_create_sas(s.p, ptr(rnd), C.size_t(len(rnd))) == C.olm_error() {
		return nil, errSAS
	}
	return s, nil
}

// Free releases the C memory.
func (s *SAS) Free() {
	C.olm_clear_sas(s.p)
	C.free(unsafe.Pointer(s.p))
}

// PublicKey returns the unpadded base64 public key.
func (s *SAS) PublicKey() []byte {
	out := make([]byte, C.olm_sas_pubkey_length(s.p))
	C.olm_sas_get_pubkey(s.p, ptr(out), C.size_t(len(out)))
	return out
}

// SetTheirKey sets the other party's base64 public key (copied: libolm
// decodes in place).
func (s *SAS) SetTheirKey(pub []byte) error {
	c := append([]byte(nil), pub...)
	if C.olm_sas_set_their_key(s.p, ptr(c), C.size_t(len(c))) == C.olm_error() {
		return errSAS
	}
	return nil
}

// GenerateBytes derives n SAS bytes for info.
func (s *SAS) GenerateBytes(info []byte, n int) ([]byte, error) {
	out := make([]byte, n)
	if C.olm_sas_generate_bytes(s.p, ptr(info), C.size_t(len(info)), ptr(out), C.size_t(n)) == C.olm_error() {
		return nil, errSAS
	}
	return out, nil
}

// MAC computes the hkdf-hmac-sha256.v2 MAC (fixed base64) of input.
func (s *SAS) MAC(input, info []byte) ([]byte, error) {
	out := make([]byte, C.olm_sas_mac_length(s.p))
	if C.olm_sas_calculate_mac_fixed_base64(s.p, ptr(input), C.size_t(len(input)), ptr(info), C.size_t(len(info)), ptr(out), C.size_t(len(out))) == C.olm_error() {
		return nil, errSAS
	}
	return out, nil
}

var errPK = errors.New("olmc: pk error")

// PkEncrypt encrypts plaintext to the base64 public key recipient
// (m.megolm_backup.v1.curve25519-aes-sha2) and returns base64 ciphertext,
// MAC and ephemeral key.
func PkEncrypt(recipient, plaintext []byte) (ct, mac, eph []byte, err error) {
	mem := C.malloc(C.olm_pk_encryption_size())
	defer C.free(mem)
	e := C.olm_pk_encryption(mem)
	defer C.olm_clear_pk_encryption(e)
	if C.olm_pk_encryption_set_recipient_key(e, ptr(recipient), C.size_t(len(recipient))) == C.olm_error() {
		return nil, nil, nil, errPK
	}
	ct = make([]byte, C.olm_pk_ciphertext_length(e, C.size_t(len(plaintext))))
	mac = make([]byte, C.olm_pk_mac_length(e))
	eph = make([]byte, C.olm_pk_key_length())
	rnd := random(int(C.olm_pk_encrypt_random_length(e)))
	if C.olm_pk_encrypt(e, ptr(plaintext), C.size_t(len(plaintext)), ptr(ct), C.size_t(len(ct)),
		ptr(mac), C.size_t(len(mac)), ptr(eph), C.size_t(len(eph)), ptr(rnd), C.size_t(len(rnd))) == C.olm_error() {
		return nil, nil, nil, errPK
	}
	return ct, mac, eph, nil
}

// PkDecryption is libolm's OlmPkDecryption.
type PkDecryption struct{ p *C.OlmPkDecryption }

// NewPkDecryption loads a 32-byte private key and returns the object and the
// base64 public key.
func NewPkDecryption(priv []byte) (*PkDecryption, []byte, error) {
	d := &PkDecryption{p: C.olm_pk_decryption(C.malloc(C.olm_pk_decryption_size()))}
	pub := make([]byte, C.olm_pk_key_length())
	if C.olm_pk_key_from_private(d.p, ptr(pub), C.size_t(len(pub)), ptr(priv), C.size_t(len(priv))) == C.olm_error() {
		return nil, nil, errPK
	}
	return d, pub, nil
}

// Decrypt decrypts a backup ciphertext (all inputs base64, copied first:
// libolm decodes the ciphertext in place).
func (d *PkDecryption) Decrypt(eph, mac, ct []byte) ([]byte, error) {
	c := append([]byte(nil), ct...)
	out := make([]byte, C.olm_pk_max_plaintext_length(d.p, C.size_t(len(c))))
	n := C.olm_pk_decrypt(d.p, ptr(eph), C.size_t(len(eph)), ptr(mac), C.size_t(len(mac)),
		ptr(c), C.size_t(len(c)), ptr(out), C.size_t(len(out)))
	if n == C.olm_error() {
		return nil, errPK
	}
	return out[:n], nil
}
