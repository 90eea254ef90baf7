package bench

import (
	"bytes"
	"encoding/base64"
	"testing"

	"maunium.net/go/mautrix/crypto/libolm"
	"maunium.net/go/mautrix/id"

	"github.com/sicher-go/sicher/bench/internal/olmc"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/sas"
)

// These tests check that the implementations benchmarked side by side do
// the same job: each one reads what the others write.

func TestCompatMegolm(t *testing.T) {
	out := must(megolm.NewOutboundSession())
	key := []byte(out.SessionKey().Base64())
	var msgs [][]byte
	for _, n := range sizes {
		msgs = append(msgs, []byte(base64.RawStdEncoding.EncodeToString(out.Encrypt(nil, payload(n)))))
	}
	for pn, p := range peers {
		in := must(p.newInboundGroup(key))
		for i, m := range msgs {
			pt, idx, err := in.Decrypt(m)
			if err != nil || int(idx) != i || !bytes.Equal(pt, payload(sizes[i])) {
				t.Fatalf("%s cannot decrypt sicher's Megolm message %d: %v", pn, i, err)
			}
		}
	}
	// and sicher reads the peers' pickles of an inbound session
	for pn, p := range peers {
		in := must(p.newInboundGroup(megolmFix.sessionKey))
		pkl := must(in.Pickle(pickleKey))
		s, err := megolm.UnpickleLibolmInboundSession(pickleKey, string(pkl))
		if err != nil {
			t.Fatalf("sicher cannot read %s's inbound session pickle: %v", pn, err)
		}
		if _, _, err := decryptMegolmB64(s, string(megolmFix.msgs[100])); err != nil {
			t.Fatalf("unpickled %s session: %v", pn, err)
		}
		if got := libolmPickle(s, pickleKey); got != string(pkl) {
			t.Fatalf("%s inbound session pickle does not round-trip byte for byte through sicher", pn)
		}
	}
}

func TestCompatOlmWithLibolm(t *testing.T) {
	// sicher Alice → libolm Bob, and back.
	alice := must(olm.NewAccount())
	bob := must(libolm.NewAccount())
	_, bobID, _ := bob.IdentityKeys()
	otk := firstOTK(bob)
	s := must(alice.NewOutboundSession(must(key.ParseCurve25519(string(bobID))), must(key.ParseCurve25519(string(otk)))))
	m := must(s.Encrypt(nil, []byte("hello libolm")))
	body := base64.RawStdEncoding.EncodeToString(m.Body)
	bs := must(bob.NewInboundSession(body))
	if pt, err := bs.Decrypt(body, id.OlmMsgType(m.Type)); err != nil || string(pt) != "hello libolm" {
		t.Fatalf("libolm cannot decrypt sicher's pre-key message: %v", err)
	}
	typ, reply, _ := bs.Encrypt(payload(1024))
	raw := must(base64.RawStdEncoding.DecodeString(string(reply)))
	if pt, err := s.Decrypt(nil, olm.EncryptedMessage{Type: int(typ), Body: raw}); err != nil || !bytes.Equal(pt, payload(1024)) {
		t.Fatalf("sicher cannot decrypt libolm's reply: %v", err)
	}
	// libolm's account pickle in sicher
	pkl := must(bob.Pickle(pickleKey))
	a, err := olm.UnpickleLibolmAccount(pickleKey, string(pkl))
	if err != nil || a.Curve25519().String() != string(bobID) {
		t.Fatalf("sicher cannot read libolm's account pickle: %v", err)
	}
}

func TestCompatSAS(t *testing.T) {
	pa, pb := randBytes(32), randBytes(32)
	la, lb := must(olmc.NewSASFrom(pa)), must(olmc.NewSASFrom(pb))
	sa := must(sas.NewFrom(bytes.NewReader(pa)))
	sb := must(sas.NewFrom(bytes.NewReader(pb)))
	if sa.PublicKey().String() != string(la.PublicKey()) {
		t.Fatal("SAS public keys differ from libolm's for the same private key")
	}
	if la.SetTheirKey(lb.PublicKey()) != nil {
		t.Fatal("libolm set key")
	}
	ea := must(sa.SetTheirKey(sb.PublicKey()))
	lbytes := must(la.GenerateBytes(sasInfo, 6))
	if got, err := ea.Bytes(string(sasInfo), 6); err != nil || !bytes.Equal(got, lbytes) {
		t.Fatal("SAS bytes differ from libolm's")
	}
	lmac := must(la.MAC(sasMACInput, sasMACInfo))
	if got := must(ea.MAC(sas.HKDFHMACSHA256V2, sasMACInput, string(sasMACInfo))); got != string(lmac) {
		t.Fatalf("SAS v2 MAC differs from libolm's: %s vs %s", got, lmac)
	}
}

func TestCompatBackup(t *testing.T) {
	priv := randBytes(32)
	dec, pub, err := olmc.NewPkDecryption(priv)
	if err != nil {
		t.Fatal(err)
	}
	d := must(keybackup.Encrypt(must(key.ParseCurve25519(string(pub))), backupPayload))
	pt, err := dec.Decrypt([]byte(d.Ephemeral.String()), []byte(base64.RawStdEncoding.EncodeToString(d.MAC[:])), []byte(base64.RawStdEncoding.EncodeToString(d.Ciphertext)))
	if err != nil || !bytes.Equal(pt, backupPayload) {
		t.Fatalf("libolm cannot decrypt sicher's backup ciphertext: %v", err)
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
