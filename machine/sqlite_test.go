//go:build !js && !wasip1

package machine_test

import (
	"path/filepath"
	"testing"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/store/sqlstore"
)

// TestSQLiteRestart: a device on SQLite talks, closes its store, reopens it and goes on: the
// account, sessions and replay records are all in the file.
func TestSQLiteRestart(t *testing.T) {
	w := newWorld(t)
	k, err := sqlstore.NewKey(make([]byte, sqlstore.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bob.db")
	st, err := sqlstore.OpenSQLite(w.ctx, path, k)
	if err != nil {
		t.Fatal(err)
	}
	alice := w.device("@alice:example.org", "A")
	bob := w.deviceOn(st, "@bob:example.org", "B")
	room := w.hs.CreateRoom(alice.UserID(), bob.UserID())
	w.sync(alice, bob)
	ev := w.say(alice, room, "before", machine.RoomSettings{})
	w.mustRead(bob, room, ev, "before")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st, err = sqlstore.OpenSQLite(w.ctx, path, k)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bob, err = machine.New(w.ctx, machine.Config{UserID: "@bob:example.org", DeviceID: "B", Store: st, Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	w.mustRead(bob, room, ev, "before") // same event again: allowed
	w.mustRead(bob, room, w.say(alice, room, "after", machine.RoomSettings{}), "after")
	w.mustRead(alice, room, w.say(bob, room, "reply", machine.RoomSettings{}), "reply")
}
