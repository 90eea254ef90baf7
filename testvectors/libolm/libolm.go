// Package libolm is a small cgo binding of Debian's libolm 3.2.13 C API,
// written for the sicher conformance corpus: the generator in cmd/gen and
// the live cross-tests use it as the oracle.
//
// It is test code, not a library for applications: every call that
// creates keys takes its random bytes as an argument (libolm's design), so
// a caller controls all randomness and every output is reproducible. Inputs
// are copied before libolm sees them (libolm decodes base64 in place).
// Objects live in C memory, are wiped and freed by Free or, failing that,
// by a cleanup when the Go value becomes unreachable. No value is safe for
// concurrent use.
package libolm

/*
#cgo LDFLAGS: -lolm
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <olm/olm.h>
#include <olm/pk.h>
#include <olm/sas.h>
#include <olm/inbound_group_session.h>
#include <olm/outbound_group_session.h>

// libolm exports the raw Megolm ratchet but does not install its header
// (include/olm/megolm.h in the source tree); the declarations below are
// that header's.
typedef struct Megolm {
	uint8_t data[4][32];
	uint32_t counter;
} Megolm;
void megolm_init(Megolm *megolm, uint8_t const *random_data, uint32_t counter);
void megolm_advance(Megolm *megolm);
void megolm_advance_to(Megolm *megolm, uint32_t advance_to);

static void wipe_free(void *p, size_t n) {
	volatile uint8_t *v = p;
	for (size_t i = 0; i < n; i++) v[i] = 0;
	free(p);
}
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime"
	"unsafe"
)

// ErrorCode is libolm's enum OlmErrorCode.
type ErrorCode int

// libolm's error codes (include/olm/error.h).
const (
	Success                ErrorCode = 0
	NotEnoughRandom        ErrorCode = 1
	OutputBufferTooSmall   ErrorCode = 2
	BadMessageVersion      ErrorCode = 3
	BadMessageFormat       ErrorCode = 4
	BadMessageMAC          ErrorCode = 5
	BadMessageKeyID        ErrorCode = 6
	InvalidBase64          ErrorCode = 7
	BadAccountKey          ErrorCode = 8
	UnknownPickleVersion   ErrorCode = 9
	CorruptedPickle        ErrorCode = 10
	BadSessionKey          ErrorCode = 11
	UnknownMessageIndex    ErrorCode = 12
	BadLegacyAccountPickle ErrorCode = 13
	BadSignature           ErrorCode = 14
	InputBufferTooSmall    ErrorCode = 15
	SASTheirKeyNotSet      ErrorCode = 16
	PickleExtraData        ErrorCode = 17
)

// String returns libolm's name for the code, e.g. "BAD_MESSAGE_MAC".
func (c ErrorCode) String() string {
	return C.GoString(C._olm_error_to_string(C.enum_OlmErrorCode(c)))
}

// Error is a libolm failure: the operation and libolm's error code.
type Error struct {
	Op   string
	Code ErrorCode
}

// Error implements error.
func (e *Error) Error() string { return "libolm: " + e.Op + ": " + e.Code.String() }

// Code returns the libolm error code of err, Success for nil, and -1 for an
// error that did not come from libolm.
func Code(err error) ErrorCode {
	if err == nil {
		return Success
	}
	if e, ok := err.(*Error); ok {
		return e.Code
	}
	return -1
}

var olmError = C.olm_error()

func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// cbuf copies b into a fresh Go slice libolm may scribble on; a non-nil
// pointer is passed even for empty input.
func cbuf(b []byte) []byte {
	out := make([]byte, len(b)+1)
	copy(out, b)
	return out[:len(b)]
}

func cptr(b []byte) unsafe.Pointer {
	if cap(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[:1][0])
}

type object struct {
	mem  unsafe.Pointer
	size C.size_t
}

func newObject(size C.size_t) *object {
	return &object{mem: C.malloc(size), size: size}
}

// track arranges for o to be wiped and freed when owner is unreachable
// (a no-op if Free ran first).
func track[T any](owner *T, o *object) {
	runtime.AddCleanup(owner, func(o *object) { o.free() }, o)
}

func (o *object) free() {
	if o.mem != nil {
		C.wipe_free(o.mem, o.size)
		o.mem = nil
	}
}

// Version returns libolm's version triple.
func Version() (major, minor, patch int) {
	var a, b, c C.uint8_t
	C.olm_get_library_version(&a, &b, &c)
	return int(a), int(b), int(c)
}

// ---------------------------------------------------------------- Account

// Account is an OlmAccount.
type Account struct {
	o *object
	p *C.OlmAccount
}

func newAccount() *Account {
	a := &Account{o: newObject(C.olm_account_size())}
	a.p = C.olm_account(a.o.mem)
	track(a, a.o)
	return a
}

// Free wipes and releases the account.
func (a *Account) Free() { a.o.free(); a.p = nil }

func (a *Account) err(op string) error {
	return &Error{op, ErrorCode(C.olm_account_last_error_code(a.p))}
}

// CreateAccountRandomLength is the number of random bytes NewAccount takes (64).
func CreateAccountRandomLength() int {
	a := newAccount()
	defer a.Free()
	return int(C.olm_create_account_random_length(a.p))
}

// NewAccount creates an account from random (32 Ed25519 seed, 32 Curve25519).
func NewAccount(random []byte) (*Account, error) {
	a := newAccount()
	r := cbuf(random)
	if C.olm_create_account(a.p, cptr(r), C.size_t(len(r))) == olmError {
		defer a.Free()
		return nil, a.err("create_account")
	}
	return a, nil
}

// UnpickleAccount restores an account from a libolm pickle.
func UnpickleAccount(key []byte, pickle string) (*Account, error) {
	a := newAccount()
	k, p := cbuf(key), cbuf([]byte(pickle))
	if C.olm_unpickle_account(a.p, cptr(k), C.size_t(len(k)), cptr(p), C.size_t(len(p))) == olmError {
		defer a.Free()
		return nil, a.err("unpickle_account")
	}
	return a, nil
}

// Pickle returns the account's libolm pickle under key.
func (a *Account) Pickle(key []byte) string {
	out := make([]byte, C.olm_pickle_account_length(a.p))
	k := cbuf(key)
	n := C.olm_pickle_account(a.p, cptr(k), C.size_t(len(k)), ptr(out), C.size_t(len(out)))
	if n == olmError {
		panic(a.err("pickle_account"))
	}
	return string(out[:n])
}

// IdentityKeys returns the account's Curve25519 and Ed25519 public keys.
func (a *Account) IdentityKeys() (curve25519, ed25519 string) {
	out := make([]byte, C.olm_account_identity_keys_length(a.p))
	n := C.olm_account_identity_keys(a.p, ptr(out), C.size_t(len(out)))
	if n == olmError {
		panic(a.err("identity_keys"))
	}
	var v struct{ Curve25519, Ed25519 string }
	if err := json.Unmarshal(out[:n], &v); err != nil {
		panic(err)
	}
	return v.Curve25519, v.Ed25519
}

// Sign signs msg with the account's Ed25519 key (unpadded base64).
func (a *Account) Sign(msg []byte) string {
	out := make([]byte, C.olm_account_signature_length(a.p))
	m := cbuf(msg)
	n := C.olm_account_sign(a.p, cptr(m), C.size_t(len(m)), ptr(out), C.size_t(len(out)))
	if n == olmError {
		panic(a.err("sign"))
	}
	return string(out[:n])
}

// KeyEntry is one key of libolm's key JSON, in libolm's order.
type KeyEntry struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

// ParseKeyJSON parses {"curve25519":{"id":"key",...}} preserving order.
func ParseKeyJSON(b []byte) []KeyEntry {
	dec := json.NewDecoder(bytesReader(b))
	var out []KeyEntry
	tok := func() json.Token {
		t, err := dec.Token()
		if err != nil {
			panic(fmt.Sprintf("libolm: key JSON %q: %v", b, err))
		}
		return t
	}
	tok() // {
	for dec.More() {
		tok() // "curve25519"
		tok() // {
		for dec.More() {
			id := tok().(string)
			k := tok().(string)
			out = append(out, KeyEntry{id, k})
		}
		tok() // }
	}
	return out
}

// OneTimeKeysJSON returns libolm's JSON of the unpublished one-time keys.
func (a *Account) OneTimeKeysJSON() string {
	out := make([]byte, C.olm_account_one_time_keys_length(a.p))
	n := C.olm_account_one_time_keys(a.p, ptr(out), C.size_t(len(out)))
	if n == olmError {
		panic(a.err("one_time_keys"))
	}
	return string(out[:n])
}

// OneTimeKeys returns the unpublished one-time keys, newest first.
func (a *Account) OneTimeKeys() []KeyEntry { return ParseKeyJSON([]byte(a.OneTimeKeysJSON())) }

// MarkKeysAsPublished marks all one-time keys and the current fallback key published.
func (a *Account) MarkKeysAsPublished() { C.olm_account_mark_keys_as_published(a.p) }

// MaxOneTimeKeys returns libolm's one-time key capacity (100).
func (a *Account) MaxOneTimeKeys() int { return int(C.olm_account_max_number_of_one_time_keys(a.p)) }

// GenerateOneTimeKeysRandomLength is the random bytes needed for n keys.
func (a *Account) GenerateOneTimeKeysRandomLength(n int) int {
	return int(C.olm_account_generate_one_time_keys_random_length(a.p, C.size_t(n)))
}

// GenerateOneTimeKeys generates n one-time keys from random (32 bytes each).
func (a *Account) GenerateOneTimeKeys(n int, random []byte) error {
	r := cbuf(random)
	if C.olm_account_generate_one_time_keys(a.p, C.size_t(n), cptr(r), C.size_t(len(r))) == olmError {
		return a.err("generate_one_time_keys")
	}
	return nil
}

// GenerateFallbackKey generates a fallback key from 32 random bytes.
func (a *Account) GenerateFallbackKey(random []byte) error {
	r := cbuf(random)
	if C.olm_account_generate_fallback_key(a.p, cptr(r), C.size_t(len(r))) == olmError {
		return a.err("generate_fallback_key")
	}
	return nil
}

// UnpublishedFallbackKeyJSON returns the current fallback key if unpublished.
func (a *Account) UnpublishedFallbackKeyJSON() string {
	out := make([]byte, C.olm_account_unpublished_fallback_key_length(a.p))
	n := C.olm_account_unpublished_fallback_key(a.p, ptr(out), C.size_t(len(out)))
	if n == olmError {
		panic(a.err("unpublished_fallback_key"))
	}
	return string(out[:n])
}

// FallbackKeyJSON returns the current fallback key (deprecated libolm getter).
func (a *Account) FallbackKeyJSON() string {
	out := make([]byte, C.olm_account_fallback_key_length(a.p))
	n := C.olm_account_fallback_key(a.p, ptr(out), C.size_t(len(out)))
	if n == olmError {
		panic(a.err("fallback_key"))
	}
	return string(out[:n])
}

// UnpublishedFallbackKey parses UnpublishedFallbackKeyJSON.
func (a *Account) UnpublishedFallbackKey() []KeyEntry {
	return ParseKeyJSON([]byte(a.UnpublishedFallbackKeyJSON()))
}

// ForgetOldFallbackKey drops the previous fallback key.
func (a *Account) ForgetOldFallbackKey() { C.olm_account_forget_old_fallback_key(a.p) }

// RemoveOneTimeKeys removes the one-time key s was created from.
func (a *Account) RemoveOneTimeKeys(s *Session) error {
	if C.olm_remove_one_time_keys(a.p, s.p) == olmError {
		return a.err("remove_one_time_keys")
	}
	return nil
}

// ---------------------------------------------------------------- Session

// Session is an OlmSession.
type Session struct {
	o *object
	p *C.OlmSession
}

func newSession() *Session {
	s := &Session{o: newObject(C.olm_session_size())}
	s.p = C.olm_session(s.o.mem)
	track(s, s.o)
	return s
}

// Free wipes and releases the session.
func (s *Session) Free() { s.o.free(); s.p = nil }

func (s *Session) err(op string) error {
	return &Error{op, ErrorCode(C.olm_session_last_error_code(s.p))}
}

// NewOutboundSession creates a session to their keys from 64 random bytes.
func NewOutboundSession(a *Account, theirIdentityKey, theirOneTimeKey string, random []byte) (*Session, error) {
	s := newSession()
	ik, ok, r := cbuf([]byte(theirIdentityKey)), cbuf([]byte(theirOneTimeKey)), cbuf(random)
	if C.olm_create_outbound_session(s.p, a.p, cptr(ik), C.size_t(len(ik)), cptr(ok), C.size_t(len(ok)),
		cptr(r), C.size_t(len(r))) == olmError {
		defer s.Free()
		return nil, s.err("create_outbound_session")
	}
	return s, nil
}

// NewInboundSession creates a session from a pre-key message (base64 body).
func NewInboundSession(a *Account, body string) (*Session, error) {
	s := newSession()
	m := cbuf([]byte(body))
	if C.olm_create_inbound_session(s.p, a.p, cptr(m), C.size_t(len(m))) == olmError {
		defer s.Free()
		return nil, s.err("create_inbound_session")
	}
	return s, nil
}

// NewInboundSessionFrom is NewInboundSession checking the sender's identity key.
func NewInboundSessionFrom(a *Account, theirIdentityKey, body string) (*Session, error) {
	s := newSession()
	ik, m := cbuf([]byte(theirIdentityKey)), cbuf([]byte(body))
	if C.olm_create_inbound_session_from(s.p, a.p, cptr(ik), C.size_t(len(ik)), cptr(m), C.size_t(len(m))) == olmError {
		defer s.Free()
		return nil, s.err("create_inbound_session_from")
	}
	return s, nil
}

// UnpickleSession restores a session from a libolm pickle.
func UnpickleSession(key []byte, pickle string) (*Session, error) {
	s := newSession()
	k, p := cbuf(key), cbuf([]byte(pickle))
	if C.olm_unpickle_session(s.p, cptr(k), C.size_t(len(k)), cptr(p), C.size_t(len(p))) == olmError {
		defer s.Free()
		return nil, s.err("unpickle_session")
	}
	return s, nil
}

// Pickle returns the session's libolm pickle under key.
func (s *Session) Pickle(key []byte) string {
	out := make([]byte, C.olm_pickle_session_length(s.p))
	k := cbuf(key)
	n := C.olm_pickle_session(s.p, cptr(k), C.size_t(len(k)), ptr(out), C.size_t(len(out)))
	if n == olmError {
		panic(s.err("pickle_session"))
	}
	return string(out[:n])
}

// ID returns the session id.
func (s *Session) ID() string {
	out := make([]byte, C.olm_session_id_length(s.p))
	n := C.olm_session_id(s.p, ptr(out), C.size_t(len(out)))
	if n == olmError {
		panic(s.err("session_id"))
	}
	return string(out[:n])
}

// HasReceivedMessage reports whether the session decrypted a message.
func (s *Session) HasReceivedMessage() bool { return C.olm_session_has_received_message(s.p) != 0 }

// MatchesInbound reports whether a pre-key message belongs to s.
func (s *Session) MatchesInbound(body string) (bool, error) {
	m := cbuf([]byte(body))
	r := C.olm_matches_inbound_session(s.p, cptr(m), C.size_t(len(m)))
	if r == olmError {
		return false, s.err("matches_inbound_session")
	}
	return r == 1, nil
}

// MatchesInboundFrom is MatchesInbound also checking the identity key.
func (s *Session) MatchesInboundFrom(theirIdentityKey, body string) (bool, error) {
	ik, m := cbuf([]byte(theirIdentityKey)), cbuf([]byte(body))
	r := C.olm_matches_inbound_session_from(s.p, cptr(ik), C.size_t(len(ik)), cptr(m), C.size_t(len(m)))
	if r == olmError {
		return false, s.err("matches_inbound_session_from")
	}
	return r == 1, nil
}

// EncryptRandomLength is the random bytes the next Encrypt needs (0 or 32).
func (s *Session) EncryptRandomLength() int { return int(C.olm_encrypt_random_length(s.p)) }

// EncryptMessageType is the type (0 pre-key, 1 normal) of the next message.
func (s *Session) EncryptMessageType() int { return int(C.olm_encrypt_message_type(s.p)) }

// Encrypt encrypts plaintext and returns the message type and base64 body.
func (s *Session) Encrypt(plaintext, random []byte) (int, string, error) {
	typ := int(C.olm_encrypt_message_type(s.p))
	out := make([]byte, C.olm_encrypt_message_length(s.p, C.size_t(len(plaintext))))
	pt, r := cbuf(plaintext), cbuf(random)
	n := C.olm_encrypt(s.p, cptr(pt), C.size_t(len(pt)), cptr(r), C.size_t(len(r)), ptr(out), C.size_t(len(out)))
	if n == olmError {
		return 0, "", s.err("encrypt")
	}
	return typ, string(out[:n]), nil
}

// Decrypt decrypts a message of the given type (base64 body).
func (s *Session) Decrypt(typ int, body string) ([]byte, error) {
	m := cbuf([]byte(body))
	max := C.olm_decrypt_max_plaintext_length(s.p, C.size_t(typ), cptr(m), C.size_t(len(m)))
	if max == olmError {
		return nil, s.err("decrypt")
	}
	out := make([]byte, max+1)
	m = cbuf([]byte(body))
	n := C.olm_decrypt(s.p, C.size_t(typ), cptr(m), C.size_t(len(m)), ptr(out), max)
	if n == olmError {
		return nil, s.err("decrypt")
	}
	return out[:n], nil
}

// Describe returns libolm's description of the session's chains.
func (s *Session) Describe() string {
	out := make([]byte, 1024)
	C.olm_session_describe(s.p, (*C.char)(ptr(out)), C.size_t(len(out)))
	return C.GoString((*C.char)(ptr(out)))
}

// ---------------------------------------------------------------- Utility

func withUtility[T any](f func(u *C.OlmUtility) T) T {
	o := newObject(C.olm_utility_size())
	defer o.free()
	return f(C.olm_utility(o.mem))
}

// SHA256 returns libolm's olm_sha256 of in (unpadded base64).
func SHA256(in []byte) string {
	return withUtility(func(u *C.OlmUtility) string {
		out := make([]byte, C.olm_sha256_length(u))
		b := cbuf(in)
		n := C.olm_sha256(u, cptr(b), C.size_t(len(b)), ptr(out), C.size_t(len(out)))
		return string(out[:n])
	})
}

// Ed25519Verify checks a base64 signature of msg by a base64 key.
func Ed25519Verify(key string, msg []byte, sig string) error {
	return withUtility(func(u *C.OlmUtility) error {
		k, m, s := cbuf([]byte(key)), cbuf(msg), cbuf([]byte(sig))
		if C.olm_ed25519_verify(u, cptr(k), C.size_t(len(k)), cptr(m), C.size_t(len(m)), cptr(s), C.size_t(len(s))) == olmError {
			return &Error{"ed25519_verify", ErrorCode(C.olm_utility_last_error_code(u))}
		}
		return nil
	})
}

// ---------------------------------------------------------------- Megolm ratchet

// Megolm is libolm's raw four-part Megolm ratchet (src/megolm.c).
type Megolm struct {
	Data    [128]byte
	Counter uint32
}

func (m *Megolm) run(f func(c *C.Megolm)) {
	c := (*C.Megolm)(C.malloc(C.size_t(unsafe.Sizeof(C.Megolm{}))))
	defer C.wipe_free(unsafe.Pointer(c), C.size_t(unsafe.Sizeof(C.Megolm{})))
	C.memcpy(unsafe.Pointer(&c.data[0][0]), unsafe.Pointer(&m.Data[0]), 128)
	c.counter = C.uint32_t(m.Counter)
	f(c)
	C.memcpy(unsafe.Pointer(&m.Data[0]), unsafe.Pointer(&c.data[0][0]), 128)
	m.Counter = uint32(c.counter)
}

// MegolmInit is megolm_init: the ratchet data as given, at counter.
func MegolmInit(data [128]byte, counter uint32) Megolm {
	var m Megolm
	m.run(func(c *C.Megolm) {
		C.megolm_init(c, (*C.uint8_t)(unsafe.Pointer(&data[0])), C.uint32_t(counter))
	})
	return m
}

// Advance is megolm_advance.
func (m *Megolm) Advance() { m.run(func(c *C.Megolm) { C.megolm_advance(c) }) }

// AdvanceTo is megolm_advance_to.
func (m *Megolm) AdvanceTo(n uint32) {
	m.run(func(c *C.Megolm) { C.megolm_advance_to(c, C.uint32_t(n)) })
}
