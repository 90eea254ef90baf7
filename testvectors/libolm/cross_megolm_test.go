package libolm_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/sicher-go/sicher/internal/pickle"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/sas"
	"github.com/sicher-go/sicher/testvectors/libolm"
)

var boundaries = []uint32{0, 1, 255, 256, 65535, 65536, 1 << 24, 0xfffffffe, 0xffffffff}

// libolmOutboundAt builds a libolm outbound session at index n from random
// (the generator's method: libolm's own pickle with the ratchet advanced by
// libolm's megolm_advance_to).
func libolmOutboundAt(t *testing.T, random []byte, n uint32) *libolm.OutboundGroupSession {
	t.Helper()
	s, err := libolm.NewOutboundGroupSession(random)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		return s
	}
	k := []byte("k")
	pt, err := pickle.OpenLibolm(k, s.Pickle(k))
	if err != nil {
		t.Fatal(err)
	}
	var d [128]byte
	copy(d[:], random)
	m := libolm.MegolmInit(d, 0)
	m.AdvanceTo(n)
	copy(pt[4:], m.Data[:])
	binary.BigEndian.PutUint32(pt[132:], n)
	s2, err := libolm.UnpickleOutboundGroupSession(k, pickle.SealLibolm(k, pt))
	if err != nil {
		t.Fatal(err)
	}
	return s2
}

// TestCrossMegolm runs outbound sessions at the boundary indices on both
// implementations (sicher's restored from libolm's pickle, and the reverse),
// requires identical session keys, messages and pickles, and decrypts every
// message on both inbound sides, including after export/import and with
// tampered messages.
func TestCrossMegolm(t *testing.T) {
	for i, n := range boundaries {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			r := newRNG(fmt.Sprintf("cross megolm %d", i))
			random := r.bytes(160)
			lo := libolmOutboundAt(t, random, n)
			key := r.bytes(r.intn(40))
			so, err := megolm.UnpickleLibolmOutboundSession(key, lo.Pickle(key))
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				fresh, err := megolm.NewOutboundSessionFrom(bytes.NewReader(random))
				if err != nil {
					t.Fatal(err)
				}
				if libolmPickle(fresh, key) != lo.Pickle(key) {
					t.Fatal("NewOutboundSession from libolm's random differs from libolm's session")
				}
			}
			if libolmPickle(so, key) != lo.Pickle(key) {
				t.Fatal("outbound pickles differ")
			}
			if so.SessionKey().Base64() != lo.SessionKey() || so.SessionID().String() != lo.ID() || so.MessageIndex() != lo.MessageIndex() {
				t.Fatal("session keys differ")
			}
			lin, err := libolm.NewInboundGroupSession(lo.SessionKey())
			if err != nil {
				t.Fatal(err)
			}
			sk, err := parseSessionKeyText(lo.SessionKey())
			if err != nil {
				t.Fatal(err)
			}
			sin, err := megolm.NewInboundSession(sk)
			if err != nil {
				t.Fatal(err)
			}
			if libolmPickle(sin, key) != lin.Pickle(key) {
				t.Fatal("inbound pickles differ")
			}
			count := 4
			if n >= 0xfffffffe {
				count = int(0xffffffff-n) + 1 // up to the last index
			}
			var msgs []string
			for range count {
				pt := r.bytes(r.intn(300))
				lm, err := lo.Encrypt(pt)
				if err != nil {
					t.Fatal(err)
				}
				sm := base64.RawStdEncoding.EncodeToString(so.Encrypt(nil, pt))
				if lm != sm {
					t.Fatalf("messages differ at index %d", lo.MessageIndex()-1)
				}
				msgs = append(msgs, lm)
			}
			// Decrypt out of order on both inbound sessions.
			for _, k := range []int{len(msgs) - 1, 0, len(msgs) / 2} {
				lpt, lidx, lerr := lin.Decrypt(msgs[k])
				spt, sidx, serr := decryptMegolmB64(sin, msgs[k])
				if lerr != nil || serr != nil || !bytes.Equal(lpt, spt) || lidx != sidx {
					t.Fatalf("decrypt %d: libolm %v %d, sicher %v %d", k, lerr, lidx, serr, sidx)
				}
			}
			// Export at a later index: earlier messages are unknown to both.
			if len(msgs) > 1 {
				lexp, err := lin.Export(n + 1)
				if err != nil {
					t.Fatal(err)
				}
				sexp, err := sin.Export(n + 1)
				if err != nil {
					t.Fatal(err)
				}
				if lexp != sexp.Base64() {
					t.Fatal("exports differ")
				}
				limp, err := libolm.ImportInboundGroupSession(sexp.Base64())
				if err != nil {
					t.Fatal(err)
				}
				ek, err := parseExportedKeyText(lexp)
				if err != nil {
					t.Fatal(err)
				}
				simp, err := megolm.ImportInboundSession(ek)
				if err != nil {
					t.Fatal(err)
				}
				_, _, lerr := limp.Decrypt(msgs[0])
				_, _, serr := decryptMegolmB64(simp, msgs[0])
				if lerr == nil || serr == nil {
					t.Fatalf("message before the export decrypted: libolm %v sicher %v", lerr, serr)
				}
				lpt, _, lerr := limp.Decrypt(msgs[1])
				spt, _, serr := decryptMegolmB64(simp, msgs[1])
				if lerr != nil || serr != nil || !bytes.Equal(lpt, spt) {
					t.Fatal("decrypt after import differs")
				}
				// Pickles of imported sessions swap both ways.
				if libolmPickle(simp, key) != limp.Pickle(key) && simp.IsVerified() == limp.IsVerified() {
					t.Fatal("imported inbound pickles differ")
				}
			}
			// Tampering: both reject, both unchanged.
			raw, _ := b64.DecodeString(msgs[0])
			for range 20 {
				b := bytes.Clone(raw)
				b[r.intn(len(b))] ^= byte(1 << r.intn(8))
				_, _, lerr := lin.Decrypt(b64.EncodeToString(b))
				_, _, serr := decryptMegolmB64(sin, b64.EncodeToString(b))
				if (lerr == nil) != (serr == nil) {
					t.Fatalf("tampered message: libolm %v, sicher %v", lerr, serr)
				}
			}
			// The inbound pickles swap: sicher restores libolm's and back.
			back, err := megolm.UnpickleLibolmInboundSession(key, lin.Pickle(key))
			if err != nil {
				t.Fatal(err)
			}
			if libolmPickle(back, key) != lin.Pickle(key) {
				t.Fatal("libolm -> sicher -> libolm inbound pickle not byte-identical")
			}
			lback, err := libolm.UnpickleInboundGroupSession(key, libolmPickle(sin, key))
			if err != nil {
				t.Fatal(err)
			}
			if lback.FirstKnownIndex() != sin.FirstKnownIndex() || lback.ID() != sin.SessionID().String() {
				t.Fatal("libolm restored sicher's inbound pickle differently")
			}
		})
	}
}

// TestCrossMegolmRandomIndices encrypts at pseudo-random indices across the
// whole range on both implementations.
func TestCrossMegolmRandomIndices(t *testing.T) {
	r := newRNG("cross megolm random indices")
	for i := range 40 {
		var b [4]byte
		copy(b[:], r.bytes(4))
		n := binary.BigEndian.Uint32(b[:]) >> (i % 32)
		if n == 0xffffffff {
			n--
		}
		random := r.bytes(160)
		lo := libolmOutboundAt(t, random, n)
		so, err := megolm.UnpickleLibolmOutboundSession(nil, lo.Pickle(nil))
		if err != nil {
			t.Fatal(err)
		}
		pt := r.bytes(r.intn(100))
		lm, _ := lo.Encrypt(pt)
		if sm := base64.RawStdEncoding.EncodeToString(so.Encrypt(nil, pt)); sm != lm {
			t.Fatalf("index %d: messages differ", n)
		}
		sk, _ := parseSessionKeyText(libolmSessionKeyAt(t, random, 0))
		sin, err := megolm.NewInboundSession(sk)
		if err != nil {
			t.Fatal(err)
		}
		got, idx, err := decryptMegolmB64(sin, lm)
		if err != nil || idx != n || !bytes.Equal(got, pt) {
			t.Fatalf("index %d from a session at 0: %v %d", n, err, idx)
		}
	}
}

func libolmSessionKeyAt(t *testing.T, random []byte, n uint32) string {
	return libolmOutboundAt(t, random, n).SessionKey()
}

// TestCrossSAS compares SAS on both implementations for random key pairs:
// public keys, HKDF bytes, emoji and decimals, and the three MAC methods.
func TestCrossSAS(t *testing.T) {
	r := newRNG("cross sas")
	methods := []struct {
		m    sas.MACMethod
		name string
	}{{sas.HKDFHMACSHA256V2, "v2"}, {sas.LegacyHKDFHMACSHA256, "legacy"}, {sas.LegacyHMACSHA256, "long kdf"}}
	for i := range 200 {
		a, b := r.bytes(32), r.bytes(32)
		la, err := libolm.NewSAS(a)
		if err != nil {
			t.Fatal(err)
		}
		lb, _ := libolm.NewSAS(b)
		sa, err := sas.NewFrom(bytes.NewReader(a))
		if err != nil {
			t.Fatal(err)
		}
		if sa.PublicKey().String() != la.PublicKey() {
			t.Fatal("SAS public keys differ")
		}
		if err := la.SetTheirKey(lb.PublicKey()); err != nil {
			t.Fatal(err)
		}
		sbPub, _ := sas.NewFrom(bytes.NewReader(b))
		est, err := sa.SetTheirKey(sbPub.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		info := string(r.bytes(r.intn(100)))
		n := 1 + r.intn(200)
		lbytes, _ := la.GenerateBytes([]byte(info), n)
		sbytes, err := est.Bytes(info, n)
		if err != nil || !bytes.Equal(lbytes, sbytes) {
			t.Fatalf("bytes differ: %v", err)
		}
		six, _ := la.GenerateBytes([]byte(info), 6)
		if got, err := est.Bytes(info, 6); err != nil || !bytes.Equal(got, six) {
			t.Fatal("short auth bytes differ")
		}
		input := r.bytes(r.intn(300))
		for _, m := range methods {
			var want string
			switch m.m {
			case sas.HKDFHMACSHA256V2:
				want, _ = la.CalculateMACFixedBase64(input, []byte(info))
			case sas.LegacyHKDFHMACSHA256:
				want, _ = la.CalculateMAC(input, []byte(info))
			default:
				want, _ = la.CalculateMACLongKDF(input, []byte(info))
			}
			got, err := est.MAC(m.m, input, info)
			if err != nil || got != want {
				t.Fatalf("#%d %s MAC: sicher %s %v, libolm %s", i, m.name, got, err, want)
			}
			if err := est.VerifyMAC(m.m, input, info, want); err != nil {
				t.Fatalf("%s: sicher rejects libolm's MAC: %v", m.name, err)
			}
		}
		la.Free()
		lb.Free()
	}
}

// TestCrossPK encrypts backup entries on both with the same ephemeral key
// (identical bytes), decrypts each side's output on the other, and swaps
// PkDecryption pickles.
func TestCrossPK(t *testing.T) {
	r := newRNG("cross pk")
	for i := range 150 {
		priv := r.bytes(32)
		ld, err := libolm.NewPkDecryption(priv)
		if err != nil {
			t.Fatal(err)
		}
		sd, err := keybackup.NewDecryptionKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		if sd.PublicKey().String() != ld.PublicKey {
			t.Fatal("public keys differ")
		}
		pt, eph := r.bytes(r.intn(500)), r.bytes(32)
		ct, mac, e, err := libolm.PkEncrypt(ld.PublicKey, pt, eph)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := keybackup.EncryptFrom(bytes.NewReader(eph), sd.PublicKey(), pt)
		if err != nil {
			t.Fatal(err)
		}
		if base64.RawStdEncoding.EncodeToString(enc.Ciphertext) != ct || base64.RawStdEncoding.EncodeToString(enc.MAC[:]) != mac || enc.Ephemeral.String() != e {
			t.Fatal("PK encryption differs")
		}
		d, err := keybackup.ParseEncryptedSessionData(e, ct, mac)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sd.Decrypt(d)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("sicher cannot decrypt libolm's entry: %v", err)
		}
		// Tampered MAC or ephemeral: both reject.
		mraw, _ := b64.DecodeString(mac)
		mraw[r.intn(8)] ^= 1
		_, lerr := ld.Decrypt(e, b64.EncodeToString(mraw), ct)
		d2, _ := keybackup.ParseEncryptedSessionData(e, ct, b64.EncodeToString(mraw))
		_, serr := sd.Decrypt(d2)
		if lerr == nil || serr == nil {
			t.Fatalf("bad MAC accepted: libolm %v sicher %v", lerr, serr)
		}
		k := r.bytes(i % 33)
		if libolmPickle(sd, k) != ld.Pickle(k) {
			t.Fatal("PkDecryption pickles differ")
		}
		back, err := keybackup.UnpickleLibolm(k, ld.Pickle(k))
		if err != nil || !back.Equal(sd) {
			t.Fatalf("sicher cannot restore libolm's PkDecryption pickle: %v", err)
		}
		ld.Free()
		// PkSigning is key.SigningKey.
		seed, msg := r.bytes(32), r.bytes(r.intn(200))
		lpub, lsig, err := libolm.PkSign(seed, msg)
		if err != nil {
			t.Fatal(err)
		}
		ss, err := key.NewSigningKey(seed) // libolm's PkSigning
		if err != nil {
			t.Fatal(err)
		}
		if ss.Public().String() != lpub || ss.Sign(msg).String() != lsig {
			t.Fatal("PkSigning differs")
		}
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

// libolmPickle is PickleLibolm of a Megolm session or backup key, whose
// libolm form cannot fail.
func libolmPickle(s interface{ PickleLibolm([]byte) (string, error) }, pickleKey []byte) string {
	p, err := s.PickleLibolm(pickleKey)
	if err != nil {
		panic(err)
	}
	return p
}

func parseSessionKeyText(s string) (*megolm.SessionKey, error) {
	k := new(megolm.SessionKey)
	if err := k.UnmarshalText([]byte(s)); err != nil {
		return nil, err
	}
	return k, nil
}

func parseExportedKeyText(s string) (*megolm.ExportedSessionKey, error) {
	k := new(megolm.ExportedSessionKey)
	if err := k.UnmarshalText([]byte(s)); err != nil {
		return nil, err
	}
	return k, nil
}
