package main

import (
	"encoding/base64"
	"slices"

	tv "github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/testvectors/libolm"
)

// allowed maps each libolm error code to the corpus failure classes it can
// stand for; fail() refuses any other pairing, so every failure vector's
// class is consistent with what libolm actually reported.
var allowed = map[libolm.ErrorCode][]string{
	// libolm reports too-short input as a version error.
	libolm.BadMessageVersion: {"bad_version", "bad_format"},
	libolm.BadMessageFormat:  {"bad_format", "gap_too_large", "bad_base64"},
	// libolm 3.2.13 reports a gap over 2000, a forged new chain, a
	// non-contributory key (found only at the MAC) and, in
	// olm_ed25519_verify, a bad signature all as BAD_MESSAGE_MAC.
	libolm.BadMessageMAC: {"bad_mac", "missing_message_key", "no_chain", "gap_too_large", "non_contributory", "bad_signature"},
	// olm_create_inbound_session_from reports an identity-key mismatch as
	// BAD_MESSAGE_KEY_ID.
	libolm.BadMessageKeyID:        {"unknown_key_id", "identity_key_mismatch"},
	libolm.InvalidBase64:          {"bad_base64", "bad_format", "bad_key"},
	libolm.BadAccountKey:          {"bad_mac", "bad_key"},
	libolm.UnknownPickleVersion:   {"bad_version"},
	libolm.CorruptedPickle:        {"bad_format"},
	libolm.BadSessionKey:          {"bad_format", "bad_version", "bad_key"},
	libolm.UnknownMessageIndex:    {"unknown_index"},
	libolm.BadLegacyAccountPickle: {"legacy_pickle"},
	libolm.BadSignature:           {"bad_signature"},
	libolm.PickleExtraData:        {"bad_format"},
	libolm.InputBufferTooSmall:    {"bad_format", "bad_key"},
}

// failureAny is failure for a vector whose expectation is class or any
// of accept.
func failureAny(what string, err error, class string, accept ...string) string {
	for _, c := range append([]string{class}, accept...) {
		if err != nil && slices.Contains(allowed[libolm.Code(err)], c) {
			return libolm.Code(err).String()
		}
	}
	return failure(what, err, class)
}

// failure checks err against the intended class and returns libolm's code
// name for the vector.
func failure(what string, err error, class string) string {
	if err == nil {
		fatalf("%s: libolm accepted input expected to fail with %s", what, class)
	}
	code := libolm.Code(err)
	if !slices.Contains(allowed[code], class) {
		fatalf("%s: libolm says %v, which cannot be class %s", what, err, class)
	}
	return code.String()
}

var b64 = base64.RawStdEncoding

func unb64(s string) []byte { return must(b64.DecodeString(s)) }

// openPickle and sealPickle use sicher's libolm envelope (internal/pickle),
// itself checked against libolm's V9 vector; every sealed pickle below is
// then accepted (or rejected) by libolm itself.
func openPickle(key []byte, p string) []byte { return must(tv.OpenLibolm(key, p)) }
func sealPickle(key, pt []byte) string       { return tv.SealLibolm(key, pt) }

func openPickleErr(key []byte, p string) ([]byte, error) { return tv.OpenLibolm(key, p) }
