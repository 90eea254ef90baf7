package matrixhttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/machine/machinetest"
	"github.com/sicher-go/sicher/matrixhttp"
	"github.com/sicher-go/sicher/store"
)

// Two bots on a homeserver (here the fake of machinetest over HTTP): Alice creates an encrypted
// room and invites Bob, whose bot joins; Bob's bot receives her message decrypted.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := machinetest.NewServer()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	srv.AddUser("@alice:example.org", "alice's password")
	srv.AddUser("@bob:example.org", "bob's password")

	got := make(chan string, 1)
	start := func(user, password string, cfg matrixhttp.Config) *matrixhttp.Client {
		cfg.HomeserverURL = hs.URL
		cfg.SyncTimeout = time.Second
		sess, err := matrixhttp.LoginPassword(ctx, cfg, user, password, "")
		if err != nil {
			panic(err)
		}
		// A real bot keeps its state in store/sqlstore, and resumes with matrixhttp.Resume.
		c, err := matrixhttp.New(ctx, cfg, sess, store.NewMemory())
		if err != nil {
			panic(err)
		}
		go c.Run(ctx)
		return c
	}
	alice := start("@alice:example.org", "alice's password", matrixhttp.Config{})
	start("@bob:example.org", "bob's password", matrixhttp.Config{
		OnInvite: func(ctx context.Context, roomID, inviter string) bool { return inviter == "@alice:example.org" },
		OnEvent: func(ctx context.Context, roomID string, ev *machine.DecryptedEvent) {
			var msg struct {
				Body string `json:"body"`
			}
			_ = json.Unmarshal(ev.Content, &msg)
			got <- fmt.Sprintf("%s from %s: %s", ev.Type, ev.Info.Sender, msg.Body)
		},
	})

	room, err := alice.CreateRoom(ctx, "bots", []string{"@bob:example.org"}, false)
	if err != nil {
		panic(err)
	}
	for len(alice.Members(room)) < 2 { // wait until Bob's bot has joined
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := alice.SendMessage(ctx, room, "m.room.message", map[string]string{"msgtype": "m.text", "body": "hello, Bob"}); err != nil {
		panic(err)
	}
	fmt.Println(<-got)
	// Output: m.room.message from @alice:example.org: hello, Bob
}
