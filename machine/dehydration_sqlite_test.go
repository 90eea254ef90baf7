//go:build !js && !wasip1

package machine_test

import (
	"path/filepath"
	"testing"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/store/sqlstore"
)

// TestRehydrationSQLiteRestart: a rehydration interrupted between pages (the store closed and
// reopened, a new Machine) resumes where it stopped: the rehydrated account and its Olm
// sessions are in the SQLite file, sealed as secrets.
func TestRehydrationSQLiteRestart(t *testing.T) {
	w := newWorld(t)
	k, _ := loggedOut(t, w)
	bob := w.device(dBob, "B1")
	w.hs.SetDehydratedPageSize(1)
	room := w.hs.CreateRoom(dAlice, dBob)
	first := w.say(bob, room, "first", machine.RoomSettings{RotationMessages: 1})
	second := w.say(bob, room, "second", machine.RoomSettings{RotationMessages: 1})

	sk, err := sqlstore.NewKey(make([]byte, sqlstore.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "alice.db")
	st, err := sqlstore.OpenSQLite(w.ctx, path, sk)
	if err != nil {
		t.Fatal(err)
	}
	a2 := w.deviceOn(st, dAlice, "A2")
	if err := a2.SetDehydrationKey(w.ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := a2.RehydrateDevice(w.ctx); err != nil {
		t.Fatal(err)
	}
	// Two rounds: the device, then the first page.
	for range 2 {
		reqs, err := a2.OutgoingRequests(w.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reqs {
			resp, err := w.hs.Do(dAlice, "A2", r)
			if err != nil {
				t.Fatal(err)
			}
			if err := a2.MarkRequestSent(w.ctx, r.ID, resp); err != nil {
				t.Fatal(err)
			}
		}
	}
	if res, _ := a2.Rehydration(w.ctx); res == nil || res.Done || res.Pages != 1 {
		t.Fatalf("after one page: %+v", res)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st, err = sqlstore.OpenSQLite(w.ctx, path, sk)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a2, err = machine.New(w.ctx, machine.Config{UserID: dAlice, DeviceID: "A2", Store: st, Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.drain(a2); err != nil {
		t.Fatal(err)
	}
	if res, _ := a2.Rehydration(w.ctx); res == nil || !res.Done || res.RoomKeys != 2 || res.Pages != 3 {
		t.Fatalf("after the restart: %+v", res)
	}
	w.mustRead(a2, room, first, "first")
	w.mustRead(a2, room, second, "second")
}
