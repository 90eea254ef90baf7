package matrixhttp_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/sicher-go/sicher/matrixhttp"
)

// TestLimitedTimelineGapFilled: the server sends at most 3 new events of a room per sync
// (Dendrite 0.13 sends 10 when the client's filter does not ask for more) and marks the
// timeline limited. Bob is offline while Alice writes 20 messages; after his restart every
// one of them is delivered, in order, from the gap filled with /messages.
func TestLimitedTimelineGapFilled(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	f.srv.SetTimelineLimit(3)
	a, b := f.login(t, alice, "alice-password"), f.login(t, bob, "bob-password")
	id := room(t, a, b)
	send := func(body string) {
		t.Helper()
		if _, err := a.c.SendMessage(ctx, id, "m.room.message", map[string]string{"msgtype": "m.text", "body": body}); err != nil {
			t.Fatal(err)
		}
	}
	send("first")
	if got := text(t, b.next(t)); got != "first" {
		t.Fatal(got)
	}
	if err := b.stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	const n = 20
	for i := range n {
		send(fmt.Sprint("m", i))
	}
	b2 := &bot{st: b.st, events: make(chan received, n+4)}
	b2.cfg = f.config(bob, b2.events)
	var err error
	if b2.c, err = matrixhttp.Resume(ctx, b2.cfg, b.st, bob, b.c.DeviceID()); err != nil {
		t.Fatal(err)
	}
	b2.start(t)
	want := 0
	for want < n {
		got := text(t, b2.next(t))
		if got == "first" && want == 0 {
			continue // delivered at least once: the first run may not have stored its token
		}
		if got != fmt.Sprint("m", want) {
			t.Fatalf("message %d: got %q", want, got)
		}
		want++
	}
	if f.count("GET /_matrix/client/v3/rooms/"+id+"/messages") == 0 {
		t.Fatal("no /messages request: the gap was not paged")
	}
}
