package machinetest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/machine"
)

func do(t *testing.T, s *Server, user string, r machine.Request) []byte {
	t.Helper()
	out, err := s.Do(user, "DEV", r)
	if err != nil {
		t.Fatalf("%s: %v", r.Kind, err)
	}
	return out
}

func TestSignaturesMerge(t *testing.T) {
	s := NewServer()
	s.SetDeviceKeys("@a:x", "DEV", json.RawMessage(`{"user_id":"@a:x","device_id":"DEV","keys":{"ed25519:DEV":"k"},"signatures":{"@a:x":{"ed25519:DEV":"self"}}}`))
	do(t, s, "@a:x", machine.Request{Kind: machine.KindSigningKeysUpload, Body: json.RawMessage(`{"master_key":{"user_id":"@a:x","usage":["master"],"keys":{"ed25519:MK":"MK"}}}`)})
	out := do(t, s, "@a:x", machine.Request{Kind: machine.KindSignatureUpload, Body: json.RawMessage(`{"@a:x":{
		"DEV":{"user_id":"@a:x","device_id":"DEV","keys":{"ed25519:DEV":"k"},"signatures":{"@a:x":{"ed25519:SSK":"sig1"}}},
		"MK":{"user_id":"@a:x","usage":["master"],"keys":{"ed25519:MK":"MK"},"signatures":{"@a:x":{"ed25519:DEV":"sig2"}}},
		"NOPE":{"signatures":{}}}}`)})
	if !strings.Contains(string(out), `"NOPE"`) {
		t.Errorf("unknown key not reported: %s", out)
	}
	if k := string(s.DeviceKeys("@a:x", "DEV")); !strings.Contains(k, `"ed25519:SSK":"sig1"`) || !strings.Contains(k, `"ed25519:DEV":"self"`) {
		t.Errorf("device signatures not merged: %s", k)
	}
	if k := string(s.cross["@a:x"]["master"]); !strings.Contains(k, `"sig2"`) {
		t.Errorf("master key signature not merged: %s", k)
	}
	// A signature over a different object is refused.
	if _, err := s.Do("@a:x", "DEV", machine.Request{Kind: machine.KindSignatureUpload, Body: json.RawMessage(`{"@a:x":{"DEV":{"user_id":"@a:x","device_id":"DEV","keys":{"ed25519:DEV":"other"},"signatures":{"@a:x":{"ed25519:SSK":"x"}}}}}`)}); err == nil {
		t.Error("signature over a changed object accepted")
	}
}

func TestBackup(t *testing.T) {
	s := NewServer()
	var v struct{ Version string }
	json.Unmarshal(do(t, s, "@a:x", machine.Request{Kind: machine.KindBackupVersion, Body: json.RawMessage(`{"algorithm":"m.megolm_backup.v1.curve25519-aes-sha2","auth_data":{}}`)}), &v)
	if v.Version != "1" {
		t.Fatalf("version %q", v.Version)
	}
	up := func(index int, verified bool) error {
		b, _ := json.Marshal(map[string]any{"rooms": map[string]any{"!r": map[string]any{"sessions": map[string]any{"S": map[string]any{
			"first_message_index": index, "forwarded_count": 0, "is_verified": verified, "session_data": map[string]any{}}}}}})
		_, err := s.Do("@a:x", "DEV", machine.Request{Kind: machine.KindBackupUpload, Version: "1", Body: b})
		return err
	}
	for _, c := range []struct {
		index    int
		verified bool
		want     string
	}{{5, false, `"first_message_index":5`}, {3, false, `"first_message_index":3`}, {7, false, `"first_message_index":3`}, {9, true, `"first_message_index":9`}, {0, false, `"first_message_index":9`}} {
		if err := up(c.index, c.verified); err != nil {
			t.Fatal(err)
		}
		got, err := s.Do("@a:x", "DEV", machine.Request{Kind: machine.KindBackupDownload, Version: "1", RoomID: "!r", SessionID: "S"})
		if err != nil || !strings.Contains(string(got), c.want) {
			t.Errorf("after uploading index %d verified %v: %s %v, want %s", c.index, c.verified, got, err, c.want)
		}
	}
	if _, err := s.Do("@a:x", "DEV", machine.Request{Kind: machine.KindBackupDownload, Version: "1", RoomID: "!r", SessionID: "T"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing session: %v", err)
	}
	if _, err := s.Do("@a:x", "DEV", machine.Request{Kind: machine.KindBackupUpload, Version: "2", Body: json.RawMessage(`{"rooms":{}}`)}); !errors.Is(err, ErrWrongBackupVersion) {
		t.Errorf("wrong version: %v", err)
	}
}

func TestRoomEventIdempotent(t *testing.T) {
	s := NewServer()
	room := s.CreateRoom("@a:x")
	r := machine.Request{ID: "txn1", Kind: machine.KindRoomEvent, RoomID: room, EventType: "m.key.verification.start", Body: json.RawMessage(`{}`)}
	a, b := do(t, s, "@a:x", r), do(t, s, "@a:x", r)
	if string(a) != string(b) || len(s.Messages(room)) != 1 {
		t.Errorf("resent transaction stored twice: %s %s, %d events", a, b, len(s.Messages(room)))
	}
	if _, err := s.Do("@b:x", "DEV", r); err == nil {
		t.Error("a non-member sent into the room")
	}
	do(t, s, "@a:x", machine.Request{Kind: machine.KindAccountData, EventType: "m.secret_storage.default_key", Body: json.RawMessage(`{"key":"K"}`)})
	if got := string(s.AccountData("@a:x", "m.secret_storage.default_key")); got != `{"key":"K"}` {
		t.Errorf("account data %s", got)
	}
}
