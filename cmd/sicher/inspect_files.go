package main

// sicher inspect, files: key export files and session lists, encrypted attachments, key backup entries and /room_keys/keys bodies.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/sicher-go/sicher/internal/jsonstrict"
	"maps"
	"slices"
	"sort"

	"github.com/sicher-go/sicher/attachment"
	"github.com/sicher-go/sicher/keybackup"
	"github.com/sicher-go/sicher/keyexport"
)

func inspectKeyExport(file []byte) (*report, error) {
	h, err := keyExportHeader(file)
	if err != nil {
		r := newReport("key_export", "key export file (MEGOLM SESSION DATA), INVALID")
		r.add("error", err.Error())
		r.Invalid = true
		return r, nil
	}
	r := newReport("key_export", "key export file (MEGOLM SESSION DATA)")
	r.add("version", h.Version)
	r.add("salt", unpadded(h.Salt[:]))
	r.add("iv", unpadded(h.IV[:]))
	r.add("pbkdf2 rounds", h.Rounds)
	r.add("ciphertext", fmt.Sprintf("%d bytes (AES-256-CTR)", h.CiphertextLen))
	r.add("mac", "32 bytes (HMAC-SHA-256; checked with the passphrase)")
	if h.Rounds == 0 {
		r.note("0 rounds: no key can be derived, the file cannot decrypt")
		r.Invalid = true
	}
	if int64(h.Rounds) > keyexport.DefaultMaxRounds {
		r.note("%d rounds is more than sicher accepts by default (%d): use keyexport decrypt --max-rounds", h.Rounds, keyexport.DefaultMaxRounds)
	}
	if h.Rounds < 100_000 {
		r.note("fewer than 100000 rounds: the spec recommends more")
	}
	r.note("decrypt with: sicher keyexport decrypt --list FILE")
	return r, nil
}

func inspectEncryptedFile(in []byte) *report {
	f, err := attachment.ParseEncryptedFile(in)
	if err != nil {
		r := newReport("encrypted_file", "EncryptedFile, INVALID")
		r.add("error", err.Error())
		r.Invalid = true
		return r
	}
	r := newReport("encrypted_file", "EncryptedFile (encrypted attachment)")
	if f.URL != "" {
		r.add("url", f.URL)
	}
	v := f.Version
	if v == "" {
		v = "(none: legacy v0)"
	}
	r.add("version", v)
	if f.MimeType != "" {
		r.add("mimetype", f.MimeType)
	}
	r.add("iv", unpadded(f.IV[:]))
	r.add("sha256", unpadded(f.SHA256[:]))
	r.add("key", "A256CTR JWK present (secret, not printed)")
	if f.Version == attachment.Version2 && binary.BigEndian.Uint64(f.IV[8:]) != 0 {
		r.note("v2 requires the low 64 bits of the IV to be zero; these are not")
	}
	if f.Version != attachment.Version2 {
		r.note("legacy version: decrypt with --allow-legacy")
	}
	r.note("decrypt with: sicher attachment decrypt -j FILE.json CIPHERTEXT")
	return r
}

func inspectBackupEntry(in []byte) *report {
	var e keybackup.KeyBackupData
	if err := jsonstrict.Unmarshal(in, &e); err != nil {
		return invalid("key_backup_data", "key backup entry (KeyBackupData)", err)
	}
	return describeBackupData("key backup entry, m.megolm_backup.v1.curve25519-aes-sha2", e)
}

// describeBackupData describes a KeyBackupData without its keys.
func describeBackupData(title string, e keybackup.KeyBackupData) *report {
	r := newReport("key_backup_data", title)
	r.add("first message index", e.FirstMessageIndex)
	r.add("forwarded count", e.ForwardedCount)
	r.add("is verified", e.IsVerified)
	r.add("ephemeral key", e.SessionData.Ephemeral.String())
	r.add("ciphertext", fmt.Sprintf("%d bytes (AES-256-CBC)", len(e.SessionData.Ciphertext)))
	r.add("mac", fmt.Sprintf("%d bytes (over the empty string: it does not authenticate the ciphertext)", len(e.SessionData.MAC)))
	return r
}

// roomKeys is the body of PUT /room_keys/keys and the response of
// GET /room_keys/keys (spec "Server-side key backups",
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3room_keyskeys).
type roomKeys struct {
	Rooms map[string]roomKeysRoom `json:"rooms"`
}

// roomKeysRoom is one room of it, and the body of /room_keys/keys/{roomId}.
type roomKeysRoom struct {
	Sessions map[string]keybackup.KeyBackupData `json:"sessions"`
}

// inspectRoomKeys describes a /room_keys/keys body: rooms, then sessions
// with their backup metadata. room is "" for the whole body, or the
// /room_keys/keys/{roomId} body's room (unknown).
func inspectRoomKeys(in []byte, wholeBody bool) *report {
	const title = "key backup sessions (/room_keys/keys)"
	var body roomKeys
	var err error
	if wholeBody {
		err = jsonstrict.Unmarshal(in, &body)
	} else {
		var room roomKeysRoom
		err = jsonstrict.Unmarshal(in, &room)
		body.Rooms = map[string]roomKeysRoom{"(the room of the request path)": room}
	}
	if err != nil {
		return invalid("key_backup.room_keys", title, err)
	}
	r := newReport("key_backup.room_keys", title)
	sessions := 0
	for _, room := range body.Rooms {
		sessions += len(room.Sessions)
	}
	r.add("rooms", len(body.Rooms)).add("sessions", sessions)
	for _, id := range slices.Sorted(maps.Keys(body.Rooms)) {
		room := body.Rooms[id]
		p := newReport("key_backup.room", fmt.Sprintf("room %s, %d sessions", id, len(room.Sessions)))
		for _, sid := range slices.Sorted(maps.Keys(room.Sessions)) {
			p.part(describeBackupData("session "+sid, room.Sessions[sid]))
		}
		r.part(p)
	}
	r.note("session_data is encrypted to the backup key: decrypt with the recovery key (not printed here)")
	return r
}

func inspectSessionList(in []byte) (*report, error) {
	sessions, skipped, err := keyexport.ParseSessions(in)
	if err != nil {
		return nil, fmt.Errorf("not recognised: a JSON array, but not a session list: %w", err)
	}
	r := newReport("key_export.sessions", "decrypted key export (session list)")
	r.add("sessions", len(sessions)).add("invalid entries", len(skipped))
	rooms := map[string]int{}
	for _, s := range sessions {
		rooms[s.RoomID]++
	}
	names := make([]string, 0, len(rooms))
	for n := range rooms {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r.add("room "+n, fmt.Sprintf("%d sessions", rooms[n]))
	}
	for _, e := range skipped {
		r.note("%v", e)
	}
	r.Invalid = len(skipped) > 0
	r.note("the session keys in this list are secret (not printed)")
	return r, nil
}

// keyExportHeader is keyexport.ParseHeader with a hint for the most
// common damage: a file cut short before its footer line.
func keyExportHeader(file []byte) (*keyexport.FileHeader, error) {
	h, err := keyexport.ParseHeader(file)
	if errors.Is(err, keyexport.ErrMalformed) && bytes.Contains(file, []byte(keyexport.Header)) && !bytes.Contains(file, []byte(keyexport.Footer)) {
		err = fmt.Errorf("%w (truncated?)", err)
	}
	return h, err
}
