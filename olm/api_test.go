package olm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/cryptotest"
)

// TestRandomnessReaders calls every exported randomised function of the
// package with a nil reader (crypto/rand) and with a failing one: none
// panics, nil works, and a failure wraps the reader's error and changes
// nothing.
func TestRandomnessReaders(t *testing.T) {
	for _, r := range []io.Reader{nil, failReader{}} {
		failing := r != nil
		check := func(what string, err error) {
			t.Helper()
			switch {
			case failing && !errors.Is(err, errFail):
				t.Errorf("%s with a failing reader: %v, want the reader's error", what, err)
			case !failing && err != nil:
				t.Errorf("%s with a nil reader: %v", what, err)
			}
		}
		_, err := NewAccountFrom(r)
		check("NewAccountFrom", err)

		a, _ := NewAccount()
		b, _ := NewAccount()
		before := pickledAccount(t, a)
		_, _, err = a.GenerateOneTimeKeysFrom(r, 3)
		check("GenerateOneTimeKeysFrom", err)
		_, err = a.GenerateFallbackKeyFrom(r)
		check("GenerateFallbackKeyFrom", err)
		if failing && pickledAccount(t, a) != before {
			t.Error("a failed generation changed the account")
		}
		otks, _, _ := b.GenerateOneTimeKeys(1)
		_, err = a.NewOutboundSessionFrom(r, b.Curve25519(), otks[0].Key)
		check("NewOutboundSessionFrom", err)

		// Bob's first message starts a sending chain: it reads randomness.
		as, _ := a.NewOutboundSession(b.Curve25519(), otks[0].Key)
		m, _ := as.Encrypt(nil, []byte("hi"))
		pk, _ := ParsePreKeyMessage(m.Body)
		bs, _, err := b.NewInboundSession(pk, nil)
		if err != nil {
			t.Fatal(err)
		}
		sBefore := pickled(t, bs)
		_, err = bs.EncryptFrom(r, nil, []byte("reply"))
		check("EncryptFrom", err)
		if failing && pickled(t, bs) != sBefore {
			t.Error("a failed encryption changed the session")
		}
		_, err = a.pickleFrom(r, testPickleKey)
		check("Account.pickleFrom", err)
		_, err = bs.pickleFrom(r, testPickleKey)
		check("Session.pickleFrom", err)
		_, err = a.dehydrateFrom(r, &[32]byte{})
		check("dehydrateFrom", err)
	}
	// The plain forms read crypto/rand.
	a, err := NewAccount()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.GenerateOneTimeKeys(1); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GenerateFallbackKey(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Pickle(testPickleKey); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Dehydrate(&[32]byte{}); err != nil {
		t.Fatal(err)
	}
}

// TestPickleVersionsReadable loads a committed pickle of every version of
// sicher's own format ever written (made by the code of that time, under
// the key 32 × 0x2a; testdata/pickles/manifest.json holds what each must
// give) and checks the loaded object against it.
func TestPickleVersionsReadable(t *testing.T) {
	var pk [PickleKeySize]byte
	for i := range pk {
		pk[i] = 0x2a
	}
	raw, err := os.ReadFile("testdata/pickles/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var manifest map[string]map[string]string
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := os.ReadFile("testdata/pickles/" + name + ".txt")
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	for _, name := range []string{"account_v1_seed", "account_v1_expanded", "account_v2_seed", "account_v2_expanded"} {
		want := manifest[name]
		a, err := UnpickleAccount(&pk, read(name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var ks []string
		for _, k := range a.OneTimeKeys() {
			ks = append(ks, fmt.Sprintf("%q:%q", k.ID, k.Key))
		}
		fb, _ := a.FallbackKey()
		if a.Curve25519().String() != want["curve25519"] || a.Ed25519().String() != want["ed25519"] ||
			a.Sign([]byte("sicher")).String() != want["signature"] ||
			`{"curve25519":{`+strings.Join(ks, ",")+`}}` != want["one_time_keys"] ||
			fmt.Sprint(a.StoredOneTimeKeys()) != want["stored"] || fb.Key.String() != want["fallback"] {
			t.Errorf("%s: another account", name)
		}
	}
	accounts := manifest["accounts"]
	for name, peer := range map[string]string{
		"session_v1_outbound": accounts["bob_curve25519"], "session_v1_inbound": accounts["alice_curve25519"],
		"session_v2_outbound": accounts["bob_curve25519"], "session_v2_inbound": accounts["alice_curve25519"],
		"session_v3_outbound": accounts["bob_curve25519"], "session_v3_inbound": accounts["alice_curve25519"],
	} {
		dir := name[len("session_vN_"):]
		want := manifest["session_v1_"+dir] // every version holds the same session
		v1 := strings.HasPrefix(name, "session_v1_")
		s, err := UnpickleSession(&pk, read(name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.ID() != want["id"] {
			t.Errorf("%s: session id %s, want %s", name, s.ID(), want["id"])
		}
		ours := accounts["alice_curve25519"]
		if dir == "inbound" {
			ours = accounts["bob_curve25519"]
		}
		var o, p [32]byte
		b64.DecodeInto(o[:], ours)
		b64.DecodeInto(p[:], peer)
		// Version 1 did not store the peer; later versions do.
		if got, ok := s.PeerIdentityKey(); ok == v1 || ok && got.String() != peer {
			t.Errorf("%s: peer %v %v", name, got, ok)
		}
		if v1 {
			if err := s.BindPeer(o, p); err != nil {
				t.Fatalf("%s: BindPeer: %v", name, err)
			}
		}
		body, _ := b64.Decode(want["body"])
		typ := TypeMessage
		if want["type"] == "0" {
			typ = TypePreKey
		}
		pt, err := s.Decrypt(nil, EncryptedMessage{typ, body})
		if err != nil || string(pt) != want["plaintext"] {
			t.Errorf("%s: decrypt %q %v", name, pt, err)
		}
	}
	// An unknown version is refused.
	for _, kind := range []string{"account", "session"} {
		var err error
		if kind == "account" {
			_, err = UnpickleAccount(&pk, sealRaw(t, &pk, kindOf(kind), []byte{9}))
		} else {
			_, err = UnpickleSession(&pk, sealRaw(t, &pk, kindOf(kind), []byte{9}))
		}
		if !errors.Is(err, ErrBadPickle) {
			t.Errorf("%s version 9: %v", kind, err)
		}
	}
}

// TestRedaction: accounts and sessions print, log (slog text and JSON) and
// marshal (encoding/json) no secret.
func TestRedaction(t *testing.T) {
	d := newDuo(t)
	d.bob.GenerateFallbackKeyFrom(d.rand)
	var secrets [][]byte
	for _, a := range []*Account{d.alice, d.bob} {
		exp := a.signing.Expanded()
		secrets = append(secrets, bytes.Clone(a.identity.priv[:]), bytes.Clone(exp[:32]), bytes.Clone(exp[32:]))
		for i := range a.otks {
			secrets = append(secrets, bytes.Clone(a.otks[i].priv[:]))
		}
	}
	for _, s := range []*Session{d.as, d.bs} {
		st := s.r.AppendState(nil)
		secrets = append(secrets, st[1:33]) // the root key
	}
	for _, v := range []any{d.alice, *d.bob, d.as, *d.bs} {
		cryptotest.Redacted(t, v, secrets...)
		if text := fmt.Sprint(v); !strings.Contains(text, "olm.") {
			t.Fatalf("%T is not described: %s", v, text)
		}
	}
}

// TestErrorsAreOlms: errors of the Double Ratchet engine reach callers as
// olm's own sentinels, without the engine's name.
func TestErrorsAreOlms(t *testing.T) {
	d := newDuo(t)
	m, _ := d.as.Encrypt(nil, []byte("once"))
	if _, err := d.bs.Decrypt(nil, m); err != nil {
		t.Fatal(err)
	}
	_, err := d.bs.Decrypt(nil, m)
	if !errors.Is(err, ErrUnknownMessageIndex) || strings.Contains(err.Error(), "ratchet:") {
		t.Fatalf("a replay: %v", err)
	}
	if _, err := UnpickleSession(testPickleKey, sealRaw(t, testPickleKey, kindOf("session"), append([]byte{2}, make([]byte, 98)...))); !errors.Is(err, ErrBadPickle) || strings.Contains(err.Error(), "ratchet:") {
		t.Fatalf("a bad ratchet state: %v", err)
	}
}
