// Package storetest is the conformance suite of store.Store: every implementation runs Run in
// its tests and must pass all of it.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sicher-go/sicher/store"
)

// Run runs the conformance suite against the stores open returns. open may return the same
// database more than once: every test works under its own store.Owner. Run closes each store it
// opened.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store, store.Owner)
	}{
		{"Account", testAccount},
		{"OlmSessions", testOlmSessions},
		{"InboundGroupSessions", testInbound},
		{"ManyInboundGroupSessions", testManyInbound},
		{"Backup", testBackup},
		{"OutboundGroupSessions", testOutbound},
		{"Withheld", testWithheld},
		{"TrackedUsers", testTracked},
		{"Replay", testReplay},
		{"Secrets", testSecrets},
		{"OutgoingRequests", testRequests},
		{"Values", testValues},
		{"OwnersIsolated", testOwners},
		{"Rollback", testRollback},
		{"CancelledContext", testCancelled},
		{"ReadOnlyView", testReadOnly},
		{"RecordsAreCopies", testCopies},
		{"ConcurrentUpdatesSerialise", testConcurrent},
		{"ViewSeesCommitted", testViewSeesCommitted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s, NewOwner())
		})
	}
}

// NewOwner returns an owner with a random device id, so tests sharing a database do not meet.
func NewOwner() store.Owner {
	var b [6]byte
	rand.Read(b[:])
	return store.Owner{UserID: "@alice:example.org", DeviceID: "DEV" + hex.EncodeToString(b[:])}
}

func update(t *testing.T, s store.Store, o store.Owner, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), o, fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, s store.Store, o store.Owner, fn func(store.Tx) error) {
	t.Helper()
	if err := s.View(context.Background(), o, fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: got %v, want ErrNotFound", what, err)
	}
}

func ms(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()) }

func sameTime(a, b time.Time) bool { return a.Equal(b) }

func testAccount(t *testing.T, s store.Store, o store.Owner) {
	ctx := context.Background()
	view(t, s, o, func(tx store.Tx) error {
		_, err := tx.Account(ctx)
		wantNotFound(t, "Account before PutAccount", err)
		return nil
	})
	for _, v := range []store.Secret{store.Secret("account v1"), store.Secret("account v2, longer"), {}} {
		update(t, s, o, func(tx store.Tx) error { return tx.PutAccount(ctx, v) })
		view(t, s, o, func(tx store.Tx) error {
			got, err := tx.Account(ctx)
			if err != nil || !bytes.Equal(got, v) {
				t.Errorf("Account = %q, %v; want %q", got, err, v)
			}
			return nil
		})
	}
}

func testOlmSessions(t *testing.T, s store.Store, o store.Owner) {
	ctx := context.Background()
	base := time.Date(2026, 12, 7, 12, 0, 0, 123456789, time.UTC)
	peer := "peerCurve25519KeyAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	sessions := []*store.OlmSession{
		{PeerKey: peer, SessionID: "s-old", Created: base, LastUsed: base.Add(time.Minute), LastReceived: base, State: store.Secret("old")},
		{PeerKey: peer, SessionID: "s-new", Created: base.Add(time.Hour), LastUsed: base.Add(2 * time.Hour), LastReceived: base.Add(time.Hour), State: store.Secret("new")},
		{PeerKey: peer, SessionID: "s-mid", Created: base.Add(30 * time.Minute), LastUsed: base.Add(time.Hour), State: store.Secret("mid")},
		{PeerKey: "otherPeer", SessionID: "s-other", Created: base, LastUsed: base.Add(5 * time.Hour), State: store.Secret("other")},
	}
	update(t, s, o, func(tx store.Tx) error {
		for _, x := range sessions {
			if err := tx.PutOlmSession(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, o, func(tx store.Tx) error {
		for _, want := range sessions {
			got, err := tx.OlmSession(ctx, want.PeerKey, want.SessionID)
			if err != nil {
				t.Fatalf("OlmSession(%s): %v", want.SessionID, err)
			}
			if got.PeerKey != want.PeerKey || got.SessionID != want.SessionID || !bytes.Equal(got.State, want.State) ||
				!sameTime(got.Created, ms(want.Created)) || !sameTime(got.LastUsed, ms(want.LastUsed)) || !sameTime(got.LastReceived, ms(want.LastReceived)) {
				t.Errorf("OlmSession(%s) = %+v, want %+v", want.SessionID, got, want)
			}
		}
		list, err := tx.OlmSessions(ctx, peer)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, x := range list {
			ids = append(ids, x.SessionID)
		}
		if want := []string{"s-new", "s-mid", "s-old"}; !slices.Equal(ids, want) {
			t.Errorf("OlmSessions order = %v, want %v (most recently used first)", ids, want)
		}
		if list, err := tx.OlmSessions(ctx, "nobody"); err != nil || len(list) != 0 {
			t.Errorf("OlmSessions(unknown peer) = %v, %v", list, err)
		}
		_, err = tx.OlmSession(ctx, peer, "missing")
		wantNotFound(t, "OlmSession(missing)", err)
		return nil
	})
	// Replace: the state and the times change, the row count does not.
	update(t, s, o, func(tx store.Tx) error {
		x, err := tx.OlmSession(ctx, peer, "s-old")
		if err != nil {
			return err
		}
		x.State = store.Secret("old, advanced")
		x.LastUsed = base.Add(10 * time.Hour)
		return tx.PutOlmSession(ctx, x)
	})
	view(t, s, o, func(tx store.Tx) error {
		list, err := tx.OlmSessions(ctx, peer)
		if err != nil || len(list) != 3 || list[0].SessionID != "s-old" || string(list[0].State) != "old, advanced" {
			t.Errorf("after replacing: %v, %v", list, err)
		}
		return nil
	})
}

func sampleInbound(room, id string) *store.InboundGroupSession {
	return &store.InboundGroupSession{
		RoomID: room, SessionID: id, SenderUser: "@bob:example.org", SenderKey: "bobCurve", SigningKey: "bobEd25519",
		Provenance: store.Forwarded, ForwardingChain: []string{"carolCurve", "daveCurve"}, SharedHistory: true,
		FirstKnownIndex: 4000000000, State: store.Secret("inbound " + id),
	}
}

func testInbound(t *testing.T, s store.Store, o store.Owner) {
	ctx := context.Background()
	a := sampleInbound("!room:example.org", "sessA")
	b := &store.InboundGroupSession{RoomID: "!room:example.org", SessionID: "sessB", SenderKey: "k", SigningKey: "e", Provenance: store.FromOlm, State: store.Secret("b")}
	update(t, s, o, func(tx store.Tx) error {
		if err := tx.PutInboundGroupSession(ctx, a); err != nil {
			return err
		}
		return tx.PutInboundGroupSession(ctx, b)
	})
	view(t, s, o, func(tx store.Tx) error {
		for _, want := range []*store.InboundGroupSession{a, b} {
			got, err := tx.InboundGroupSession(ctx, want.RoomID, want.SessionID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("InboundGroupSession = %+v\nwant %+v", got, want)
			}
		}
		_, err := tx.InboundGroupSession(ctx, "!other:example.org", "sessA")
		wantNotFound(t, "InboundGroupSession in another room", err)
		return nil
	})
	for _, p := range []store.Provenance{store.FromOlm, store.Forwarded, store.FromBackup, store.FromExport} {
		c := sampleInbound("!p:example.org", fmt.Sprint("prov", p))
		c.Provenance = p
		update(t, s, o, func(tx store.Tx) error { return tx.PutInboundGroupSession(ctx, c) })
		view(t, s, o, func(tx store.Tx) error {
			got, err := tx.InboundGroupSession(ctx, c.RoomID, c.SessionID)
			if err != nil || got.Provenance != p {
				t.Errorf("provenance %d: got %+v, %v", p, got, err)
			}
			return nil
		})
	}
}

// testManyInbound puts 307 sessions in one transaction (a key-backup restore; stores may
// write them in batches), one of them twice, and reads and marks them inside the same
// transaction and after it; a failed transaction of as many writes nothing.
func testManyInbound(t *testing.T, s store.Store, o store.Owner) {
	const n = 307
	id := func(i int) string { return fmt.Sprintf("many%03d", i) }
	update(t, s, o, func(tx store.Tx) error {
		for i := range n {
			if err := tx.PutInboundGroupSession(context.Background(), sampleInbound("!many", id(i))); err != nil {
				return err
			}
			if i == 5 {
				again := sampleInbound("!many", id(5))
				again.FirstKnownIndex, again.State = 9, store.Secret("second put")
				if err := tx.PutInboundGroupSession(context.Background(), again); err != nil {
					return err
				}
			}
		}
		if got, err := tx.InboundGroupSession(context.Background(), "!many", id(n-1)); err != nil || string(got.State) != "inbound "+id(n-1) {
			return fmt.Errorf("in the transaction, the last session put: %v, %v", got, err)
		}
		return tx.MarkBackedUp(context.Background(), "!many", id(7))
	})
	view(t, s, o, func(tx store.Tx) error {
		for i := range n {
			got, err := tx.InboundGroupSession(context.Background(), "!many", id(i))
			if err != nil {
				return err
			}
			want := sampleInbound("!many", id(i))
			switch i {
			case 5:
				want.FirstKnownIndex, want.State = 9, store.Secret("second put")
			case 7:
				want.BackedUp = true
			}
			if !reflect.DeepEqual(got, want) {
				return fmt.Errorf("session %d: got %+v, want %+v", i, got, want)
			}
		}
		todo, err := tx.SessionsToBackUp(context.Background(), 1000)
		if err != nil || len(todo) != n-1 {
			return fmt.Errorf("SessionsToBackUp: %d sessions (%v), want %d", len(todo), err, n-1)
		}
		return nil
	})
	boom := errors.New("boom")
	err := s.Update(context.Background(), o, func(tx store.Tx) error {
		for i := range n {
			if err := tx.PutInboundGroupSession(context.Background(), sampleInbound("!failed", id(i))); err != nil {
				return err
			}
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failed transaction: %v", err)
	}
	view(t, s, o, func(tx store.Tx) error {
		_, err := tx.InboundGroupSession(context.Background(), "!failed", id(0))
		wantNotFound(t, "session of a failed transaction", err)
		return nil
	})
}

func testBackup(t *testing.T, s store.Store, o store.Owner) {
	ctx := context.Background()
	update(t, s, o, func(tx store.Tx) error {
		for i := range 5 {
			if err := tx.PutInboundGroupSession(ctx, sampleInbound("!r:example.org", fmt.Sprint("s", i))); err != nil {
				return err
			}
		}
		_, err := tx.BackupVersion(ctx)
		wantNotFound(t, "BackupVersion before SetBackupVersion", err)
		return tx.SetBackupVersion(ctx, "1")
	})
	toBackUp := func() []string {
		var ids []string
		view(t, s, o, func(tx store.Tx) error {
			list, err := tx.SessionsToBackUp(ctx, 100)
			for _, x := range list {
				ids = append(ids, x.SessionID)
			}
			return err
		})
		return ids
	}
	if got := toBackUp(); len(got) != 5 {
		t.Fatalf("SessionsToBackUp = %v, want 5", got)
	}
	update(t, s, o, func(tx store.Tx) error {
		list, err := tx.SessionsToBackUp(ctx, 2)
		if err != nil || len(list) != 2 {
			t.Fatalf("SessionsToBackUp(2) = %v, %v", list, err)
		}
		for _, x := range list {
			if err := tx.MarkBackedUp(ctx, x.RoomID, x.SessionID); err != nil {
				return err
			}
		}
		wantNotFound(t, "MarkBackedUp(missing)", tx.MarkBackedUp(ctx, "!r:example.org", "missing"))
		return nil
	})
	if got := toBackUp(); len(got) != 3 {
		t.Errorf("after marking 2: %v", got)
	}
	update(t, s, o, func(tx store.Tx) error { return tx.SetBackupVersion(ctx, "1") })
	if got := toBackUp(); len(got) != 3 {
		t.Errorf("the same version again cleared flags: %v", got)
	}
	update(t, s, o, func(tx store.Tx) error { return tx.SetBackupVersion(ctx, "2") })
	if got := toBackUp(); len(got) != 5 {
		t.Errorf("a new version kept flags: %v", got)
	}
	view(t, s, o, func(tx store.Tx) error {
		if v, err := tx.BackupVersion(ctx); v != "2" || err != nil {
			t.Errorf("BackupVersion = %q, %v", v, err)
		}
		return nil
	})
}

func testOutbound(t *testing.T, s store.Store, o store.Owner) {
	ctx := context.Background()
	want := &store.OutboundGroupSession{
		RoomID: "!room:example.org", SessionID: "out1", MessageCount: 7, Created: ms(time.Now()),
		SharedWith: []store.SharedWith{{UserID: "@bob:example.org", DeviceID: "BOB", Index: 0}, {UserID: "@carol:example.org", DeviceID: "C", Index: 5}},
		State:      store.Secret("outbound"),
	}
	update(t, s, o, func(tx store.Tx) error { return tx.PutOutboundGroupSession(ctx, want) })
	view(t, s, o, func(tx store.Tx) error {
		got, err := tx.OutboundGroupSession(ctx, want.RoomID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Created.Equal(want.Created) {
			t.Errorf("Created = %v, want %v", got.Created, want.Created)
		}
		got.Created = want.Created
		if !reflect.DeepEqual(got, want) {
			t.Errorf("OutboundGroupSession = %+v\nwant %+v", got, want)
		}
		return nil
	})
	update(t, s, o, func(tx store.Tx) error { return tx.DeleteOutboundGroupSession(ctx, want.RoomID) })
	update(t, s, o, func(tx store.Tx) error { return tx.DeleteOutboundGroupSession(ctx, want.RoomID) })
	view(t, s, o, func(tx store.Tx) error {
		_, err := tx.OutboundGroupSession(ctx, want.RoomID)
		wantNotFound(t, "OutboundGroupSession after delete", err)
		return nil
	})
}

func testWithheld(t *testing.T, s store.Store, o store.Owner) {
	ctx := context.Background()
	w := &store.Withheld{RoomID: "!r:example.org", SessionID: "s", SenderKey: "k", Code: "m.unverified", Reason: "Device not verified"}
	update(t, s, o, func(tx store.Tx) error { return tx.PutWithheld(ctx, w) })
	view(t, s, o, func(tx store.Tx) error {
		got, err := tx.Withheld(ctx, w.RoomID, w.SessionID)
		if err != nil || *got != *w {
			t.Errorf("Withheld = %+v, %v", got, err)
		}
		_, err = tx.Withheld(ctx, w.RoomID, "other")
		wantNotFound(t, "Withheld(other)", err)
		return nil
	})
}

func testTracked(t *testing.T, s store.Store, o store.Owner) {
	ctx := context.Background()
	bob := &store.TrackedUser{UserID: "@bob:example.org", Outdated: true, CrossSigningKeys: []byte(`{"master":{}}`)}
	carol := &store.TrackedUser{UserID: "@carol:example.org"}
	update(t, s, o, func(tx store.Tx) error {
		wantNotFound(t, "PutDevice of an untracked user", tx.PutDevice(ctx, &store.Device{UserID: "@dave:example.org", DeviceID: "D"}))
		for _, u := range []*store.TrackedUser{bob, carol} {
			if err := tx.PutTrackedUser(ctx, u); err != nil {
				return err
			}
		}
		for _, d := range []string{"B2", "B1"} {
			if err := tx.PutDevice(ctx, &store.Device{UserID: bob.UserID, DeviceID: d, Keys: []byte(`{"device_id":"` + d + `"}`)}); err != nil {
				return err
			}
		}
		return tx.PutDevice(ctx, &store.Device{UserID: carol.UserID, DeviceID: "C1", Keys: []byte(`{}`)})
	})
	view(t, s, o, func(tx store.Tx) error {
		got, err := tx.TrackedUser(ctx, bob.UserID)
		if err != nil || !reflect.DeepEqual(got, bob) {
			t.Errorf("TrackedUser = %+v, %v", got, err)
		}
		out, err := tx.OutdatedUsers(ctx)
		if err != nil || !slices.Equal(out, []string{bob.UserID}) {
			t.Errorf("OutdatedUsers = %v, %v", out, err)
		}
		ds, err := tx.Devices(ctx, bob.UserID)
		if err != nil || len(ds) != 2 || ds[0].DeviceID != "B1" || string(ds[0].Keys) != `{"device_id":"B1"}` || ds[0].UserID != bob.UserID {
			t.Errorf("Devices = %v, %v", ds, err)
		}
		return nil
	})
	update(t, s, o, func(tx store.Tx) error {
		if err := tx.DeleteDevice(ctx, bob.UserID, "B2"); err != nil {
			return err
		}
		return tx.DeleteTrackedUser(ctx, carol.UserID)
	})
	view(t, s, o, func(tx store.Tx) error {
		if ds, err := tx.Devices(ctx, bob.UserID); err != nil || len(ds) != 1 {
			t.Errorf("Devices after DeleteDevice = %v, %v", ds, err)
		}
		if ds, err := tx.Devices(ctx, carol.UserID); err != nil || len(ds) != 0 {
			t.Errorf("Devices of an untracked user = %v, %v", ds, err)
		}
		_, err := tx.TrackedUser(ctx, carol.UserID)
		wantNotFound(t, "TrackedUser after delete", err)
		return nil
	})
}

func testReplay(t *testing.T, s store.Store, o store.Owner) {
	ctx := context.Background()
	r := &store.Replay{RoomID: "!r:example.org", SessionID: "s", Index: 3, EventID: "$a", OriginServerTS: 1000}
	update(t, s, o, func(tx store.Tx) error { return tx.RecordReplay(ctx, r) })
	update(t, s, o, func(tx store.Tx) error { return tx.RecordReplay(ctx, r) }) // the same event again
	for _, bad := range []store.Replay{
		{RoomID: r.RoomID, SessionID: r.SessionID, Index: 3, EventID: "$b", OriginServerTS: 1000},
		{RoomID: r.RoomID, SessionID: r.SessionID, Index: 3, EventID: "$a", OriginServerTS: 1001},
	} {
		err := s.Update(ctx, o, func(tx store.Tx) error { return tx.RecordReplay(ctx, &bad) })
		if !errors.Is(err, store.ErrReplay) {
			t.Errorf("RecordReplay(%+v) = %v, want ErrReplay", bad, err)
		}
	}
	update(t, s, o, func(tx store.Tx) error {
		if err := tx.RecordReplay(ctx, &store.Replay{RoomID: r.RoomID, SessionID: r.SessionID, Index: 4, EventID: "$b"}); err != nil {
			return err
		}
		return tx.RecordReplay(ctx, &store.Replay{RoomID: r.RoomID, SessionID: "other", Index: 3, EventID: "$c"})
	})
}

func testSecrets(t *testing.T, s store.Store, o store.Owner) {
	ctx := context.Background()
	update(t, s, o, func(tx store.Tx) error {
		if err := tx.PutSecret(ctx, "m.cross_signing.master", store.Secret("master seed")); err != nil {
			return err
		}
		return tx.PutSecret(ctx, "m.megolm_backup.v1", store.Secret("backup key"))
	})
	update(t, s, o, func(tx store.Tx) error { return tx.DeleteSecret(ctx, "m.megolm_backup.v1") })
	view(t, s, o, func(tx store.Tx) error {
		v, err := tx.Secret(ctx, "m.cross_signing.master")
		if err != nil || string(v) != "master seed" {
			t.Errorf("Secret = %q, %v", v, err)
		}
		_, err = tx.Secret(ctx, "m.megolm_backup.v1")
		wantNotFound(t, "Secret after delete", err)
		return nil
	})
}

func testRequests(t *testing.T, s store.Store, o store.Owner) {
	ctx := context.Background()
	now := ms(time.Now())
	reqs := []*store.OutgoingRequest{
		{ID: "r2", Type: "keys_upload", Body: []byte(`{"one_time_keys":{}}`), Created: now.Add(time.Second)},
		{ID: "r1", Type: "to_device", Body: []byte(`{"messages":{}}`), Created: now},
		{ID: "r3", Type: "keys_query", Body: []byte(`{}`), Created: now.Add(2 * time.Second)},
	}
	update(t, s, o, func(tx store.Tx) error {
		for _, r := range reqs {
			if err := tx.PutOutgoingRequest(ctx, r); err != nil {
				return err
			}
		}
		return tx.DeleteOutgoingRequest(ctx, "r3")
	})
	view(t, s, o, func(tx store.Tx) error {
		got, err := tx.OutgoingRequests(ctx)
		if err != nil || len(got) != 2 {
			t.Fatalf("OutgoingRequests = %v, %v", got, err)
		}
		for i, want := range []*store.OutgoingRequest{reqs[1], reqs[0]} {
			if got[i].ID != want.ID || got[i].Type != want.Type || !bytes.Equal(got[i].Body, want.Body) || !got[i].Created.Equal(want.Created) {
				t.Errorf("OutgoingRequests[%d] = %+v, want %+v", i, got[i], want)
			}
		}
		return nil
	})
}

func testValues(t *testing.T, s store.Store, o store.Owner) {
	ctx := context.Background()
	update(t, s, o, func(tx store.Tx) error {
		if err := tx.PutValue(ctx, "sync_token", []byte("s1")); err != nil {
			return err
		}
		if err := tx.PutValue(ctx, "empty", nil); err != nil {
			return err
		}
		return tx.PutValue(ctx, "sync_token", []byte("s2"))
	})
	view(t, s, o, func(tx store.Tx) error {
		if v, err := tx.Value(ctx, "sync_token"); err != nil || string(v) != "s2" {
			t.Errorf("Value = %q, %v", v, err)
		}
		if v, err := tx.Value(ctx, "empty"); err != nil || len(v) != 0 {
			t.Errorf("Value(empty) = %q, %v", v, err)
		}
		_, err := tx.Value(ctx, "missing")
		wantNotFound(t, "Value(missing)", err)
		return nil
	})
}

func testOwners(t *testing.T, s store.Store, o store.Owner) {
	ctx := context.Background()
	other := NewOwner()
	update(t, s, o, func(tx store.Tx) error {
		if err := tx.PutAccount(ctx, store.Secret("mine")); err != nil {
			return err
		}
		if err := tx.PutSecret(ctx, "x", store.Secret("mine")); err != nil {
			return err
		}
		return tx.PutInboundGroupSession(ctx, sampleInbound("!r:example.org", "s"))
	})
	view(t, s, other, func(tx store.Tx) error {
		_, err := tx.Account(ctx)
		wantNotFound(t, "another owner's account", err)
		_, err = tx.Secret(ctx, "x")
		wantNotFound(t, "another owner's secret", err)
		_, err = tx.InboundGroupSession(ctx, "!r:example.org", "s")
		wantNotFound(t, "another owner's session", err)
		if l, err := tx.SessionsToBackUp(ctx, 10); err != nil || len(l) != 0 {
			t.Errorf("another owner's sessions to back up: %v, %v", l, err)
		}
		return nil
	})
}

func testRollback(t *testing.T, s store.Store, o store.Owner) {
	ctx := context.Background()
	update(t, s, o, func(tx store.Tx) error { return tx.PutAccount(ctx, store.Secret("v1")) })
	boom := errors.New("boom")
	err := s.Update(ctx, o, func(tx store.Tx) error {
		if err := tx.PutAccount(ctx, store.Secret("v2")); err != nil {
			return err
		}
		if err := tx.PutOlmSession(ctx, &store.OlmSession{PeerKey: "p", SessionID: "s", State: store.Secret("x")}); err != nil {
			return err
		}
		if err := tx.RecordReplay(ctx, &store.Replay{RoomID: "!r", SessionID: "s", Index: 1, EventID: "$e"}); err != nil {
			return err
		}
		// Inside the transaction the writes are visible.
		if v, err := tx.Account(ctx); err != nil || string(v) != "v2" {
			t.Errorf("Account inside the transaction = %q, %v", v, err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the function's error", err)
	}
	view(t, s, o, func(tx store.Tx) error {
		if v, err := tx.Account(ctx); err != nil || string(v) != "v1" {
			t.Errorf("Account after rollback = %q, %v", v, err)
		}
		_, err := tx.OlmSession(ctx, "p", "s")
		wantNotFound(t, "Olm session after rollback", err)
		return nil
	})
	// The replay record was rolled back too: another event may take the index.
	update(t, s, o, func(tx store.Tx) error {
		return tx.RecordReplay(ctx, &store.Replay{RoomID: "!r", SessionID: "s", Index: 1, EventID: "$other"})
	})
}

func testCancelled(t *testing.T, s store.Store, o store.Owner) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Update(ctx, o, func(tx store.Tx) error { return tx.PutAccount(ctx, store.Secret("x")) })
	if err == nil {
		t.Fatal("Update with a cancelled context succeeded")
	}
	// Cancelled in the middle: nothing is kept.
	ctx2, cancel2 := context.WithCancel(context.Background())
	err = s.Update(ctx2, o, func(tx store.Tx) error {
		if err := tx.PutSecret(ctx2, "a", store.Secret("x")); err != nil {
			return err
		}
		cancel2()
		return tx.PutSecret(ctx2, "b", store.Secret("y"))
	})
	if err == nil {
		t.Fatal("Update cancelled in the middle succeeded")
	}
	view(t, s, o, func(tx store.Tx) error {
		_, err := tx.Account(context.Background())
		wantNotFound(t, "Account after a cancelled Update", err)
		_, err = tx.Secret(context.Background(), "a")
		wantNotFound(t, "Secret after a cancelled Update", err)
		return nil
	})
}

func testReadOnly(t *testing.T, s store.Store, o store.Owner) {
	ctx := context.Background()
	err := s.View(ctx, o, func(tx store.Tx) error {
		for name, err := range map[string]error{
			"PutAccount":    tx.PutAccount(ctx, store.Secret("x")),
			"PutOlmSession": tx.PutOlmSession(ctx, &store.OlmSession{PeerKey: "p", SessionID: "s"}),
			"RecordReplay":  tx.RecordReplay(ctx, &store.Replay{RoomID: "!r", SessionID: "s"}),
			"PutValue":      tx.PutValue(ctx, "v", nil),
			"PutDevice":     tx.PutDevice(ctx, &store.Device{UserID: "@u", DeviceID: "D"}),
		} {
			if !errors.Is(err, store.ErrReadOnly) {
				t.Errorf("%s in View = %v, want ErrReadOnly", name, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testCopies(t *testing.T, s store.Store, o store.Owner) {
	ctx := context.Background()
	in := sampleInbound("!r:example.org", "s")
	update(t, s, o, func(tx store.Tx) error { return tx.PutInboundGroupSession(ctx, in) })
	in.State[0] ^= 1
	in.ForwardingChain[0] = "changed"
	view(t, s, o, func(tx store.Tx) error {
		got, err := tx.InboundGroupSession(ctx, "!r:example.org", "s")
		if err != nil {
			return err
		}
		if string(got.State) != "inbound s" || got.ForwardingChain[0] != "carolCurve" {
			t.Errorf("the store kept the caller's slices: %+v", got)
		}
		got.State[0] ^= 1
		got2, _ := tx.InboundGroupSession(ctx, "!r:example.org", "s")
		if string(got2.State) != "inbound s" {
			t.Errorf("the store returned its own slices")
		}
		return nil
	})
}

// testConcurrent runs goroutines that each increment a counter inside an Olm session's secret
// bytes many times (read, modify, write in one Update): with serialised updates no increment
// is lost, so the session cannot fork.
func testConcurrent(t *testing.T, s store.Store, o store.Owner) {
	ctx := context.Background()
	const workers, each = 8, 25
	update(t, s, o, func(tx store.Tx) error {
		return tx.PutOlmSession(ctx, &store.OlmSession{PeerKey: "p", SessionID: "counter", State: make(store.Secret, 8)})
	})
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				err := s.Update(ctx, o, func(tx store.Tx) error {
					x, err := tx.OlmSession(ctx, "p", "counter")
					if err != nil {
						return err
					}
					n := binary.BigEndian.Uint64(x.State)
					binary.BigEndian.PutUint64(x.State, n+1)
					return tx.PutOlmSession(ctx, x)
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Update: %v", err)
	}
	view(t, s, o, func(tx store.Tx) error {
		x, err := tx.OlmSession(ctx, "p", "counter")
		if err != nil {
			return err
		}
		if n := binary.BigEndian.Uint64(x.State); n != workers*each {
			t.Errorf("counter = %d after %d increments: updates were lost", n, workers*each)
		}
		return nil
	})
}

func testViewSeesCommitted(t *testing.T, s store.Store, o store.Owner) {
	ctx := context.Background()
	update(t, s, o, func(tx store.Tx) error { return tx.PutValue(ctx, "k", []byte("1")) })
	view(t, s, o, func(tx store.Tx) error {
		v, err := tx.Value(ctx, "k")
		if err != nil || string(v) != "1" {
			t.Errorf("View after Update: %q, %v", v, err)
		}
		return nil
	})
}
