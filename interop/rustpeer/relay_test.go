package rustpeer_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sicher-go/sicher/interop/rustpeer"
)

// relay is a tiny in-memory stand-in for the homeserver's end-to-end
// encryption endpoints (client-server API, "End-to-end encryption",
// https://spec.matrix.org/v1.19/client-server-api/#end-to-end-encryption):
// /keys/upload, /keys/query, /keys/claim, /sendToDevice, and the to-device
// and key-count parts of /sync. It checks nothing: it stores and forwards
// what it is given, as a server would.
type relay struct {
	mu         sync.Mutex
	deviceKeys map[string]map[string]json.RawMessage            // user → device → device_keys
	otks       map[string]map[string]map[string]json.RawMessage // user → device → "alg:id" → key
	fallback   map[string]map[string]map[string]json.RawMessage // user → device → "alg:id" → key
	fbUsed     map[string]map[string]bool                       // user → device → fallback key claimed
	inbox      map[string]map[string][]json.RawMessage          // user → device → to-device events
	changed    map[string]map[string][]string                   // user → device → device_lists.changed
}

func newRelay() *relay {
	return &relay{
		deviceKeys: map[string]map[string]json.RawMessage{},
		otks:       map[string]map[string]map[string]json.RawMessage{},
		fallback:   map[string]map[string]map[string]json.RawMessage{},
		fbUsed:     map[string]map[string]bool{},
		inbox:      map[string]map[string][]json.RawMessage{},
		changed:    map[string]map[string][]string{},
	}
}

func inner[V any](m map[string]map[string]V, k string) map[string]V {
	if m[k] == nil {
		m[k] = map[string]V{}
	}
	return m[k]
}

// upload is POST /keys/upload by (user, device). The response is
// {"one_time_key_counts": {...}}.
func (r *relay) upload(user, device string, body []byte) (json.RawMessage, error) {
	var req struct {
		DeviceKeys   json.RawMessage            `json:"device_keys"`
		OneTimeKeys  map[string]json.RawMessage `json:"one_time_keys"`
		FallbackKeys map[string]json.RawMessage `json:"fallback_keys"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("relay: keys/upload: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(req.DeviceKeys) > 0 && string(req.DeviceKeys) != "null" {
		inner(r.deviceKeys, user)[device] = req.DeviceKeys
		// Everyone else learns of the new device in device_lists.changed.
		for u, devs := range r.deviceKeys {
			for d := range devs {
				if u != user || d != device {
					inner(r.changed, u)[d] = append(inner(r.changed, u)[d], user)
				}
			}
		}
	}
	if len(req.OneTimeKeys) > 0 {
		m := inner(r.otks, user)
		if m[device] == nil {
			m[device] = map[string]json.RawMessage{}
		}
		for id, k := range req.OneTimeKeys {
			m[device][id] = k
		}
	}
	if len(req.FallbackKeys) > 0 {
		inner(r.fallback, user)[device] = req.FallbackKeys
		inner(r.fbUsed, user)[device] = false
	}
	return json.Marshal(map[string]any{"one_time_key_counts": r.counts(user, device)})
}

func (r *relay) counts(user, device string) map[string]int {
	c := map[string]int{}
	for id := range r.otks[user][device] {
		alg, _, _ := strings.Cut(id, ":")
		c[alg]++
	}
	return c
}

// query is POST /keys/query. The response has device_keys and failures
// (no cross-signing keys: nobody here uploads them).
func (r *relay) query(body []byte) (json.RawMessage, error) {
	var req struct {
		DeviceKeys map[string][]string `json:"device_keys"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("relay: keys/query: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]map[string]json.RawMessage{}
	for user, devices := range req.DeviceKeys {
		out[user] = map[string]json.RawMessage{}
		for d, k := range r.deviceKeys[user] {
			if len(devices) == 0 || slices.Contains(devices, d) {
				out[user][d] = k
			}
		}
	}
	return json.Marshal(map[string]any{"device_keys": out, "failures": map[string]any{}})
}

// claim is POST /keys/claim: a one-time key if one is left, else the
// fallback key (which stays).
func (r *relay) claim(body []byte) (json.RawMessage, error) {
	var req struct {
		OneTimeKeys map[string]map[string]string `json:"one_time_keys"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("relay: keys/claim: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]map[string]map[string]json.RawMessage{}
	for user, devices := range req.OneTimeKeys {
		for device, alg := range devices {
			var id string
			var k json.RawMessage
			for cand, v := range r.otks[user][device] {
				if strings.HasPrefix(cand, alg+":") && (id == "" || cand < id) {
					id, k = cand, v
				}
			}
			if id != "" {
				delete(r.otks[user][device], id)
			} else {
				for cand, v := range r.fallback[user][device] {
					if strings.HasPrefix(cand, alg+":") {
						id, k = cand, v
						inner(r.fbUsed, user)[device] = true
					}
				}
			}
			if id == "" {
				continue
			}
			if out[user] == nil {
				out[user] = map[string]map[string]json.RawMessage{}
			}
			out[user][device] = map[string]json.RawMessage{id: k}
		}
	}
	return json.Marshal(map[string]any{"one_time_keys": out, "failures": map[string]any{}})
}

// sendToDevice is PUT /sendToDevice/{eventType}/{txnID} by sender. The
// response is {}.
func (r *relay) sendToDevice(sender, eventType string, body []byte) (json.RawMessage, error) {
	var req struct {
		Messages map[string]map[string]json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("relay: sendToDevice: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for user, devices := range req.Messages {
		for device, content := range devices {
			targets := []string{device}
			if device == "*" {
				targets = targets[:0]
				for d := range r.deviceKeys[user] {
					targets = append(targets, d)
				}
			}
			ev, err := json.Marshal(map[string]any{"type": eventType, "sender": sender, "content": content})
			if err != nil {
				return nil, err
			}
			for _, d := range targets {
				inner(r.inbox, user)[d] = append(inner(r.inbox, user)[d], ev)
			}
		}
	}
	return json.RawMessage(`{}`), nil
}

// sync returns and clears (user, device)'s to-device events and
// device-list changes, with its key counts.
func (r *relay) sync(user, device string) rustpeer.SyncChanges {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := rustpeer.SyncChanges{
		ToDevice:               inner(r.inbox, user)[device],
		Changed:                inner(r.changed, user)[device],
		OneTimeKeyCounts:       r.counts(user, device),
		UnusedFallbackKeyTypes: []string{},
	}
	if len(r.fallback[user][device]) > 0 && !r.fbUsed[user][device] {
		c.UnusedFallbackKeyTypes = []string{"signed_curve25519"}
	}
	delete(r.inbox[user], device)
	delete(r.changed[user], device)
	return c
}

// execute sends one of a rust machine's requests to the relay and returns
// the response body.
func (r *relay) execute(p *rustpeer.Peer, req rustpeer.Request) (json.RawMessage, error) {
	k := p.IdentityKeys()
	switch req.Type {
	case rustpeer.KeysUpload:
		return r.upload(k.UserID, k.DeviceID, req.Body)
	case rustpeer.KeysQuery:
		return r.query(req.Body)
	case rustpeer.KeysClaim:
		return r.claim(req.Body)
	case rustpeer.ToDevice:
		return r.sendToDevice(k.UserID, req.EventType, req.Body)
	}
	return nil, fmt.Errorf("relay: %s requests are not supported", req.Type)
}

// flush sends the machine's outgoing requests until it has none left.
func (r *relay) flush(t *testing.T, p *rustpeer.Peer) {
	t.Helper()
	for range 10 {
		reqs, err := p.OutgoingRequests()
		if err != nil {
			t.Fatal(err)
		}
		if len(reqs) == 0 {
			return
		}
		for _, req := range reqs {
			r.send(t, p, req)
		}
	}
	t.Fatalf("%s still has outgoing requests after 10 rounds", p.IdentityKeys().UserID)
}

// send executes one request and marks it sent.
func (r *relay) send(t *testing.T, p *rustpeer.Peer, req rustpeer.Request) {
	t.Helper()
	resp, err := r.execute(p, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.MarkRequestSent(req.ID, req.Type, resp); err != nil {
		t.Fatalf("mark %s %s sent: %v", req.Type, req.ID, err)
	}
}

// syncRust delivers (user, device)'s sync to the machine and returns the
// processed to-device events.
func (r *relay) syncRust(t *testing.T, p *rustpeer.Peer) []rustpeer.ToDeviceEvent {
	t.Helper()
	k := p.IdentityKeys()
	evs, err := p.ReceiveSync(r.sync(k.UserID, k.DeviceID))
	if err != nil {
		t.Fatal(err)
	}
	return evs
}
