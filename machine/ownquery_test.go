package machine_test

import (
	"testing"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/store"
)

// TestOwnDeviceListedAfterQueryRacedUpload: a new device's first /keys/query of its own user
// can be answered before its own /keys/upload (the requests go out together, in any order).
// The machine then queries again once the upload is confirmed, so that its own device list
// holds the device itself (the server announces a new device to the others, not to itself).
func TestOwnDeviceListedAfterQueryRacedUpload(t *testing.T) {
	w := newWorld(t)
	w.device("@alice:example.org", "A1")
	m, err := machine.New(w.ctx, machine.Config{UserID: "@alice:example.org", DeviceID: "A2", Store: store.NewMemory(), Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.UpdateTrackedUsers(w.ctx, []string{"@alice:example.org"}); err != nil {
		t.Fatal(err)
	}
	reqs, err := m.OutgoingRequests(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The query first, then the upload.
	for _, kind := range []machine.RequestKind{machine.KindKeysQuery, machine.KindKeysUpload} {
		for _, r := range reqs {
			if r.Kind != kind {
				continue
			}
			resp, err := w.hs.Do(m.UserID(), m.DeviceID(), r)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.MarkRequestSent(w.ctx, r.ID, resp); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.send(m)
	devs, err := m.Devices(w.ctx, "@alice:example.org")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range devs {
		ids = append(ids, d.Keys.DeviceID)
	}
	if len(ids) != 2 {
		t.Fatalf("own devices after the upload: %v, want A1 and A2", ids)
	}
}
