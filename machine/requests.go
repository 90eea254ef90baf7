package machine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/sicher-go/sicher/event"
	"github.com/sicher-go/sicher/internal/jsonstrict"
	"github.com/sicher-go/sicher/internal/machinestate"
	"github.com/sicher-go/sicher/store"
)

// RequestKind says which endpoint of the client-server API a Request is for.
type RequestKind string

// The kinds of requests the machine makes (spec "Key management API",
// https://spec.matrix.org/v1.19/client-server-api/#key-management-api, and "Send-to-Device
// messaging", https://spec.matrix.org/v1.19/client-server-api/#send-to-device-messaging).
const (
	KindKeysUpload RequestKind = "keys_upload" // POST /_matrix/client/v3/keys/upload
	KindKeysQuery  RequestKind = "keys_query"  // POST /_matrix/client/v3/keys/query
	KindKeysClaim  RequestKind = "keys_claim"  // POST /_matrix/client/v3/keys/claim
	KindToDevice   RequestKind = "to_device"   // PUT /_matrix/client/v3/sendToDevice/{type}/{txnId}
	// KindSignatureUpload publishes signatures of keys (cross-signing a device or a user).
	KindSignatureUpload RequestKind = "signature_upload" // POST /_matrix/client/v3/keys/signatures/upload
	// KindSigningKeysUpload publishes the cross-signing public keys. The server asks for
	// user-interactive authentication: the caller completes it and sends the body again
	// with its "auth" member.
	KindSigningKeysUpload RequestKind = "signing_keys_upload" // POST /_matrix/client/v3/keys/device_signing/upload
	// KindAccountData stores an account data event (secret storage, cross-signing secrets).
	KindAccountData RequestKind = "account_data" // PUT /_matrix/client/v3/user/{userId}/account_data/{type}
	// KindBackupVersion creates a server-side key backup version.
	KindBackupVersion RequestKind = "backup_version" // POST /_matrix/client/v3/room_keys/version
	// KindBackupUpload stores room keys in a backup version.
	KindBackupUpload RequestKind = "backup_upload" // PUT /_matrix/client/v3/room_keys/keys?version={v}
	// KindBackupDownload fetches one session's key from a backup version.
	KindBackupDownload RequestKind = "backup_download" // GET /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId}?version={v}
	// KindBackupVersionGet fetches the current backup version and its auth_data.
	KindBackupVersionGet RequestKind = "backup_version_get" // GET /_matrix/client/v3/room_keys/version
	// KindBackupDownloadKeys fetches the whole backup, or one room's keys when RoomID is set.
	KindBackupDownloadKeys RequestKind = "backup_download_keys" // GET /_matrix/client/v3/room_keys/keys[/{roomId}]?version={v}
	// KindRoomEvent sends an event into a room (in-room verification).
	KindRoomEvent RequestKind = "room_event" // PUT /_matrix/client/v3/rooms/{roomId}/send/{type}/{txnId}
	// KindDehydratedDevicePut creates or replaces our dehydrated device (MSC3814).
	KindDehydratedDevicePut RequestKind = "dehydrated_device_put" // PUT /_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device
	// KindDehydratedDeviceGet fetches our dehydrated device. When the server answers 404
	// M_NOT_FOUND, hand MarkRequestSent the body {}.
	KindDehydratedDeviceGet RequestKind = "dehydrated_device_get" // GET /_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device
	// KindDehydratedDeviceEvents fetches a page of the dehydrated device's to-device events.
	KindDehydratedDeviceEvents RequestKind = "dehydrated_device_events" // POST /_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device/{deviceId}/events
	// KindDehydratedDeviceDelete deletes our dehydrated device.
	KindDehydratedDeviceDelete RequestKind = "dehydrated_device_delete" // DELETE /_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device
)

// Request is a request the machine needs sent. Method, Path and Body are the HTTP request
// (Path is below the homeserver's base URL, already escaped); the response body goes back to
// MarkRequestSent with ID. A to-device request's transaction id is its ID, so sending it again
// after a lost response is safe: the server de-duplicates it. Bodies of to-device requests hold
// only ciphertext and public data; nothing in a Request is secret.
type Request struct {
	ID     string
	Kind   RequestKind
	Method string
	Path   string
	Body   json.RawMessage
	// EventType is the event type of a KindToDevice, KindRoomEvent or KindAccountData
	// request.
	EventType string
	// RoomID is the room of a KindRoomEvent or KindBackupDownload request.
	RoomID string
	// SessionID is the Megolm session of a KindBackupDownload request.
	SessionID string
	// Version is the backup version of a KindBackupUpload or KindBackupDownload request.
	Version string
	// DeviceID is the dehydrated device of a KindDehydratedDeviceEvents request.
	DeviceID string
}

// requestParams are the path parameters of a request, kept with it in the store.
type requestParams struct {
	EventType string `json:"t,omitempty"`
	RoomID    string `json:"r,omitempty"`
	SessionID string `json:"s,omitempty"`
	Version   string `json:"v,omitempty"`
	DeviceID  string `json:"d,omitempty"`
}

// requestPath builds the HTTP method and path of a request; userID is the machine's.
func requestPath(kind RequestKind, p requestParams, id, userID string) (method, path string) {
	const base = "/_matrix/client/v3"
	esc := url.PathEscape
	switch kind {
	case KindKeysUpload:
		return "POST", base + "/keys/upload"
	case KindKeysQuery:
		return "POST", base + "/keys/query"
	case KindKeysClaim:
		return "POST", base + "/keys/claim"
	case KindSignatureUpload:
		return "POST", base + "/keys/signatures/upload"
	case KindSigningKeysUpload:
		return "POST", base + "/keys/device_signing/upload"
	case KindAccountData:
		return "PUT", base + "/user/" + esc(userID) + "/account_data/" + esc(p.EventType)
	case KindBackupVersion:
		return "POST", base + "/room_keys/version"
	case KindBackupUpload:
		return "PUT", base + "/room_keys/keys?version=" + url.QueryEscape(p.Version)
	case KindBackupDownload:
		return "GET", base + "/room_keys/keys/" + esc(p.RoomID) + "/" + esc(p.SessionID) + "?version=" + url.QueryEscape(p.Version)
	case KindBackupVersionGet:
		return "GET", base + "/room_keys/version"
	case KindBackupDownloadKeys:
		if p.RoomID != "" {
			return "GET", base + "/room_keys/keys/" + esc(p.RoomID) + "?version=" + url.QueryEscape(p.Version)
		}
		return "GET", base + "/room_keys/keys?version=" + url.QueryEscape(p.Version)
	case KindRoomEvent:
		return "PUT", base + "/rooms/" + esc(p.RoomID) + "/send/" + esc(p.EventType) + "/" + esc(id)
	case KindDehydratedDevicePut, KindDehydratedDeviceGet, KindDehydratedDeviceEvents, KindDehydratedDeviceDelete:
		return dehydratedPath(kind, p)
	default:
		return "PUT", base + "/sendToDevice/" + esc(p.EventType) + "/" + esc(id)
	}
}

// storedType is what the store's OutgoingRequest.Type holds: the kind, and for to-device
// requests the event type after a space; other parameters follow as JSON after a second
// space.
func storedType(kind RequestKind, p requestParams) string {
	if p == (requestParams{EventType: p.EventType}) {
		if p.EventType == "" {
			return string(kind)
		}
		return string(kind) + " " + p.EventType
	}
	b, _ := json.Marshal(p)
	return string(kind) + " " + p.EventType + " " + string(b)
}

func (m *Machine) fromStored(r *store.OutgoingRequest) Request {
	kind, rest, _ := strings.Cut(r.Type, " ")
	evType, params, _ := strings.Cut(rest, " ")
	p := requestParams{EventType: evType}
	if params != "" {
		// Written by storedType above; a value that does not parse leaves the parameters empty.
		_ = json.Unmarshal([]byte(params), &p)
	}
	method, path := requestPath(RequestKind(kind), p, r.ID, m.owner.UserID)
	return Request{ID: r.ID, Kind: RequestKind(kind), Method: method, Path: path, Body: json.RawMessage(r.Body),
		EventType: p.EventType, RoomID: p.RoomID, SessionID: p.SessionID, Version: p.Version, DeviceID: p.DeviceID}
}

// queue stores a request in tx; eventType is the to-device event type of a KindToDevice
// request and empty otherwise.
func (m *Machine) queue(ctx context.Context, tx store.Tx, kind RequestKind, eventType string, body any) error {
	return m.queueWith(ctx, tx, kind, requestParams{EventType: eventType}, body)
}

// queueWith stores a request with path parameters in tx. A nil body is sent as no body (GET).
func (m *Machine) queueWith(ctx context.Context, tx store.Tx, kind RequestKind, p requestParams, body any) error {
	_, err := m.queueID(ctx, tx, kind, p, body)
	return err
}

// queueID is queueWith, returning the request's id.
func (m *Machine) queueID(ctx context.Context, tx store.Tx, kind RequestKind, p requestParams, body any) (string, error) {
	b, err := json.Marshal(body)
	if body == nil {
		b = nil
	}
	if err != nil {
		return "", fmt.Errorf("machine: encoding request: %w", err)
	}
	id, err := m.newID()
	if err != nil {
		return "", err
	}
	return id, tx.PutOutgoingRequest(ctx, &store.OutgoingRequest{ID: id, Type: storedType(kind, p), Body: b, Created: m.clock()})
}

// oneTimeKeyTarget is the number of one-time keys kept on the server: half of libolm's
// maximum of 100 (olm/account.hh, MAX_ONE_TIME_KEYS), as libolm clients do.
const oneTimeKeyTarget = 50

// Names of the values the machine keeps in the store. The bookkeeping of peers and rooms
// (wedged sessions, claim attempts, m.dummy markers, Olm message hashes, withheld notices sent)
// lives in ledgers of a bounded number of values (ledger.go).
const (
	valueOTKCount        = "sicher.machine.otk_count"        // server's signed_curve25519 count
	valueDeviceUpload    = machinestate.DeviceKeysUploaded   // "1" once the device keys were accepted
	valueFallbackUsed    = "sicher.machine.fallback_used"    // "1" when the server said our fallback key was used
	valueTrust           = "sicher.machine.trust:"           // + user|device: local trust
	valueFallbackRotated = "sicher.machine.fallback_rotated" // when the previous fallback key was replaced
	valueDeviceListGen   = "sicher.machine.devgen:"          // + user: counts device_lists.changed
	valueQueryGen        = "sicher.machine.query_gen"        // the counts when the pending query was made (before 0.10)
	valueQueryGens       = "sicher.machine.query_gens"       // request id → the counts when it was made
	valueRotation        = "sicher.machine.rotation:"        // + room id: "period ms,messages" of the last share
)

// OutgoingRequests returns the requests to send: the ones stored and not yet confirmed, plus
// a keys upload when the server holds fewer one-time keys than the target or the fallback key
// needs replacing, and keys queries for tracked users whose device lists are outdated, at most
// 250 users each (one upload and one set of queries at a time). Send them in any order, each at least once.
func (m *Machine) OutgoingRequests(ctx context.Context) ([]Request, error) {
	var out []Request
	err := m.update(ctx, func(tx store.Tx) error {
		reqs, err := tx.OutgoingRequests(ctx)
		if err != nil {
			return err
		}
		has := map[RequestKind]bool{}
		for _, r := range reqs {
			kind, _, _ := strings.Cut(r.Type, " ")
			has[RequestKind(kind)] = true
		}
		if !has[KindKeysUpload] {
			if err := m.maybeUpload(ctx, tx); err != nil {
				return err
			}
		}
		if !has[KindBackupUpload] {
			if err := m.maybeBackUp(ctx, tx); err != nil { // backup.go
				return err
			}
		}
		if !has[KindKeysQuery] {
			users, err := tx.OutdatedUsers(ctx)
			if err != nil {
				return err
			}
			if err := m.queueQueries(ctx, tx, users); err != nil {
				return err
			}
		}
		reqs, err = tx.OutgoingRequests(ctx)
		if err != nil {
			return err
		}
		out = out[:0]
		for _, r := range reqs {
			out = append(out, m.fromStored(r))
		}
		return nil
	})
	return out, err
}

// maybeUpload queues a keys upload if the device keys were never accepted, the server is
// below the one-time key target, or the fallback key was used or never published.
func (m *Machine) maybeUpload(ctx context.Context, tx store.Tx) error {
	acct, err := m.loadAccount(ctx, tx)
	if err != nil {
		return err
	}
	uploaded := valueIs(ctx, tx, valueDeviceUpload, "1")
	count := 0
	if b, err := tx.Value(ctx, valueOTKCount); err == nil {
		fmt.Sscan(string(b), &count)
	}
	changed := false
	// The previous fallback key is forgotten an hour after it was replaced: by then the
	// peers that claimed it have had time to use it (matrix-sdk-crypto waits too).
	if t, ok := timeValue(ctx, tx, valueFallbackRotated); ok && m.clock().Sub(t) >= time.Hour {
		acct.ForgetOldFallbackKey()
		if err := tx.PutValue(ctx, valueFallbackRotated, nil); err != nil {
			return err
		}
		changed = true
	}
	if need := oneTimeKeyTarget - count - len(acct.OneTimeKeys()); need > 0 {
		if _, _, err := acct.GenerateOneTimeKeysFrom(m.randReader(), need); err != nil {
			return err
		}
		changed = true
	}
	_, hasFallback := acct.FallbackKey()
	if !hasFallback || valueIs(ctx, tx, valueFallbackUsed, "1") {
		if _, err := acct.GenerateFallbackKeyFrom(m.randReader()); err != nil {
			return err
		}
		if err := tx.PutValue(ctx, valueFallbackUsed, []byte("0")); err != nil {
			return err
		}
		if hasFallback {
			if err := putTime(ctx, tx, valueFallbackRotated, m.clock()); err != nil {
				return err
			}
		}
		changed = true
	}
	if changed {
		if err := m.saveAccount(ctx, tx, acct); err != nil {
			return err
		}
	}
	_, unpublishedFallback := acct.UnpublishedFallbackKey()
	if uploaded && len(acct.OneTimeKeys()) == 0 && !unpublishedFallback {
		return nil
	}
	up, err := event.KeysForUpload(acct, m.owner.UserID, m.owner.DeviceID, nil)
	if err != nil {
		return err
	}
	if uploaded {
		up.DeviceKeys = nil
	}
	return m.queue(ctx, tx, KindKeysUpload, "", uploadBody{up})
}

// uploadBody leaves device_keys out once the server has them.
type uploadBody struct{ *event.Upload }

func (u uploadBody) MarshalJSON() ([]byte, error) {
	obj := map[string]any{"one_time_keys": u.OneTimeKeys, "fallback_keys": u.FallbackKeys}
	if u.DeviceKeys != nil {
		obj["device_keys"] = u.DeviceKeys
	}
	if len(u.OneTimeKeys) == 0 {
		delete(obj, "one_time_keys")
	}
	if len(u.FallbackKeys) == 0 {
		delete(obj, "fallback_keys")
	}
	return json.Marshal(obj)
}

func valueIs(ctx context.Context, tx store.Tx, name, want string) bool {
	b, err := tx.Value(ctx, name)
	return err == nil && string(b) == want
}

// MarkRequestSent hands the machine the server's response (the JSON body of a 200 response)
// to the request with id. The request is then removed from the store, in the same transaction
// as the state the response changes. A response that does not parse is an error and changes
// nothing; the request stays queued. Errors: ErrUnknownRequest (no such request: confirmed
// already), ErrMalformedResponse, ErrDehydrationKey (a dehydrated device that the key does not
// open: the request is removed and nothing else changes), and the store's.
func (m *Machine) MarkRequestSent(ctx context.Context, id string, response []byte) error {
	if done, err := m.markRestore(ctx, id, response, nil); done {
		return err
	}
	var wedgedPeers []string
	// afterCommit is an error returned once the request is confirmed: a response the machine
	// read and does not trust, or a dehydrated device the key does not open.
	var afterCommit error
	err := m.update(ctx, func(tx store.Tx) error {
		reqs, err := tx.OutgoingRequests(ctx)
		if err != nil {
			return err
		}
		var req *store.OutgoingRequest
		for _, r := range reqs {
			if r.ID == id {
				req = r
			}
		}
		if req == nil {
			return fmt.Errorf("%w: %q", ErrUnknownRequest, id)
		}
		r := m.fromStored(req)
		switch r.Kind {
		case KindKeysUpload:
			err = m.receiveUpload(ctx, tx, response)
		case KindKeysQuery:
			err = m.receiveQuery(ctx, tx, r.ID, r.Body, response)
		case KindKeysClaim:
			wedgedPeers, err = m.receiveClaim(ctx, tx, r.Body, response)
		case KindRoomEvent:
			err = m.roomEventSent(ctx, tx, r.ID, response)
		case KindSigningKeysUpload, KindSignatureUpload, KindBackupVersion, KindBackupVersionGet,
			KindBackupUpload, KindBackupDownload:
			// Cross-signing and backups (bootstrap.go, recover.go, backup.go); refused is a
			// response the machine read and does not trust: the request is done, the error
			// is returned after the commit.
			afterCommit, err = m.receiveKeysAndBackup(ctx, tx, r, response)
		case KindDehydratedDevicePut, KindDehydratedDeviceGet, KindDehydratedDeviceEvents, KindDehydratedDeviceDelete:
			afterCommit, err = m.dehydratedDeviceSent(ctx, tx, r, response)
		default:
			// To-device messages, room events and uploads whose response says nothing the
			// machine keeps.
			err = nil
		}
		if err != nil {
			return err
		}
		return tx.DeleteOutgoingRequest(ctx, id)
	})
	if err != nil {
		return err
	}
	for _, p := range wedgedPeers {
		m.log.Info("machine: new Olm session after a wedged one", "peer", p)
	}
	return afterCommit
}

type uploadResponse struct {
	OneTimeKeyCounts map[string]int `json:"one_time_key_counts"`
}

func (m *Machine) receiveUpload(ctx context.Context, tx store.Tx, response []byte) error {
	var resp uploadResponse
	if err := decodeStrict(response, &resp); err != nil {
		return err
	}
	acct, err := m.loadAccount(ctx, tx)
	if err != nil {
		return err
	}
	acct.MarkKeysAsPublished()
	if err := m.saveAccount(ctx, tx, acct); err != nil {
		return err
	}
	if err := tx.PutValue(ctx, valueDeviceUpload, []byte("1")); err != nil {
		return err
	}
	return tx.PutValue(ctx, valueOTKCount, fmt.Appendf(nil, "%d", resp.OneTimeKeyCounts[signedCurve25519]))
}

// decodeStrict decodes a server response with the strict decoder every network input goes
// through (exact member names, no duplicates); unknown members are allowed (servers add them).
func decodeStrict(b []byte, v any) error {
	if err := jsonstrict.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformedResponse, err)
	}
	return nil
}

type keysQuery struct {
	DeviceKeys map[string][]string `json:"device_keys"`
}

type keysClaim struct {
	OneTimeKeys map[string]map[string]string `json:"one_time_keys"`
}

// sortedKeys returns the keys of a map in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

const signedCurve25519 = "signed_curve25519"
