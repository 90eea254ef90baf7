// Package newcomer is the TI-Messenger practice simulation a new user of sicher
// writes from the docs alone: Example_tiMessenger tells the whole story.
package newcomer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/sicher-go/sicher/attachment"
	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/sas"
	"github.com/sicher-go/sicher/signing"
)

const alice, bob, room = "@dr.alice:praxis.example", "@bob:patient.example", "!sprechstunde:praxis.example"

// must stops the story at the first error: in an Example a panic fails the test.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func check(err error)                            { must(0, err) }
func must2[A, B any](a A, b B, err error) (A, B) { return a, must(b, err) }

// server stands in for the homeserver, which a real client talks to over HTTPS.
type server struct {
	deviceKeys       map[string]json.RawMessage   // "user device" → signed device_keys (/keys/query)
	oneTime          map[string][]json.RawMessage // "user device" → signed one-time keys (/keys/claim)
	devices          map[string][]string          // user → device IDs
	timeline         []roomEvent
	media            map[string][]byte
	authData, backup []byte // the backup version's signed auth_data; GET /room_keys/keys
}

type roomEvent struct {
	id, sender string
	ts         int64
	content    []byte
}

var srv *server

// query is /keys/query for one device, self-signature checked. A real client also checks
// its cross-signing (signing.VerifyDevice) before trusting it, and pins the keys.
func (s *server) query(user, id string) *signing.DeviceKeys {
	return must(signing.VerifyDeviceKeys(s.deviceKeys[user+" "+id], user, id))
}

// claim is /keys/claim: the server hands out each one-time key once, and the
// claimer verifies its signature by the device's Ed25519 key.
func (s *server) claim(dk *signing.DeviceKeys) key.Curve25519 {
	k := dk.UserID + " " + dk.DeviceID
	raw := s.oneTime[k][0] // when none are left, a real server hands out the fallback key
	s.oneTime[k] = s.oneTime[k][1:]
	return must(signing.VerifySignedKey(raw, dk.UserID, dk.DeviceID, dk.Ed25519)).Key
}

// byCurve finds which device of the given users owns a Curve25519 identity key.
func (s *server) byCurve(ck key.Curve25519, users ...string) *signing.DeviceKeys {
	for _, user := range users {
		for _, id := range s.devices[user] {
			if dk := s.query(user, id); dk.Curve25519 == ck {
				return dk
			}
		}
	}
	panic("unknown device key " + ck.String())
}

// device is one client; restart writes all of it to its store as pickles and reads it back.
type device struct {
	user, id  string
	pickleKey [olm.PickleKeySize]byte // a real client keeps it in the OS keyring
	acct      *olm.Account
	olm       map[key.Curve25519][]*olm.Session // by the peer's identity key, newest first
	rooms     map[key.Ed25519]*inbound          // Megolm sessions of room, by session ID
	out       *megolm.OutboundSession
	guard     *event.ReplayGuard
	backup    *keybackup.DecryptionKey
}

// inbound is a Megolm session with who shared it and how: what the store keeps with it.
type inbound struct {
	s    *megolm.InboundSession
	info event.SessionInfo
}

func newDevice(user, id string) *device {
	d := &device{user: user, id: id, acct: must(olm.NewAccount()), guard: new(event.ReplayGuard),
		olm: map[key.Curve25519][]*olm.Session{}, rooms: map[key.Ed25519]*inbound{}}
	must(rand.Read(d.pickleKey[:]))
	must2(d.acct.GenerateOneTimeKeys(3))
	// /keys/upload: the device keys and one-time keys, signed by the account.
	var up struct {
		DeviceKeys  json.RawMessage            `json:"device_keys"`
		OneTimeKeys map[string]json.RawMessage `json:"one_time_keys"`
	}
	check(json.Unmarshal(must(json.Marshal(must(event.KeysForUpload(d.acct, user, id, nil)))), &up))
	srv.deviceKeys[user+" "+id] = up.DeviceKeys
	for _, k := range up.OneTimeKeys {
		srv.oneTime[user+" "+id] = append(srv.oneTime[user+" "+id], k)
	}
	srv.devices[user] = append(srv.devices[user], id)
	d.acct.MarkKeysAsPublished() // only once the server said 200
	return d
}

// restart pickles the device's state and loads it into new objects, as an app restart does.
func (d *device) restart() {
	pk := &d.pickleKey
	d.acct = must(olm.UnpickleAccount(pk, must(d.acct.Pickle(pk))))
	for _, ss := range d.olm {
		for i, s := range ss {
			ss[i] = must(olm.UnpickleSession(pk, must(s.Pickle(pk))))
		}
	}
	for _, in := range d.rooms {
		in.s = must(megolm.UnpickleInboundSession(pk, must(in.s.Pickle(pk))))
	}
	if d.out != nil {
		d.out = must(megolm.UnpickleOutboundSession(pk, must(d.out.Pickle(pk))))
	}
	if d.backup != nil {
		d.backup = must(keybackup.Unpickle(pk, must(d.backup.Pickle(pk))))
	}
	saved := must(json.Marshal(d.guard)) // the replay guard is part of the store too
	d.guard = new(event.ReplayGuard)
	check(json.Unmarshal(saved, d.guard))
}

// sendToDevice encrypts an event for one device over Olm (opening a session with a
// claimed one-time key if needed); that device decrypts and validates it.
func sendToDevice(from, to *device, typ string, content json.RawMessage) *event.OlmEvent {
	dk := srv.query(to.user, to.id)
	if len(from.olm[dk.Curve25519]) == 0 {
		from.olm[dk.Curve25519] = []*olm.Session{must(from.acct.NewOutboundSession(dk.Curve25519, srv.claim(dk)))}
	}
	wire, _ := must2(event.EncryptOlm(from.acct, from.olm[dk.Curve25519][0], event.OlmEncryptParams{
		Sender: from.user, Recipient: to.user, Type: typ, Content: content,
		RecipientEd25519: dk.Ed25519, RecipientCurve25519: dk.Curve25519,
	}))

	// The receiver knows only the sender's user ID: it finds the device by sender_key.
	sender := srv.byCurve(must(event.ParseOlmContent(wire)).SenderKey, from.user)
	ev := must(event.DecryptOlm(to.acct, wire, event.OlmDecryptParams{
		Sender: from.user, OwnUserID: to.user, SenderDevice: sender,
		Sessions: to.olm[sender.Curve25519], SessionsComplete: true, // the store gave every session with that key
	}))
	if ev.NewSession {
		to.olm[ev.SenderKey] = append([]*olm.Session{ev.Session}, to.olm[ev.SenderKey]...)
	}
	if ev.Type == "m.room_key" {
		rk := must(event.RoomKeyFromEvent(ev))
		to.rooms[rk.Info.SessionID] = &inbound{must(rk.InboundSession()), rk.Info}
	}
	return ev
}

// shareRoomKey starts d's Megolm session if needed and sends its key to each device.
func (d *device) shareRoomKey(to ...*device) {
	if d.out == nil {
		d.out = must(megolm.NewOutboundSession())
		// Our own devices read what we send, so keep an inbound copy, as sure as one over Olm.
		d.rooms[d.out.SessionID()] = &inbound{must(megolm.NewInboundSession(d.out.SessionKey())), event.SessionInfo{
			RoomID: room, SessionID: d.out.SessionID(), Sender: d.user, Provenance: event.OverOlm,
			SenderKey: d.acct.Curve25519(), ClaimedEd25519: d.acct.Ed25519(), Ed25519Checked: true}}
	}
	content := must(event.RoomKeyContent(room, d.out, true))
	for _, t := range to {
		ev := sendToDevice(d, t, "m.room_key", content)
		fmt.Printf("%s %s → %s %s: m.room_key, new Olm session %v\n", d.user, d.id, t.user, t.id, ev.NewSession)
	}
}

// say sends a room event to the timeline.
func (d *device) say(typ string, content any) {
	c, _ := must2(event.EncryptMegolm(d.out, event.MegolmEncryptParams{RoomID: room, Type: typ, Content: must(json.Marshal(content))}))
	n := len(srv.timeline)
	srv.timeline = append(srv.timeline, roomEvent{fmt.Sprintf("$ev%d", n), d.user, 1700000000000 + int64(n), c})
}

// read decrypts a timeline event with the session its session_id names.
func (d *device) read(ev roomEvent) (*event.RoomEvent, error) {
	in, ok := d.rooms[must(event.ParseMegolmContent(ev.content)).SessionID]
	if !ok {
		return nil, event.ErrNoSession // a real client asks its other devices or the backup
	}
	return event.DecryptMegolm(in.s, ev.content, event.MegolmDecryptParams{
		RoomID: room, EventID: ev.id, OriginServerTS: ev.ts, Guard: d.guard,
		Sender: ev.sender, Session: in.info,
	})
}

type message struct {
	MsgType string          `json:"msgtype"`
	Body    string          `json:"body"`
	File    json.RawMessage `json:"file,omitempty"`
}

func body(re *event.RoomEvent) (m message) { check(json.Unmarshal(re.Content, &m)); return m }

// Dr. Alice (phone and laptop) and her patient Bob (phone) talk in an
// encrypted room; Bob sends a photo, backs up his keys, and later reads the
// history on a new tablet; Alice verifies her laptop with her phone by SAS.
func Example_tiMessenger() {
	srv = &server{deviceKeys: map[string]json.RawMessage{}, oneTime: map[string][]json.RawMessage{},
		devices: map[string][]string{}, media: map[string][]byte{}}
	alicePhone, aliceLaptop, bobPhone := newDevice(alice, "PHONE"), newDevice(alice, "LAPTOP"), newDevice(bob, "PHONE")

	// 1. Alice's phone shares its room key with every device in the room.
	alicePhone.shareRoomKey(aliceLaptop, bobPhone)
	for _, d := range []*device{alicePhone, aliceLaptop, bobPhone} {
		d.restart()
	}

	// 2. Room events, read by every device (Alice's phone with its own copy).
	alicePhone.say("m.room.message", message{MsgType: "m.text", Body: "Ihr Befund ist da."})
	alicePhone.say("m.room.message", message{MsgType: "m.text", Body: "Bitte morgen um 9 kommen."})
	for _, d := range []*device{alicePhone, aliceLaptop, bobPhone} {
		for _, ev := range srv.timeline {
			re := must(d.read(ev))
			fmt.Printf("%s %s reads #%d from %s: %q (verified session %v)\n", d.user, d.id, re.MessageIndex, ev.sender, body(re).Body, re.Provenance == event.OverOlm)
		}
	}
	// The server replays an event under a new ID, and claims Bob wrote another.
	replayed, forged := srv.timeline[0], srv.timeline[1]
	replayed.id, forged.sender = "$replayed", bob
	_, err1 := bobPhone.read(replayed)
	bobPhone.restart()
	_, err2 := bobPhone.read(replayed)
	_, err := bobPhone.read(forged)
	fmt.Println("refused: replay", errors.Is(err1, event.ErrReplay), "after restart", errors.Is(err2, event.ErrReplay),
		"forged sender", errors.Is(err, &event.ValidationError{Rule: "sender"}))

	// 3. Bob answers with a photo. His phone reuses its Olm session with
	// Alice's phone and opens one with her laptop.
	bobPhone.shareRoomKey(alicePhone, aliceLaptop)
	photo := bytes.Repeat([]byte("\x89PNG Röntgenbild "), 1000)
	ciphertext, file := must2(attachment.Encrypt(photo))
	file.URL = "mxc://patient.example/roentgen"
	srv.media[file.URL] = ciphertext // POST /_matrix/media/v3/upload
	bobPhone.say("m.room.message", message{MsgType: "m.image", Body: "roentgen.png", File: must(json.Marshal(file))})
	for _, d := range []*device{alicePhone, aliceLaptop} {
		d.restart()
		re := must(d.read(srv.timeline[len(srv.timeline)-1]))
		m := body(re)
		f := must(attachment.ParseEncryptedFile(m.File))
		r := must(attachment.NewDecryptingReader(bytes.NewReader(srv.media[f.URL]), f, nil, nil))
		got := must(io.ReadAll(r))
		check(r.Close())
		fmt.Printf("%s %s opens %s (#%d): %d bytes, same photo %v\n", d.user, d.id, m.Body, re.MessageIndex, len(got), bytes.Equal(got, photo))
	}
	srv.media[file.URL][100] ^= 1 // the media server corrupts the file
	_, err = attachment.NewDecryptingReader(bytes.NewReader(srv.media[file.URL]), file, nil, nil)
	fmt.Println("corrupted photo refused:", errors.Is(err, attachment.ErrAuthentication))

	// 4. Bob's phone makes a key backup and uploads every Megolm session it holds.
	recoveryKey := bobPhone.makeBackup()
	bobPhone.restart()

	// 5. Bob's new tablet restores the backup with the recovery key he wrote
	// down and reads the old history.
	bobTablet := newDevice(bob, "TABLET")
	bobTablet.restore(recoveryKey)
	bobTablet.restart()
	for _, ev := range srv.timeline {
		re := must(bobTablet.read(ev))
		fmt.Printf("%s %s reads #%d from %s: %q (verified session %v)\n", bob, bobTablet.id, re.MessageIndex, ev.sender, body(re).Body, re.Provenance == event.OverOlm)
	}
	_, err = keybackup.ParseRecoveryKey(recoveryKey[:len(recoveryKey)-1] + "x")
	fmt.Println("mistyped recovery key refused:", errors.Is(err, keybackup.ErrMalformed))

	// 6. Alice verifies her laptop with her phone (SAS, emoji).
	verifySAS(alicePhone, aliceLaptop)

	// Output:
	// @dr.alice:praxis.example PHONE → @dr.alice:praxis.example LAPTOP: m.room_key, new Olm session true
	// @dr.alice:praxis.example PHONE → @bob:patient.example PHONE: m.room_key, new Olm session true
	// @dr.alice:praxis.example PHONE reads #0 from @dr.alice:praxis.example: "Ihr Befund ist da." (verified session true)
	// @dr.alice:praxis.example PHONE reads #1 from @dr.alice:praxis.example: "Bitte morgen um 9 kommen." (verified session true)
	// @dr.alice:praxis.example LAPTOP reads #0 from @dr.alice:praxis.example: "Ihr Befund ist da." (verified session true)
	// @dr.alice:praxis.example LAPTOP reads #1 from @dr.alice:praxis.example: "Bitte morgen um 9 kommen." (verified session true)
	// @bob:patient.example PHONE reads #0 from @dr.alice:praxis.example: "Ihr Befund ist da." (verified session true)
	// @bob:patient.example PHONE reads #1 from @dr.alice:praxis.example: "Bitte morgen um 9 kommen." (verified session true)
	// refused: replay true after restart true forged sender true
	// @bob:patient.example PHONE → @dr.alice:praxis.example PHONE: m.room_key, new Olm session false
	// @bob:patient.example PHONE → @dr.alice:praxis.example LAPTOP: m.room_key, new Olm session true
	// @dr.alice:praxis.example PHONE opens roentgen.png (#0): 18000 bytes, same photo true
	// @dr.alice:praxis.example LAPTOP opens roentgen.png (#0): 18000 bytes, same photo true
	// corrupted photo refused: true
	// backup: 2 sessions uploaded
	// backup: auth_data signed by PHONE and for this key: true
	// backup: 2 sessions restored
	// @bob:patient.example TABLET reads #0 from @dr.alice:praxis.example: "Ihr Befund ist da." (verified session false)
	// @bob:patient.example TABLET reads #1 from @dr.alice:praxis.example: "Bitte morgen um 9 kommen." (verified session false)
	// @bob:patient.example TABLET reads #0 from @bob:patient.example: "roentgen.png" (verified session false)
	// mistyped recovery key refused: true
	// SAS: same 7 emoji on both devices: true and with a man in the middle: false
	// SAS: LAPTOP verified [ed25519:PHONE], PHONE verified [ed25519:LAPTOP]
}

// makeBackup creates a backup, uploads every Megolm session encrypted to it and returns
// the recovery key (a real client also keeps it in secret storage).
func (d *device) makeBackup() string {
	d.backup = must(keybackup.GenerateDecryptionKey())
	auth := must(json.Marshal(keybackup.AuthData{PublicKey: d.backup.PublicKey()}))
	srv.authData = must(signing.Sign(auth, d.user, d.id, d.acct))
	sessions := map[string]keybackup.KeyBackupData{}
	for id, in := range d.rooms {
		es := megolm.NewExportedSession(in.s.ExportAtFirstKnownIndex(), room, in.info.SenderKey, in.info.ClaimedEd25519)
		sessions[id.String()] = keybackup.KeyBackupData{
			FirstMessageIndex: int(in.s.FirstKnownIndex()), IsVerified: in.s.IsVerified(),
			SessionData: must(keybackup.EncryptSession(d.backup.PublicKey(), es)),
		}
	}
	srv.backup = must(json.Marshal(keybackup.RoomKeys{Rooms: map[string]keybackup.RoomSessions{room: {Sessions: sessions}}}))
	fmt.Printf("backup: %d sessions uploaded\n", len(sessions))
	return d.backup.RecoveryKey().Encode()
}

// restore reads the backup with the recovery key. Restored sessions are
// unverified: backup v1 does not authenticate its entries.
func (d *device) restore(recoveryKey string) {
	d.backup = must(keybackup.ParseRecoveryKey(recoveryKey)).DecryptionKey()
	var auth keybackup.AuthData
	check(json.Unmarshal(srv.authData, &auth))
	// Trust the backup only if a device we trust signed it (a real client
	// checks the master key's signature); and only with the right key.
	signer := srv.query(d.user, "PHONE")
	check(signing.Verify(srv.authData, d.user, signer.DeviceID, signer.Ed25519))
	fmt.Println("backup: auth_data signed by", signer.DeviceID, "and for this key:", d.backup.Matches(auth))
	var keys keybackup.RoomKeys
	check(json.Unmarshal(srv.backup, &keys))
	restored := d.backup.DecryptRoomKeys(context.Background(), keys)
	for _, r := range restored {
		check(r.Err)
		in := must(r.Session.InboundSession())
		if in.SessionID().String() != r.SessionID || r.RoomID != room {
			panic("server mislabelled a backup entry")
		}
		// Its sender is a claim of whoever wrote the entry: map the sender key to a user
		// through the device list; provenance Backup shows its events as unverified.
		ed, _ := r.Session.ClaimedEd25519()
		sender := srv.byCurve(r.Session.SenderKey, alice, bob) // the room's members
		d.rooms[in.SessionID()] = &inbound{in, event.SessionInfo{RoomID: room, SessionID: in.SessionID(),
			Sender: sender.UserID, SenderKey: r.Session.SenderKey, ClaimedEd25519: ed, Provenance: event.Backup}}
	}
	fmt.Printf("backup: %d sessions restored\n", len(restored))
}

// verifySAS runs m.sas.v1 between two of a user's devices: start, accept
// with commitment, key exchange, emoji comparison, MACs of the device keys.
// A real client sends these as m.key.verification.* events, then cross-signs the device.
func verifySAS(starter, accepter *device) {
	const txn = "sas-1"
	sd, ad := sas.Device{UserID: starter.user, DeviceID: starter.id}, sas.Device{UserID: accepter.user, DeviceID: accepter.id}
	start := must(signing.Marshal(struct { // m.key.verification.start, as sent
		FromDevice    string `json:"from_device"`
		Method        string `json:"method"`
		TransactionID string `json:"transaction_id"`
		sas.Methods
	}{starter.id, sas.MethodSAS, txn, sas.Supported()}))
	s, a := must(sas.New()), must(sas.New())
	agreed := must(sas.Negotiate(sas.Supported(), sas.Supported()))
	commitment := sas.Commitment(a.PublicKey(), start)
	check(sas.VerifyCommitment(commitment, a.PublicKey(), start))
	se, ae := must(s.SetTheirKey(a.PublicKey())), must(a.SetTheirKey(s.PublicKey()))
	info := sas.SASInfo(sd, s.PublicKey(), ad, a.PublicKey(), txn)
	// Mallory relays with her own key: the emoji differ (but for 2^-42).
	mallory := must(sas.New())
	me := must(s.SetTheirKey(mallory.PublicKey()))
	fmt.Println("SAS: same 7 emoji on both devices:", se.Emoji(info) == ae.Emoji(info),
		"and with a man in the middle:", me.Emoji(sas.SASInfo(sd, s.PublicKey(), ad, mallory.PublicKey(), txn)) == ae.Emoji(info))

	// The users pressed "they match": each side MACs its device key; the other
	// checks it against the keys it got from /keys/query.
	m := must(sas.ParseMACMethod(agreed.MessageAuthenticationCode))
	macKeys := func(e *sas.Established, from, to sas.Device, d *device) sas.MACContent {
		return must(e.MACKeys(m, from, to, txn, map[string]string{"ed25519:" + d.id: d.acct.Ed25519().String()}))
	}
	known := func(d *device) map[string]string {
		return map[string]string{"ed25519:" + d.id: srv.query(d.user, d.id).Ed25519.String()}
	}
	byA := must(ae.VerifyKeys(m, sd, ad, txn, macKeys(se, sd, ad, starter), known(starter)))
	byS := must(se.VerifyKeys(m, ad, sd, txn, macKeys(ae, ad, sd, accepter), known(accepter)))
	fmt.Printf("SAS: %s verified %v, %s verified %v\n", accepter.id, byA, starter.id, byS)
}
