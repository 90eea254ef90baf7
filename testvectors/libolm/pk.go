package libolm

/*
#include <stdlib.h>
#include <olm/olm.h>
#include <olm/pk.h>
#include <olm/sas.h>
*/
import "C"

import "unsafe"

// SAS is an OlmSAS.
type SAS struct {
	o *object
	p *C.OlmSAS
}

// Free wipes and releases the object.
func (s *SAS) Free() { s.o.free(); s.p = nil }

func (s *SAS) err(op string) error { return &Error{op, ErrorCode(C.olm_sas_last_error_code(s.p))} }

// NewSAS creates a SAS object from 32 random bytes (the X25519 private key).
func NewSAS(random []byte) (*SAS, error) {
	s := &SAS{o: newObject(C.olm_sas_size())}
	s.p = C.olm_sas(s.o.mem)
	track(s, s.o)
	r := cbuf(random)
	if C.olm_create_sas(s.p, cptr(r), C.size_t(len(r))) == olmError {
		defer s.Free()
		return nil, s.err("create_sas")
	}
	return s, nil
}

// PublicKey returns our public key (base64).
func (s *SAS) PublicKey() string {
	out := make([]byte, C.olm_sas_pubkey_length(s.p))
	if C.olm_sas_get_pubkey(s.p, ptr(out), C.size_t(len(out))) == olmError {
		panic(s.err("sas_get_pubkey"))
	}
	return string(out)
}

// SetTheirKey sets the peer's public key (base64).
func (s *SAS) SetTheirKey(k string) error {
	b := cbuf([]byte(k))
	if C.olm_sas_set_their_key(s.p, cptr(b), C.size_t(len(b))) == olmError {
		return s.err("sas_set_their_key")
	}
	return nil
}

// GenerateBytes returns n bytes of HKDF output for info.
func (s *SAS) GenerateBytes(info []byte, n int) ([]byte, error) {
	out := make([]byte, n+1)
	i := cbuf(info)
	if C.olm_sas_generate_bytes(s.p, cptr(i), C.size_t(len(i)), ptr(out), C.size_t(n)) == olmError {
		return nil, s.err("sas_generate_bytes")
	}
	return out[:n], nil
}

type macFunc func(*C.OlmSAS, unsafe.Pointer, C.size_t, unsafe.Pointer, C.size_t, unsafe.Pointer, C.size_t) C.size_t

func (s *SAS) mac(op string, f macFunc, input, info []byte, outLen int) (string, error) {
	out := make([]byte, outLen)
	in, i := cbuf(input), cbuf(info)
	if f(s.p, cptr(in), C.size_t(len(in)), cptr(i), C.size_t(len(i)), ptr(out), C.size_t(len(out))) == olmError {
		return "", s.err(op)
	}
	return string(out), nil
}

// CalculateMAC is olm_sas_calculate_mac (the buggy base64, "hkdf-hmac-sha256").
func (s *SAS) CalculateMAC(input, info []byte) (string, error) {
	return s.mac("sas_calculate_mac", func(p *C.OlmSAS, a unsafe.Pointer, b C.size_t, c unsafe.Pointer, d C.size_t, e unsafe.Pointer, f C.size_t) C.size_t {
		return C.olm_sas_calculate_mac(p, a, b, c, d, e, f)
	}, input, info, int(C.olm_sas_mac_length(s.p)))
}

// CalculateMACFixedBase64 is olm_sas_calculate_mac_fixed_base64 ("hkdf-hmac-sha256.v2").
func (s *SAS) CalculateMACFixedBase64(input, info []byte) (string, error) {
	return s.mac("sas_calculate_mac_fixed_base64", func(p *C.OlmSAS, a unsafe.Pointer, b C.size_t, c unsafe.Pointer, d C.size_t, e unsafe.Pointer, f C.size_t) C.size_t {
		return C.olm_sas_calculate_mac_fixed_base64(p, a, b, c, d, e, f)
	}, input, info, int(C.olm_sas_mac_length(s.p)))
}

// CalculateMACLongKDF is olm_sas_calculate_mac_long_kdf (256-byte HKDF key, buggy base64).
func (s *SAS) CalculateMACLongKDF(input, info []byte) (string, error) {
	return s.mac("sas_calculate_mac_long_kdf", func(p *C.OlmSAS, a unsafe.Pointer, b C.size_t, c unsafe.Pointer, d C.size_t, e unsafe.Pointer, f C.size_t) C.size_t {
		return C.olm_sas_calculate_mac_long_kdf(p, a, b, c, d, e, f)
	}, input, info, int(C.olm_sas_mac_length(s.p)))
}

// PkEncrypt encrypts plaintext to a base64 Curve25519 key with 32 random
// bytes (the ephemeral private key); it returns ciphertext, mac, ephemeral.
func PkEncrypt(recipient string, plaintext, random []byte) (ciphertext, mac, ephemeral string, err error) {
	o := newObject(C.olm_pk_encryption_size())
	defer o.free()
	p := C.olm_pk_encryption(o.mem)
	e := func(op string) error { return &Error{op, ErrorCode(C.olm_pk_encryption_last_error_code(p))} }
	k := cbuf([]byte(recipient))
	if C.olm_pk_encryption_set_recipient_key(p, cptr(k), C.size_t(len(k))) == olmError {
		return "", "", "", e("pk_encryption_set_recipient_key")
	}
	ct := make([]byte, C.olm_pk_ciphertext_length(p, C.size_t(len(plaintext))))
	m := make([]byte, C.olm_pk_mac_length(p))
	eph := make([]byte, C.olm_pk_key_length())
	pt, r := cbuf(plaintext), cbuf(random)
	if C.olm_pk_encrypt(p, cptr(pt), C.size_t(len(pt)), ptr(ct), C.size_t(len(ct)), ptr(m), C.size_t(len(m)),
		ptr(eph), C.size_t(len(eph)), cptr(r), C.size_t(len(r))) == olmError {
		return "", "", "", e("pk_encrypt")
	}
	return string(ct), string(m), string(eph), nil
}

// PkDecryption is an OlmPkDecryption.
type PkDecryption struct {
	o *object
	p *C.OlmPkDecryption
	// PublicKey is the base64 public key.
	PublicKey string
}

func newPkDecryption() *PkDecryption {
	d := &PkDecryption{o: newObject(C.olm_pk_decryption_size())}
	d.p = C.olm_pk_decryption(d.o.mem)
	track(d, d.o)
	return d
}

// Free wipes and releases the object.
func (d *PkDecryption) Free() { d.o.free(); d.p = nil }

func (d *PkDecryption) err(op string) error {
	return &Error{op, ErrorCode(C.olm_pk_decryption_last_error_code(d.p))}
}

// NewPkDecryption creates a decryption object from a 32-byte private key.
func NewPkDecryption(private []byte) (*PkDecryption, error) {
	d := newPkDecryption()
	pub := make([]byte, C.olm_pk_key_length())
	k := cbuf(private)
	if C.olm_pk_key_from_private(d.p, ptr(pub), C.size_t(len(pub)), cptr(k), C.size_t(len(k))) == olmError {
		defer d.Free()
		return nil, d.err("pk_key_from_private")
	}
	d.PublicKey = string(pub)
	return d, nil
}

// UnpicklePkDecryption restores the object from a libolm pickle.
func UnpicklePkDecryption(key []byte, pickle string) (*PkDecryption, error) {
	d := newPkDecryption()
	pub := make([]byte, C.olm_pk_key_length())
	k, p := cbuf(key), cbuf([]byte(pickle))
	if C.olm_unpickle_pk_decryption(d.p, cptr(k), C.size_t(len(k)), cptr(p), C.size_t(len(p)), ptr(pub), C.size_t(len(pub))) == olmError {
		defer d.Free()
		return nil, d.err("unpickle_pk_decryption")
	}
	d.PublicKey = string(pub)
	return d, nil
}

// Pickle returns the libolm pickle under key.
func (d *PkDecryption) Pickle(key []byte) string {
	out := make([]byte, C.olm_pickle_pk_decryption_length(d.p))
	k := cbuf(key)
	n := C.olm_pickle_pk_decryption(d.p, cptr(k), C.size_t(len(k)), ptr(out), C.size_t(len(out)))
	if n == olmError {
		panic(d.err("pickle_pk_decryption"))
	}
	return string(out[:n])
}

// PrivateKey returns the 32-byte private key.
func (d *PkDecryption) PrivateKey() []byte {
	out := make([]byte, C.olm_pk_private_key_length())
	if C.olm_pk_get_private_key(d.p, ptr(out), C.size_t(len(out))) == olmError {
		panic(d.err("pk_get_private_key"))
	}
	return out
}

// Decrypt decrypts a backup-v1 message given as three base64 strings.
func (d *PkDecryption) Decrypt(ephemeral, mac, ciphertext string) ([]byte, error) {
	out := make([]byte, C.olm_pk_max_plaintext_length(d.p, C.size_t(len(ciphertext)))+1)
	e, m, c := cbuf([]byte(ephemeral)), cbuf([]byte(mac)), cbuf([]byte(ciphertext))
	n := C.olm_pk_decrypt(d.p, cptr(e), C.size_t(len(e)), cptr(m), C.size_t(len(m)), cptr(c), C.size_t(len(c)), ptr(out), C.size_t(len(out)-1))
	if n == olmError {
		return nil, d.err("pk_decrypt")
	}
	return out[:n], nil
}

// PkSign signs msg with the Ed25519 key from a 32-byte seed; it returns
// the base64 public key and signature.
func PkSign(seed, msg []byte) (public, signature string, err error) {
	o := newObject(C.olm_pk_signing_size())
	defer o.free()
	p := C.olm_pk_signing(o.mem)
	pub := make([]byte, C.olm_pk_signing_public_key_length())
	s := cbuf(seed)
	if C.olm_pk_signing_key_from_seed(p, ptr(pub), C.size_t(len(pub)), cptr(s), C.size_t(len(s))) == olmError {
		return "", "", &Error{"pk_signing_key_from_seed", ErrorCode(C.olm_pk_signing_last_error_code(p))}
	}
	sig := make([]byte, C.olm_pk_signature_length())
	m := cbuf(msg)
	if C.olm_pk_sign(p, (*C.uint8_t)(cptr(m)), C.size_t(len(m)), (*C.uint8_t)(ptr(sig)), C.size_t(len(sig))) == olmError {
		return "", "", &Error{"pk_sign", ErrorCode(C.olm_pk_signing_last_error_code(p))}
	}
	return string(pub), string(sig), nil
}
