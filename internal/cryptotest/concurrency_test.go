package cryptotest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/sicher-go/sicher/attachment"
	"github.com/sicher-go/sicher/internal/aessha2"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/sas"
	"github.com/sicher-go/sicher/secretstorage"
)

// Concurrency. What the packages document as safe for concurrent
// use, and what this file hammers from many goroutines (run under -race by
// .ci/run):
//
//	key.Verifier, key.SigningKey (Sign)            immutable after creation
//	megolm.SessionKey, megolm.ExportedSessionKey   immutable
//	keybackup.DecryptionKey, RecoveryKey; key.SigningKey
//	sas.SAS, sas.Established
//	secretstorage.Key
//	attachment.EncryptedFile (reads: Decrypt)
//	internal/aessha2.Keys
//	event.ReplayGuard: event TestReplayGuardConcurrent (owner's test)
//
// Documented NOT safe: olm.Account, olm.Session, ratchet.Ratchet,
// megolm.OutboundSession, megolm.InboundSession (Decrypt moves its latest
// ratchet forward). TestInboundSessionSharedUnderMutex shows the pattern
// the documentation asks of callers, and the Clone-per-goroutine pattern.

const (
	goroutines = 8
	iterations = 40
)

func hammer(t *testing.T, name string, f func(g, i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range iterations {
				if err := f(g, i); err != nil {
					errs <- fmt.Errorf("%s: goroutine %d, iteration %d: %w", name, g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestConcurrentDocumentedSafe(t *testing.T) {
	r := seeded("concurrency")

	sk := must(key.GenerateSigningKey(r))
	ver := must(key.NewVerifier(sk.Public()))
	hammer(t, "key.SigningKey/Verifier", func(g, i int) error {
		msg := fmt.Appendf(nil, "%d/%d", g, i)
		if err := ver.Verify(msg, sk.Sign(msg)); err != nil {
			return err
		}
		return nil
	})

	out := must(megolm.NewOutboundSessionFrom(r))
	sessKey := out.SessionKey()
	var msgs [][]byte
	for range 4 {
		msgs = append(msgs, out.Encrypt(nil, []byte("concurrent")))
	}
	in := must(megolm.NewInboundSession(sessKey))
	exp := in.ExportAtFirstKnownIndex()
	hammer(t, "megolm.SessionKey/ExportedSessionKey", func(g, i int) error {
		var s *megolm.InboundSession
		var err error
		if i%2 == 0 {
			s, err = megolm.NewInboundSession(sessKey)
		} else {
			s, err = megolm.ImportInboundSession(exp)
		}
		if err != nil {
			return err
		}
		if _, err := megolm.ParseExportedSessionKey(exp.Bytes()); err != nil {
			return err
		}
		pt, idx, err := s.Decrypt(nil, msgs[(g+i)%len(msgs)])
		if err != nil || string(pt) != "concurrent" || int(idx) != (g+i)%len(msgs) {
			return fmt.Errorf("decrypt: %q %d %v", pt, idx, err)
		}
		return nil
	})

	dk := must(keybackup.NewDecryptionKey(readN(r, keybackup.KeySize)))
	rec := dk.RecoveryKey()
	pks := must(key.GenerateSigningKey(r))
	enc := must(keybackup.EncryptFrom(r, dk.PublicKey(), []byte(`{"session":1}`)))
	encSession := must(keybackup.EncryptSessionFrom(r, dk.PublicKey(), megolm.NewExportedSession(exp, "", key.Curve25519{1}, key.Ed25519{2})))
	hammer(t, "keybackup", func(g, i int) error {
		pt, err := dk.Decrypt(enc)
		if err != nil || string(pt) != `{"session":1}` {
			return fmt.Errorf("decrypt: %q %v", pt, err)
		}
		if rec.DecryptionKey().PublicKey() != dk.PublicKey() || rec.Encode() == "" {
			return fmt.Errorf("recovery key")
		}
		if res := dk.DecryptAll(context.Background(), []keybackup.EncryptedSessionData{encSession}); len(res) != 1 || res[0].Err != nil {
			return fmt.Errorf("DecryptAll: %+v", res)
		}
		msg := []byte("backup auth data")
		return pks.Public().Verify(msg, pks.Sign(msg))
	})

	s1, s2 := must(sas.NewFrom(r)), must(sas.NewFrom(r))
	e2 := must(s2.SetTheirKey(s1.PublicKey()))
	devA, devB := sas.Device{UserID: "@a:x", DeviceID: "A"}, sas.Device{UserID: "@b:x", DeviceID: "B"}
	keys := map[string]string{"ed25519:A": "AAAA"}
	hammer(t, "sas", func(g, i int) error {
		e1, err := s1.SetTheirKey(s2.PublicKey()) // a SAS shared by goroutines
		if err != nil {
			return err
		}
		if e1.Emoji("info") != e2.Emoji("info") {
			return fmt.Errorf("short auth strings differ")
		}
		mc, err := e1.MACKeys(sas.HKDFHMACSHA256V2, devA, devB, "txn", keys)
		if err != nil {
			return err
		}
		_, err = e2.VerifyKeys(sas.HKDFHMACSHA256V2, devA, devB, "txn", mc, keys)
		return err
	})

	ssk := must(secretstorage.NewKeyFromBytes(readN(r, 32)))
	ed := must(ssk.Encrypt("m.test", []byte("secret")))
	hammer(t, "secretstorage.Key", func(g, i int) error {
		pt, err := ssk.Decrypt("m.test", ed)
		if err != nil || string(pt) != "secret" {
			return fmt.Errorf("decrypt: %q %v", pt, err)
		}
		if _, err := ssk.Encrypt("m.other", pt); err != nil {
			return err
		}
		return nil
	})

	plain := bytes.Repeat([]byte("attachment "), 1000)
	ct, ef, err := attachment.EncryptFrom(r, plain)
	if err != nil {
		t.Fatal(err)
	}
	hammer(t, "attachment.EncryptedFile", func(g, i int) error {
		pt, err := attachment.Decrypt(ct, ef, nil)
		if err != nil || !bytes.Equal(pt, plain) {
			return fmt.Errorf("decrypt: %v", err)
		}
		return nil
	})

	ak := aessha2.Derive([]byte("shared keys"), aessha2.InfoMegolm)
	hammer(t, "aessha2.Keys", func(g, i int) error {
		msg := fmt.Appendf(nil, "message %d %d", g, i)
		c := ak.Encrypt(nil, msg)
		tagged := ak.AppendTag(c, c)
		pt, err := ak.Open(nil, c, tagged[len(c):], c)
		if err != nil || !bytes.Equal(pt, msg) {
			return fmt.Errorf("decrypt: %v", err)
		}
		return nil
	})
}

// TestInboundSessionSharedUnderMutex: an InboundSession is not safe for
// concurrent use. The two patterns its documentation allows, hammered:
// one session behind the caller's mutex (every goroutine sees every
// message decrypt, and the latest ratchet ends at the highest index), and a
// Clone per goroutine (no lock while decrypting; the original unchanged).
func TestInboundSessionSharedUnderMutex(t *testing.T) {
	r := seeded("inbound mutex")
	out := must(megolm.NewOutboundSessionFrom(r))
	in := must(megolm.NewInboundSession(out.SessionKey()))
	var msgs [][]byte
	for i := range 64 {
		msgs = append(msgs, out.Encrypt(nil, fmt.Appendf(nil, "event %d", i)))
	}
	var mu sync.Mutex
	hammer(t, "InboundSession under a mutex", func(g, i int) error {
		n := (g*iterations + i*7) % len(msgs)
		mu.Lock()
		pt, idx, err := in.Decrypt(nil, msgs[n])
		mu.Unlock()
		if err != nil || int(idx) != n || string(pt) != fmt.Sprintf("event %d", n) {
			return fmt.Errorf("decrypt %d: %q %d %v", n, pt, idx, err)
		}
		return nil
	})
	before := must(in.PickleLibolm(nil))
	hammer(t, "InboundSession clones", func(g, i int) error {
		mu.Lock()
		c := in.Clone()
		mu.Unlock()
		n := (g + i*13) % len(msgs)
		pt, idx, err := c.Decrypt(nil, msgs[n])
		if err != nil || int(idx) != n || string(pt) != fmt.Sprintf("event %d", n) {
			return fmt.Errorf("decrypt %d on a clone: %q %d %v", n, pt, idx, err)
		}
		return nil
	})
	if after := must(in.PickleLibolm(nil)); after != before {
		t.Error("decrypting on clones changed the original session")
	}
}
