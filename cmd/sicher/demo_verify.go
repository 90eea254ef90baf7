package main

// The demo's story, part two: SAS verification, key backup and an
// encrypted document.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"slices"
	"time"

	"github.com/sicher-go/sicher/attachment"
	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/internal/recoverykey"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/sas"
	"github.com/sicher-go/sicher/signing"
)

func (s *demoStory) verification() {
	s.step("Alice and Bob verify each other's devices with SAS (emoji)")
	aliceDev := sas.Device{UserID: demoAlice, DeviceID: s.alice.id}
	bobDev := sas.Device{UserID: demoBob, DeviceID: s.bobPhone.id}
	const txn = "demo-verification-1"
	startContent, err := json.Marshal(map[string]any{
		"from_device": s.alice.id, "method": sas.MethodSAS, "transaction_id": txn,
		"key_agreement_protocols":      []string{sas.KeyAgreementHKDFSHA256},
		"hashes":                       []string{sas.HashSHA256},
		"message_authentication_codes": []string{sas.HKDFHMACSHA256V2.String()},
		"short_authentication_string":  []string{sas.SASDecimal, sas.SASEmoji},
	})
	s.must("build m.key.verification.start", err)
	start, err := signing.Canonical(startContent)
	s.must("canonical JSON of the start event", err)
	var offered sas.Methods
	s.must("decode the start event", json.Unmarshal(start, &offered))
	agreed, err := sas.Negotiate(sas.Supported(), offered)
	s.must("Bob picks the methods", err)
	s.say("Alice starts; Bob accepts %s with %s", agreed.KeyAgreementProtocol, agreed.MessageAuthenticationCode)

	bob, err := sas.NewFrom(s.rand)
	s.must("Bob's SAS key", err)
	commitment := sas.Commitment(bob.PublicKey(), start)
	alice, err := sas.NewFrom(s.rand)
	s.must("Alice's SAS key", err)
	bobSide, err := bob.SetTheirKey(alice.PublicKey())
	s.must("Bob receives Alice's key", err)
	s.check("Alice checks Bob's key against the commitment of his accept event", sas.VerifyCommitment(commitment, bob.PublicKey(), start))
	aliceSide, err := alice.SetTheirKey(bob.PublicKey())
	s.must("Alice receives Bob's key", err)

	info := sas.SASInfo(aliceDev, alice.PublicKey(), bobDev, bob.PublicKey(), txn)
	ae, be := aliceSide.Emoji(info), bobSide.Emoji(info)
	for _, e := range ae {
		s.say("  %s  %-12s %s", e.Emoji, e.Description, e.German)
	}
	ad, bd := aliceSide.Decimals(info), bobSide.Decimals(info)
	s.say("  decimals: %d %d %d", ad[0], ad[1], ad[2])
	s.expect("both devices show the same 7 emoji", ae == be, "Alice %v, Bob %v", ae, be)
	s.expect("both devices show the same 3 numbers", ad == bd, "Alice %v, Bob %v", ad, bd)

	// A man in the middle with his own keys cannot make the emoji match.
	eve1, err := sas.NewFrom(s.rand)
	s.must("Mallory's key", err)
	mitmAlice, err := alice.SetTheirKey(eve1.PublicKey())
	s.must("Alice receives Mallory's key", err)
	mitmBob, err := bob.SetTheirKey(eve1.PublicKey())
	s.must("Bob receives Mallory's key", err)
	s.expect("with a man in the middle the emoji differ",
		mitmAlice.Emoji(sas.SASInfo(aliceDev, alice.PublicKey(), bobDev, eve1.PublicKey(), txn)) !=
			mitmBob.Emoji(sas.SASInfo(aliceDev, eve1.PublicKey(), bobDev, bob.PublicKey(), txn)), "emoji match")

	method, err := sas.ParseMACMethod(agreed.MessageAuthenticationCode)
	s.must("MAC method", err)
	aliceKeyID := "ed25519:" + s.alice.id
	bobKeyID := "ed25519:" + s.bobPhone.id
	macA, err := aliceSide.MACKeys(method, aliceDev, bobDev, txn, map[string]string{aliceKeyID: s.alice.acct.Ed25519().String()})
	s.must("Alice's m.key.verification.mac", err)
	got, err := bobSide.VerifyKeys(method, aliceDev, bobDev, txn, macA, map[string]string{aliceKeyID: s.aliceKeys.Ed25519.String()})
	s.check("Bob checks the MAC of Alice's device key: ALICEPHONE is verified", err)
	s.expect("Bob's verified keys are exactly Alice's device key", len(got) == 1 && got[0] == aliceKeyID, "got %v", got)
	macB, err := bobSide.MACKeys(method, bobDev, aliceDev, txn, map[string]string{bobKeyID: s.bobPhone.acct.Ed25519().String()})
	s.must("Bob's m.key.verification.mac", err)
	_, err = aliceSide.VerifyKeys(method, bobDev, aliceDev, txn, macB, map[string]string{bobKeyID: s.bobKeys.Ed25519.String()})
	s.check("Alice checks the MAC of Bob's device key: BOBPHONE is verified", err)
	_, err = aliceSide.VerifyKeys(method, bobDev, aliceDev, txn, macB, map[string]string{bobKeyID: s.bobLaptop.acct.Ed25519().String()})
	s.refused("a MAC over another device's key is refused", err, sas.ErrAuthentication)
}

func (s *demoStory) backup() {
	s.step("Bob backs up his room keys, loses his phone and restores on a tablet")
	dkey, err := newBackupKeyFrom(s.rand)
	s.must("generate the backup key", err)
	recovery := dkey.RecoveryKey().Encode()
	s.say("backup public key %s; recovery key %s… (48 characters, on paper in Bob's drawer)", short(dkey.PublicKey().String()), recovery[:4])
	authData, err := json.Marshal(keybackup.AuthData{PublicKey: dkey.PublicKey()})
	s.must("encode auth_data", err)
	authData, err = signing.Sign(authData, demoBob, s.bobPhone.id, s.bobPhone.acct)
	s.must("sign auth_data", err)

	type entry struct {
		room, session string
		data          keybackup.KeyBackupData
	}
	var backup []entry
	for _, in := range []struct {
		s         *megolm.InboundSession
		senderKey key.Curve25519
		ed        key.Ed25519
	}{
		{s.bobInbound, s.aliceKeys.Curve25519, s.aliceKeys.Ed25519},
		{s.bobOwnInbound, s.bobKeys.Curve25519, s.bobKeys.Ed25519},
	} {
		exp := in.s.ExportAtFirstKnownIndex()
		sd := megolm.NewExportedSession(exp, demoRoom, in.senderKey, in.ed)
		enc, err := keybackup.EncryptSessionFrom(s.rand, dkey.PublicKey(), sd)
		s.must("encrypt a session for the backup", err)
		backup = append(backup, entry{demoRoom, in.s.SessionID().String(), keybackup.KeyBackupData{
			FirstMessageIndex: int(exp.Index()), IsVerified: true, SessionData: enc,
		}})
	}
	// What the server stores: PUT /room_keys/keys.
	rooms := map[string]map[string]map[string]keybackup.KeyBackupData{}
	for _, e := range backup {
		if rooms[e.room] == nil {
			rooms[e.room] = map[string]map[string]keybackup.KeyBackupData{"sessions": {}}
		}
		rooms[e.room]["sessions"][e.session] = e.data
	}
	stored, err := json.Marshal(map[string]any{"rooms": rooms})
	s.must("encode the backup", err)
	s.say("Bob's phone uploads %d sessions (%d bytes of m.megolm_backup.v1.curve25519-aes-sha2)", len(backup), len(stored))

	// The phone is gone.
	lostPhone := s.bobPhone.acct.Ed25519()
	s.bobInbound, s.bobOwnInbound = nil, nil
	s.bobTablet = s.newDevice(demoBob, "BOBTABLET", 0, false)
	s.say("Bob's phone is lost; his new tablet BOBTABLET has none of its keys")

	// Typos a user makes reading the key from paper. (A single wrong
	// base58 character is caught by the parity byte only 255 times in 256,
	// so the demo shows the two mistakes that are always caught.)
	confused := []byte(recovery)
	confused[20] = 'l' // lowercase L for a 1: not in the base58 alphabet
	_, err = keybackup.ParseRecoveryKey(string(confused))
	s.refused("a recovery key with an l typed for a 1 is refused", err, recoverykey.ErrBadCharacter)
	_, err = keybackup.ParseRecoveryKey(recovery[:20] + recovery[21:])
	s.expect("a recovery key with a character left out is refused", err != nil, "accepted")

	other, err := newBackupKeyFrom(s.rand)
	s.must("another backup key", err)
	var ad keybackup.AuthData
	s.must("decode auth_data", json.Unmarshal(authData, &ad))
	s.expect("someone else's recovery key does not match the backup's public key", !other.Matches(ad), "matches")
	_, err = other.DecryptSession(backup[0].data.SessionData)
	s.refused("and decrypts none of its sessions", err, keybackup.ErrAuthentication)

	rk, err := keybackup.ParseRecoveryKey(recovery)
	s.must("Bob types his recovery key", err)
	restored := rk.DecryptionKey()
	s.expect("Bob's recovery key matches the backup's public key", restored.Matches(ad), "does not match")
	s.check("auth_data carries a valid signature of Bob's (SAS-verified) phone", signing.Verify(authData, demoBob, s.bobPhone.id, lostPhone))

	var fetched struct {
		Rooms map[string]struct {
			Sessions map[string]keybackup.KeyBackupData `json:"sessions"`
		} `json:"rooms"`
	}
	s.must("decode the backup download", json.Unmarshal(stored, &fetched))
	var entries []keybackup.EncryptedSessionData
	var ids []string
	for _, sid := range slices.Sorted(mapKeys(fetched.Rooms[demoRoom].Sessions)) {
		entries = append(entries, fetched.Rooms[demoRoom].Sessions[sid].SessionData)
		ids = append(ids, sid)
	}
	results := restored.DecryptAll(context.Background(), entries)
	sessions := map[string]*megolm.InboundSession{}
	infos := map[string]event.SessionInfo{}
	for i, r := range results {
		if !s.check("decrypt backed-up session "+short(ids[i]), r.Err) {
			continue
		}
		in, err := r.Session.InboundSession()
		if !s.check("import it", err) {
			continue
		}
		s.expect("the restored session has the id it was stored under", in.SessionID().String() == ids[i], "got %s", in.SessionID())
		sessions[ids[i]] = in
		claimed, _ := r.Session.ClaimedEd25519()
		infos[ids[i]] = event.SessionInfo{RoomID: demoRoom, SessionID: in.SessionID(), SenderKey: r.Session.SenderKey,
			ClaimedEd25519: claimed, Provenance: event.Backup}
	}
	in := sessions[s.aliceRoom.SessionID().String()]
	if in == nil {
		s.must("restore Alice's room session", errors.New("missing from the backup"))
	}
	s.bobInbound = in
	s.bobInboundInfo = infos[s.aliceRoom.SessionID().String()]
	var guard event.ReplayGuard
	if ev := s.readRoom("Bob's tablet", in, s.firstMessage, &guard, "$event1", demoAlice, s.bobInboundInfo, "Hallo Bob, dein Befund ist da."); ev != nil {
		s.expect("history restored from backup is shown as unverified", ev.Provenance == event.Backup, "marked verified")
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// demoDocument is the content of the document: pseudo-random bytes from a
// fixed seed (the content is not secret; only its size matters).
func demoDocument(size int64) io.Reader {
	return io.LimitReader(mrand.NewChaCha8([32]byte{'B', 'e', 'f', 'u', 'n', 'd'}), size)
}

func (s *demoStory) document() {
	s.step(fmt.Sprintf("Alice sends an encrypted %s document; Bob decrypts it and verifies its hash", humanBytes(s.size)))
	plainHash := sha256.New()
	enc, err := attachment.NewEncryptingReader(io.TeeReader(demoDocument(s.size), plainHash))
	s.must("start encrypting", err)
	var upload bytes.Buffer
	upload.Grow(int(s.size))
	t0 := time.Now()
	_, err = upload.ReadFrom(enc)
	s.must("encrypt the document", err)
	encTime := time.Since(t0)
	file, err := enc.File()
	s.must("the EncryptedFile", err)
	file.URL = "mxc://example.org/BefundDrSchmidt"
	sum := plainHash.Sum(nil)
	s.say("Alice encrypts Befund.pdf (AES-256-CTR, SHA-256 of the ciphertext) in %s and uploads %s to %s",
		demoDuration(encTime, s.size), humanBytes(int64(upload.Len())), file.URL)

	fileJSON, err := file.MarshalJSON()
	s.must("encode the EncryptedFile", err)
	content, err := json.Marshal(map[string]any{
		"msgtype": "m.file", "body": "Befund.pdf",
		"info": map[string]any{"size": s.size, "mimetype": "application/pdf"},
		"file": json.RawMessage(fileJSON),
	})
	s.must("build the m.file content", err)
	ck := s.alice.acct.Curve25519()
	c, idx, err := event.EncryptMegolm(s.aliceRoom, event.MegolmEncryptParams{RoomID: demoRoom, Type: "m.room.message", Content: content, SenderKey: &ck, DeviceID: s.alice.id})
	s.must("encrypt the m.file event", err)
	id := s.nextEventID()
	s.say("the key, IV and hash travel inside the Megolm-encrypted event %s (index %d)", id, idx)

	ev, err := event.DecryptMegolm(s.bobInbound, c, event.MegolmDecryptParams{RoomID: demoRoom, EventID: id, OriginServerTS: 1_700_000_100_000, Sender: demoAlice, Session: s.bobInboundInfo})
	s.must("Bob's tablet decrypts the m.file event", err)
	var got struct {
		File json.RawMessage `json:"file"`
	}
	s.must("read the m.file content", json.Unmarshal(ev.Content, &got))
	f, err := attachment.ParseEncryptedFile(got.File)
	s.must("parse the EncryptedFile", err)
	s.expect("Bob's tablet reads the same EncryptedFile Alice sent", f.Equal(file), "differs")

	decrypt := func(ct []byte) ([]byte, error) {
		r, err := attachment.NewUnverifiedReader(bytes.NewReader(ct), f, nil)
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return nil, err
		}
		return h.Sum(nil), nil
	}
	t0 = time.Now()
	gotSum, err := decrypt(upload.Bytes())
	decTime := time.Since(t0)
	if s.check("Bob downloads and decrypts the document; the ciphertext's SHA-256 matches", err) {
		s.say("decrypted %s in %s", humanBytes(s.size), demoDuration(decTime, s.size))
		s.expect("the decrypted document is byte for byte Alice's (SHA-256 of the plaintext)", bytes.Equal(gotSum, sum),
			"plaintext hash %x, want %x", gotSum, sum)
	}
	if upload.Len() > 0 {
		b := upload.Bytes()
		b[len(b)/2] ^= 1
		_, err = decrypt(b)
		b[len(b)/2] ^= 1
		s.refused("a download with one bit flipped by the media server is refused", err, attachment.ErrAuthentication)
	}
}

// demoDuration formats how long work on n bytes took, with the rate.
func demoDuration(d time.Duration, n int64) string {
	if d <= 0 {
		d = time.Microsecond
	}
	return fmt.Sprintf("%s (%.0f MB/s)", d.Round(time.Millisecond), float64(n)/d.Seconds()/1e6)
}

// newBackupKeyFrom makes a backup decryption key of 32 bytes of r, as
// keybackup.GenerateDecryptionKey does with crypto/rand, so that the demo
// replays.
func newBackupKeyFrom(r io.Reader) (*keybackup.DecryptionKey, error) {
	var b [keybackup.KeySize]byte
	defer clear(b[:])
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return nil, err
	}
	return keybackup.NewDecryptionKey(b[:])
}
