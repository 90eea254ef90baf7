package cryptotest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/attachment"
	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/internal/aessha2"
	"github.com/sicher-go/sicher/internal/ratchet"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/sas"
	"github.com/sicher-go/sicher/secretstorage"
)

// Redaction across every secret-holding type. The
// secrets are not listed by hand: secretBytes walks each value's fields by
// reflection (unexported ones included, through pointers, into the standard
// library's key types) and takes every byte array or slice of 16 bytes or
// more that is not public (a public key, an IV, a hash, or bytes that travel
// on the wire). Redacted must hold for each value printed directly, through
// a pointer, inside a struct, a slice or an error: no fmt verb, log/slog
// handler or encoding/json shows any of them.
//
// The owners' package tests check the same for their types with hand-made
// secret lists (olm TestSessionRedaction, TestDehydratedRedaction; megolm
// TestRedaction; keybackup, sas, event, attachment, keyexport and
// secretstorage redaction tests); this one makes a new field of an existing
// type, or a type added to the catalogue, covered without a new list.

type secretCase struct {
	name   string
	v      any      // a pointer to the value
	public [][]byte // bytes that may be printed
	state  bool     // long-lived secret state: must also have no JSON form
	// secrets, if set, replaces the secrets found by reflection (for types
	// whose byte fields are mostly public JSON text).
	secrets [][]byte
}

func seeded(tag string) *rand.ChaCha8 {
	var seed [32]byte
	copy(seed[:], tag)
	return rand.NewChaCha8(seed)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// catalogue builds one populated value of every secret-holding type.
func catalogue(t *testing.T) []secretCase {
	r := seeded("redaction")
	var cs []secretCase

	// olm: an account with keys of every kind, both sessions with traffic.
	alice := must(olm.NewAccountFrom(r))
	bob := must(olm.NewAccountFrom(r))
	otks, _, err := bob.GenerateOneTimeKeysFrom(r, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.GenerateFallbackKeyFrom(r); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.GenerateFallbackKeyFrom(r); err != nil { // current and previous
		t.Fatal(err)
	}
	as := must(alice.NewOutboundSessionFrom(r, bob.Curve25519(), otks[0].Key))
	m1 := must(as.EncryptFrom(r, nil, []byte("hello")))
	pk := must(olm.ParsePreKeyMessage(m1.Body))
	bs, _, err := bob.NewInboundSession(pk, nil)
	if err != nil {
		t.Fatal(err)
	}
	m2 := must(bs.EncryptFrom(r, nil, []byte("reply")))
	if _, err := as.Decrypt(nil, m2); err != nil {
		t.Fatal(err)
	}
	m3 := must(as.EncryptFrom(r, nil, []byte("again")))
	wire := bytes.Join([][]byte{m1.Body, m2.Body, m3.Body}, nil)
	var accPublic [][]byte
	for _, a := range []*olm.Account{alice, bob} {
		c, e := a.Curve25519(), a.Ed25519()
		accPublic = append(accPublic, c[:], e[:])
	}
	for _, k := range otks {
		accPublic = append(accPublic, bytes.Clone(k.Key[:]))
	}
	for _, k := range bob.OneTimeKeys() {
		accPublic = append(accPublic, bytes.Clone(k.Key[:]))
	}
	if fb, ok := bob.FallbackKey(); ok {
		accPublic = append(accPublic, bytes.Clone(fb.Key[:]))
	}
	cs = append(cs,
		secretCase{"olm.Account (Alice)", alice, append(accPublic, wire), true, nil},
		secretCase{"olm.Account (Bob, fallback keys)", bob, append(accPublic, wire), true, nil},
		secretCase{"olm.Session (outbound)", as, append(accPublic, wire), true, nil},
		secretCase{"olm.Session (inbound)", bs, append(accPublic, wire), true, nil},
	)

	// ratchet
	priv := must(key.GenerateCurve25519(r))
	shared := make([]byte, 96)
	r.Read(shared)
	rt := ratchet.NewAlice(shared, priv)
	rk, mk, err := rt.NextMessageKey(r)
	if err != nil {
		t.Fatal(err)
	}
	pub := key.Curve25519Public(priv)
	cs = append(cs,
		secretCase{"ratchet.Ratchet", rt, [][]byte{rk[:], pub[:]}, true, nil},
		secretCase{"ratchet.MessageKey", &mk, nil, true, nil},
	)

	// megolm
	out := must(megolm.NewOutboundSessionFrom(r))
	in := must(megolm.NewInboundSession(out.SessionKey()))
	msg := out.Encrypt(nil, []byte("room message"))
	if _, _, err := in.Decrypt(nil, msg); err != nil {
		t.Fatal(err)
	}
	sid := out.SessionID()
	mpub := [][]byte{sid[:], msg}
	exp := in.ExportAtFirstKnownIndex()
	cs = append(cs,
		secretCase{"megolm.OutboundSession", out, mpub, true, nil},
		secretCase{"megolm.InboundSession", in, mpub, true, nil},
		secretCase{"megolm.SessionKey", out.SessionKey(), mpub, false, nil},
		secretCase{"megolm.ExportedSessionKey", exp, mpub, false, nil},
	)

	// key
	sk := must(key.GenerateSigningKey(r))
	skPub := sk.Public()
	cs = append(cs, secretCase{"key.SigningKey", sk, [][]byte{skPub[:]}, true, nil})

	// keybackup
	dk := must(keybackup.NewDecryptionKey(readN(r, keybackup.KeySize)))
	dkPub := dk.PublicKey()
	rec := dk.RecoveryKey()
	sender, claimed := key.Curve25519{1, 1, 1}, key.Ed25519{2, 2, 2}
	sd := megolm.NewExportedSession(exp, "", sender, claimed)
	cs = append(cs,
		secretCase{"keybackup.DecryptionKey", dk, [][]byte{dkPub[:]}, true, nil},
		secretCase{"keybackup.RecoveryKey", &rec, nil, true, nil},
		secretCase{"megolm.ExportedSession", sd, [][]byte{sender[:], claimed[:], sid[:]}, false, nil},
	)

	// sas
	s1 := must(sas.NewFrom(r))
	s2 := must(sas.NewFrom(r))
	est := must(s1.SetTheirKey(s2.PublicKey()))
	p1, p2 := s1.PublicKey(), s2.PublicKey()
	cs = append(cs,
		secretCase{"sas.SAS", s1, [][]byte{p1[:]}, true, nil},
		secretCase{"sas.Established", est, [][]byte{p1[:], p2[:]}, true, nil},
	)

	// secretstorage, attachment, keyexport, internal/aessha2
	ssk := must(secretstorage.NewKeyFromBytes(readN(r, 32)))
	encReader := must(attachment.NewEncryptingReader(strings.NewReader("attachment")))
	if _, err := io.ReadAll(encReader); err != nil {
		t.Fatal(err)
	}
	encWriter := must(attachment.NewEncryptingWriter(io.Discard))
	if err := encWriter.Close(); err != nil {
		t.Fatal(err)
	}
	_, ef, err := attachment.EncryptFrom(r, []byte("attachment"))
	if err != nil {
		t.Fatal(err)
	}
	kes := megolm.NewExportedSession(exp, "!room:example.org", sender, claimed)
	aesKeys := aessha2.Derive([]byte("secret input keying material"), aessha2.InfoOlm)

	// event: a room key and a forwarded room key over Olm, a room event
	// over Megolm. The payloads hold session keys and message text.
	aliceEd, aliceCurve := alice.Ed25519(), alice.Curve25519()
	olmEvent := func(typ string, content json.RawMessage) *event.OlmEvent {
		enc, _, err := event.EncryptOlmFrom(r, alice, as, event.OlmEncryptParams{
			Sender: "@alice:x", Recipient: "@bob:x", RecipientEd25519: bob.Ed25519(),
			RecipientCurve25519: bob.Curve25519(), Type: typ, Content: content,
		})
		if err != nil {
			t.Fatal(err)
		}
		ev, err := event.DecryptOlm(bob, enc, event.OlmDecryptParams{
			Sender: "@alice:x", OwnUserID: "@bob:x", Sessions: []*olm.Session{bs}, SenderEd25519: &aliceEd,
		})
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	rkSecret := out.SessionKey().Bytes()
	rkEvent := olmEvent("m.room_key", must(event.RoomKeyContent("!room:x", out, false)))
	roomKey := must(event.RoomKeyFromEvent(rkEvent))
	fwdSecret := in.ExportAtFirstKnownIndex().Bytes()
	fwdEvent := olmEvent("m.forwarded_room_key", must(event.ForwardedRoomKeyContent(megolm.NewExportedSession(in.ExportAtFirstKnownIndex(), "!room:x", aliceCurve, aliceEd))))
	fwd := must(event.ForwardedRoomKeyFromEvent(fwdEvent))
	confidential := []byte("a confidential message about a patient")
	roomContent, _, err := event.EncryptMegolm(out, event.MegolmEncryptParams{RoomID: "!room:x", Type: "m.room.message",
		Content: json.RawMessage(`{"msgtype":"m.text","body":"` + string(confidential) + `"}`)})
	if err != nil {
		t.Fatal(err)
	}
	roomEvent := must(event.DecryptMegolm(in, roomContent, event.MegolmDecryptParams{RoomID: "!room:x", Sender: "@alice:x", Session: roomKey.Info}))
	evPublic := append(slices.Clone(accPublic), wire, sid[:])
	for _, p := range slices.Clone(evPublic) {
		evPublic = append(evPublic, []byte(base64.RawStdEncoding.EncodeToString(p)))
	}
	cs = append(cs,
		secretCase{"secretstorage.Key", ssk, nil, true, nil},
		secretCase{"attachment.EncryptingReader", encReader, nil, true, [][]byte{efKey(t, encReader.File)}},
		secretCase{"attachment.EncryptingWriter", encWriter, nil, true, [][]byte{efKey(t, encWriter.File)}},
		secretCase{"attachment.EncryptedFile", ef, [][]byte{ef.IV[:], ef.SHA256[:]}, false, nil},
		secretCase{"megolm.ExportedSession with a room", kes, append(mpub, sender[:], claimed[:]), false, nil},
		secretCase{"aessha2.Keys", &aesKeys, nil, true, nil},
		secretCase{"event.OlmEvent (m.room_key)", rkEvent, nil, false, [][]byte{rkSecret}},
		secretCase{"event.OlmEvent (m.forwarded_room_key)", fwdEvent, nil, false, [][]byte{fwdSecret}},
		secretCase{"event.RoomKey", roomKey, evPublic, false, [][]byte{rkSecret}},
		secretCase{"event.ForwardedRoomKey", fwd, evPublic, false, [][]byte{fwdSecret}},
		secretCase{"event.RoomEvent", roomEvent, nil, false, [][]byte{confidential}},
	)
	return cs
}

// efKey returns the key of the EncryptedFile that file returns, as its
// wire form (MarshalJSON) shows it.
func efKey(t *testing.T, file func() (*attachment.EncryptedFile, error)) []byte {
	f := must(file())
	var j struct{ Key struct{ K string } }
	if err := json.Unmarshal(must(f.MarshalJSON()), &j); err != nil {
		t.Fatal(err)
	}
	return must(base64.RawURLEncoding.DecodeString(j.Key.K))
}

// secretBytes collects the byte arrays and slices of at least 16 bytes
// reachable from v that are not all zero and not contained in public.
func secretBytes(v reflect.Value, public [][]byte) [][]byte {
	var out [][]byte
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value, depth int)
	walk = func(v reflect.Value, depth int) {
		if depth > 12 || !v.IsValid() {
			return
		}
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			walk(v.Elem(), depth+1)
		case reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem(), depth+1)
			}
		case reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i), depth+1)
			}
		case reflect.Array, reflect.Slice:
			if v.Type().Elem().Kind() == reflect.Uint8 {
				b := make([]byte, v.Len())
				for i := range b {
					b[i] = byte(v.Index(i).Uint())
				}
				out = append(out, b)
				return
			}
			for i := range v.Len() {
				walk(v.Index(i), depth+1)
			}
		}
	}
	walk(v, 0)
	var secrets [][]byte
	blob := bytes.Join(public, []byte{0})
	for _, b := range out {
		if len(b) < 16 || bytes.Count(b, []byte{0}) == len(b) {
			continue
		}
		// A secret may embed a public part (ed25519.PrivateKey is
		// seed ‖ public): check each 16-byte window that is not public.
		for i := 0; i+16 <= len(b); i += 16 {
			w := b[i : i+16]
			if !bytes.Contains(blob, w) {
				secrets = append(secrets, w)
			}
		}
	}
	return secrets
}

func TestRedactionEverySecretType(t *testing.T) {
	for _, c := range catalogue(t) {
		rv := reflect.ValueOf(c.v)
		secrets := secretBytes(rv, c.public)
		if c.secrets != nil {
			secrets = c.secrets
		}
		if len(secrets) == 0 {
			t.Errorf("%s: no secret bytes found by reflection (catalogue entry is wrong)", c.name)
			continue
		}
		redacted := Redacted
		switch {
		case c.name == "attachment.EncryptedFile":
			// Its MarshalJSON writes the key: the JSON form is the spec's
			// wire form, to be put only into content that is then
			// encrypted. fmt and a top-level slog attribute (LogValue)
			// redact it; encoding/json, and slog's JSON handler for a
			// value nested in a slice, do not.
			redacted = func(t testing.TB, v any, secrets ...[]byte) {
				t.Helper()
				if _, nested := v.([]any); nested {
					redactedFmt(t, v, forms(t, secrets))
					return
				}
				RedactedInLogs(t, v, secrets...)
			}
		case strings.HasPrefix(c.name, "event."):
			// The event layer's decrypted events redact in fmt only:
			// log/slog's JSON handler and encoding/json show their
			// exported Content and Payload, until the event package
			// gives them LogValue methods.
			redacted = func(t testing.TB, v any, secrets ...[]byte) {
				t.Helper()
				redactedFmt(t, v, forms(t, secrets))
			}
		}
		t.Run(c.name, func(t *testing.T) {
			redacted(t, c.v, secrets...)
			redacted(t, rv.Elem().Interface(), secrets...)
			redacted(t, struct{ Field any }{rv.Elem().Interface()}, secrets...)
			redacted(t, []any{c.v}, secrets...)
			redacted(t, fmt.Errorf("wrapped: %v", c.v).Error(), secrets...)
		})
	}
}

// TestNoJSONTagsOnSecretState: no struct reachable from a secret state type
// declares a JSON tag on an unexported field or on a field that holds key
// material. (That encoding/json shows no secret of any catalogued value is
// checked by Redacted in TestRedactionEverySecretType.)
func TestNoJSONTagsOnSecretState(t *testing.T) {
	for _, c := range catalogue(t) {
		if !c.state {
			continue
		}
		checkTags(t, c.name, reflect.TypeOf(c.v), map[reflect.Type]bool{})
	}
}

func checkTags(t *testing.T, name string, typ reflect.Type, seen map[reflect.Type]bool) {
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Array {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct || seen[typ] || !strings.HasPrefix(typ.PkgPath(), "github.com/sicher-go/sicher") {
		return
	}
	seen[typ] = true
	for i := range typ.NumField() {
		f := typ.Field(i)
		if tag, ok := f.Tag.Lookup("json"); ok {
			t.Errorf("%s: field %s.%s has JSON tag %q", name, typ, f.Name, tag)
		}
		checkTags(t, name, f.Type, seen)
	}
}
