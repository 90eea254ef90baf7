package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/e2e/internal/hs"
	"github.com/sicher-go/sicher/signing"
)

// EnvHomeserverImpl names the homeserver implementation and version
// (scripts/dendrite.sh prints dendrite-v0.13.8); TestEndpointProbe
// compares its findings with the known gaps of that server.
const EnvHomeserverImpl = "SICHER_TEST_HOMESERVER_IMPL"

// knownGaps lists, per homeserver, the probes that do not answer as the
// spec says. e2e/README.md lists the same; TestEndpointProbe fails when
// the server's answers differ, so that both are kept true.
var knownGaps = map[string][]string{
	"dendrite-v0.13.8": {
		"dehydrated device: GET (MSC3814)",
		"dehydrated device: PUT (MSC3814)",
		"dehydrated device: POST events (MSC3814)",
	},
}

// probe is one endpoint check: run returns what the server answered and
// whether that is what the spec asks for.
type probe struct {
	name string
	run  func() (string, bool)
}

// answer describes an error or success of one call.
func answer(err error) string {
	var e *hs.Error
	switch {
	case err == nil:
		return "200"
	case errors.As(err, &e):
		return fmt.Sprintf("%d %s", e.Status, e.Code)
	default:
		return err.Error()
	}
}

func b64(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }

// signObject adds an ed25519 signature by (userID, keyName) to obj over
// its canonical JSON without "signatures" and "unsigned"
// (https://spec.matrix.org/v1.19/appendices/#signing-json).
func signObject(t *testing.T, obj map[string]any, userID, keyName string, priv ed25519.PrivateKey) {
	t.Helper()
	plain := map[string]any{}
	for k, v := range obj {
		if k != "signatures" && k != "unsigned" {
			plain[k] = v
		}
	}
	msg, err := signing.Marshal(plain)
	if err != nil {
		t.Fatal(err)
	}
	sigs, _ := obj["signatures"].(map[string]any)
	if sigs == nil {
		sigs = map[string]any{}
		obj["signatures"] = sigs
	}
	mine, _ := sigs[userID].(map[string]any)
	if mine == nil {
		mine = map[string]any{}
		sigs[userID] = mine
	}
	mine["ed25519:"+keyName] = b64(ed25519.Sign(priv, msg))
}

func newKey(t *testing.T) (string, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return b64(pub), priv
}

// TestEndpointProbe records which client-server endpoints beyond plain
// messaging the homeserver serves: the ones sicher's machine issues
// requests for (dehydrated devices, key backup, cross-signing, signature
// upload, authenticated media, key-backup account data). Each probe does
// a real round trip where one is possible. The table goes to the test log.
func TestEndpointProbe(t *testing.T) {
	s := hs.ForTest(t)
	ctx := context.Background()
	u := s.MustRegister(t, "probe")
	do := func(method, path string, body, out any) error {
		return s.Do(ctx, u.Token, method, path, body, out)
	}
	uid := url.PathEscape(u.ID)
	const dehydrated = "/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device"

	// Device keys for the registration's device, signed by its own key,
	// so that cross-signing has a device to sign.
	devPub, devPriv := newKey(t)
	devKeys := map[string]any{
		"user_id": u.ID, "device_id": u.DeviceID,
		"algorithms": []string{"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"},
		"keys":       map[string]string{"ed25519:" + u.DeviceID: devPub, "curve25519:" + u.DeviceID: b64(make([]byte, 32))},
	}
	signObject(t, devKeys, u.ID, u.DeviceID, devPriv)
	if err := do(http.MethodPost, "/_matrix/client/v3/keys/upload", map[string]any{"device_keys": devKeys}, nil); err != nil {
		t.Fatalf("keys/upload: %v", err)
	}

	mskPub, mskPriv := newKey(t)
	sskPub, sskPriv := newKey(t)
	uskPub, _ := newKey(t)
	csKey := func(usage, pub string) map[string]any {
		return map[string]any{"user_id": u.ID, "usage": []string{usage}, "keys": map[string]string{"ed25519:" + pub: pub}}
	}
	msk, ssk, usk := csKey("master", mskPub), csKey("self_signing", sskPub), csKey("user_signing", uskPub)
	signObject(t, ssk, u.ID, mskPub, mskPriv)
	signObject(t, usk, u.ID, mskPub, mskPriv)
	backupVersion := ""
	var mediaURI string

	probes := []probe{
		{"dehydrated device: GET (MSC3814)", func() (string, bool) {
			err := do(http.MethodGet, dehydrated, nil, nil)
			var e *hs.Error
			return answer(err), err == nil || errors.As(err, &e) && e.Code == "M_NOT_FOUND"
		}},
		{"dehydrated device: PUT (MSC3814)", func() (string, bool) {
			var r struct {
				DeviceID string `json:"device_id"`
			}
			err := do(http.MethodPut, dehydrated, map[string]any{
				"device_id":     "PROBEDEHYD",
				"device_data":   map[string]any{"algorithm": "org.matrix.msc3814.v2", "device_pickle": "AAAA", "nonce": "AAAA"},
				"device_keys":   map[string]any{"user_id": u.ID, "device_id": "PROBEDEHYD", "algorithms": []string{"m.olm.v1.curve25519-aes-sha2"}, "keys": map[string]string{}},
				"one_time_keys": map[string]any{},
			}, &r)
			return answer(err), err == nil && r.DeviceID == "PROBEDEHYD"
		}},
		{"dehydrated device: POST events (MSC3814)", func() (string, bool) {
			err := do(http.MethodPost, dehydrated+"/PROBEDEHYD/events", map[string]any{}, nil)
			var e *hs.Error
			return answer(err), err == nil || errors.As(err, &e) && e.Code != "M_UNRECOGNIZED"
		}},
		{"key backup: POST /room_keys/version", func() (string, bool) {
			var r struct {
				Version string `json:"version"`
			}
			err := do(http.MethodPost, "/_matrix/client/v3/room_keys/version", map[string]any{
				"algorithm": "m.megolm_backup.v1.curve25519-aes-sha2", "auth_data": map[string]any{"public_key": b64(make([]byte, 32))},
			}, &r)
			backupVersion = r.Version
			return answer(err) + " version " + r.Version, err == nil && r.Version != ""
		}},
		{"key backup: PUT /room_keys/keys/{room}/{session}", func() (string, bool) {
			var r struct {
				Count int `json:"count"`
			}
			err := do(http.MethodPut, "/_matrix/client/v3/room_keys/keys/"+url.PathEscape("!probe:localhost")+"/probesession?version="+backupVersion, map[string]any{
				"first_message_index": 0, "forwarded_count": 0, "is_verified": false,
				"session_data": map[string]any{"ephemeral": b64(make([]byte, 32)), "ciphertext": "AAAA", "mac": "AAAAAAAAAAA"},
			}, &r)
			return answer(err) + fmt.Sprintf(" count %d", r.Count), err == nil && r.Count == 1
		}},
		{"key backup: GET /room_keys/version after the upload (count, etag)", func() (string, bool) {
			var r struct {
				Version   string `json:"version"`
				Algorithm string `json:"algorithm"`
				ETag      string `json:"etag"`
				Count     int    `json:"count"`
			}
			err := do(http.MethodGet, "/_matrix/client/v3/room_keys/version", nil, &r)
			return answer(err) + fmt.Sprintf(" count %d etag %q", r.Count, r.ETag), err == nil && r.Version == backupVersion && r.Algorithm != "" && r.ETag != "" && r.Count == 1
		}},
		{"key backup: GET /room_keys/keys", func() (string, bool) {
			var r struct {
				Rooms map[string]struct {
					Sessions map[string]any `json:"sessions"`
				} `json:"rooms"`
			}
			err := do(http.MethodGet, "/_matrix/client/v3/room_keys/keys?version="+backupVersion, nil, &r)
			return answer(err), err == nil && r.Rooms["!probe:localhost"].Sessions["probesession"] != nil
		}},
		{"key backup: DELETE /room_keys/version/{v}", func() (string, bool) {
			err := do(http.MethodDelete, "/_matrix/client/v3/room_keys/version/"+backupVersion, nil, nil)
			return answer(err), err == nil
		}},
		{"cross-signing: /keys/device_signing/upload asks for UIA", func() (string, bool) {
			err := do(http.MethodPost, "/_matrix/client/v3/keys/device_signing/upload", map[string]any{"master_key": msk, "self_signing_key": ssk, "user_signing_key": usk}, nil)
			var e *hs.Error
			return answer(err), errors.As(err, &e) && e.Status == http.StatusUnauthorized && bytes.Contains(e.Body, []byte(`"flows"`))
		}},
		{"cross-signing: /keys/device_signing/upload with m.login.password", func() (string, bool) {
			body := map[string]any{"master_key": msk, "self_signing_key": ssk, "user_signing_key": usk}
			err := do(http.MethodPost, "/_matrix/client/v3/keys/device_signing/upload", body, nil)
			var e *hs.Error
			if errors.As(err, &e) && e.Status == http.StatusUnauthorized {
				var uia struct {
					Session string `json:"session"`
				}
				_ = jsonUnmarshal(e.Body, &uia)
				body["auth"] = map[string]any{"type": "m.login.password", "session": uia.Session, "password": u.Password,
					"identifier": map[string]string{"type": "m.id.user", "user": u.ID}}
				err = do(http.MethodPost, "/_matrix/client/v3/keys/device_signing/upload", body, nil)
			}
			return answer(err), err == nil
		}},
		{"cross-signing: /keys/query returns the three keys", func() (string, bool) {
			var r map[string]map[string]any
			err := do(http.MethodPost, "/_matrix/client/v3/keys/query", map[string]any{"device_keys": map[string]any{u.ID: []string{}}}, &r)
			_, m := r["master_keys"][u.ID]
			_, ss := r["self_signing_keys"][u.ID]
			_, us := r["user_signing_keys"][u.ID]
			return answer(err) + fmt.Sprintf(" master %v self_signing %v user_signing %v", m, ss, us), err == nil && m && ss && us
		}},
		{"cross-signing: /keys/signatures/upload of a device", func() (string, bool) {
			signed := map[string]any{}
			for k, v := range devKeys {
				if k != "signatures" {
					signed[k] = v
				}
			}
			signObject(t, signed, u.ID, sskPub, sskPriv)
			var r struct {
				Failures map[string]any `json:"failures"`
			}
			err := do(http.MethodPost, "/_matrix/client/v3/keys/signatures/upload", map[string]any{u.ID: map[string]any{u.DeviceID: signed}}, &r)
			if err != nil || len(r.Failures) > 0 {
				return answer(err) + fmt.Sprintf(" failures %v", r.Failures), false
			}
			var q struct {
				DeviceKeys map[string]map[string]struct {
					Signatures map[string]map[string]string `json:"signatures"`
				} `json:"device_keys"`
			}
			err = do(http.MethodPost, "/_matrix/client/v3/keys/query", map[string]any{"device_keys": map[string]any{u.ID: []string{}}}, &q)
			sig := q.DeviceKeys[u.ID][u.DeviceID].Signatures[u.ID]["ed25519:"+sskPub]
			return answer(err) + fmt.Sprintf(", signature served back: %v", sig != ""), err == nil && sig != ""
		}},
		{"media: POST /_matrix/media/v3/upload", func() (string, bool) {
			var r struct {
				ContentURI string `json:"content_uri"`
			}
			status, err := rawMedia(s, u.Token, http.MethodPost, "/_matrix/media/v3/upload?filename=probe.png", pngBytes(t), &r)
			mediaURI = r.ContentURI
			return status, err == nil && strings.HasPrefix(mediaURI, "mxc://")
		}},
		{"authenticated media: GET /_matrix/client/v1/media/config", func() (string, bool) {
			var r map[string]any
			err := do(http.MethodGet, "/_matrix/client/v1/media/config", nil, &r)
			return answer(err), err == nil && r["m.upload.size"] != nil
		}},
		{"authenticated media: GET /_matrix/client/v1/media/download", func() (string, bool) {
			want := pngBytes(t)
			var got []byte
			status, err := rawMedia(s, u.Token, http.MethodGet, "/_matrix/client/v1/media/download/"+strings.TrimPrefix(mediaURI, "mxc://"), nil, &got)
			return status, err == nil && bytes.Equal(got, want)
		}},
		{"authenticated media: download refused without a token", func() (string, bool) {
			status, err := rawMedia(s, "", http.MethodGet, "/_matrix/client/v1/media/download/"+strings.TrimPrefix(mediaURI, "mxc://"), nil, nil)
			return status, err != nil && strings.HasPrefix(status, "401")
		}},
		{"authenticated media: GET /_matrix/client/v1/media/thumbnail", func() (string, bool) {
			var got []byte
			status, err := rawMedia(s, u.Token, http.MethodGet, "/_matrix/client/v1/media/thumbnail/"+strings.TrimPrefix(mediaURI, "mxc://")+"?width=32&height=32&method=scale", nil, &got)
			return status, err == nil && len(got) > 0
		}},
		{"account data: m.key_backup PUT and GET", func() (string, bool) {
			path := "/_matrix/client/v3/user/" + uid + "/account_data/m.key_backup"
			if err := do(http.MethodPut, path, map[string]any{"enabled": true}, nil); err != nil {
				return "PUT " + answer(err), false
			}
			var r struct {
				Enabled bool `json:"enabled"`
			}
			err := do(http.MethodGet, path, nil, &r)
			return answer(err), err == nil && r.Enabled
		}},
	}

	impl := os.Getenv(EnvHomeserverImpl)
	known := map[string]bool{}
	for _, n := range knownGaps[impl] {
		known[n] = true
	}
	var table strings.Builder
	served := 0
	for _, p := range probes {
		got, ok := p.run()
		mark := "serves"
		if ok {
			served++
		} else {
			mark = "GAP"
		}
		fmt.Fprintf(&table, "\n  %-6s %-64s %s", mark, p.name, got)
		if _, listed := knownGaps[impl]; listed && ok == known[p.name] {
			if ok {
				t.Errorf("%s: %q now answers as the spec says (%s); update knownGaps and e2e/README.md", impl, p.name, got)
			} else {
				t.Errorf("%s: %q does not answer as the spec says (%s) and is not a known gap", impl, p.name, got)
			}
		}
	}
	t.Logf("homeserver %s (%s): %d of %d probes served%s", s.URL, impl, served, len(probes), table.String())
}

// pngBytes is a 2x2 PNG image for the media probes.
func pngBytes(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rawMedia sends a media request with a binary body and, for a 2xx
// answer, decodes JSON into out (or copies the bytes into a *[]byte).
func rawMedia(s *hs.Server, token, method, path string, body []byte, out any) (string, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		return err.Error(), err
	}
	if body != nil {
		req.Header.Set("Content-Type", "image/png")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return err.Error(), err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	status := fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	if resp.StatusCode/100 != 2 {
		return status, fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
	}
	switch o := out.(type) {
	case nil:
	case *[]byte:
		*o = b
	default:
		if err := jsonUnmarshal(b, out); err != nil {
			return status, err
		}
	}
	return status, nil
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
