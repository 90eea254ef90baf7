package matrixrtc_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/sicher-go/sicher/internal/cryptotest"
	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/matrixrtc"
)

func TestConfigRequired(t *testing.T) {
	c := newCall(t)
	m := c.device("@alice:example.org", "A1")
	for _, cfg := range []matrixrtc.Config{
		{RoomID: "!r", MemberID: "x"},
		{Machine: m, MemberID: "x"},
		{Machine: m, RoomID: "!r"},
	} {
		if _, err := matrixrtc.New(cfg); !errors.Is(err, matrixrtc.ErrConfig) {
			t.Fatalf("%+v: %v", cfg, err)
		}
	}
}

// TestIndexWraps: the key index counts modulo 256 (MSC4143: 0–255), one step per rotation.
func TestIndexWraps(t *testing.T) {
	c := newCall(t)
	m := c.device("@alice:example.org", "A1")
	k, err := matrixrtc.New(matrixrtc.Config{Machine: m, RoomID: c.room, MemberID: "a", UseDelay: -1, RotationPeriod: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := k.SendingKey(); ok {
		t.Fatal("a key before SetMembers")
	}
	if err := k.SetMembers(c.ctx, c.now, nil); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := range 300 {
		sk, _ := k.SendingKey()
		if int(sk.Index) != i%256 {
			t.Fatalf("rotation %d: index %d", i, sk.Index)
		}
		if seen[string(sk.Bytes())] {
			t.Fatal("a key repeated")
		}
		seen[string(sk.Bytes())] = true
		c.now = c.now.Add(time.Minute)
		if _, err := k.Tick(c.ctx, c.now); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReceiveInvalid: malformed events are refused before anything is looked up, and other
// rooms' keys and other event types are ignored.
func TestReceiveInvalid(t *testing.T) {
	c := newCall(t)
	m := c.device("@alice:example.org", "A1")
	k, err := matrixrtc.New(matrixrtc.Config{Machine: m, RoomID: c.room, MemberID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	good := string(keyContent(t, c.room, "b", 1, bytes.Repeat([]byte{1}, 32)))
	ev := func(typ, content string) machine.ToDeviceEvent {
		return machine.ToDeviceEvent{Type: typ, Sender: "@bob:example.org", SenderDevice: "B1", Encrypted: true,
			SenderKey: key.Curve25519{1}, Content: json.RawMessage(content)}
	}
	short := `"AQEBAQEBAQEBAQEBAQEBAQ"` // 16 bytes: only the legacy format has them
	for name, e := range map[string]machine.ToDeviceEvent{
		"not json":         ev(matrixrtc.EventTypeKey, `{`),
		"no format":        ev(matrixrtc.EventTypeKey, `{"room_id":"`+c.room+`","member_id":"b","media_key":{"index":1,"key":"`+b32+`"}}`),
		"format 1":         ev(matrixrtc.EventTypeKey, `{"room_id":"`+c.room+`","member_id":"b","format":1,"media_key":{"index":1,"key":"`+b32+`"}}`),
		"no media_key":     ev(matrixrtc.EventTypeKey, `{"room_id":"`+c.room+`","member_id":"b","format":0}`),
		"no member_id":     ev(matrixrtc.EventTypeKey, `{"room_id":"`+c.room+`","format":0,"media_key":{"index":1,"key":"`+b32+`"}}`),
		"no room_id":       ev(matrixrtc.EventTypeKey, `{"member_id":"b","format":0,"media_key":{"index":1,"key":"`+b32+`"}}`),
		"index 256":        ev(matrixrtc.EventTypeKey, `{"room_id":"`+c.room+`","member_id":"b","format":0,"media_key":{"index":256,"key":"`+b32+`"}}`),
		"index -1":         ev(matrixrtc.EventTypeKey, `{"room_id":"`+c.room+`","member_id":"b","format":0,"media_key":{"index":-1,"key":"`+b32+`"}}`),
		"index 1.5":        ev(matrixrtc.EventTypeKey, `{"room_id":"`+c.room+`","member_id":"b","format":0,"media_key":{"index":1.5,"key":"`+b32+`"}}`),
		"no index":         ev(matrixrtc.EventTypeKey, `{"room_id":"`+c.room+`","member_id":"b","format":0,"media_key":{"key":"`+b32+`"}}`),
		"16-byte key":      ev(matrixrtc.EventTypeKey, `{"room_id":"`+c.room+`","member_id":"b","format":0,"media_key":{"index":1,"key":`+short+`}}`),
		"not base64":       ev(matrixrtc.EventTypeKey, `{"room_id":"`+c.room+`","member_id":"b","format":0,"media_key":{"index":1,"key":"!!"}}`),
		"duplicate member": ev(matrixrtc.EventTypeKey, `{"room_id":"`+c.room+`","Room_Id":"x","member_id":"b","format":0,"media_key":{"index":1,"key":"`+b32+`"}}`),
		"legacy no member": ev(matrixrtc.EventTypeLegacyKeys, `{"room_id":"`+c.room+`","keys":{"index":1,"key":"`+b32+`"}}`),
		"legacy no keys":   ev(matrixrtc.EventTypeLegacyKeys, `{"room_id":"`+c.room+`","member":{"claimed_device_id":"B1"}}`),
		"legacy 8 bytes":   ev(matrixrtc.EventTypeLegacyKeys, `{"room_id":"`+c.room+`","member":{"claimed_device_id":"B1"},"keys":{"index":1,"key":"AQEBAQEBAQE"}}`),
	} {
		if got, err := k.Receive(c.ctx, c.now, e); !errors.Is(err, matrixrtc.ErrMalformed) || got != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	other := ev(matrixrtc.EventTypeKey, string(keyContent(t, "!other:example.org", "b", 1, bytes.Repeat([]byte{1}, 32))))
	if got, err := k.Receive(c.ctx, c.now, other); got != nil || err != nil {
		t.Fatalf("another room's key: %v %v", got, err)
	}
	if got, err := k.Receive(c.ctx, c.now, ev("m.something", good)); got != nil || err != nil {
		t.Fatalf("another event type: %v %v", got, err)
	}
	plain := ev(matrixrtc.EventTypeKeyUnstable, good)
	plain.Encrypted = false
	if _, err := k.Receive(c.ctx, c.now, plain); !errors.Is(err, matrixrtc.ErrCleartext) {
		t.Fatalf("cleartext: %v", err)
	}
	if _, err := k.Receive(c.ctx, c.now, ev(matrixrtc.EventTypeKeyUnstable, good)); !errors.Is(err, matrixrtc.ErrUnknownMember) {
		t.Fatalf("unknown member: %v", err)
	}
}

// b32 is 32 bytes of 1 in format 0.
const b32 = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"

func TestMediaKeyRedacted(t *testing.T) {
	c := newCall(t)
	m := c.device("@alice:example.org", "A1")
	k, err := matrixrtc.New(matrixrtc.Config{Machine: m, RoomID: c.room, MemberID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.SetMembers(c.ctx, c.now, nil); err != nil {
		t.Fatal(err)
	}
	sk, _ := k.SendingKey()
	fk := sk.FrameKey()
	cryptotest.Redacted(t, sk, sk.Bytes(), fk[:])
	cryptotest.Redacted(t, &sk, sk.Bytes(), fk[:])
}
