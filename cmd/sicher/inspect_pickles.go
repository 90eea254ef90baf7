package main

// sicher inspect, pickles: sicher and libolm pickles opened with a pickle key.

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
)

// pickleCandidates lists the pickle envelopes b may be, without a key.
func pickleCandidates(text string, b []byte, pickleKey []byte) []*report {
	var out []*report
	// Opening with a zero key tells a well-formed sicher envelope (it
	// fails to authenticate) from anything else (it fails to parse).
	var zero [32]byte
	if _, _, err := pickle.Open(&zero, "", strings.Join(strings.Fields(text), "")); errors.Is(err, pickle.ErrDecrypt) {
		r := newReport("sicher.pickle", "sicher pickle (AES-256-GCM envelope)")
		r.add("version", versionOf(b)).add("length", fmt.Sprintf("%d bytes", len(b)))
		r.note("the object kind (account, session, ...) is authenticated data: give --pickle-key-file to open and describe it")
		out = append(out, r)
	}
	if len(b) >= 24 && (len(b)-8)%16 == 0 {
		r := newReport("libolm.pickle", "libolm pickle envelope (AES-256-CBC + truncated HMAC-SHA-256), probably")
		r.add("ciphertext", fmt.Sprintf("%d bytes (%s)", len(b)-8, aesBlocks(len(b)-8))).add("mac", "8 bytes")
		r.note("libolm pickles carry no header: any base64 of 16n+8 bytes looks like this")
		if pickleKey == nil {
			r.note("give --pickle-key-file or --pickle-key-prompt to open and describe it")
		}
		out = append(out, r)
	}
	return out
}

// openPickle tries the pickle key on every kind of pickle sicher knows;
// nil if none opens.
func openPickle(text string, b []byte, pickleKey []byte) *report {
	text = strings.Join(strings.Fields(text), "")
	var key32 *[32]byte
	switch {
	case len(pickleKey) == 32:
		key32 = (*[32]byte)(pickleKey)
	default:
		s := strings.TrimSpace(string(pickleKey))
		if k, err := decodeLenient(s); err == nil && len(k) == 32 {
			key32 = (*[32]byte)(k)
		} else if k, err := hex.DecodeString(s); err == nil && len(k) == 32 {
			key32 = (*[32]byte)(k)
		}
	}
	if key32 != nil {
		if r := openSicherPickle(key32, text); r != nil {
			return r
		}
	}
	keys := [][]byte{pickleKey}
	if key32 != nil && !bytes.Equal(key32[:], pickleKey) {
		keys = append(keys, key32[:])
	}
	for _, k := range keys {
		if r := openLibolmPickle(k, text); r != nil {
			return r
		}
	}
	return nil
}

func openSicherPickle(k *[32]byte, text string) *report {
	title := "sicher pickle (AES-256-GCM), opened: "
	if a, err := olm.UnpickleAccount(k, text); err == nil {
		return describeAccount(newReport("sicher.pickle.account", title+"Olm account"), a)
	}
	if s, err := olm.UnpickleSession(k, text); err == nil {
		return describeOlmSession(newReport("sicher.pickle.session", title+"Olm session"), s)
	}
	if s, err := megolm.UnpickleInboundSession(k, text); err == nil {
		return describeInbound(newReport("sicher.pickle.inbound_group_session", title+"Megolm inbound session"), s)
	}
	if s, err := megolm.UnpickleOutboundSession(k, text); err == nil {
		return describeOutbound(newReport("sicher.pickle.outbound_group_session", title+"Megolm outbound session"), s)
	}
	if d, err := keybackup.Unpickle(k, text); err == nil {
		r := newReport("sicher.pickle.pk_decryption", title+"backup decryption key (PkDecryption)")
		r.add("public key", d.PublicKey().String())
		return r
	}
	return nil
}

func openLibolmPickle(k []byte, text string) *report {
	plain, err := pickle.OpenLibolm(k, text)
	if err != nil {
		return nil
	}
	var version uint32
	if len(plain) >= 4 {
		version = binary.BigEndian.Uint32(plain)
	}
	title := "libolm pickle, opened: "
	if a, err := olm.UnpickleLibolmAccount(k, text); err == nil {
		return describeAccount(newReport("libolm.pickle.account", title+"Olm account").add("pickle version", version), a)
	}
	if s, err := olm.UnpickleLibolmSession(k, text); err == nil {
		return describeOlmSession(newReport("libolm.pickle.session", title+"Olm session").add("pickle version", version), s)
	}
	if s, err := megolm.UnpickleLibolmInboundSession(k, text); err == nil {
		return describeInbound(newReport("libolm.pickle.inbound_group_session", title+"Megolm inbound session").add("pickle version", version), s)
	}
	if s, err := megolm.UnpickleLibolmOutboundSession(k, text); err == nil {
		return describeOutbound(newReport("libolm.pickle.outbound_group_session", title+"Megolm outbound session").add("pickle version", version), s)
	}
	if d, err := keybackup.UnpickleLibolm(k, text); err == nil {
		r := newReport("libolm.pickle.pk_decryption", title+"PkDecryption (backup key)").add("pickle version", version)
		r.add("public key", d.PublicKey().String())
		return r
	}
	r := newReport("libolm.pickle", "libolm pickle: the key is right (the MAC verifies) but the contents are not an object sicher reads")
	r.add("pickle version", version).add("plaintext", fmt.Sprintf("%d bytes", len(plain)))
	r.Invalid = true
	return r
}

func describeAccount(r *report, a *olm.Account) *report {
	r.add("curve25519", a.Curve25519().String()).add("ed25519", a.Ed25519().String())
	r.add("one-time keys", fmt.Sprintf("%d stored, %d unpublished", a.StoredOneTimeKeys(), len(a.OneTimeKeys())))
	if fk, ok := a.UnpublishedFallbackKey(); ok {
		r.add("fallback key", fmt.Sprintf("%s (id %s, unpublished)", fk.Key, fk.ID))
	} else {
		r.add("fallback key", "none unpublished")
	}
	r.note("private keys are not printed")
	return r
}

func describeOlmSession(r *report, s *olm.Session) *report {
	r.add("session id", s.ID())
	r.add("received a message", s.HasReceivedMessage())
	r.add("state", fmt.Sprint(s))
	r.note("chain and message keys are not printed")
	return r
}

func describeInbound(r *report, s *megolm.InboundSession) *report {
	r.add("session id", s.SessionID().String())
	r.add("first known index", s.FirstKnownIndex())
	r.add("verified", s.IsVerified())
	r.note("the ratchet is not printed")
	return r
}

func describeOutbound(r *report, s *megolm.OutboundSession) *report {
	r.add("session id", s.SessionID().String())
	r.add("next message index", s.MessageIndex())
	r.note("the ratchet and signing key are not printed")
	return r
}
