package machine

import (
	"encoding/json"
	"testing"

	"github.com/sicher-go/sicher/attachment"
	"github.com/sicher-go/sicher/internal/b64"
	"github.com/sicher-go/sicher/internal/cryptotest"
)

// TestDehydratedRequestPaths checks the MSC3814 endpoints and that the device id survives the
// store's request type.
func TestDehydratedRequestPaths(t *testing.T) {
	m := &Machine{}
	m.owner.UserID = "@a:x.org"
	const base = "/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device"
	for _, c := range []struct {
		kind         RequestKind
		p            requestParams
		method, path string
	}{
		{KindDehydratedDevicePut, requestParams{}, "PUT", base},
		{KindDehydratedDeviceGet, requestParams{}, "GET", base},
		{KindDehydratedDeviceEvents, requestParams{DeviceID: "a/b+c"}, "POST", base + "/a%2Fb+c/events"},
		{KindDehydratedDeviceDelete, requestParams{}, "DELETE", base},
	} {
		r := m.fromStored(&storeRequest{ID: "ID", Type: storedType(c.kind, c.p)})
		if r.Kind != c.kind || r.Method != c.method || r.Path != c.path || r.DeviceID != c.p.DeviceID {
			t.Errorf("%s: got %s %s %s %q, want %s %s", c.kind, r.Kind, r.Method, r.Path, r.DeviceID, c.method, c.path)
		}
	}
}

// TestRoomHistoryRedaction: fmt, slog and encoding/json never show the key of a bundle's file.
func TestRoomHistoryRedaction(t *testing.T) {
	_, f, err := attachment.Encrypt([]byte(`{"room_keys":[],"withheld":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	f.URL = "mxc://x.org/b"
	var j struct {
		Key struct {
			K string `json:"k"`
		} `json:"key"`
	}
	raw, _ := json.Marshal(f)
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	k, err := b64.Decode(urlToStd(j.Key.K))
	if err != nil || len(k) != 32 {
		t.Fatalf("file key %q: %v", j.Key.K, err)
	}
	h := &RoomHistory{RoomID: "!r:x.org", Invitee: "@b:x.org", Ciphertext: []byte("ct"), file: f}
	cryptotest.Redacted(t, h, k)
	cryptotest.Redacted(t, *h, k)
	rb := &RoomKeyBundle{RoomID: "!r:x.org", URL: f.URL, file: f}
	cryptotest.Redacted(t, rb, k)
	cryptotest.Redacted(t, *rb, k)
}

func urlToStd(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch c {
		case '-':
			b[i] = '+'
		case '_':
			b[i] = '/'
		}
	}
	return string(b)
}

// FuzzParseRoomKeyBundle: any content parses or fails, never panics.
func FuzzParseRoomKeyBundle(f *testing.F) {
	f.Add([]byte(`{"room_id":"!r:x.org","file":{"v":"v2","url":"mxc://x/y","key":{"kty":"oct","alg":"A256CTR","ext":true,"k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","key_ops":["encrypt","decrypt"]},"iv":"AAAAAAAAAAAAAAAAAAAAAA","hashes":{"sha256":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}}`))
	f.Add([]byte(`{"room_id":"!r:x.org"}`))
	f.Fuzz(func(t *testing.T, content []byte) {
		rb, err := ParseRoomKeyBundle(ToDeviceEvent{Type: TypeRoomKeyBundle, Content: content})
		if err == nil && (rb.RoomID == "" || rb.file == nil) {
			t.Fatal("parsed without room or file")
		}
	})
}
