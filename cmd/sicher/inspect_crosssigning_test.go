package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/signing"
)

// fieldOf returns the value of r's field name, or nil.
func fieldOf(r *report, name string) any {
	for _, f := range r.Fields {
		if f.name == name {
			return f.value
		}
	}
	return nil
}

// partTitled returns r's part whose title starts with prefix.
func partTitled(t *testing.T, r *report, prefix string) *report {
	t.Helper()
	for _, p := range r.Parts {
		if strings.HasPrefix(p.Title, prefix) {
			return p
		}
	}
	t.Fatalf("%q has no part %q", r.Title, prefix)
	return nil
}

func mustMarshal(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// crossSigned is a user with two devices, DEV1 cross-signed and DEV2 not,
// and the three cross-signing keys, built with package signing.
type crossSigned struct {
	dev1, dev2    *signing.DeviceKeys
	msk, ssk, usk *signing.CrossSigningKey
}

func newCrossSigned(t testing.TB, user string) crossSigned {
	t.Helper()
	device := func(id string) (*signing.DeviceKeys, *olm.Account) {
		a, err := olm.NewAccount()
		if err != nil {
			t.Fatal(err)
		}
		dk, err := signing.NewDeviceKeys(user, id, nil, a.Curve25519(), a.Ed25519(), a)
		if err != nil {
			t.Fatal(err)
		}
		return dk, a
	}
	signer := func() *key.SigningKey {
		s, err := key.GenerateSigningKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	var c crossSigned
	dev1, acct1 := device("DEV1")
	c.dev1 = dev1
	c.dev2, _ = device("DEV2")
	mskSigner, sskSigner, uskSigner := signer(), signer(), signer()
	c.msk = signing.NewCrossSigningKey(user, signing.UsageMaster, mskSigner.Public())
	c.msk.AddSignature(user, "DEV1", acct1)
	c.ssk = signing.NewCrossSigningKey(user, signing.UsageSelfSigning, sskSigner.Public())
	c.ssk.AddSignature(user, c.msk.KeyName(), mskSigner)
	c.usk = signing.NewCrossSigningKey(user, signing.UsageUserSigning, uskSigner.Public())
	c.usk.AddSignature(user, c.msk.KeyName(), mskSigner)
	c.dev1.AddSignature(user, c.ssk.KeyName(), sskSigner)
	return c
}

func TestInspectKeysQuery(t *testing.T) {
	const user = "@alice:example.org"
	c := newCrossSigned(t, user)
	query := func(ssk json.RawMessage) []byte {
		return mustMarshal(t, map[string]any{
			"device_keys":       map[string]any{user: map[string]any{"DEV1": c.dev1, "DEV2": c.dev2}},
			"master_keys":       map[string]any{user: c.msk},
			"self_signing_keys": map[string]any{user: ssk},
			"user_signing_keys": map[string]any{user: c.usk},
			"failures":          map[string]any{},
		})
	}
	r, err := inspect(query(mustMarshal(t, c.ssk)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Format != "keys.query" || r.Invalid || fieldOf(r, "users") != 1 || fieldOf(r, "devices") != 2 {
		t.Fatalf("report %+v", r)
	}
	u := partTitled(t, r, "user "+user)
	if got := fieldOf(partTitled(t, u, "self-signing key"), "signed by master key"); got != "valid" {
		t.Errorf("self-signing key: %v", got)
	}
	if got := fieldOf(partTitled(t, u, "user-signing key"), "signed by master key"); got != "valid" {
		t.Errorf("user-signing key: %v", got)
	}
	msk := partTitled(t, u, "master key")
	if sigs := fieldOf(msk, "signatures").([]string); len(sigs) != 1 || sigs[0] != user+" ed25519:DEV1: valid" {
		t.Errorf("master key signatures %q", sigs)
	}
	d1, d2 := partTitled(t, u, "device DEV1"), partTitled(t, u, "device DEV2")
	if fieldOf(d1, "self-signature") != "valid" || fieldOf(d1, "cross-signed") != "yes, by the self-signing key" {
		t.Errorf("DEV1 %+v", d1.Fields)
	}
	if got, _ := fieldOf(d2, "cross-signed").(string); !strings.HasPrefix(got, "no") {
		t.Errorf("DEV2 cross-signed = %q", got)
	}
	sigs := fieldOf(d1, "signatures").([]string)
	if len(sigs) != 2 || !strings.HasSuffix(sigs[0], ": valid") || !strings.HasSuffix(sigs[1], ": valid") {
		t.Errorf("DEV1 signatures %q", sigs)
	}

	// A self-signing key signed by another key breaks the chain.
	other := newCrossSigned(t, user)
	forged := signing.NewCrossSigningKey(user, signing.UsageSelfSigning, other.ssk.Key)
	r, err = inspect(query(mustMarshal(t, forged)), nil)
	if err != nil {
		t.Fatal(err)
	}
	u = partTitled(t, r, "user "+user)
	if got, _ := fieldOf(partTitled(t, u, "self-signing key"), "signed by master key").(string); !r.Invalid || !strings.HasPrefix(got, "INVALID") {
		t.Errorf("forged self-signing key: invalid %v, %q", r.Invalid, got)
	}
	if got := fieldOf(partTitled(t, u, "device DEV1"), "cross-signed"); got != "cannot tell: no valid self-signing key" {
		t.Errorf("DEV1 under a forged chain: %v", got)
	}
}

func TestInspectDeviceSigningUpload(t *testing.T) {
	const user = "@bob:example.org"
	c := newCrossSigned(t, user)
	body := mustMarshal(t, map[string]any{"master_key": c.msk, "self_signing_key": c.ssk, "user_signing_key": c.usk})
	r, err := inspect(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Format != "keys.device_signing_upload" || r.Invalid || len(r.Parts) != 3 {
		t.Fatalf("report %+v", r)
	}
	if got := fieldOf(partTitled(t, r, "user-signing-key"), "signed by master key"); got != "valid" {
		t.Errorf("user-signing key: %v", got)
	}
	// A master key with the wrong usage.
	wrong := signing.NewCrossSigningKey(user, signing.UsageSelfSigning, c.msk.Key)
	r, _ = inspect(mustMarshal(t, map[string]any{"master_key": wrong}), nil)
	if !r.Invalid {
		t.Errorf("master key with usage self_signing: %+v", r)
	}

	// One cross-signing key on its own.
	r, err = inspect(mustMarshal(t, c.ssk), nil)
	if err != nil || r.Format != "cross_signing_key" || fieldOf(r, "ed25519") != c.ssk.Key.String() || fieldOf(r, "user id") != user {
		t.Fatalf("cross-signing key: %+v, %v", r, err)
	}
}

func TestInspectRoomKeys(t *testing.T) {
	backupKey, err := keybackup.GenerateDecryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	out, err := megolm.NewOutboundSession()
	if err != nil {
		t.Fatal(err)
	}
	in, err := megolm.NewInboundSession(out.SessionKey())
	if err != nil {
		t.Fatal(err)
	}
	exported, err := in.Export(0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := olm.NewAccount()
	if err != nil {
		t.Fatal(err)
	}
	sd := megolm.NewExportedSession(exported, "!room:example.org", a.Curve25519(), a.Ed25519())
	enc, err := keybackup.EncryptSession(backupKey.PublicKey(), sd)
	if err != nil {
		t.Fatal(err)
	}
	entry := keybackup.KeyBackupData{FirstMessageIndex: 0, ForwardedCount: 1, IsVerified: true, SessionData: enc}
	sid := out.SessionID().String()
	body := mustMarshal(t, map[string]any{"rooms": map[string]any{"!room:example.org": map[string]any{"sessions": map[string]any{sid: entry}}}})

	r, err := inspect(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Format != "key_backup.room_keys" || r.Invalid || fieldOf(r, "rooms") != 1 || fieldOf(r, "sessions") != 1 {
		t.Fatalf("report %+v", r)
	}
	s := partTitled(t, partTitled(t, r, "room !room:example.org"), "session "+sid)
	if fieldOf(s, "forwarded count") != 1 || fieldOf(s, "is verified") != true || fieldOf(s, "ephemeral key") != enc.Ephemeral.String() {
		t.Errorf("session %+v", s.Fields)
	}
	var text strings.Builder
	r.write(&text, "")
	if strings.Contains(text.String(), b64.Encode(enc.Ciphertext)) || strings.Contains(text.String(), exported.Base64()) {
		t.Error("the report shows the ciphertext or the session key")
	}

	// The body of /room_keys/keys/{roomId}: sessions only.
	room := mustMarshal(t, map[string]any{"sessions": map[string]any{sid: entry}})
	if r, err := inspect(room, nil); err != nil || r.Format != "key_backup.room_keys" || fieldOf(r, "sessions") != 1 {
		t.Fatalf("room body: %+v, %v", r, err)
	}
}
