package keybackup

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/sicher-go/sicher/internal/aessha2"
	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/cryptotest"
	"github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
)

// RFC 7748 §6.1 key pair; libolm test_pk.cpp uses Alice's as the recipient
// and Bob's as the ephemeral key.
const (
	alicePrivHex = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
	bobPrivHex   = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
	alicePub     = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo"
	bobPub       = "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func aliceKey(t testing.TB) *DecryptionKey {
	t.Helper()
	k, err := NewDecryptionKey(unhex(t, alicePrivHex))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustParse(t testing.TB, eph, ct, mac string) EncryptedSessionData {
	t.Helper()
	d, err := ParseEncryptedSessionData(eph, ct, mac)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// V8 (libolm tests/test_pk.cpp, "Public Key Encryption/Decryption"):
// decrypt a fixed message, and encrypt with Bob's key as the ephemeral
// randomness to the same ciphertext. The MAC over the ciphertext instead
// of the empty string (0YKKo6yL6p8; libolm src/pk.cpp MACs the empty string) must be
// rejected, as libolm rejects it (checked live in TestLibolmLive's fixed
// cases).
func TestLibolmV8(t *testing.T) {
	k := aliceKey(t)
	if k.PublicKey().String() != alicePub {
		t.Fatalf("public key %s", k.PublicKey())
	}
	d := mustParse(t, bobPub, "ntk49j/KozVFtSqJXhCejg", "zpzU6BkZcNI")
	pt, err := k.Decrypt(d)
	if err != nil || string(pt) != "This is a test" {
		t.Fatalf("Decrypt = %q, %v", pt, err)
	}
	r := bytes.NewReader(unhex(t, bobPrivHex))
	enc, err := EncryptFrom(r, k.PublicKey(), []byte("This is a test"))
	if err != nil {
		t.Fatal(err)
	}
	if enc.Ephemeral.String() != bobPub || b64.Encode(enc.Ciphertext) != "ntk49j/KozVFtSqJXhCejg" || b64.Encode(enc.MAC[:]) != "zpzU6BkZcNI" || r.Len() != 0 {
		t.Errorf("Encrypt = %s %s %s (%d random bytes left)", enc.Ephemeral.String(), b64.Encode(enc.Ciphertext), b64.Encode(enc.MAC[:]), r.Len())
	}
	// The MAC a correct implementation would compute, over the ciphertext.
	secret, _ := key.X25519(k.priv, d.Ephemeral)
	keys := aessha2.Derive(secret[:], aessha2.InfoBackup)
	if tag := b64.Encode(keys.AppendTag(nil, d.Ciphertext)); tag != "0YKKo6yL6p8" {
		t.Fatalf("MAC over ciphertext = %s", tag)
	}
	bad := mustParse(t, bobPub, "ntk49j/KozVFtSqJXhCejg", "0YKKo6yL6p8")
	if pt, err := k.Decrypt(bad); !errors.Is(err, ErrAuthentication) || pt != nil {
		t.Errorf("MAC over ciphertext accepted: %q, %v", pt, err)
	}
}

// V9 (libolm tests/test_pk.cpp, "Public Key Decryption pickling"): the
// PkDecryption pickle of Alice's key under "secret_key".
const v9Pickle = "qx37WTQrjZLz5tId/uBX9B3/okqAbV1ofl9UnHKno1eipByCpXleAAlAZoJgYnCDOQZDQWzo3luTSfkF9pU1mOILCbbouubs6TVeDyPfgGD9i86J8irHjA"

func TestLibolmV9Pickle(t *testing.T) {
	k := aliceKey(t)
	if p := mustPickleLibolm(t, k, []byte("secret_key")); p != v9Pickle {
		t.Fatalf("PickleLibolm = %s", p)
	}
	k2, err := UnpickleLibolm([]byte("secret_key"), v9Pickle)
	if err != nil || !k2.Equal(k) || k2.PublicKey() != k.PublicKey() {
		t.Fatalf("UnpickleLibolm: %v, %v", k2, err)
	}
	for name, tc := range map[string]struct {
		key []byte
		p   string
	}{
		"wrong key":   {[]byte("secret_kez"), v9Pickle},
		"empty key":   {nil, v9Pickle},
		"tampered":    {[]byte("secret_key"), "A" + v9Pickle[1:]},
		"truncated":   {[]byte("secret_key"), v9Pickle[:len(v9Pickle)-4]},
		"not base64":  {[]byte("secret_key"), v9Pickle[:20] + "!" + v9Pickle[21:]},
		"empty":       {[]byte("secret_key"), ""},
		"padded junk": {[]byte("secret_key"), v9Pickle + "AAAA"},
	} {
		if k, err := UnpickleLibolm(tc.key, tc.p); !errors.Is(err, ErrBadPickle) || k != nil {
			t.Errorf("%s: %v, %v", name, k, err)
		}
	}
	// Well-sealed pickles with bad plaintexts.
	pub := k.PublicKey()
	priv := k.Bytes()
	other := unhex(t, bobPrivHex)
	for name, pt := range map[string][]byte{
		"version 0":      append([]byte{0, 0, 0, 0}, append(pub[:], priv[:]...)...),
		"version 2":      append([]byte{0, 0, 0, 2}, append(pub[:], priv[:]...)...),
		"truncated":      append([]byte{0, 0, 0, 1}, append(pub[:], priv[:31]...)...),
		"trailing":       append(append([]byte{0, 0, 0, 1}, append(pub[:], priv[:]...)...), 0),
		"no private key": append([]byte{0, 0, 0, 1}, pub[:]...),
		"mismatched":     append([]byte{0, 0, 0, 1}, append(pub[:], other...)...),
		"empty":          {},
	} {
		p := pickle.SealLibolm([]byte("k"), pt)
		if k, err := UnpickleLibolm([]byte("k"), p); !errors.Is(err, ErrBadPickle) || k != nil {
			t.Errorf("%s: %v, %v", name, k, err)
		}
	}
}

// No strict prefix of a pickle opens.
func TestPickleStrictPrefix(t *testing.T) {
	for i := range len(v9Pickle) {
		if _, err := UnpickleLibolm([]byte("secret_key"), v9Pickle[:i]); !errors.Is(err, ErrBadPickle) {
			t.Fatalf("prefix of %d characters: %v", i, err)
		}
	}
	var pk [PickleKeySize]byte
	p, _ := aliceKey(t).Pickle(&pk)
	for i := range len(p) {
		if _, err := Unpickle(&pk, p[:i]); !errors.Is(err, ErrBadPickle) {
			t.Fatalf("prefix of %d characters: %v", i, err)
		}
	}
}

func TestOwnPickle(t *testing.T) {
	k := aliceKey(t)
	var pk [PickleKeySize]byte
	pk[0] = 7
	p1, err := k.Pickle(&pk)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := k.Pickle(&pk)
	if p1 == p2 {
		t.Error("two pickles with random nonces are equal")
	}
	k2, err := Unpickle(&pk, p1)
	if err != nil || !k2.Equal(k) {
		t.Fatalf("Unpickle: %v", err)
	}
	var wrong [PickleKeySize]byte
	if _, err := Unpickle(&wrong, p1); !errors.Is(err, ErrBadPickle) || !errors.Is(err, pickle.ErrDecrypt) {
		t.Errorf("wrong key: %v", err)
	}
	// A libolm pickle is not an own pickle and vice versa.
	if _, err := Unpickle(&pk, mustPickleLibolm(t, k, pk[:])); !errors.Is(err, ErrBadPickle) {
		t.Errorf("libolm pickle opened as own: %v", err)
	}
	if _, err := UnpickleLibolm(pk[:], p1); !errors.Is(err, ErrBadPickle) {
		t.Errorf("own pickle opened as libolm: %v", err)
	}
}

// The chain of matrix-js-sdk spec/integ/crypto/megolm-backup.spec.ts and the
// spec's recovery key example: recovery key ->
// backup key -> session_data -> exported Megolm session key -> decrypted
// room event.
func TestSpecBackupToMegolmChain(t *testing.T) {
	rk, err := ParseRecoveryKey("EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4d")
	if err != nil {
		t.Fatal(err)
	}
	k := rk.DecryptionKey()
	if !k.Equal(aliceKey(t)) || k.PublicKey().String() != "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo" {
		t.Fatalf("backup key %v", k)
	}
	var auth AuthData
	if err := json.Unmarshal([]byte(`{"public_key":"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo","signatures":{"@u:x":{"ed25519:D":"sig"}}}`), &auth); err != nil || !k.Matches(auth) {
		t.Fatalf("auth_data: %v", err)
	}
	var entry KeyBackupData
	if err := json.Unmarshal([]byte(specBackupEntry), &entry); err != nil {
		t.Fatal(err)
	}
	if b64.Encode(entry.SessionData.MAC[:]) != "5lxYBHQU80M" {
		t.Fatalf("mac %s", b64.Encode(entry.SessionData.MAC[:]))
	}
	s, err := k.DecryptSession(entry.SessionData)
	if err != nil {
		t.Fatal(err)
	}
	if s.Algorithm != megolm.Algorithm || s.SenderClaimedKeys["ed25519"] != "SENDER_ED25519" || len(s.ForwardingCurve25519KeyChain) != 0 || s.ForwardingCurve25519KeyChain == nil {
		t.Errorf("session data %v", s)
	}
	sess, err := s.InboundSession() // restoring is one call
	if err != nil || sess.IsVerified() {
		t.Fatal(err)
	}
	if id := sess.SessionID().String(); id != "o+21hSjP+mgEmcfdslPsQdvzWnkdt0Wyo00Kp++R8Kc" {
		t.Errorf("session id %s", id)
	}
	pt, idx, err := decryptB64(sess, "AwgAEjD+VwXZ7PoGPRS/H4kwpAsMp/g+WPvJVtPEKE8fmM9IcT/NCiwPb8PehecDKP0cjm1XO88k6Bw3D17aGiBHr5iBoP7oSw8CXULXAMTkBlmkufRQq2+d0Giy1s4/Cg5n13jSVrSb2q7VTSv1ZHAFjUCsLSfR0gxqcQs")
	if err != nil || idx != 0 || string(pt) != `{"room_id":"!ROOM:ID","content":"testytest"}` {
		t.Fatalf("Megolm decrypt: %q, %d, %v", pt, idx, err)
	}
	// The MAC over the ciphertext ([self] in the reference) is rejected.
	bad := entry.SessionData
	m, _ := b64.Decode("xtqKWCCTE3Q")
	copy(bad.MAC[:], m)
	if _, err := k.DecryptSession(bad); !errors.Is(err, ErrAuthentication) {
		t.Errorf("MAC over ciphertext: %v", err)
	}
	// The js-sdk's camelCase chain is read; re-encoding writes snake_case.
	js, _ := marshalSession(s)
	if !strings.Contains(string(js), `"forwarding_curve25519_key_chain":[]`) || !strings.Contains(string(js), `"session_key":"AQAAAAA+rPPVHcT/`) {
		t.Errorf("re-encoded: %s", js)
	}
}

const specBackupEntry = `{"first_message_index":0,"forwarded_count":0,"is_verified":false,"session_data":{"ephemeral":"/Bn0A4UMFwJaDDvh0aEk1XZj3k1IfgCxgFY9P9a0b14","mac":"5lxYBHQU80M","ciphertext":"2z2M7CZ+azAiTHN1oFzZ3smAFFt+LEOYY6h3QO3XXGdw6YpNn/gpHDO6I/rgj1zNd4FoTmzcQgvKdU8kN20u5BWRHxaHTZSlne5RxE6vUdREsBgZePglBNyG0AogR/PVdcrv/v18Y6rLM5O9SELmwbV63uV9Kuu/misMxoqbuqEdG7uujyaEKtjlQsJ5MGPQOySyw7XrnesSwF6XWRMxcPGRV0xZr3s9PI350Wve3EncjRgJ9IGFru1bcptMqfXgPZkOyGvrphHoFfoK7nY3xMEHUiaTRfRIjq8HNV4o8QY1qmWGnxNBQgOlL8MZlykjg3ULmQ3DtFfQPj/YYGS3jzxvC+EBjaafmsg+52CTeK3Rswu72PX450BnSZ1i3If4xWAUKvjTpeUg5aDLqttOv1pITolTJDw5W/SD+b5rjEKg1CFCHGEGE9wwV3NfQHVCQL+dfpd7Or0poy4dqKMAi3g0o3Tg7edIF8d5rREmxaALPyiie8PHD8mj/5Y0GLqrac4CD6+Mop7eUTzVovprjg"}}`

func TestRoundTripAndTamper(t *testing.T) {
	k, err := GenerateDecryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 15, 16, 17, 1000} {
		pt := bytes.Repeat([]byte{'x'}, n)
		d, err := Encrypt(k.PublicKey(), pt)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Ciphertext) != aessha2.CiphertextLen(n) {
			t.Errorf("ciphertext of %d bytes for %d", len(d.Ciphertext), n)
		}
		got, err := k.Decrypt(d)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("round trip %d: %v", n, err)
		}
	}
	d, _ := Encrypt(k.PublicKey(), []byte(`{"secret":"data"}`))
	orig := d
	orig.Ciphertext = bytes.Clone(d.Ciphertext)
	// Any change to the ephemeral key or the mac is detected, in their
	// wire form (unpadded base64 of each).
	cryptotest.Tamper(t, append(bytes.Clone(d.Ephemeral[:]), d.MAC[:]...), func(b []byte) error {
		n := min(len(b), len(d.Ephemeral))
		e, err := ParseEncryptedSessionData(b64.Encode(b[:n]), b64.Encode(d.Ciphertext), b64.Encode(b[n:]))
		if err != nil {
			return err
		}
		_, err = k.Decrypt(e)
		if err != nil && !errors.Is(err, ErrAuthentication) && !errors.Is(err, key.ErrNonContributory) {
			t.Errorf("not ErrAuthentication: %v", err)
		}
		return err
	}, cryptotest.Regions(
		cryptotest.Region{Name: "ephemeral", Start: 0, End: 32},
		cryptotest.Region{Name: "mac", Start: 32, End: 0},
	),
		// X25519 ignores the top bit of a public key (RFC 7748, section
		// 5), as libolm and vodozemac do: the same shared secret.
		cryptotest.SkipBits(31, 32, 0x80),
	)
	// The ciphertext is NOT authenticated (libolm's MAC is over nothing):
	// a flipped bit in the first block passes the MAC and changes the
	// plaintext of the second... here, a one-block message: the padding
	// breaks or the plaintext changes; either way no ErrAuthentication.
	malleable := 0
	for i := range d.Ciphertext {
		bad := d
		bad.Ciphertext = bytes.Clone(d.Ciphertext)
		bad.Ciphertext[i] ^= 1
		pt, err := k.Decrypt(bad)
		switch {
		case err == nil:
			malleable++
			if string(pt) == `{"secret":"data"}` {
				t.Fatal("flipped ciphertext decrypts to the original")
			}
		case !errors.Is(err, ErrDecrypt):
			t.Fatalf("byte %d: %v", i, err)
		}
	}
	if malleable == 0 {
		t.Error("expected the documented malleability")
	}
	if !bytes.Equal(d.Ciphertext, orig.Ciphertext) {
		t.Error("Decrypt modified its input")
	}
	other, _ := GenerateDecryptionKey()
	if _, err := other.Decrypt(d); !errors.Is(err, ErrAuthentication) {
		t.Errorf("wrong key: %v", err)
	}
	for _, n := range []int{0, 15, 17, MaxCiphertextSize + 16} {
		bad := d
		bad.Ciphertext = make([]byte, n)
		if _, err := k.Decrypt(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ciphertext of %d bytes: %v", n, err)
		}
	}
}

var lowOrder = []string{
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
}

func TestNonContributory(t *testing.T) {
	k := aliceKey(t)
	d, _ := Encrypt(k.PublicKey(), []byte("x"))
	for _, h := range lowOrder {
		bad := d
		bad.Ephemeral = key.Curve25519(unhex(t, h))
		if _, err := k.Decrypt(bad); !errors.Is(err, key.ErrNonContributory) || !strings.HasPrefix(err.Error(), "keybackup: ") {
			t.Errorf("ephemeral %s: %v", h, err)
		}
		if _, err := Encrypt(key.Curve25519(unhex(t, h)), []byte("x")); !errors.Is(err, key.ErrNonContributory) {
			t.Errorf("backup key %s: %v", h, err)
		}
	}
}

func TestEncryptRandomness(t *testing.T) {
	k := aliceKey(t)
	r := bytes.NewReader(make([]byte, 33))
	if _, err := EncryptFrom(r, k.PublicKey(), []byte("x")); err != nil || r.Len() != 1 {
		t.Errorf("Encrypt read %d bytes, %v", 33-r.Len(), err)
	}
	if _, err := EncryptFrom(bytes.NewReader(make([]byte, 31)), k.PublicKey(), []byte("x")); err == nil {
		t.Error("short randomness accepted")
	}
	if g, err := GenerateDecryptionKey(); err != nil || g.Equal(k) {
		t.Errorf("GenerateDecryptionKey = %v, %v", g, err)
	}
	for _, n := range []int{0, 31, 33} {
		if _, err := NewDecryptionKey(make([]byte, n)); !errors.Is(err, ErrMalformed) {
			t.Errorf("NewDecryptionKey(%d bytes): %v", n, err)
		}
	}
	if b := k.Bytes(); hex.EncodeToString(b[:]) != alicePrivHex {
		t.Error("Bytes")
	}
}

func TestParseEncryptedSessionData(t *testing.T) {
	good := []string{bobPub, "ntk49j/KozVFtSqJXhCejg", "zpzU6BkZcNI"}
	if _, err := ParseEncryptedSessionData(bobPub+"=", "ntk49j/KozVFtSqJXhCejg==", "zpzU6BkZcNI="); err != nil {
		t.Errorf("padded: %v", err)
	}
	for i, tc := range [][3]string{
		{"", good[1], good[2]},
		{bobPub[:42], good[1], good[2]},
		{bobPub + "A", good[1], good[2]},
		{"!" + bobPub[1:], good[1], good[2]},
		{good[0], "ntk49j/KozVFtSqJXhCej!", good[2]},
		{good[0], "ntk49j/KozVFtSqJXhCejg\n", good[2]},
		{good[0], strings.Repeat("A", b64.EncodedLen(MaxCiphertextSize)+8), good[2]},
		{good[0], good[1], ""},
		{good[0], good[1], "zpzU6BkZcN"},
		{good[0], good[1], "zpzU6BkZcNIA"},
		{good[0], good[1], "zpzU6BkZcNJ"}, // non-zero trailing bits
		{good[0], good[1], "zpzU6BkZcNI=="},
	} {
		if _, err := ParseEncryptedSessionData(tc[0], tc[1], tc[2]); !errors.Is(err, ErrMalformed) {
			t.Errorf("case %d: %v", i, err)
		}
	}
	// JSON round trip and strictness.
	d := mustParse(t, good[0], good[1], good[2])
	js, err := json.Marshal(d)
	if err != nil || string(js) != `{"ephemeral":"`+bobPub+`","ciphertext":"ntk49j/KozVFtSqJXhCejg","mac":"zpzU6BkZcNI"}` {
		t.Errorf("MarshalJSON = %s, %v", js, err)
	}
	var back EncryptedSessionData
	if err := json.Unmarshal(js, &back); err != nil || back.Ephemeral.String() != bobPub || !bytes.Equal(back.Ciphertext, d.Ciphertext) || back.MAC != d.MAC {
		t.Errorf("UnmarshalJSON: %v", err)
	}
	for _, bad := range []string{`[]`, `{"ephemeral":1}`, `{"ephemeral":"` + bobPub + `","ciphertext":"ntk49j/KozVFtSqJXhCejg"}`, `{}`} {
		if err := json.Unmarshal([]byte(bad), &back); !errors.Is(err, ErrMalformed) {
			t.Errorf("Unmarshal(%s) = %v", bad, err)
		}
	}
}

// TestBackedUpSessionJSON: the plaintext of a backup entry
// (BackedUpSessionData) round-trips through megolm.ExportedSession, keeps
// a malformed sender_key as text, and is decoded strictly.
func TestBackedUpSessionJSON(t *testing.T) {
	sender := key.Curve25519{1, 2, 3}
	claimed := key.Ed25519{4, 5, 6}
	s := newTestSession(t, sender, claimed)
	s.SharedHistory = true
	js, err := marshalSession(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"room_id", "session_id"} {
		if strings.Contains(string(js), name) {
			t.Errorf("backup data carries %s: %s", name, js)
		}
	}
	back, err := megolm.ParseExportedSession(js)
	if err != nil {
		t.Fatal(err)
	}
	if back.SenderKey != sender || !back.SharedHistory || back.Algorithm != megolm.Algorithm || back.SessionKey().Base64() != s.SessionKey().Base64() {
		t.Errorf("round trip: %v", back)
	}
	if c, ok := back.ClaimedEd25519(); !ok || c != claimed {
		t.Errorf("ClaimedEd25519 = %v, %v", c, ok)
	}
	k := aliceKey(t)
	sk := s.SessionKey().Base64()
	const base = `"algorithm":"m.megolm.v1.aes-sha2","sender_claimed_keys":{"ed25519":"` + alicePub + `"}`
	for _, ok := range []string{
		`{` + base + `,"sender_key":"` + bobPub + `","session_key":"` + sk + `"}`,
		`{` + base + `,"sender_key":"short","session_key":"` + sk + `","forwardingCurve25519KeyChain":["a","b"],"unknown":{"x":1}}`,
	} {
		d, _ := Encrypt(k.PublicKey(), []byte(ok))
		got, err := k.DecryptSession(d)
		if err != nil {
			t.Errorf("DecryptSession(%s): %v", ok, err)
			continue
		}
		// A malformed sender_key does not lose the session.
		if _, err := got.InboundSession(); err != nil || got.RawSenderKey == "" {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{
		`{` + base + `,"sender_key":"` + bobPub + `"}`,
		`{"sender_key":"` + bobPub + `","session_key":"` + sk + `"}`,
		`{"algorithm":"m.megolm.v1.aes-sha2","session_key":"` + sk + `"}`,
		`{` + base + `,"sender_key":"` + bobPub + `","session_key":"AQ!D"}`,
		`{` + base + `,"sender_key":"` + bobPub + `","session_key":"AQID"}`,
		`{` + base + `,"sender_key":"` + bobPub + `","session_key":"` + sk + `"} {}`,
		`{` + base + `,"sender_key":"` + bobPub + `","session_key":"` + sk + `","session_key":"` + sk + `"}`,
		`{` + base + `,"sender_key":"` + bobPub + `","session_key":"` + sk + `","Session_Key":"x"}`,
		`{` + base + `,"sender_key":"` + bobPub + `","session_key":"` + sk + `","forwarding_curve25519_key_chain":"no"}`,
		`null x`, `"string"`, ``,
	} {
		d, _ := Encrypt(k.PublicKey(), []byte(bad))
		if got, err := k.DecryptSession(d); err != ErrDecrypt {
			t.Errorf("DecryptSession(%s) = %v, %v; want ErrDecrypt", bad, got, err)
		}
	}
	// A session with neither chain nor claimed keys marshals them empty,
	// as clients expect the fields present.
	bare := &megolm.ExportedSession{Algorithm: megolm.Algorithm}
	*bare = *s
	bare.ForwardingCurve25519KeyChain, bare.SenderClaimedKeys = nil, nil
	if js, err := marshalSession(bare); err != nil || !strings.Contains(string(js), `"forwarding_curve25519_key_chain":[]`) || !strings.Contains(string(js), `"sender_claimed_keys":{}`) {
		t.Errorf("bare session: %s, %v", js, err)
	}
	if _, err := EncryptSession(k.PublicKey(), &megolm.ExportedSession{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("EncryptSession without a key: %v", err)
	}
}

// DecryptSession gives one error for bad padding and for bad JSON, with no
// detail (no padding oracle on the unauthenticated ciphertext).
func TestDecryptSessionSingleError(t *testing.T) {
	k := aliceKey(t)
	notJSON, _ := Encrypt(k.PublicKey(), []byte("not json"))
	badPad, _ := Encrypt(k.PublicKey(), []byte("0123456789abcdef"))
	badPad.Ciphertext = badPad.Ciphertext[:16] // drop the padding block
	var msgs []string
	for _, d := range []EncryptedSessionData{notJSON, badPad} {
		s, err := k.DecryptSession(d)
		if err != ErrDecrypt || s != nil {
			t.Errorf("DecryptSession = %v, %v; want exactly ErrDecrypt", s, err)
		}
		if err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) == 2 && msgs[0] != msgs[1] {
		t.Errorf("distinguishable errors: %q vs %q", msgs[0], msgs[1])
	}
}

func TestDecryptAll(t *testing.T) {
	k := aliceKey(t)
	var entries []EncryptedSessionData
	var want []byte
	var ids []key.Ed25519
	for i := range 300 {
		s := newTestSession(t, key.Curve25519{byte(i)}, key.Ed25519{byte(i >> 8)})
		ids = append(ids, s.SessionID())
		d, err := EncryptSession(k.PublicKey(), s)
		if err != nil {
			t.Fatal(err)
		}
		switch i % 7 {
		case 3: // not for this key
			d.MAC[0] ^= 1
		case 5: // bad ephemeral
			d.Ephemeral = key.Curve25519{}
		}
		entries = append(entries, d)
		want = append(want, byte(i))
	}
	check := func(res []Result) {
		t.Helper()
		if len(res) != len(entries) {
			t.Fatalf("%d results", len(res))
		}
		for i, r := range res {
			switch i % 7 {
			case 3:
				if !errors.Is(r.Err, ErrAuthentication) || r.Session != nil {
					t.Fatalf("entry %d: %v", i, r.Err)
				}
			case 5:
				if !errors.Is(r.Err, key.ErrNonContributory) {
					t.Fatalf("entry %d: %v", i, r.Err)
				}
			default:
				if r.Err != nil {
					t.Fatalf("entry %d: %v", i, r.Err)
				}
				if r.Session.SenderKey[0] != want[i] || r.Session.SessionID() != ids[i] {
					t.Fatalf("entry %d out of order", i)
				}
			}
		}
	}
	check(k.DecryptAll(context.Background(), entries))
	for _, w := range []int{-3, 0, 1, 2, 5, 1000} {
		check(k.decryptAll(context.Background(), entries, w))
	}
	if res := k.DecryptAll(context.Background(), nil); len(res) != 0 {
		t.Error("results for no entries")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i, r := range k.DecryptAll(ctx, entries) {
		if !errors.Is(r.Err, context.Canceled) {
			t.Fatalf("cancelled entry %d: %v", i, r.Err)
		}
	}
}

func TestDecryptRoomKeys(t *testing.T) {
	k := aliceKey(t)
	other, _ := GenerateDecryptionKey()
	foreign, _ := EncryptSession(other.PublicKey(), newTestSession(t, key.Curve25519{}, key.Ed25519{}))
	foreignJSON, _ := json.Marshal(KeyBackupData{FirstMessageIndex: 3, SessionData: foreign})
	body := `{"rooms":{
		"!b:example.org":{"sessions":{"zz":` + string(foreignJSON) + `}},
		"!a:example.org":{"sessions":{"o+21hSjP+mgEmcfdslPsQdvzWnkdt0Wyo00Kp++R8Kc":` + specBackupEntry + `}},
		"!c:example.org":{"sessions":{"AAAAhSjP+mgEmcfdslPsQdvzWnkdt0Wyo00Kp++R8Kc":` + specBackupEntry + `}}
	}}`
	var rk RoomKeys
	if err := json.Unmarshal([]byte(body), &rk); err != nil {
		t.Fatal(err)
	}
	res := k.DecryptRoomKeys(context.Background(), rk)
	if len(res) != 3 || res[0].RoomID != "!a:example.org" || res[1].RoomID != "!b:example.org" {
		t.Fatalf("results %v", res)
	}
	if res[0].Err != nil || res[0].SessionID != "o+21hSjP+mgEmcfdslPsQdvzWnkdt0Wyo00Kp++R8Kc" || res[0].Session.Algorithm != megolm.Algorithm {
		t.Errorf("spec entry: %+v", res[0])
	}
	if !errors.Is(res[1].Err, ErrAuthentication) || res[1].Session != nil || res[1].Backup.FirstMessageIndex != 3 || res[1].SessionID != "zz" {
		t.Errorf("foreign entry: %+v", res[1])
	}
	// A session filed under another session's ID is refused.
	if !errors.Is(res[2].Err, ErrMalformed) || res[2].Session != nil {
		t.Errorf("session under another id: %+v", res[2])
	}
	if len(k.DecryptRoomKeys(context.Background(), RoomKeys{})) != 0 {
		t.Error("results for an empty backup")
	}
}

func TestBetter(t *testing.T) {
	for _, tc := range []struct {
		a, b KeyBackupData
		want bool
	}{
		{KeyBackupData{IsVerified: true, FirstMessageIndex: 9}, KeyBackupData{FirstMessageIndex: 0}, true},
		{KeyBackupData{FirstMessageIndex: 0}, KeyBackupData{IsVerified: true, FirstMessageIndex: 9}, false},
		{KeyBackupData{FirstMessageIndex: 1, ForwardedCount: 9}, KeyBackupData{FirstMessageIndex: 2}, true},
		{KeyBackupData{FirstMessageIndex: 2}, KeyBackupData{FirstMessageIndex: 1, ForwardedCount: 9}, false},
		{KeyBackupData{ForwardedCount: 0}, KeyBackupData{ForwardedCount: 1}, true},
		{KeyBackupData{ForwardedCount: 1}, KeyBackupData{ForwardedCount: 1}, false},
	} {
		if got := tc.a.Better(tc.b); got != tc.want {
			t.Errorf("%+v.Better(%+v) = %v", tc.a, tc.b, got)
		}
	}
}

func TestRecoveryKey(t *testing.T) {
	const text = "EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4d"
	k := aliceKey(t)
	if got := k.RecoveryKey().Encode(); got != text {
		t.Errorf("Encode = %s", got)
	}
	rk, err := ParseRecoveryKey(strings.ReplaceAll(text, " ", "\n"))
	if err != nil || !rk.Equal(k.RecoveryKey()) || !rk.DecryptionKey().Equal(k) {
		t.Fatalf("ParseRecoveryKey: %v", err)
	}
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4e", ErrMalformed},
		{"AATpRvZTnjck8YrhRAtwXLS84Nr2r9S9LGAWDaExVAPBvLRk", ErrMalformed},
		{"AATpRvZTnjck8YrhRAtwXLS84Nr2r9S9", ErrMalformed},
		{"AATpRvZTnjck8YrhRAtwXLS84Nr0OIl", ErrMalformed},
	} {
		_, err := ParseRecoveryKey(tc.in)
		if !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), "keybackup: ") || strings.Contains(err.Error(), "recoverykey") {
			t.Errorf("ParseRecoveryKey(%q) = %v", tc.in, err)
		}
	}
	// m.pbkdf2 with the matrix-rust-sdk vector (crates/matrix-sdk-crypto,
	// backups tests).
	pk, err := DecryptionKeyFromPassphrase("It's a secret to everybody", "IuLnH7S85YtZmkkBJKwNUKxWF42g9O1H", 10)
	if err != nil {
		t.Fatal(err)
	}
	if b := pk.Bytes(); hex.EncodeToString(b[:]) != "397aff44a04238741cff9b76b38126073c34bf25599fa9969287f01ccf77559f" {
		t.Errorf("passphrase key %x", b)
	}
	if _, err := DecryptionKeyFromPassphrase("pw", "salt", 0); !errors.Is(err, ErrMalformed) {
		t.Errorf("0 iterations: %v", err)
	}
}

// TestSigningKeyIsPkSigning: key.SigningKey, made from a 32-byte seed, is
// libolm's PkSigning (the cross-signing key this package used to wrap).
// Signature of "\x00\xff" with seed = RFC 7748 Alice key, from libolm
// 3.2.13's olm_pk_sign (python3-olm PkSigning, testdata/libolm_pk.py).
func TestSigningKeyIsPkSigning(t *testing.T) {
	s, err := key.NewSigningKey(unhex(t, alicePrivHex))
	if err != nil {
		t.Fatal(err)
	}
	if s.Public().String() != "0KTOwPi1C6HpNuxWFUVKqX37J4ZPXxdgivLLsQVI8bM" {
		t.Errorf("public key %s", s.Public())
	}
	sig := s.Sign([]byte{0, 0xff})
	if sig.String() != "emhRetjE7IAuujs0r6iAWYoXMVVigomnOqwxjLhunufqKXcg3UV7/59LkPfDHas79Gug5uRMypCqqb22eX90CQ" {
		t.Errorf("signature %s", sig)
	}
	if err := s.Public().Verify([]byte{0, 0xff}, sig); err != nil {
		t.Error(err)
	}
}

// TestRedaction: fmt, log/slog and encoding/json never show a decryption
// key or its recovery key.
func TestRedaction(t *testing.T) {
	k := aliceKey(t)
	rk := k.RecoveryKey()
	secrets := [][]byte{unhex(t, alicePrivHex), []byte(rk.Encode())}
	for _, v := range []any{k, *k, rk, &rk} {
		cryptotest.Redacted(t, v, secrets...)
	}
}

func TestAllocs(t *testing.T) {
	k := aliceKey(t)
	pt := make([]byte, 1024)
	d, _ := Encrypt(k.PublicKey(), pt)
	if n := testing.AllocsPerRun(20, func() { _, _ = k.Decrypt(d) }); n > 12 {
		t.Errorf("Decrypt of 1 KiB: %v allocations", n)
	}
	if n := testing.AllocsPerRun(20, func() { _, _ = EncryptFrom(rand.Reader, k.PublicKey(), pt) }); n > 16 {
		t.Errorf("Encrypt of 1 KiB: %v allocations", n)
	}
}

func FuzzDecrypt(f *testing.F) {
	f.Add(bobPub, "ntk49j/KozVFtSqJXhCejg", "zpzU6BkZcNI")
	f.Add(bobPub, "ntk49j/KozVFtSqJXhCejg", "0YKKo6yL6p8")
	f.Add("/Bn0A4UMFwJaDDvh0aEk1XZj3k1IfgCxgFY9P9a0b14", "2z2M7CZ+azAiTHN1oFzZ3smAFFt+LEOYY6h3QO3XXGdw6YpNn/gpHDO6I/rgj1zNd4FoTmzcQgvKdU8kN20u5BWRHxaHTZSlne5RxE6vUdREsBgZePglBNyG0AogR/PVdcrv/v18Y6rLM5O9SELmwbV63uV9Kuu/misMxoqbuqEdG7uujyaEKtjlQsJ5MGPQOySyw7XrnesSwF6XWRMxcPGRV0xZr3s9PI350Wve3EncjRgJ9IGFru1bcptMqfXgPZkOyGvrphHoFfoK7nY3xMEHUiaTRfRIjq8HNV4o8QY1qmWGnxNBQgOlL8MZlykjg3ULmQ3DtFfQPj/YYGS3jzxvC+EBjaafmsg+52CTeK3Rswu72PX450BnSZ1i3If4xWAUKvjTpeUg5aDLqttOv1pITolTJDw5W/SD+b5rjEKg1CFCHGEGE9wwV3NfQHVCQL+dfpd7Or0poy4dqKMAi3g0o3Tg7edIF8d5rREmxaALPyiie8PHD8mj/5Y0GLqrac4CD6+Mop7eUTzVovprjg", "5lxYBHQU80M")
	f.Add("", "", "")
	k := aliceKey(f)
	f.Fuzz(func(t *testing.T, eph, ct, mac string) {
		d, err := ParseEncryptedSessionData(eph, ct, mac)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("parse error of the wrong kind: %v", err)
			}
			return
		}
		before := bytes.Clone(d.Ciphertext)
		s, err := k.DecryptSession(d)
		if (s == nil) == (err == nil) {
			t.Fatalf("DecryptSession = %v, %v", s, err)
		}
		if !bytes.Equal(before, d.Ciphertext) {
			t.Fatal("input modified")
		}
		if err == nil {
			// A decryptable entry re-encrypts and decrypts to the same data.
			d2, err := EncryptSession(k.PublicKey(), s)
			if err != nil {
				t.Fatal(err)
			}
			s2, err := k.DecryptSession(d2)
			if err != nil || s2.SessionKey().Base64() != s.SessionKey().Base64() || s2.SenderKey != s.SenderKey || s2.RawSenderKey != s.RawSenderKey || s2.Algorithm != s.Algorithm {
				t.Fatalf("re-encryption: %v", err)
			}
		}
	})
}

// FuzzSessionDataJSON: what parses as a backup entry's plaintext
// re-encodes to a plaintext that parses to the same session.
func FuzzSessionDataJSON(f *testing.F) {
	s := newTestSession(f, key.Curve25519{1}, key.Ed25519{2})
	if js, err := marshalSession(s); err == nil {
		f.Add(js)
	}
	f.Add([]byte(`{"algorithm":"m.megolm.v1.aes-sha2","sender_key":"` + bobPub + `","sender_claimed_keys":{"ed25519":"x"},"forwardingCurve25519KeyChain":[],"session_key":"AQID"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := megolm.ParseExportedSession(b)
		if err != nil {
			return
		}
		js, err := marshalSession(s)
		if err != nil {
			t.Fatal(err)
		}
		// Strings pass through encoding/json (invalid UTF-8 becomes
		// U+FFFD); the secret must survive exactly.
		back, err := megolm.ParseExportedSession(js)
		if err != nil || back.SessionKey().Base64() != s.SessionKey().Base64() {
			t.Fatalf("round trip of %s: %v", js, err)
		}
	})
}

func FuzzUnpickleLibolm(f *testing.F) {
	f.Add([]byte("secret_key"), v9Pickle)
	f.Add([]byte(""), "")
	f.Fuzz(func(t *testing.T, pk []byte, p string) {
		k, err := UnpickleLibolm(pk, p)
		if err != nil {
			if !errors.Is(err, ErrBadPickle) || k != nil {
				t.Fatalf("%v, %v", k, err)
			}
			return
		}
		if mustPickleLibolm(t, k, pk) != p {
			t.Fatal("pickle does not round-trip")
		}
	})
}

// pkOp is one operation for testdata/libolm_pk.py.
type pkOp map[string]string

const oraclePython = "/usr/bin/python3"

func runPkOracle(t *testing.T, ops []pkOp) []map[string]string {
	t.Helper()
	if err := exec.Command(oraclePython, "-c", "import olm").Run(); err != nil {
		t.Skip("python3-olm (Debian libolm 3.2.13 bindings) not installed")
	}
	in, _ := json.Marshal(ops)
	cmd := exec.Command(oraclePython, "testdata/libolm_pk.py")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle: %v\n%s", err, stderr.String())
	}
	var res []map[string]string
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(ops) {
		t.Fatalf("oracle output: %v (%d results)", err, len(res))
	}
	return res
}

// hexSource returns n random-looking bytes in hex: from crypto/rand for
// live runs, or from SHA-256 of a counter for the fixed vector file.
type hexSource func(n int) string

func liveHex(t *testing.T) hexSource {
	return func(n int) string {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(b)
	}
}

func fixedHex() hexSource {
	ctr := 0
	return func(n int) string {
		var out []byte
		for len(out) < n {
			ctr++
			h := sha256.Sum256(fmt.Appendf(nil, "sicher keybackup vector %d", ctr))
			out = append(out, h[:]...)
		}
		return hex.EncodeToString(out[:n])
	}
}

// pkCases builds libolm operations and the checks of their results:
// libolm encrypts (fixed ephemeral randomness) and sicher must produce the
// same message and decrypt it; sicher encrypts and libolm decrypts;
// pickles go both ways; PkSigning signatures agree; libolm rejects the
// MAC over the ciphertext too.
func pkCases(t *testing.T, rnd hexSource, n int) ([]pkOp, []func(map[string]string)) {
	var ops []pkOp
	var checks []func(map[string]string)
	add := func(op pkOp, check func(map[string]string)) {
		ops = append(ops, op)
		checks = append(checks, check)
	}
	add(pkOp{"op": "decrypt", "priv": alicePrivHex, "ephemeral": bobPub, "ciphertext": "ntk49j/KozVFtSqJXhCejg", "mac": "0YKKo6yL6p8"}, func(r map[string]string) {
		if r["error"] != "BAD_MESSAGE_MAC" {
			t.Errorf("libolm accepted the MAC over the ciphertext: %v", r)
		}
	})
	add(pkOp{"op": "unpickle", "pickle": v9Pickle, "passphrase": "secret_key"}, func(r map[string]string) {
		if r["public_key"] != alicePub {
			t.Errorf("libolm unpickle V9: %v", r)
		}
	})
	for i := range n {
		priv := rnd(32)
		k, _ := NewDecryptionKey(unhex(t, priv))
		eph := rnd(32)
		pt := rnd(i * 37)
		// libolm encrypts -> sicher produces the same and decrypts it.
		add(pkOp{"op": "encrypt", "recipient": k.PublicKey().String(), "eph": eph, "plaintext": pt}, func(r map[string]string) {
			mine, err := EncryptFrom(bytes.NewReader(unhex(t, eph)), k.PublicKey(), unhex(t, pt))
			if err != nil {
				t.Fatal(err)
			}
			if mine.Ephemeral.String() != r["ephemeral"] || b64.Encode(mine.Ciphertext) != r["ciphertext"] || b64.Encode(mine.MAC[:]) != r["mac"] {
				t.Errorf("encrypt differs from libolm: %v", r)
			}
			got, err := k.Decrypt(mustParse(t, r["ephemeral"], r["ciphertext"], r["mac"]))
			if err != nil || hex.EncodeToString(got) != pt {
				t.Errorf("decrypting libolm's message: %v", err)
			}
		})
		// sicher encrypts -> libolm decrypts.
		mine, err := EncryptFrom(bytes.NewReader(unhex(t, rnd(32))), k.PublicKey(), unhex(t, pt))
		if err != nil {
			t.Fatal(err)
		}
		add(pkOp{"op": "decrypt", "priv": priv, "ephemeral": mine.Ephemeral.String(), "ciphertext": b64.Encode(mine.Ciphertext), "mac": b64.Encode(mine.MAC[:])}, func(r map[string]string) {
			if r["plaintext"] != pt || r["public_key"] != k.PublicKey().String() {
				t.Errorf("libolm decrypting sicher's message: %v", r)
			}
		})
		// Pickles both ways.
		pass := rnd(i)
		add(pkOp{"op": "pickle", "priv": priv, "passphrase": pass}, func(r map[string]string) {
			if r["pickle"] != mustPickleLibolm(t, k, []byte(pass)) {
				t.Errorf("pickle differs from libolm")
			}
			k2, err := UnpickleLibolm([]byte(pass), r["pickle"])
			if err != nil || !k2.Equal(k) {
				t.Errorf("unpickling libolm's pickle: %v", err)
			}
		})
		add(pkOp{"op": "unpickle", "pickle": mustPickleLibolm(t, k, []byte(pass)), "passphrase": pass}, func(r map[string]string) {
			if r["public_key"] != k.PublicKey().String() {
				t.Errorf("libolm unpickling sicher's pickle: %v", r)
			}
		})
		// PkSigning is key.SigningKey.
		seed, msg := rnd(32), rnd(i*11)
		add(pkOp{"op": "sign", "seed": seed, "message": msg}, func(r map[string]string) {
			s, _ := key.NewSigningKey(unhex(t, seed))
			if s.Public().String() != r["public_key"] || s.Sign(unhex(t, msg)).String() != r["signature"] {
				t.Errorf("key.SigningKey differs from libolm's PkSigning: %v", r)
			}
		})
	}
	return ops, checks
}

// pkVectors is testdata/libolm_pk.json.
type pkVectors struct {
	Source  string              `json:"source"`
	Ops     []pkOp              `json:"ops"`
	Results []map[string]string `json:"results"`
}

// TestLibolmDerivedVectors replays libolm's answers stored in
// testdata/libolm_pk.json (written by TestLibolmLive with
// SICHER_WRITE_VECTORS=1 from Debian libolm 3.2.13), so the cross-check
// holds without python3-olm.
func TestLibolmDerivedVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/libolm_pk.json")
	if err != nil {
		t.Fatal(err)
	}
	var v pkVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	ops, checks := pkCases(t, fixedHex(), 8)
	if !strings.Contains(v.Source, "libolm 3.2.13") || len(v.Ops) != len(ops) || len(v.Results) != len(ops) {
		t.Fatalf("vector file does not match pkCases: %q, %d ops", v.Source, len(v.Ops))
	}
	for i := range ops {
		if fmt.Sprint(ops[i]) != fmt.Sprint(v.Ops[i]) {
			t.Fatalf("op %d differs from the vector file", i)
		}
		checks[i](v.Results[i])
	}
}

// TestLibolmLive cross-checks fresh random cases with libolm 3.2.13
// through python3-olm (skipped without it). SICHER_WRITE_VECTORS=1 first
// rewrites testdata/libolm_pk.json.
func TestLibolmLive(t *testing.T) {
	if os.Getenv("SICHER_WRITE_VECTORS") == "1" {
		ops, _ := pkCases(t, fixedHex(), 8)
		v := pkVectors{
			Source:  "Debian libolm 3.2.13 (python3-olm 3.2.13~dfsg-1) via keybackup/testdata/libolm_pk.py; ops from pkCases(fixedHex(), 8) in keybackup_test.go",
			Ops:     ops,
			Results: runPkOracle(t, ops),
		}
		b, _ := json.MarshalIndent(v, "", " ")
		if err := os.WriteFile("testdata/libolm_pk.json", append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ops, checks := pkCases(t, liveHex(t), 12)
	for i, r := range runPkOracle(t, ops) {
		checks[i](r)
	}
}

func BenchmarkEncrypt1KiB(b *testing.B) {
	k := aliceKey(b)
	pt := make([]byte, 1024)
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = EncryptFrom(rand.Reader, k.PublicKey(), pt)
	}
}

func BenchmarkDecrypt1KiB(b *testing.B) {
	k := aliceKey(b)
	d, _ := Encrypt(k.PublicKey(), make([]byte, 1024))
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Decrypt(d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecryptAll decrypts a backup of 10,000 sessions with one worker
// and with GOMAXPROCS workers; compare the two ns/op for the speed-up.
func BenchmarkDecryptAll(b *testing.B) {
	k, entries := benchBackup(b)
	for _, w := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res := k.decryptAll(context.Background(), entries, w)
				if res[len(res)-1].Err != nil {
					b.Fatal(res[len(res)-1].Err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(entries)), "ns/session")
		})
	}
}

// BenchmarkDecryptAllSpeedup times one worker and GOMAXPROCS workers on
// the same 10,000 sessions in each iteration and reports the ratio.
func BenchmarkDecryptAllSpeedup(b *testing.B) {
	k, entries := benchBackup(b)
	var one, all time.Duration
	for b.Loop() {
		t0 := time.Now()
		k.decryptAll(context.Background(), entries, 1)
		t1 := time.Now()
		k.DecryptAll(context.Background(), entries)
		one, all = one+t1.Sub(t0), all+time.Since(t1)
	}
	b.ReportMetric(float64(one)/float64(all), "speedup")
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "workers")
}

func benchBackup(b *testing.B) (*DecryptionKey, []EncryptedSessionData) {
	k := aliceKey(b)
	entries := make([]EncryptedSessionData, 10000)
	s := newTestSession(b, key.Curve25519{1}, key.Ed25519{2})
	for i := range entries {
		d, err := EncryptSession(k.PublicKey(), s)
		if err != nil {
			b.Fatal(err)
		}
		entries[i] = d
	}
	return k, entries
}

// newTestSession returns an exported session of a new Megolm session with
// the given metadata.
func newTestSession(t testing.TB, sender key.Curve25519, claimed key.Ed25519) *megolm.ExportedSession {
	t.Helper()
	out, err := megolm.NewOutboundSession()
	if err != nil {
		t.Fatal(err)
	}
	in, err := megolm.NewInboundSession(out.SessionKey())
	if err != nil {
		t.Fatal(err)
	}
	return megolm.NewExportedSession(in.ExportAtFirstKnownIndex(), "", sender, claimed)
}

func decryptB64(s *megolm.InboundSession, message string) ([]byte, uint32, error) {
	m := new(megolm.Message)
	if err := m.UnmarshalText([]byte(message)); err != nil {
		return nil, 0, err
	}
	return s.Decrypt(nil, m.Bytes())
}

func mustPickleLibolm(t testing.TB, k *DecryptionKey, pickleKey []byte) string {
	t.Helper()
	p, err := k.PickleLibolm(pickleKey)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRandomness: a nil reader means crypto/rand, and a failing reader
// gives an error that wraps the reader's, never a panic.
func TestRandomness(t *testing.T) {
	k := aliceKey(t)
	if _, err := EncryptFrom(nil, k.PublicKey(), []byte("x")); err != nil {
		t.Errorf("EncryptFrom(nil): %v", err)
	}
	s := newTestSession(t, key.Curve25519{1}, key.Ed25519{2})
	if _, err := EncryptSessionFrom(nil, k.PublicKey(), s); err != nil {
		t.Errorf("EncryptSessionFrom(nil): %v", err)
	}
	boom := errors.New("reader failed")
	if _, err := EncryptFrom(iotest.ErrReader(boom), k.PublicKey(), []byte("x")); !errors.Is(err, boom) {
		t.Errorf("EncryptFrom with a failing reader: %v", err)
	}
	if _, err := EncryptSessionFrom(iotest.ErrReader(boom), k.PublicKey(), s); !errors.Is(err, boom) {
		t.Errorf("EncryptSessionFrom with a failing reader: %v", err)
	}
}
