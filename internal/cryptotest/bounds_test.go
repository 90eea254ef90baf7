package cryptotest

import (
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/sicher-go/sicher/attachment"
	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/internal/recoverykey"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/keyexport"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/secretstorage"
	"github.com/sicher-go/sicher/signing"
)

// Resource bounds under attack: a 100 MB base64 string handed to
// every text entry point is refused in bounded time and memory. Entry points
// whose valid input has a fixed or capped size (keys, session keys, recovery
// keys, Megolm messages, pickles) must refuse it without decoding it: they
// may allocate at most fixedBudget. The others (generic base64, JSON event
// content, key export files, attachments) must stay within their input's
// length plus a small constant: linearBudget(n).

const fixedBudget = 64 << 10

func linearBudget(n int) uint64 { return uint64(2*n) + 1<<20 }

type boundCase struct {
	name  string
	fixed bool // fixed-size input: fixedBudget, else linearBudget
	// capped, for an entry point with a documented input cap (pickles:
	// pickle.MaxEncodedLen): it gets the 100 MB string and a budget linear
	// in the cap.
	capped int
	call   func(s string)
	// wrap, if set, builds the input from the base64 string outside the
	// measurement (JSON around it); call then gets wrap's result.
	wrap func(s string) string
}

func jsonWrap(prefix, suffix string) func(string) string {
	return func(s string) string { return prefix + s + suffix }
}

func boundCases() []boundCase {
	var pk [pickle.KeySize]byte
	in := must(megolm.NewInboundSession(must(megolm.NewOutboundSessionFrom(seeded("bounds"))).SessionKey()))
	dk := must(keybackup.NewDecryptionKey(readN(seeded("bounds"), keybackup.KeySize)))
	return []boundCase{
		{"key.ParseCurve25519", true, 0, func(s string) { key.ParseCurve25519(s) }, nil},
		{"key.ParseEd25519", true, 0, func(s string) { key.ParseEd25519(s) }, nil},
		{"key.ParseEd25519Signature", true, 0, func(s string) { key.ParseEd25519Signature(s) }, nil},
		{"key.ParseKeyID", true, 0, func(s string) { key.ParseKeyID(s) }, nil},
		{"megolm.Message.UnmarshalText", true, 0, func(s string) { new(megolm.Message).UnmarshalText([]byte(s)) }, nil},
		{"megolm.InboundSession.Decrypt of base64", true, 0, func(s string) { decryptMegolmB64(in, s) }, nil},
		{"megolm.SessionKey.UnmarshalText", true, 0, func(s string) { new(megolm.SessionKey).UnmarshalText([]byte(s)) }, nil},
		{"megolm.ExportedSessionKey.UnmarshalText", true, 0, func(s string) { new(megolm.ExportedSessionKey).UnmarshalText([]byte(s)) }, nil},
		{"megolm.UnpickleInboundSession", true, pickle.MaxEncodedLen, func(s string) { megolm.UnpickleInboundSession(&pk, s) }, nil},
		{"megolm.UnpickleLibolmInboundSession", true, pickle.MaxEncodedLen, func(s string) { megolm.UnpickleLibolmInboundSession(nil, s) }, nil},
		{"megolm.UnpickleOutboundSession", true, pickle.MaxEncodedLen, func(s string) { megolm.UnpickleOutboundSession(&pk, s) }, nil},
		{"olm.UnpickleAccount", true, pickle.MaxEncodedLen, func(s string) { olm.UnpickleAccount(&pk, s) }, nil},
		{"olm.UnpickleLibolmAccount", true, pickle.MaxEncodedLen, func(s string) { olm.UnpickleLibolmAccount(nil, s) }, nil},
		{"olm.UnpickleSession", true, pickle.MaxEncodedLen, func(s string) { olm.UnpickleSession(&pk, s) }, nil},
		{"olm.UnpickleLibolmSession", true, pickle.MaxEncodedLen, func(s string) { olm.UnpickleLibolmSession(nil, s) }, nil},
		{"olm.Rehydrate", true, 0, func(s string) {
			var dkey [32]byte
			olm.Rehydrate(&dkey, &olm.DehydratedDevice{DevicePickle: s, Nonce: "AAAAAAAAAAAAAAAA"})
		}, nil},
		{"keybackup.ParseRecoveryKey", true, 0, func(s string) { keybackup.ParseRecoveryKey(s) }, nil},
		{"keybackup.Unpickle", true, pickle.MaxEncodedLen, func(s string) { keybackup.Unpickle(&pk, s) }, nil},
		{"keybackup.UnpickleLibolm", true, pickle.MaxEncodedLen, func(s string) { keybackup.UnpickleLibolm(nil, s) }, nil},
		{"keybackup.ParseEncryptedSessionData (ephemeral)", true, 0, func(s string) { keybackup.ParseEncryptedSessionData(s, "AAAA", "AAAAAAAAAAA") }, nil},
		{"keybackup.ParseEncryptedSessionData (mac)", true, 0, func(s string) {
			keybackup.ParseEncryptedSessionData("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo", "AAAAAAAAAAAAAAAAAAAAAA", s)
		}, nil},
		{"secretstorage.KeyFromRecoveryKey", true, 0, func(s string) { secretstorage.KeyFromRecoveryKey(s) }, nil},
		{"recoverykey.Decode", true, 0, func(s string) { recoverykey.Decode(s) }, nil},
		{"keybackup.ParseEncryptedSessionData (ciphertext)", false, 0, func(s string) {
			d, err := keybackup.ParseEncryptedSessionData("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo", s, "AAAAAAAAAAA")
			if err == nil {
				dk.Decrypt(d)
			}
		}, nil},
		{"b64.Decode", false, 0, func(s string) { b64.Decode(s) }, nil},
		{"b64.DecodeSecret", false, 0, func(s string) { b64.DecodeSecret(s) }, nil},
		{"olm.EncryptedMessage.UnmarshalJSON", false, 0, func(s string) {
			var m olm.EncryptedMessage
			m.UnmarshalJSON(unsafeBytes(s))
		}, jsonWrap(`{"type":1,"body":"`, `"}`)},
		{"event.ParseOlmContent", false, 0, func(s string) { event.ParseOlmContent(unsafeBytes(s)) },
			jsonWrap(`{"algorithm":"m.olm.v1.curve25519-aes-sha2","sender_key":"x","ciphertext":{"k":{"type":0,"body":"`, `"}}}`)},
		{"event.ParseMegolmContent", false, 0, func(s string) { event.ParseMegolmContent(unsafeBytes(s)) },
			jsonWrap(`{"algorithm":"m.megolm.v1.aes-sha2","session_id":"x","ciphertext":"`, `"}`)},
		{"attachment.ParseEncryptedFile", true, 0, func(s string) { attachment.ParseEncryptedFile(unsafeBytes(s)) },
			jsonWrap(`{"v":"v2","key":{"kty":"oct","alg":"A256CTR","k":"`, `","key_ops":["encrypt","decrypt"],"ext":true},"iv":"AAAAAAAAAAAAAAAAAAAAAA","hashes":{"sha256":"x"}}`)},
		{"keyexport.Decrypt", false, 0, func(s string) { keyexport.Decrypt(unsafeBytes(s), "passphrase", nil) },
			jsonWrap(keyexport.Header+"\n", "\n-----END MEGOLM SESSION DATA-----\n")},
		{"signing.Canonical", false, 0, func(s string) { signing.Canonical(unsafeBytes(s)) }, jsonWrap(`{"k":"`, `"}`)},
	}
}

// unsafeBytes views s as bytes without copying (the callees only read).
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// TestBounds100MBBase64 hands a 100 MB base64 string to every fixed-size
// entry point, and a 16 MB one to the linear ones, whose budget scales with
// the input (encoding/json makes 100 MB take seconds); with -short (the
// race step of .ci/run) 16 MB and 4 MB.
func TestBounds100MBBase64(t *testing.T) {
	big, linear := 100<<20, 16<<20
	if testing.Short() { // the race detector's shadow memory multiplies the footprint
		big, linear = 16<<20, 4<<20
	}
	hugeFixed, hugeLinear := strings.Repeat("A", big), strings.Repeat("A", linear)
	for _, c := range boundCases() {
		huge, n := hugeFixed, big
		if !c.fixed {
			huge, n = hugeLinear, linear
		}
		if c.wrap != nil {
			huge = c.wrap(huge)
		}
		start := time.Now()
		allocated := AllocBytes(1, func() { c.call(huge) })
		el := time.Since(start) / 2
		budget := linearBudget(n)
		switch {
		case c.capped > 0:
			budget = linearBudget(min(n, c.capped))
		case c.fixed:
			budget = fixedBudget
		}
		t.Logf("%-50s %8.1f ms %12d bytes", c.name, float64(el.Microseconds())/1000, allocated)
		if allocated > budget {
			t.Errorf("%s: a %d-byte base64 string allocates %d bytes (budget %d)", c.name, n, allocated, budget)
		}
		// Time is logged, not asserted: tests never time (the machine is
		// shared and -race is slow); the bound on work is the allocation
		// budget above and the benchmarks.
	}
}

// decryptMegolmB64 decrypts the base64 "ciphertext" of an m.room.encrypted
// event, as the event layer does.
func decryptMegolmB64(s *megolm.InboundSession, text string) ([]byte, uint32, error) {
	var m megolm.Message
	if err := m.UnmarshalText([]byte(text)); err != nil {
		return nil, 0, err
	}
	return s.Decrypt(nil, m.Bytes())
}
