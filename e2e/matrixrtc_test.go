package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/sicher-go/sicher/e2e/internal/hs"
	"github.com/sicher-go/sicher/e2e/internal/peer"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/matrixrtc"
	"github.com/sicher-go/sicher/store"
)

// sicherDevice is a sicher machine on the homeserver, driven over plain HTTP: the requests of
// OutgoingRequests go out with the registration's access token, and /sync feeds ReceiveSync.
type sicherDevice struct {
	t     *testing.T
	s     *hs.Server
	u     *hs.User
	m     *machine.Machine
	since string
}

func newSicherDevice(t *testing.T, s *hs.Server, u *hs.User) *sicherDevice {
	t.Helper()
	m, err := machine.New(context.Background(), machine.Config{UserID: u.ID, DeviceID: u.DeviceID, Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	d := &sicherDevice{t: t, s: s, u: u, m: m}
	d.send()
	return d
}

// send executes every request the machine has queued.
func (d *sicherDevice) send() {
	d.t.Helper()
	ctx := context.Background()
	reqs, err := d.m.OutgoingRequests(ctx)
	if err != nil {
		d.t.Fatal(err)
	}
	for _, r := range reqs {
		var body any
		if r.Body != nil {
			body = r.Body
		}
		var resp json.RawMessage
		if err := d.s.Do(ctx, d.u.Token, r.Method, r.Path, body, &resp); err != nil {
			d.t.Fatalf("%s %s: %v", r.Method, r.Path, err)
		}
		if err := d.m.MarkRequestSent(ctx, r.ID, resp); err != nil {
			d.t.Fatal(err)
		}
	}
}

// sync runs one /sync (no long poll) and returns the machine's to-device events.
func (d *sicherDevice) sync() []machine.ToDeviceEvent {
	d.t.Helper()
	path := "/_matrix/client/v3/sync?timeout=0"
	if d.since != "" {
		path += "&since=" + url.QueryEscape(d.since)
	}
	var resp struct {
		NextBatch string `json:"next_batch"`
		ToDevice  struct {
			Events []json.RawMessage `json:"events"`
		} `json:"to_device"`
		DeviceLists struct {
			Changed []string `json:"changed"`
			Left    []string `json:"left"`
		} `json:"device_lists"`
		OTKCounts map[string]int `json:"device_one_time_keys_count"`
		Fallback  []string       `json:"device_unused_fallback_key_types"`
	}
	if err := d.s.Do(context.Background(), d.u.Token, "GET", path, nil, &resp); err != nil {
		d.t.Fatal(err)
	}
	d.since = resp.NextBatch
	evs, err := d.m.ReceiveSync(context.Background(), machine.SyncChanges{
		ToDevice: resp.ToDevice.Events, Changed: resp.DeviceLists.Changed, Left: resp.DeviceLists.Left,
		OneTimeKeyCounts: resp.OTKCounts, UnusedFallbackKeyTypes: resp.Fallback,
	})
	if err != nil {
		d.t.Fatal(err)
	}
	return evs
}

// TestMatrixRTCKeysWithJSSDK exchanges MatrixRTC media keys between sicher (package matrixrtc
// on a machine over HTTP) and matrix-js-sdk (its encryptAndSendToDevice and
// ClientEvent.ReceivedToDeviceMessage, the calls its MatrixRTC ToDeviceKeyTransport uses) on
// the homeserver: js-sdk decrypts sicher's m.rtc.encryption_key and
// io.element.call.encryption_keys from sicher's device with sicher's key; sicher accepts
// js-sdk's keys in both formats, and refuses one whose claimed_device_id is not the sending
// device. The js-sdk peer does not cross-sign its device, so sicher accepts devices that are
// not cross-signed here (InsecureAcceptNotCrossSigned); that check has its own tests in
// matrixrtc.
func TestMatrixRTCKeysWithJSSDK(t *testing.T) {
	t.Parallel()
	s := hs.ForTest(t)
	js := start(t, s, "jssdk")[0]
	u := s.MustRegister(t, "rtcsicher")
	g := newSicherDevice(t, s, u)
	room := s.EncryptedRoom(t, u, js.u)
	ctx := context.Background()

	jsMember := matrixrtc.Member{UserID: js.u.ID, DeviceID: js.dev.DeviceID, MemberID: "js-member"}
	km, err := matrixrtc.New(matrixrtc.Config{Machine: g.m, RoomID: room, MemberID: "sicher-member",
		SendLegacy: true, InsecureAcceptNotCrossSigned: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.SetMembers(ctx, time.Now(), []matrixrtc.Member{km.Own(), jsMember}); err != nil {
		t.Fatal(err)
	}
	own, _ := km.SendingKey()
	ownB64 := base64.RawStdEncoding.EncodeToString(own.Bytes())
	curve, _ := g.m.IdentityKeys()

	// sicher → js-sdk: both formats arrive Olm-encrypted from sicher's device.
	got := map[string]peer.ToDeviceEvent{}
	for i := 0; len(got) < 2; i++ {
		if i == 60 {
			t.Fatalf("js-sdk received %d of sicher's 2 key events in 30 s\n%s", len(got), js.p.Stderr())
		}
		g.send()
		for _, ev := range g.sync() {
			if _, err := km.Receive(ctx, time.Now(), ev); err != nil {
				t.Logf("sicher refused: %v", err)
			}
		}
		if _, err := km.Tick(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
		g.send()
		evs, err := js.p.ToDevice()
		js.p.Must(t, "to_device", err)
		for _, ev := range evs {
			if ev.Sender == u.ID {
				got[ev.Type] = ev
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	for typ, path := range map[string][]string{matrixrtc.EventTypeKey: {"media_key", "key"}, matrixrtc.EventTypeLegacyKeys: {"keys", "key"}} {
		ev, ok := got[typ]
		if !ok {
			t.Fatalf("js-sdk did not receive %s", typ)
		}
		if !ev.Encrypted || ev.SenderDevice != u.DeviceID || ev.SenderCurve25519 != curve.String() {
			t.Fatalf("%s at js-sdk: encrypted %v, device %q, key %q", typ, ev.Encrypted, ev.SenderDevice, ev.SenderCurve25519)
		}
		var c map[string]json.RawMessage
		if err := json.Unmarshal(ev.Content, &c); err != nil {
			t.Fatal(err)
		}
		var inner map[string]any
		if err := json.Unmarshal(c[path[0]], &inner); err != nil || inner[path[1]] != ownB64 || inner["index"] != float64(own.Index) {
			t.Fatalf("%s at js-sdk carries %s, want index %d and sicher's key", typ, c[path[0]], own.Index)
		}
	}

	// js-sdk → sicher: the legacy format as ToDeviceKeyTransport sends it (a 16-byte key, as
	// its RTCEncryptionManager makes them), the MSC4143 format, and a legacy key whose
	// claimed_device_id is another device.
	jsDev := peer.Device{UserID: u.ID, DeviceID: u.DeviceID}
	legacyKey, newKey := make([]byte, 16), make([]byte, 32)
	rand.Read(legacyKey)
	rand.Read(newKey)
	legacy := func(device string, key []byte, index int) map[string]any {
		return map[string]any{
			"keys":    map[string]any{"index": index, "key": base64.RawStdEncoding.EncodeToString(key)},
			"room_id": room,
			"member":  map[string]any{"claimed_device_id": device, "id": "js-member"},
			"session": map[string]any{"call_id": "", "application": "m.call", "scope": "m.room"},
			"sent_ts": time.Now().UnixMilli(),
		}
	}
	js.p.Must(t, "send legacy key", js.p.SendToDevice(matrixrtc.EventTypeLegacyKeys, legacy(js.dev.DeviceID, legacyKey, 0), jsDev))
	js.p.Must(t, "send key", js.p.SendToDevice(matrixrtc.EventTypeKey, map[string]any{
		"room_id": room, "member_id": "js-member", "format": 0,
		"media_key": map[string]any{"index": 1, "key": base64.RawStdEncoding.EncodeToString(newKey)},
	}, jsDev))
	js.p.Must(t, "send forged key", js.p.SendToDevice(matrixrtc.EventTypeLegacyKeys, legacy("NOTJS", bytes.Repeat([]byte{1}, 16), 2), jsDev))
	var mismatch error
	for i := 0; ; i++ {
		_, ok0 := km.PeerKey(jsMember, 0)
		_, ok1 := km.PeerKey(jsMember, 1)
		if ok0 && ok1 && mismatch != nil {
			break
		}
		if i == 60 {
			t.Fatalf("after 30 s sicher holds keys 0: %v, 1: %v of js-sdk, refusal %v\n%s", ok0, ok1, mismatch, js.p.Stderr())
		}
		g.send()
		for _, ev := range g.sync() {
			_, err := km.Receive(ctx, time.Now(), ev)
			switch {
			case errors.Is(err, matrixrtc.ErrSenderMismatch):
				mismatch = err
			case err != nil:
				t.Fatalf("sicher refused a js-sdk key: %v", err)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	k0, _ := km.PeerKey(jsMember, 0)
	k1, _ := km.PeerKey(jsMember, 1)
	if !bytes.Equal(k0.Bytes(), legacyKey) || !bytes.Equal(k1.Bytes(), newKey) {
		t.Fatal("sicher holds other keys than js-sdk sent")
	}
	if _, ok := km.PeerKey(jsMember, 2); ok {
		t.Fatal("sicher kept the key with another claimed_device_id")
	}
	t.Logf("js-sdk read sicher's 2 key events; sicher read js-sdk's 2 and refused the forged one: %v", mismatch)
}
