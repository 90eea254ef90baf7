package libolm

/*
#include <stdlib.h>
#include <olm/olm.h>
#include <olm/inbound_group_session.h>
#include <olm/outbound_group_session.h>
*/
import "C"

// OutboundGroupSession is an OlmOutboundGroupSession.
type OutboundGroupSession struct {
	o *object
	p *C.OlmOutboundGroupSession
}

func newOutbound() *OutboundGroupSession {
	s := &OutboundGroupSession{o: newObject(C.olm_outbound_group_session_size())}
	s.p = C.olm_outbound_group_session(s.o.mem)
	track(s, s.o)
	return s
}

// Free wipes and releases the session.
func (s *OutboundGroupSession) Free() { s.o.free(); s.p = nil }

func (s *OutboundGroupSession) err(op string) error {
	return &Error{op, ErrorCode(C.olm_outbound_group_session_last_error_code(s.p))}
}

// NewOutboundGroupSession creates a session from 160 random bytes (128
// ratchet, 32 Ed25519 seed).
func NewOutboundGroupSession(random []byte) (*OutboundGroupSession, error) {
	s := newOutbound()
	r := cbuf(random)
	if C.olm_init_outbound_group_session(s.p, (*C.uint8_t)(cptr(r)), C.size_t(len(r))) == olmError {
		defer s.Free()
		return nil, s.err("init_outbound_group_session")
	}
	return s, nil
}

// UnpickleOutboundGroupSession restores a session from a libolm pickle.
func UnpickleOutboundGroupSession(key []byte, pickle string) (*OutboundGroupSession, error) {
	s := newOutbound()
	k, p := cbuf(key), cbuf([]byte(pickle))
	if C.olm_unpickle_outbound_group_session(s.p, cptr(k), C.size_t(len(k)), cptr(p), C.size_t(len(p))) == olmError {
		defer s.Free()
		return nil, s.err("unpickle_outbound_group_session")
	}
	return s, nil
}

// Pickle returns the libolm pickle under key.
func (s *OutboundGroupSession) Pickle(key []byte) string {
	out := make([]byte, C.olm_pickle_outbound_group_session_length(s.p))
	k := cbuf(key)
	n := C.olm_pickle_outbound_group_session(s.p, cptr(k), C.size_t(len(k)), ptr(out), C.size_t(len(out)))
	if n == olmError {
		panic(s.err("pickle_outbound_group_session"))
	}
	return string(out[:n])
}

// ID returns the session id (the Ed25519 public key).
func (s *OutboundGroupSession) ID() string {
	out := make([]byte, C.olm_outbound_group_session_id_length(s.p))
	n := C.olm_outbound_group_session_id(s.p, (*C.uint8_t)(ptr(out)), C.size_t(len(out)))
	if n == olmError {
		panic(s.err("outbound_group_session_id"))
	}
	return string(out[:n])
}

// MessageIndex returns the index of the next message.
func (s *OutboundGroupSession) MessageIndex() uint32 {
	return uint32(C.olm_outbound_group_session_message_index(s.p))
}

// SessionKey returns the signed session key (base64) at the current index.
func (s *OutboundGroupSession) SessionKey() string {
	out := make([]byte, C.olm_outbound_group_session_key_length(s.p))
	n := C.olm_outbound_group_session_key(s.p, (*C.uint8_t)(ptr(out)), C.size_t(len(out)))
	if n == olmError {
		panic(s.err("outbound_group_session_key"))
	}
	return string(out[:n])
}

// Encrypt encrypts plaintext at the current index and advances.
func (s *OutboundGroupSession) Encrypt(plaintext []byte) (string, error) {
	out := make([]byte, C.olm_group_encrypt_message_length(s.p, C.size_t(len(plaintext))))
	pt := cbuf(plaintext)
	n := C.olm_group_encrypt(s.p, (*C.uint8_t)(cptr(pt)), C.size_t(len(pt)), (*C.uint8_t)(ptr(out)), C.size_t(len(out)))
	if n == olmError {
		return "", s.err("group_encrypt")
	}
	return string(out[:n]), nil
}

// InboundGroupSession is an OlmInboundGroupSession.
type InboundGroupSession struct {
	o *object
	p *C.OlmInboundGroupSession
}

func newInbound() *InboundGroupSession {
	s := &InboundGroupSession{o: newObject(C.olm_inbound_group_session_size())}
	s.p = C.olm_inbound_group_session(s.o.mem)
	track(s, s.o)
	return s
}

// Free wipes and releases the session.
func (s *InboundGroupSession) Free() { s.o.free(); s.p = nil }

func (s *InboundGroupSession) err(op string) error {
	return &Error{op, ErrorCode(C.olm_inbound_group_session_last_error_code(s.p))}
}

// NewInboundGroupSession creates a session from a signed session key (base64).
func NewInboundGroupSession(sessionKey string) (*InboundGroupSession, error) {
	s := newInbound()
	k := cbuf([]byte(sessionKey))
	if C.olm_init_inbound_group_session(s.p, (*C.uint8_t)(cptr(k)), C.size_t(len(k))) == olmError {
		defer s.Free()
		return nil, s.err("init_inbound_group_session")
	}
	return s, nil
}

// ImportInboundGroupSession creates a session from an exported key (base64).
func ImportInboundGroupSession(exported string) (*InboundGroupSession, error) {
	s := newInbound()
	k := cbuf([]byte(exported))
	if C.olm_import_inbound_group_session(s.p, (*C.uint8_t)(cptr(k)), C.size_t(len(k))) == olmError {
		defer s.Free()
		return nil, s.err("import_inbound_group_session")
	}
	return s, nil
}

// UnpickleInboundGroupSession restores a session from a libolm pickle.
func UnpickleInboundGroupSession(key []byte, pickle string) (*InboundGroupSession, error) {
	s := newInbound()
	k, p := cbuf(key), cbuf([]byte(pickle))
	if C.olm_unpickle_inbound_group_session(s.p, cptr(k), C.size_t(len(k)), cptr(p), C.size_t(len(p))) == olmError {
		defer s.Free()
		return nil, s.err("unpickle_inbound_group_session")
	}
	return s, nil
}

// Pickle returns the libolm pickle under key.
func (s *InboundGroupSession) Pickle(key []byte) string {
	out := make([]byte, C.olm_pickle_inbound_group_session_length(s.p))
	k := cbuf(key)
	n := C.olm_pickle_inbound_group_session(s.p, cptr(k), C.size_t(len(k)), ptr(out), C.size_t(len(out)))
	if n == olmError {
		panic(s.err("pickle_inbound_group_session"))
	}
	return string(out[:n])
}

// ID returns the session id.
func (s *InboundGroupSession) ID() string {
	out := make([]byte, C.olm_inbound_group_session_id_length(s.p))
	n := C.olm_inbound_group_session_id(s.p, (*C.uint8_t)(ptr(out)), C.size_t(len(out)))
	if n == olmError {
		panic(s.err("inbound_group_session_id"))
	}
	return string(out[:n])
}

// FirstKnownIndex returns the first message index the session can decrypt.
func (s *InboundGroupSession) FirstKnownIndex() uint32 {
	return uint32(C.olm_inbound_group_session_first_known_index(s.p))
}

// IsVerified reports libolm's signing-key-verified flag.
func (s *InboundGroupSession) IsVerified() bool {
	return C.olm_inbound_group_session_is_verified(s.p) != 0
}

// Export returns the exported session key (base64) at index.
func (s *InboundGroupSession) Export(index uint32) (string, error) {
	out := make([]byte, C.olm_export_inbound_group_session_length(s.p))
	n := C.olm_export_inbound_group_session(s.p, (*C.uint8_t)(ptr(out)), C.size_t(len(out)), C.uint32_t(index))
	if n == olmError {
		return "", s.err("export_inbound_group_session")
	}
	return string(out[:n]), nil
}

// Decrypt decrypts a base64 Megolm message, returning plaintext and index.
func (s *InboundGroupSession) Decrypt(body string) ([]byte, uint32, error) {
	m := cbuf([]byte(body))
	max := C.olm_group_decrypt_max_plaintext_length(s.p, (*C.uint8_t)(cptr(m)), C.size_t(len(m)))
	if max == olmError {
		return nil, 0, s.err("group_decrypt")
	}
	out := make([]byte, max+1)
	m = cbuf([]byte(body))
	var idx C.uint32_t
	n := C.olm_group_decrypt(s.p, (*C.uint8_t)(cptr(m)), C.size_t(len(m)), (*C.uint8_t)(ptr(out)), max, &idx)
	if n == olmError {
		return nil, 0, s.err("group_decrypt")
	}
	return out[:n], uint32(idx), nil
}
