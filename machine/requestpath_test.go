package machine

import (
	"testing"

	"github.com/sicher-go/sicher/store"
)

type storeRequest = store.OutgoingRequest

// TestRequestPaths checks the method and path of every request kind against the
// client-server API (https://spec.matrix.org/v1.19/client-server-api/), and that path
// parameters survive the round trip through the store's request type.
func TestRequestPaths(t *testing.T) {
	m := &Machine{}
	m.owner.UserID = "@a:x.org"
	for _, c := range []struct {
		kind         RequestKind
		p            requestParams
		method, path string
	}{
		{KindKeysUpload, requestParams{}, "POST", "/_matrix/client/v3/keys/upload"},
		{KindKeysQuery, requestParams{}, "POST", "/_matrix/client/v3/keys/query"},
		{KindKeysClaim, requestParams{}, "POST", "/_matrix/client/v3/keys/claim"},
		{KindToDevice, requestParams{EventType: "m.room.encrypted"}, "PUT", "/_matrix/client/v3/sendToDevice/m.room.encrypted/ID"},
		{KindSignatureUpload, requestParams{}, "POST", "/_matrix/client/v3/keys/signatures/upload"},
		{KindSigningKeysUpload, requestParams{}, "POST", "/_matrix/client/v3/keys/device_signing/upload"},
		{KindAccountData, requestParams{EventType: "m.cross_signing.master"}, "PUT", "/_matrix/client/v3/user/@a:x.org/account_data/m.cross_signing.master"},
		{KindBackupVersion, requestParams{}, "POST", "/_matrix/client/v3/room_keys/version"},
		{KindBackupUpload, requestParams{Version: "7"}, "PUT", "/_matrix/client/v3/room_keys/keys?version=7"},
		{KindBackupDownload, requestParams{RoomID: "!r:x.org", SessionID: "a/b+c", Version: "7"}, "GET", "/_matrix/client/v3/room_keys/keys/%21r:x.org/a%2Fb+c?version=7"},
		{KindRoomEvent, requestParams{RoomID: "!r:x.org", EventType: "m.key.verification.start"}, "PUT", "/_matrix/client/v3/rooms/%21r:x.org/send/m.key.verification.start/ID"},
	} {
		r := m.fromStored(&storeRequest{ID: "ID", Type: storedType(c.kind, c.p)})
		if r.Kind != c.kind || r.Method != c.method || r.Path != c.path {
			t.Errorf("%s: got %s %s %s, want %s %s", c.kind, r.Kind, r.Method, r.Path, c.method, c.path)
		}
		if r.EventType != c.p.EventType || r.RoomID != c.p.RoomID || r.SessionID != c.p.SessionID || r.Version != c.p.Version {
			t.Errorf("%s: parameters %+v lost: %+v", c.kind, c.p, r)
		}
	}
}
