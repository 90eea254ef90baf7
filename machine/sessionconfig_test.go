package machine

import (
	"errors"
	"testing"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/megolm"
)

// TestClassifySessionConfigV2: a Megolm event of vodozemac's session
// config v2, refused by the event layer, is reported as
// FailureUnsupportedVariant, not as malformed.
func TestClassifySessionConfigV2(t *testing.T) {
	out, err := megolm.NewOutboundSessionWithConfig(nil, megolm.SessionConfigV2)
	if err != nil {
		t.Fatal(err)
	}
	in, err := megolm.NewInboundSession(out.SessionKey())
	if err != nil {
		t.Fatal(err)
	}
	const room, sender = "!r:example.org", "@a:example.org"
	content, _, err := event.EncryptMegolm(out, event.MegolmEncryptParams{RoomID: room, Type: "m.room.message", Content: []byte(`{"body":"v2"}`)})
	if err != nil {
		t.Fatal(err)
	}
	_, derr := event.DecryptMegolm(in, content, event.MegolmDecryptParams{RoomID: room, Sender: sender,
		Session: event.SessionInfo{RoomID: room, SessionID: in.SessionID(), Sender: sender, Provenance: event.OverOlm}})
	if derr == nil {
		t.Fatal("a v1 session decrypted a v2 event")
	}
	var de *DecryptionError
	if err := classify(derr); !errors.As(err, &de) || de.Reason != FailureUnsupportedVariant || !errors.Is(err, megolm.ErrSessionConfigV2) {
		t.Fatalf("classified as %v", err)
	}
	if err := classify(event.ErrAuthentication); !errors.As(err, &de) || de.Reason != FailureAuthentication {
		t.Fatalf("authentication failure classified as %v", err)
	}
}
