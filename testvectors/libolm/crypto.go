package libolm

/*
#include <stdint.h>
#include <stddef.h>
#include <string.h>

// libolm exports its primitives but does not install include/olm/crypto.h;
// these declarations are that header's. The generator checks each against
// a published answer (RFC 5869, RFC 7748, RFC 8032 via olm_pk_sign) before
// trusting it.
struct _olm_aes256_key { uint8_t key[32]; };
struct _olm_aes256_iv { uint8_t iv[16]; };
struct _olm_curve25519_key_pair { uint8_t public_key[32]; uint8_t private_key[32]; };
struct _olm_ed25519_key_pair { uint8_t public_key[32]; uint8_t private_key[64]; };
size_t _olm_crypto_aes_encrypt_cbc_length(size_t input_length);
void _olm_crypto_aes_encrypt_cbc(const struct _olm_aes256_key *key, const struct _olm_aes256_iv *iv,
	const uint8_t *input, size_t input_length, uint8_t *output);
void _olm_crypto_sha256(uint8_t const *input, size_t input_length, uint8_t *output);
void _olm_crypto_hmac_sha256(uint8_t const *key, size_t key_length, uint8_t const *input,
	size_t input_length, uint8_t *output);
int _olm_crypto_hkdf_sha256(uint8_t const *input, size_t input_length, uint8_t const *salt,
	size_t salt_length, uint8_t const *info, size_t info_length, uint8_t *output, size_t output_length);
void _olm_crypto_curve25519_generate_key(uint8_t const *random_32_bytes, struct _olm_curve25519_key_pair *output);
size_t _olm_crypto_curve25519_shared_secret(const struct _olm_curve25519_key_pair *our_key,
	const uint8_t *their_key, uint8_t *output);
void _olm_crypto_ed25519_generate_key(uint8_t const *random_32_bytes, struct _olm_ed25519_key_pair *output);
size_t _olm_decode_base64_length(size_t input_length);
size_t _olm_decode_base64(const uint8_t *input, size_t input_length, uint8_t *output);
void _olm_crypto_ed25519_sign(const struct _olm_ed25519_key_pair *our_key, const uint8_t *message,
	size_t message_length, uint8_t *output);
*/
import "C"

import "unsafe"

func u8(b []byte) *C.uint8_t { return (*C.uint8_t)(cptr(b)) }

// AESEncryptCBC is libolm's AES-256-CBC with PKCS#7 padding.
func AESEncryptCBC(key [32]byte, iv [16]byte, input []byte) []byte {
	var k C.struct__olm_aes256_key
	var v C.struct__olm_aes256_iv
	C.memcpy(unsafe.Pointer(&k.key[0]), unsafe.Pointer(&key[0]), 32)
	C.memcpy(unsafe.Pointer(&v.iv[0]), unsafe.Pointer(&iv[0]), 16)
	out := make([]byte, C._olm_crypto_aes_encrypt_cbc_length(C.size_t(len(input))))
	in := cbuf(input)
	C._olm_crypto_aes_encrypt_cbc(&k, &v, u8(in), C.size_t(len(input)), u8(out))
	return out
}

// SHA256Raw is libolm's SHA-256.
func SHA256Raw(input []byte) []byte {
	out := make([]byte, 32)
	in := cbuf(input)
	C._olm_crypto_sha256(u8(in), C.size_t(len(input)), u8(out))
	return out
}

// HMACSHA256 is libolm's HMAC-SHA-256.
func HMACSHA256(key, input []byte) []byte {
	out := make([]byte, 32)
	k, in := cbuf(key), cbuf(input)
	C._olm_crypto_hmac_sha256(u8(k), C.size_t(len(key)), u8(in), C.size_t(len(input)), u8(out))
	return out
}

// HKDFSHA256 is libolm's HKDF-SHA-256.
func HKDFSHA256(ikm, salt, info []byte, n int) []byte {
	out := make([]byte, n+1)
	i, s, f := cbuf(ikm), cbuf(salt), cbuf(info)
	C._olm_crypto_hkdf_sha256(u8(i), C.size_t(len(ikm)), u8(s), C.size_t(len(salt)), u8(f), C.size_t(len(info)), u8(out), C.size_t(n))
	return out[:n]
}

// Curve25519 returns the public key of a private key and, if peer is not
// nil, the X25519 shared secret with it (libolm does not reject low-order
// peers).
func Curve25519(private []byte, peer []byte) (public, shared []byte) {
	var kp C.struct__olm_curve25519_key_pair
	r := cbuf(private)
	C._olm_crypto_curve25519_generate_key(u8(r), &kp)
	public = C.GoBytes(unsafe.Pointer(&kp.public_key[0]), 32)
	if peer != nil {
		shared = make([]byte, 32)
		p := cbuf(peer)
		C._olm_crypto_curve25519_shared_secret(&kp, u8(p), u8(shared))
	}
	return public, shared
}

// Ed25519 returns libolm's public key and 64-byte expanded private key for
// a seed, and the signature of msg.
func Ed25519(seed, msg []byte) (public, expanded, signature []byte) {
	var kp C.struct__olm_ed25519_key_pair
	r := cbuf(seed)
	C._olm_crypto_ed25519_generate_key(u8(r), &kp)
	sig := make([]byte, 64)
	m := cbuf(msg)
	C._olm_crypto_ed25519_sign(&kp, u8(m), C.size_t(len(msg)), u8(sig))
	return C.GoBytes(unsafe.Pointer(&kp.public_key[0]), 32), C.GoBytes(unsafe.Pointer(&kp.private_key[0]), 64), sig
}

// Base64Decode is libolm's base64 decoder (src/base64.cpp): it rejects only
// lengths of 1 mod 4 and does not validate characters.
func Base64Decode(s string) ([]byte, bool) {
	n := C._olm_decode_base64_length(C.size_t(len(s)))
	if n == C.size_t(^uint(0)) {
		return nil, false
	}
	out := make([]byte, n+1)
	in := cbuf([]byte(s))
	C._olm_decode_base64(u8(in), C.size_t(len(s)), u8(out))
	return out[:n], true
}
