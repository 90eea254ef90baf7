package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sicher-go/sicher/e2e/internal/hs"
	"github.com/sicher-go/sicher/e2e/internal/sicherc"
)

// ownDendrite starts a Dendrite of the test's own on a free port with
// scripts/dendrite.sh (the shared one serves the other tests) and returns
// it with a function that restarts it on the same data.
func ownDendrite(t *testing.T) (*hs.Server, func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	script, err := filepath.Abs("../scripts/dendrite.sh")
	if err != nil {
		t.Fatal(err)
	}
	run := func(cmd string) string {
		c := exec.Command(script, cmd)
		c.Env = append(os.Environ(), "DENDRITE_PORT="+port)
		var stderr strings.Builder
		c.Stderr = &stderr
		out, err := c.Output()
		if err != nil {
			t.Fatalf("dendrite.sh %s: %v\n%s", cmd, err, stderr.String())
		}
		return string(out)
	}
	out := run("start")
	t.Cleanup(func() { run("stop") })
	var url string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "export "+hs.EnvHomeserver+"="); ok {
			url = v
		}
	}
	s, err := hs.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return s, func() { run("restart") }
}

// TestHomeserverRestart restarts the homeserver (its process; the data
// directory stays) in the middle of a conversation between two sicher
// clients that keep running: their sync loops, cut off in a long poll,
// retry until it answers again, and every message sent before and after
// the restart decrypts on the other side.
func TestHomeserverRestart(t *testing.T) {
	t.Parallel()
	hs.ForTest(t) // the same environment as the other tests: skipped or required alike
	s, restart := ownDendrite(t)
	ctx := context.Background()
	alice, bob := s.MustRegister(t, "alice"), s.MustRegister(t, "bob")
	a, b := sicherc.Login(t, s, alice), sicherc.Login(t, s, bob)
	room, err := a.C().CreateRoom(ctx, t.Name(), []string{bob.ID}, false)
	if err != nil {
		t.Fatal(err)
	}
	sicherc.Eventually(t, 60*time.Second, "bob joins", func() error {
		_, err := b.C().JoinRoom(ctx, room)
		return err
	})
	a.WaitMembers(room, alice.ID, bob.ID)
	b.WaitMembers(room, alice.ID, bob.ID)
	a.WaitDevices(bob.ID, b.DeviceID)
	b.WaitDevices(alice.ID, a.DeviceID)

	l := ledger{}
	for i := range 2 {
		l.send(t, a, room, fmt.Sprintf("alice before %d", i))
		l.send(t, b, room, fmt.Sprintf("bob before %d", i))
	}
	start := time.Now()
	restart()
	down := time.Since(start)
	for i := range 2 {
		l.send(t, a, room, fmt.Sprintf("alice after %d", i))
		l.send(t, b, room, fmt.Sprintf("bob after %d", i))
	}
	na := expectDecrypts(t, a, room, l)
	nb := expectDecrypts(t, b, room, l)
	t.Logf("homeserver restarted in %v mid-conversation: alice decrypted %d of 4, bob %d of 4 (2 each before, 2 each after)", down.Round(time.Second), na, nb)
}
