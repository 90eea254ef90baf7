package machine_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/machine"
)

// inject delivers a verification event to m as from (user, device) would send it to-device.
func (w *world) inject(to *machine.Machine, fromUser, evType string, content map[string]any) {
	c, _ := json.Marshal(content)
	ev, _ := json.Marshal(map[string]any{"type": evType, "sender": fromUser, "content": json.RawMessage(c)})
	w.hs.InjectToDevice(to.UserID(), to.DeviceID(), ev)
}

func hasCancel(errs []error, code machine.CancelCode) bool {
	for _, err := range errs {
		if errors.Is(err, &machine.CancelError{Code: code}) {
			return true
		}
	}
	return false
}

func TestVerificationCancelUser(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	va, vb := w.readyPair(a, b)
	if err := va.Cancel(w.ctx, ""); err != nil {
		t.Fatal(err)
	}
	w.pump(nil, a, b)
	w.wantCancel(va, machine.CancelUser)
	w.wantCancel(vb, machine.CancelUser)
	if !va.CancelledByUs || vb.CancelledByUs {
		t.Fatal("wrong side recorded as cancelling")
	}
	if err := va.StartSAS(w.ctx); !errors.Is(err, machine.ErrVerificationState) {
		t.Fatalf("StartSAS on a cancelled flow: %v", err)
	}
}

func TestVerificationCancelTimeout(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	va, vb := w.readyPair(a, b)
	w.advance(9 * time.Minute)
	w.wantState(va, machine.VerificationReady)
	w.advance(2 * time.Minute)
	if _, err := a.Verifications(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.pump(nil, a, b)
	w.wantCancel(va, machine.CancelTimeout)
	w.wantCancel(vb, machine.CancelTimeout)
	if !va.CancelledByUs {
		t.Fatal("the timeout should be ours")
	}
}

func TestVerificationCancelUnknownTransaction(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	w.inject(b, a.UserID(), "m.key.verification.start", map[string]any{"transaction_id": "nope",
		"from_device": a.DeviceID(), "method": "m.sas.v1"})
	errs := w.pump(nil, a, b)
	if !hasCancel(errs, machine.CancelUnknownTransaction) {
		t.Fatalf("errors %v", errs)
	}
	// Alice's device got the cancel; it knows no such flow either and stays quiet.
	var told bool
	for _, err := range errs {
		told = told || errors.Is(err, machine.ErrUnknownVerification)
	}
	if !told {
		t.Fatal("no m.unknown_transaction cancel reached the sender")
	}
}

func TestVerificationCancelUnknownMethod(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	va, vb := w.readyPair(a, b)
	w.inject(b, a.UserID(), "m.key.verification.start", map[string]any{"transaction_id": va.ID,
		"from_device": a.DeviceID(), "method": "m.bogus.v1"})
	w.pump(nil, a, b)
	w.wantCancel(vb, machine.CancelUnknownMethod)
	w.wantCancel(va, machine.CancelUnknownMethod)

	// An SAS start with no MAC method in common.
	va, vb = w.readyPair(a, b)
	w.inject(b, a.UserID(), "m.key.verification.start", map[string]any{"transaction_id": va.ID,
		"from_device": a.DeviceID(), "method": "m.sas.v1", "key_agreement_protocols": []string{"curve25519-hkdf-sha256"},
		"hashes": []string{"sha256"}, "message_authentication_codes": []string{"hmac-md5"}, "short_authentication_string": []string{"emoji"}})
	w.pump(nil, a, b)
	w.wantCancel(vb, machine.CancelUnknownMethod)
}

func TestVerificationCancelUnexpectedMessage(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	va, vb := w.readyPair(a, b)
	w.inject(b, a.UserID(), "m.key.verification.key", map[string]any{"transaction_id": va.ID, "key": "AAAA"})
	w.pump(nil, a, b)
	w.wantCancel(vb, machine.CancelUnexpectedMessage)
	w.wantCancel(va, machine.CancelUnexpectedMessage)

	// Two requests from one device at once: both are cancelled.
	v1, err := a.RequestVerification(w.ctx, b.UserID(), b.DeviceID())
	if err != nil {
		t.Fatal(err)
	}
	v2, err := a.RequestVerification(w.ctx, b.UserID(), b.DeviceID())
	if err != nil {
		t.Fatal(err)
	}
	errs := w.pump(nil, a, b)
	if !hasCancel(errs, machine.CancelUnexpectedMessage) {
		t.Fatalf("errors %v", errs)
	}
	w.wantCancel(v1, machine.CancelUnexpectedMessage)
	w.wantCancel(v2, machine.CancelUnexpectedMessage)
}

func TestVerificationCancelKeyMismatch(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	va, vb := w.readyPair(a, b)
	if err := va.StartSAS(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.pump(nil, a, b)
	// Bob's MAC also covers a key this flow is not about.
	w.tamper("m.key.verification.mac", func(c map[string]any) {
		c["mac"].(map[string]any)["ed25519:OTHERDEVICE"] = "AAAA"
	})
	for _, v := range []*machine.Verification{va, vb} {
		if err := v.ConfirmSAS(w.ctx); err != nil {
			t.Fatal(err)
		}
	}
	w.pump(nil, a, b)
	w.wantCancel(va, machine.CancelKeyMismatch)
	w.wantCancel(vb, machine.CancelKeyMismatch)
	if ok, _ := a.UserVerified(w.ctx, b.UserID()); ok {
		t.Fatal("verified after a key mismatch")
	}

	// A MAC over the right key ids that does not verify.
	w.hs.ToDeviceFilter = nil
	va, vb = w.readyPair(a, b)
	if err := va.StartSAS(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.pump(nil, a, b)
	w.tamper("m.key.verification.mac", func(c map[string]any) {
		for id := range c["mac"].(map[string]any) {
			c["mac"].(map[string]any)[id] = base64.RawStdEncoding.EncodeToString(make([]byte, 32))
		}
	})
	if err := vb.ConfirmSAS(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.pump(nil, a, b)
	if err := va.ConfirmSAS(w.ctx); !errors.Is(err, &machine.CancelError{Code: machine.CancelKeyMismatch}) {
		t.Fatalf("ConfirmSAS with a bad MAC waiting: %v", err)
	}
	w.wantCancel(va, machine.CancelKeyMismatch)
}

func TestVerificationCancelUserMismatch(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	va, vb := w.readyPair(a, b)
	w.inject(b, "@mallory:x.org", "m.key.verification.start", map[string]any{"transaction_id": va.ID,
		"from_device": a.DeviceID(), "method": "m.sas.v1"})
	w.pump(nil, a, b)
	w.wantCancel(vb, machine.CancelUserMismatch)
	w.wantCancel(va, machine.CancelUserMismatch)
}

func TestVerificationCancelInvalidMessage(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	va, vb := w.readyPair(a, b)
	w.tamper("m.key.verification.accept", func(c map[string]any) { delete(c, "commitment") })
	if err := va.StartSAS(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.pump(nil, a, b)
	w.wantCancel(va, machine.CancelInvalidMessage)
	w.wantCancel(vb, machine.CancelInvalidMessage)
}

func TestVerificationCancelAccepted(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	b2 := w.device(b.UserID(), "BOB2")
	w.track(a, b.UserID())
	va, err := a.RequestVerification(w.ctx, b.UserID())
	if err != nil {
		t.Fatal(err)
	}
	w.pump(nil, a, b, b2)
	v1, v2 := w.only(b), w.only(b2)
	if err := v1.Accept(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.pump(nil, a, b, b2)
	w.wantState(va, machine.VerificationReady)
	w.wantState(v1, machine.VerificationReady)
	w.wantCancel(v2, machine.CancelAccepted)
	if va.OtherDevice != b.DeviceID() {
		t.Fatalf("engaged with %q", va.OtherDevice)
	}
}

func TestVerificationCancelMismatchedCommitment(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	va, vb := w.readyPair(a, b)
	w.tamper("m.key.verification.accept", func(c map[string]any) {
		c["commitment"] = base64.RawStdEncoding.EncodeToString(make([]byte, 32))
	})
	if err := va.StartSAS(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.pump(nil, a, b)
	w.wantCancel(va, machine.CancelMismatchedCommitment)
	w.wantCancel(vb, machine.CancelMismatchedCommitment)
}

func TestVerificationCancelMismatchedSAS(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	va, vb := w.readyPair(a, b)
	if err := vb.MismatchSAS(w.ctx); !errors.Is(err, machine.ErrVerificationState) {
		t.Fatalf("MismatchSAS before the keys: %v", err)
	}
	if err := va.StartSAS(w.ctx); err != nil {
		t.Fatal(err)
	}
	w.pump(nil, a, b)
	if err := vb.MismatchSAS(w.ctx); err != nil {
		t.Fatalf("MismatchSAS: %v", err)
	}
	w.pump(nil, a, b)
	w.wantCancel(va, machine.CancelMismatchedSAS)
	w.wantCancel(vb, machine.CancelMismatchedSAS)
}

func TestVerificationBothStart(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	va, vb := w.readyPair(a, b)
	for _, v := range []*machine.Verification{va, vb} {
		if err := v.StartSAS(w.ctx); err != nil {
			t.Fatal(err)
		}
	}
	w.pump(nil, a, b)
	w.wantState(va, machine.VerificationKeysExchanged)
	w.wantState(vb, machine.VerificationKeysExchanged)
	for _, v := range []*machine.Verification{va, vb} {
		if err := v.ConfirmSAS(w.ctx); err != nil {
			t.Fatal(err)
		}
	}
	w.pump(nil, a, b)
	w.wantState(va, machine.VerificationDone)
	w.wantState(vb, machine.VerificationDone)
}

func TestVerificationMalformedIDs(t *testing.T) {
	w := newWorld(t)
	a, b, _, _, _ := w.pair()
	w.inject(b, a.UserID(), "m.key.verification.request", map[string]any{"transaction_id": strings.Repeat("x", 256),
		"from_device": a.DeviceID(), "methods": []string{"m.sas.v1"}, "timestamp": w.now.UnixMilli()})
	w.inject(b, a.UserID(), "m.key.verification.request", map[string]any{
		"from_device": a.DeviceID(), "methods": []string{"m.sas.v1"}, "timestamp": w.now.UnixMilli()})
	errs := w.pump(nil, a, b)
	if len(errs) != 2 || !errors.Is(errs[0], event.ErrMalformed) || !errors.Is(errs[1], event.ErrMalformed) {
		t.Fatalf("errors %v", errs)
	}
	if vs, _ := b.Verifications(w.ctx); len(vs) != 0 {
		t.Fatal("a flow was made from a malformed request")
	}
}

func TestVerificationCancelBeforeRoomRequestSent(t *testing.T) {
	w := newWorld(t)
	w.now = time.UnixMilli(1_700_000_000_000)
	a, b, _, _, room := w.pair()
	feed := w.roomFeed(room)
	va, err := a.RequestVerificationInRoom(w.ctx, room, b.UserID())
	if err != nil {
		t.Fatal(err)
	}
	if err := va.Cancel(w.ctx, ""); err != nil { // before the request was sent
		t.Fatal(err)
	}
	w.pump(feed, a, b)
	w.refresh(va)
	if va.ID[0] != '$' {
		t.Fatalf("flow id %q", va.ID)
	}
	w.wantCancel(w.only(b), machine.CancelUser)
}
