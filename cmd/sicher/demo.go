package main

// sicher demo: a narrated end-to-end walkthrough of the library in one
// process, without network. Every step says what happened and checks it;
// the exit code is 0 only if every check passed.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sicher-go/sicher/attachment"
	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/internal/recoverykey"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/sas"
	"github.com/sicher-go/sicher/signing"
)

func init() {
	commands["demo"] = command{"narrated end-to-end walkthrough: Olm, Megolm, SAS, backup, attachments", runDemo}
}

var demoCmd = cliCommand{
	name: "demo",
	args: "[--json] [--size SIZE] [--seed N]",
	about: `Demo tells the story of Alice and Bob in one process, without network:
accounts and signed device keys, an Olm session carrying a Megolm room key,
room messages, a late device that gets the key forwarded, SAS verification,
key backup and restore with a recovery key, and an encrypted document.
Each step prints what happened and what was checked. The exit code is 0
only if every check passed.`,
}

// sizeFlag is a byte count given as 20MiB, 20MB, 512KiB, 4096 ...
type sizeFlag int64

func (s *sizeFlag) String() string { return humanBytes(int64(*s)) }

func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

func parseSize(v string) (int64, error) {
	v = strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("invalid size %q", v)
	}
	return n * mult, nil
}

// demoDefaultSize is the size of the document of the last step.
const demoDefaultSize = 20 << 20

// demoRandom is the demo's randomness without --seed (tests replace it).
var demoRandom io.Reader = rand.Reader

func runDemo(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags(demoCmd)
	jsonOut := fs.Bool("json", false, "print the steps and checks as one JSON object instead of prose")
	size := sizeFlag(demoDefaultSize)
	fs.Var(&size, "size", "size of the encrypted document (e.g. 20MiB, 64KiB, 1000)")
	seed := fs.Uint64("seed", 0, "take randomness from a ChaCha8 stream with this seed instead of crypto/rand,\nso the output repeats exactly (for tests; NOT secure)")
	if code, ok := parseFlags(demoCmd, fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return usageError(stderr, demoCmd, "unexpected argument %q", fs.Arg(0))
	}
	rnd := demoRandom
	if isFlagSet(fs, "seed") {
		var s [32]byte
		copy(s[:], "sicher demo seed")
		for i := range 8 {
			s[24+i] = byte(*seed >> (8 * i))
		}
		rnd = mrand.NewChaCha8(s)
	}
	d := &demoRun{out: stdout, json: *jsonOut, rand: rnd, size: int64(size)}
	d.run()
	if d.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		enc.Encode(d.report())
	}
	if d.failed > 0 {
		fmt.Fprintf(stderr, "sicher demo: %d of %d checks failed\n", d.failed, d.checks)
		return exitFail
	}
	return exitOK
}

func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// demoRun is one run of the demo: the narration so far and the checks.
type demoRun struct {
	out   io.Writer
	json  bool
	rand  io.Reader
	size  int64
	steps []*demoStep
	cur   *demoStep

	checks, failed int
	elapsed        time.Duration
}

type demoStep struct {
	N      int         `json:"step"`
	Title  string      `json:"title"`
	Events []string    `json:"events"`
	Checks []demoCheck `json:"checks"`
}

type demoCheck struct {
	What  string `json:"what"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

type demoReport struct {
	Passed   bool        `json:"passed"`
	Checks   int         `json:"checks"`
	Failed   int         `json:"failed"`
	DocBytes int64       `json:"document_bytes"`
	Steps    []*demoStep `json:"steps"`
}

func (d *demoRun) report() demoReport {
	return demoReport{Passed: d.failed == 0, Checks: d.checks, Failed: d.failed, DocBytes: d.size, Steps: d.steps}
}

func (d *demoRun) step(title string) {
	d.cur = &demoStep{N: len(d.steps) + 1, Title: title, Events: []string{}, Checks: []demoCheck{}}
	d.steps = append(d.steps, d.cur)
	if !d.json {
		fmt.Fprintf(d.out, "\n%d. %s\n", d.cur.N, title)
	}
}

// say narrates what happened.
func (d *demoRun) say(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	d.cur.Events = append(d.cur.Events, s)
	if !d.json {
		fmt.Fprintf(d.out, "   %s\n", s)
	}
}

// check records a check that passed if err is nil.
func (d *demoRun) check(what string, err error) bool {
	c := demoCheck{What: what, OK: err == nil}
	d.checks++
	mark := "✓"
	if err != nil {
		d.failed++
		c.Error = err.Error()
		mark = "✗"
	}
	d.cur.Checks = append(d.cur.Checks, c)
	if !d.json {
		if err != nil {
			fmt.Fprintf(d.out, "   %s %s: %v\n", mark, what, err)
		} else {
			fmt.Fprintf(d.out, "   %s %s\n", mark, what)
		}
	}
	return err == nil
}

// expect checks that cond holds.
func (d *demoRun) expect(what string, cond bool, format string, args ...any) bool {
	if cond {
		return d.check(what, nil)
	}
	return d.check(what, fmt.Errorf(format, args...))
}

// refused checks that err is a failure matching want (errors.Is).
func (d *demoRun) refused(what string, err, want error) bool {
	switch {
	case err == nil:
		return d.check(what, errors.New("accepted, but must be refused"))
	case !errors.Is(err, want):
		return d.check(what, fmt.Errorf("refused with %q, want %q", err, want))
	}
	return d.check(what+" ("+err.Error()+")", nil)
}

// abort ends the story: a step could not produce what the next ones need.
type demoAbort struct{ err error }

// must stops the demo with a failed check if err is not nil.
func (d *demoRun) must(what string, err error) {
	if err != nil {
		d.check(what, err)
		panic(demoAbort{err})
	}
}

func (d *demoRun) run() {
	start := time.Now()
	if !d.json {
		fmt.Fprintln(d.out, "sicher demo: Alice and Bob, end to end, in one process and without network.")
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(demoAbort); !ok {
					panic(r)
				}
				if !d.json {
					fmt.Fprintln(d.out, "   The story cannot go on after this failure.")
				}
			}
		}()
		newDemoStory(d).play()
	}()
	d.elapsed = time.Since(start)
	if d.json {
		return
	}
	fmt.Fprintln(d.out)
	if d.failed == 0 {
		fmt.Fprintf(d.out, "All %d checks passed (%s).\n", d.checks, d.elapsed.Round(time.Millisecond))
	} else {
		fmt.Fprintf(d.out, "%d of %d checks FAILED.\n", d.failed, d.checks)
	}
}

const (
	demoRoom  = "!praxis:example.org"
	demoAlice = "@alice:example.org"
	demoBob   = "@bob:example.org"
)

// demoDevice is a device in the story and what the server knows of it.
type demoDevice struct {
	user, id string
	acct     *olm.Account
	upload   demoUpload // what /keys/upload received
}

type demoUpload struct {
	DeviceKeys   json.RawMessage            `json:"device_keys"`
	OneTimeKeys  map[string]json.RawMessage `json:"one_time_keys"`
	FallbackKeys map[string]json.RawMessage `json:"fallback_keys"`
}

// demoStory holds the state that passes from step to step.
type demoStory struct {
	*demoRun
	alice, bobPhone, bobLaptop, bobTablet *demoDevice
	aliceKeys, bobKeys                    *signing.DeviceKeys // as each other fetched and verified them

	aliceOlm, bobOlm *olm.Session // Alice's session with Bob's phone, and Bob's end of it
	aliceRoom        *megolm.OutboundSession
	bobRoom          *megolm.OutboundSession
	bobInbound       *megolm.InboundSession // Bob's phone's copy of Alice's room session
	bobOwnInbound    *megolm.InboundSession // Bob's phone's copy of his own room session
	bobInboundInfo   event.SessionInfo
	firstMessage     []byte // Alice's first room event (index 0)
	events           int
}

func newDemoStory(d *demoRun) *demoStory { return &demoStory{demoRun: d} }

func (s *demoStory) play() {
	s.devices()
	s.olmAndRoomKey()
	s.roomMessages()
	s.lateDevice()
	s.verification()
	s.backup()
	s.document()
}

// short abbreviates a public key or id for the narration.
func short(v string) string {
	if len(v) <= 12 {
		return v
	}
	return v[:10] + "…"
}

func (s *demoStory) newDevice(user, id string, oneTimeKeys int, fallback bool) *demoDevice {
	acct, err := olm.NewAccountFrom(s.rand)
	s.must("create the account of "+id, err)
	if oneTimeKeys > 0 {
		_, _, err := acct.GenerateOneTimeKeysFrom(s.rand, oneTimeKeys)
		s.must("generate one-time keys", err)
	}
	if fallback {
		_, err := acct.GenerateFallbackKeyFrom(s.rand)
		s.must("generate a fallback key", err)
	}
	up, err := event.KeysForUpload(acct, user, id, nil)
	s.must("build the /keys/upload body", err)
	body, err := json.Marshal(up)
	s.must("encode the /keys/upload body", err)
	dev := &demoDevice{user: user, id: id, acct: acct}
	s.must("decode the /keys/upload body", json.Unmarshal(body, &dev.upload))
	acct.MarkKeysAsPublished()
	return dev
}

// queryKeys is what another device does with /keys/query: it verifies the
// device keys' self-signature and that they are for the device asked for.
func (s *demoStory) queryKeys(dev *demoDevice, by string) *signing.DeviceKeys {
	dk, err := signing.VerifyDeviceKeys(dev.upload.DeviceKeys, dev.user, dev.id)
	s.check(fmt.Sprintf("%s verifies the self-signature of %s's device keys", by, dev.id), err)
	if err != nil {
		panic(demoAbort{err})
	}
	s.expect(fmt.Sprintf("%s's published keys are its account's identity keys", dev.id),
		dk.Curve25519 == dev.acct.Curve25519() && dk.Ed25519 == dev.acct.Ed25519(), "published keys differ")
	return dk
}

// claimKey is /keys/claim: the claimer verifies the one-time key's
// signature with the device's Ed25519 key.
func (s *demoStory) claimKey(dev *demoDevice, dk *signing.DeviceKeys, by string) key.Curve25519 {
	ids := make([]string, 0, len(dev.upload.OneTimeKeys))
	for id := range dev.upload.OneTimeKeys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if len(ids) == 0 {
		s.must("claim a one-time key", errors.New("no one-time keys published"))
	}
	raw := dev.upload.OneTimeKeys[ids[0]]
	delete(dev.upload.OneTimeKeys, ids[0]) // the server hands it out once
	otk, err := signing.VerifySignedKey(raw, dev.user, dev.id, dk.Ed25519)
	s.check(fmt.Sprintf("%s verifies the signature on %s's one-time key %s", by, dev.id, ids[0]), err)
	if err != nil {
		panic(demoAbort{err})
	}
	return otk.Key
}

func (s *demoStory) nextEventID() string {
	s.events++
	return fmt.Sprintf("$event%d", s.events)
}

func (s *demoStory) devices() {
	s.step("Alice and Bob create their devices and publish signed keys")
	s.alice = s.newDevice(demoAlice, "ALICEPHONE", 0, false)
	s.bobPhone = s.newDevice(demoBob, "BOBPHONE", 5, true)
	for _, dev := range []*demoDevice{s.alice, s.bobPhone} {
		extra := ""
		if n := len(dev.upload.OneTimeKeys); n > 0 {
			extra = fmt.Sprintf("; %d signed one-time keys and %d fallback key", n, len(dev.upload.FallbackKeys))
		}
		s.say("%s %s publishes device keys: Curve25519 %s, Ed25519 %s%s",
			dev.user, dev.id, short(dev.acct.Curve25519().String()), short(dev.acct.Ed25519().String()), extra)
	}
	s.bobKeys = s.queryKeys(s.bobPhone, "Alice")
	s.aliceKeys = s.queryKeys(s.alice, "Bob")

	// A server that swaps the Curve25519 key of Bob's device keys (to
	// read what Alice sends) breaks the signature.
	var obj map[string]any
	s.must("decode device keys", json.Unmarshal(s.bobPhone.upload.DeviceKeys, &obj))
	obj["keys"].(map[string]any)["curve25519:BOBPHONE"] = s.alice.acct.Curve25519().String()
	forged, _ := json.Marshal(obj)
	_, err := signing.VerifyDeviceKeys(forged, demoBob, "BOBPHONE")
	s.refused("device keys with a Curve25519 key swapped by the server are refused", err, signing.ErrAuthentication)
}

func (s *demoStory) olmAndRoomKey() {
	s.step("Alice opens an Olm session and shares her Megolm room key")
	otk := s.claimKey(s.bobPhone, s.bobKeys, "Alice")
	var err error
	s.aliceOlm, err = s.alice.acct.NewOutboundSessionFrom(s.rand, s.bobKeys.Curve25519, otk)
	s.must("create the outbound Olm session", err)
	s.say("Alice's Olm session %s uses Bob's one-time key %s", short(s.aliceOlm.ID()), short(otk.String()))

	s.aliceRoom, err = megolm.NewOutboundSessionFrom(s.rand)
	s.must("create the Megolm session", err)
	roomKey, err := event.RoomKeyContent(demoRoom, s.aliceRoom, false)
	s.must("build the m.room_key content", err)
	s.say("Alice's room session %s for %s", short(s.aliceRoom.SessionID().String()), demoRoom)

	content, _, err := event.EncryptOlmFrom(s.rand, s.alice.acct, s.aliceOlm, event.OlmEncryptParams{
		Sender: demoAlice, Recipient: demoBob,
		RecipientEd25519: s.bobKeys.Ed25519, RecipientCurve25519: s.bobKeys.Curve25519,
		Type: "m.room_key", Content: roomKey,
	})
	s.must("encrypt the m.room_key to-device event", err)
	oc, err := event.ParseOlmContent(content)
	s.must("parse the m.room.encrypted content", err)
	msg := oc.Ciphertext[s.bobKeys.Curve25519.String()]
	s.say("to-device m.room.encrypted for BOBPHONE: Olm message type %d, %d bytes", msg.Type, len(msg.Body))
	s.expect("the first message of a new session is a pre-key message (type 0)", msg.Type == olm.TypePreKey, "type %d", msg.Type)

	before := s.bobPhone.acct.StoredOneTimeKeys()
	ev, err := event.DecryptOlm(s.bobPhone.acct, content, event.OlmDecryptParams{
		Sender: demoAlice, OwnUserID: demoBob, SenderDevice: s.aliceKeys,
	})
	s.must("Bob decrypts the to-device event", err)
	s.bobOlm = ev.Session
	s.expect("Bob's device creates the inbound session from the pre-key message", ev.NewSession && ev.Session.ID() == s.aliceOlm.ID(),
		"new %v, id %s", ev.NewSession, ev.Session.ID())
	s.expect("the sender key is authenticated as Alice's device's Curve25519 key", ev.SenderKey == s.aliceKeys.Curve25519, "got %s", ev.SenderKey)
	after := s.bobPhone.acct.StoredOneTimeKeys()
	s.expect("the used one-time key is removed from Bob's account", after == before-1, "%d keys before, %d after", before, after)

	rk, err := event.RoomKeyFromEvent(ev)
	s.must("read the m.room_key event", err)
	s.bobInbound, err = rk.InboundSession()
	s.must("create the inbound Megolm session", err)
	s.bobInboundInfo = rk.Info
	s.expect("Bob's inbound room session has the id of Alice's outbound one",
		rk.Info.SessionID == s.aliceRoom.SessionID() && s.bobInbound.SessionID() == s.aliceRoom.SessionID(), "got %s", rk.Info.SessionID)

	_, err = event.DecryptOlm(s.bobPhone.acct, content, event.OlmDecryptParams{
		Sender: demoAlice, OwnUserID: demoBob, SenderDevice: s.aliceKeys, Sessions: []*olm.Session{s.bobOlm},
	})
	s.refused("the same to-device event delivered twice is refused", err, event.ErrUnknownIndex)
}

func (s *demoStory) encryptRoom(out *megolm.OutboundSession, dev *demoDevice, body string) ([]byte, uint32) {
	content, _ := json.Marshal(map[string]string{"msgtype": "m.text", "body": body})
	ck := dev.acct.Curve25519()
	c, idx, err := event.EncryptMegolm(out, event.MegolmEncryptParams{RoomID: demoRoom, Type: "m.room.message", Content: content, SenderKey: &ck, DeviceID: dev.id})
	s.must("encrypt a room message", err)
	return c, idx
}

// readRoom decrypts a room event and checks its body.
func (s *demoStory) readRoom(who string, in *megolm.InboundSession, c []byte, guard *event.ReplayGuard, eventID, sender string, info event.SessionInfo, want string) *event.RoomEvent {
	ev, err := event.DecryptMegolm(in, c, event.MegolmDecryptParams{
		RoomID: demoRoom, EventID: eventID, OriginServerTS: 1_700_000_000_000 + int64(s.events), Guard: guard,
		Sender: sender, Session: info,
	})
	if !s.check(fmt.Sprintf("%s decrypts %s", who, eventID), err) {
		return nil
	}
	var body struct{ Body string }
	json.Unmarshal(ev.Content, &body)
	s.expect(fmt.Sprintf("%s reads %q (message index %d)", who, body.Body, ev.MessageIndex), body.Body == want, "got %q", body.Body)
	return ev
}

func (s *demoStory) roomMessages() {
	s.step("Alice and Bob talk in the room")
	var bobGuard, aliceGuard event.ReplayGuard
	c, idx := s.encryptRoom(s.aliceRoom, s.alice, "Hallo Bob, dein Befund ist da.")
	s.firstMessage = c
	first := s.nextEventID()
	s.say("Alice sends %s: m.room.encrypted, Megolm message index %d, %d bytes of content", first, idx, len(c))
	if ev := s.readRoom("Bob", s.bobInbound, c, &bobGuard, first, demoAlice, s.bobInboundInfo, "Hallo Bob, dein Befund ist da."); ev != nil {
		s.expect("the event comes from a session Alice's device shared over Olm (verified)", ev.Provenance == event.OverOlm && ev.SenderChecked, "marked unverified")
	}

	// Bob answers with his own room session, whose key goes to Alice over
	// the Olm session Alice opened.
	var err error
	s.bobRoom, err = megolm.NewOutboundSessionFrom(s.rand)
	s.must("create Bob's Megolm session", err)
	s.bobOwnInbound, err = megolm.NewInboundSession(s.bobRoom.SessionKey())
	s.must("keep Bob's own inbound copy", err)
	roomKey, err := event.RoomKeyContent(demoRoom, s.bobRoom, false)
	s.must("build Bob's m.room_key", err)
	content, _, err := event.EncryptOlmFrom(s.rand, s.bobPhone.acct, s.bobOlm, event.OlmEncryptParams{
		Sender: demoBob, Recipient: demoAlice,
		RecipientEd25519: s.aliceKeys.Ed25519, RecipientCurve25519: s.aliceKeys.Curve25519,
		Type: "m.room_key", Content: roomKey,
	})
	s.must("encrypt Bob's m.room_key", err)
	oc, err := event.ParseOlmContent(content)
	s.must("parse Bob's to-device content", err)
	msg := oc.Ciphertext[s.aliceKeys.Curve25519.String()]
	s.expect("Bob has heard from Alice, so his Olm reply is a normal message (type 1)", msg.Type == olm.TypeMessage, "type %d", msg.Type)
	ev, err := event.DecryptOlm(s.alice.acct, content, event.OlmDecryptParams{
		Sender: demoBob, OwnUserID: demoAlice, SenderDevice: s.bobKeys, Sessions: []*olm.Session{s.aliceOlm},
	})
	s.must("Alice decrypts Bob's to-device event", err)
	s.expect("Alice's existing Olm session decrypts it (no new session)", !ev.NewSession && ev.Session == s.aliceOlm, "new session %v", ev.NewSession)
	rk, err := event.RoomKeyFromEvent(ev)
	s.must("read Bob's m.room_key", err)
	aliceInbound, err := rk.InboundSession()
	s.must("Alice's inbound copy of Bob's session", err)

	c2, idx := s.encryptRoom(s.bobRoom, s.bobPhone, "Danke! Ich lese ihn gleich.")
	id2 := s.nextEventID()
	s.say("Bob sends %s with his own session %s, index %d", id2, short(s.bobRoom.SessionID().String()), idx)
	s.readRoom("Alice", aliceInbound, c2, &aliceGuard, id2, demoBob, rk.Info, "Danke! Ich lese ihn gleich.")

	c3, idx := s.encryptRoom(s.aliceRoom, s.alice, "Ruf mich an, wenn du Fragen hast.")
	id3 := s.nextEventID()
	s.say("Alice sends %s, index %d", id3, idx)
	s.readRoom("Bob", s.bobInbound, c3, &bobGuard, id3, demoAlice, s.bobInboundInfo, "Ruf mich an, wenn du Fragen hast.")

	// What the server could try.
	_, err = event.DecryptMegolm(s.bobInbound, c3, event.MegolmDecryptParams{
		RoomID: demoRoom, EventID: "$replayed", OriginServerTS: 1_700_000_009_999, Guard: &bobGuard,
		Sender: demoAlice, Session: s.bobInboundInfo,
	})
	s.refused("the server replays Alice's event under a new event id: refused", err, event.ErrReplay)
	_, err = event.DecryptMegolm(s.bobInbound, c3, event.MegolmDecryptParams{RoomID: "!other:example.org", Sender: demoAlice, Session: s.bobInboundInfo})
	s.refused("the server moves Alice's event into another room: refused", err, event.ErrValidation)
	tampered := tamperMegolmContent(c3)
	_, err = event.DecryptMegolm(s.bobInbound, tampered, event.MegolmDecryptParams{RoomID: demoRoom, Sender: demoAlice, Session: s.bobInboundInfo})
	s.refused("a ciphertext with one bit flipped is refused", err, event.ErrAuthentication)
	_, err = event.DecryptMegolm(s.bobInbound, c3, event.MegolmDecryptParams{RoomID: demoRoom, EventID: id3, Guard: &bobGuard, OriginServerTS: 1_700_000_000_000 + 3, Sender: demoAlice, Session: s.bobInboundInfo})
	s.check("after the refusals Bob's session still decrypts the original event", err)
}

// tamperMegolmContent flips one bit in the middle of the Megolm message of
// an m.room.encrypted content.
func tamperMegolmContent(content []byte) []byte {
	var obj map[string]any
	json.Unmarshal(content, &obj)
	ct := []byte(obj["ciphertext"].(string))
	i := len(ct) / 2
	if ct[i] == 'A' {
		ct[i] = 'B'
	} else {
		ct[i] = 'A'
	}
	obj["ciphertext"] = string(ct)
	out, _ := json.Marshal(obj)
	return out
}

func (s *demoStory) lateDevice() {
	s.step("Bob's laptop joins late and gets the room key forwarded")
	s.bobLaptop = s.newDevice(demoBob, "BOBLAPTOP", 1, false)
	s.say("Bob's new device BOBLAPTOP: Curve25519 %s", short(s.bobLaptop.acct.Curve25519().String()))
	laptopKeys := s.queryKeys(s.bobLaptop, "Bob's phone")
	otk := s.claimKey(s.bobLaptop, laptopKeys, "Bob's phone")
	toLaptop, err := s.bobPhone.acct.NewOutboundSessionFrom(s.rand, laptopKeys.Curve25519, otk)
	s.must("Bob's phone opens an Olm session to the laptop", err)

	fwd, err := event.ForwardedRoomKeyContent(megolm.NewExportedSession(s.bobInbound.ExportAtFirstKnownIndex(), demoRoom, s.aliceKeys.Curve25519, s.aliceKeys.Ed25519))
	s.must("build the m.forwarded_room_key", err)
	content, _, err := event.EncryptOlmFrom(s.rand, s.bobPhone.acct, toLaptop, event.OlmEncryptParams{
		Sender: demoBob, Recipient: demoBob,
		RecipientEd25519: laptopKeys.Ed25519, RecipientCurve25519: laptopKeys.Curve25519,
		Type: "m.forwarded_room_key", Content: fwd,
	})
	s.must("encrypt the m.forwarded_room_key", err)
	s.say("Bob's phone forwards Alice's session %s from index %d", short(s.bobInbound.SessionID().String()), s.bobInbound.FirstKnownIndex())

	ev, err := event.DecryptOlm(s.bobLaptop.acct, content, event.OlmDecryptParams{
		Sender: demoBob, OwnUserID: demoBob, SenderDevice: s.bobKeys,
	})
	s.must("the laptop decrypts the forward", err)
	frk, err := event.ForwardedRoomKeyFromEvent(ev)
	s.must("read the m.forwarded_room_key", err)
	s.expect("the forward names Bob's phone in its forwarding chain",
		len(frk.Info.ForwardingChain) == 1 && frk.Info.ForwardingChain[0] == s.bobKeys.Curve25519, "chain %v", frk.Info.ForwardingChain)
	s.expect("a forwarded key is marked unverified", frk.Info.Provenance == event.Forwarded, "marked verified")
	in, err := frk.Session.InboundSession()
	s.must("the laptop's inbound session", err)

	var guard event.ReplayGuard
	c, idx := s.encryptRoom(s.aliceRoom, s.alice, "Termin am Montag um 9 Uhr.")
	id := s.nextEventID()
	s.say("Alice sends %s, index %d", id, idx)
	if ev := s.readRoom("Bob's laptop", in, c, &guard, id, demoAlice, frk.Info, "Termin am Montag um 9 Uhr."); ev != nil {
		s.expect("the laptop shows the event as unverified (key came by forward, not from Alice)", ev.Provenance == event.Forwarded, "marked verified")
	}
	s.readRoom("Bob's laptop", in, s.firstMessage, &guard, "$event1", demoAlice, frk.Info, "Hallo Bob, dein Befund ist da.")
}

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
