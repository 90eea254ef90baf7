package machine

import "testing"

// TestBackupReadPaths checks the method and path of the backup reads added for recovery
// (spec "Server-side key backups",
// https://spec.matrix.org/v1.19/client-server-api/#server-side-key-backups).
func TestBackupReadPaths(t *testing.T) {
	m := &Machine{}
	m.owner.UserID = "@a:x.org"
	for _, c := range []struct {
		kind         RequestKind
		p            requestParams
		method, path string
	}{
		{KindBackupVersionGet, requestParams{}, "GET", "/_matrix/client/v3/room_keys/version"},
		{KindBackupDownloadKeys, requestParams{Version: "7"}, "GET", "/_matrix/client/v3/room_keys/keys?version=7"},
		{KindBackupDownloadKeys, requestParams{RoomID: "!r:x.org", Version: "7"}, "GET", "/_matrix/client/v3/room_keys/keys/%21r:x.org?version=7"},
	} {
		r := m.fromStored(&storeRequest{ID: "ID", Type: storedType(c.kind, c.p)})
		if r.Kind != c.kind || r.Method != c.method || r.Path != c.path || r.RoomID != c.p.RoomID || r.Version != c.p.Version {
			t.Errorf("%s %+v: got %s %s %s %+v, want %s %s", c.kind, c.p, r.Kind, r.Method, r.Path, r, c.method, c.path)
		}
	}
}
