package machinetest

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/sicher-go/sicher/machine"
)

// dehydratedDevice is a user's dehydrated device (MSC3814): its id and device_data. Its keys,
// one-time keys and to-device inbox are those of an ordinary device in s.devices, so that
// other users query it, claim its keys and send to it.
type dehydratedDevice struct {
	id   string
	data json.RawMessage
}

// defaultDehydratedPage is how many to-device events a page of a dehydrated device's events
// holds unless SetDehydratedPageSize says otherwise.
const defaultDehydratedPage = 100

// SetDehydratedPageSize sets how many events a page of a dehydrated device's events holds
// (100 by default), to test pagination.
func (s *Server) SetDehydratedPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dehydratedPage = n
}

// DehydratedDevice returns the id of a user's dehydrated device, or "" if there is none.
func (s *Server) DehydratedDevice(userID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.dehydratedDevices[userID]; d != nil {
		return d.id
	}
	return ""
}

// SetDehydratedDeviceData replaces the device_data the server holds for a user's dehydrated
// device, as a corrupting server could.
func (s *Server) SetDehydratedDeviceData(userID string, data json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.dehydratedDevices[userID]; d != nil {
		d.data = data
	}
}

// dehydrated executes the MSC3814 endpoints; s.mu is held.
func (s *Server) dehydrated(user string, r machine.Request) ([]byte, error) {
	if s.dehydratedDevices == nil {
		s.dehydratedDevices = map[string]*dehydratedDevice{}
	}
	cur := s.dehydratedDevices[user]
	switch r.Kind {
	case machine.KindDehydratedDevicePut:
		var req struct {
			DeviceID     string                     `json:"device_id"`
			DeviceData   json.RawMessage            `json:"device_data"`
			DeviceKeys   json.RawMessage            `json:"device_keys"`
			OneTimeKeys  map[string]json.RawMessage `json:"one_time_keys"`
			FallbackKeys map[string]json.RawMessage `json:"fallback_keys"`
		}
		if err := json.Unmarshal(r.Body, &req); err != nil || req.DeviceID == "" || req.DeviceData == nil || req.DeviceKeys == nil {
			return nil, fmt.Errorf("machinetest: PUT dehydrated_device: bad body: %v", err)
		}
		if cur != nil {
			delete(s.devices[user], cur.id) // a new dehydrated device replaces the old one
		}
		d := s.device(user, req.DeviceID)
		d.keys = req.DeviceKeys
		for id, k := range req.OneTimeKeys {
			d.otks[id] = k
		}
		d.fallback = req.FallbackKeys
		s.dehydratedDevices[user] = &dehydratedDevice{id: req.DeviceID, data: req.DeviceData}
		s.notifyChanged(user)
		return json.Marshal(map[string]string{"device_id": req.DeviceID})
	case machine.KindDehydratedDeviceGet:
		if cur == nil {
			return nil, ErrNotFound
		}
		return json.Marshal(map[string]any{"device_id": cur.id, "device_data": cur.data})
	case machine.KindDehydratedDeviceEvents:
		if cur == nil || cur.id != r.DeviceID {
			return nil, ErrNotFound
		}
		var req struct {
			NextBatch string `json:"next_batch"`
		}
		if err := json.Unmarshal(r.Body, &req); err != nil {
			return nil, fmt.Errorf("machinetest: dehydrated_device events: %w", err)
		}
		from := 0
		if req.NextBatch != "" {
			n, err := strconv.Atoi(req.NextBatch)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("machinetest: bad next_batch %q", req.NextBatch)
			}
			from = n
		}
		inbox := s.devices[user][cur.id].inbox
		from = min(from, len(inbox))
		size := s.dehydratedPage
		if size <= 0 {
			size = defaultDehydratedPage
		}
		to := min(from+size, len(inbox))
		evs := append([]json.RawMessage{}, inbox[from:to]...)
		return json.Marshal(map[string]any{"events": evs, "next_batch": strconv.Itoa(to)})
	default: // KindDehydratedDeviceDelete
		if cur == nil {
			return nil, ErrNotFound
		}
		delete(s.devices[user], cur.id)
		delete(s.dehydratedDevices, user)
		s.notifyChanged(user)
		return json.Marshal(map[string]string{"device_id": cur.id})
	}
}
