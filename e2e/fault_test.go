package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sicher-go/sicher/e2e/internal/hs"
	"github.com/sicher-go/sicher/e2e/internal/sicherc"
)

// echobot is examples/echobot run as a child process.
type echobot struct {
	t              *testing.T
	bin, dir, hs   string
	user           *hs.User
	mu             sync.Mutex
	cmd            *exec.Cmd
	out            *bytes.Buffer
	starts, killed int
}

// buildEchobot compiles examples/echobot of the main module.
func buildEchobot(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "echobot")
	cmd := exec.Command("go", "build", "-o", bin, "./examples/echobot")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build echobot: %v\n%s", err, out)
	}
	return bin
}

func (b *echobot) start() {
	b.t.Helper()
	cmd := exec.Command(b.bin, "-homeserver", b.hs, "-user", b.user.ID, "-device", "ECHOBOT", "-store", filepath.Join(b.dir, "bot.db"))
	cmd.Env = append(os.Environ(), "ECHOBOT_PASSWORD="+b.user.Password)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("start echobot: %v", err)
	}
	b.mu.Lock()
	b.cmd, b.out = cmd, out
	b.starts++
	b.mu.Unlock()
}

// kill sends SIGKILL and waits for the process to end.
func (b *echobot) kill() {
	b.mu.Lock()
	cmd := b.cmd
	b.cmd = nil
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	b.killed++
}

// TestEchobotKilled runs examples/echobot as a process and kills it with
// SIGKILL twice in the middle of a conversation (wherever it is: between
// two /sync responses, inside one, or while answering), restarting it
// each time from its store. Every message alice sent must be answered at
// least once after everything settled, and every answer the bot sent must
// decrypt; the summary line counts answers, duplicates (a crash repeats a
// sync response: events are delivered at least once) and undecryptable
// events.
func TestEchobotKilled(t *testing.T) {
	t.Parallel()
	s := hs.ForTest(t)
	ctx := context.Background()
	botUser, alice := s.MustRegister(t, "echobot"), s.MustRegister(t, "alice")
	b := &echobot{t: t, bin: buildEchobot(t), dir: t.TempDir(), hs: s.URL, user: botUser}
	b.start()
	t.Cleanup(func() {
		b.kill()
		if t.Failed() {
			t.Logf("echobot output (last start):\n%s", tail(b.out.String(), 4000))
		}
	})
	a := sicherc.Login(t, s, alice)
	room, err := a.C().CreateRoom(ctx, t.Name(), []string{botUser.ID}, false)
	if err != nil {
		t.Fatal(err)
	}
	a.WaitMembers(room, alice.ID, botUser.ID)
	a.WaitDevices(botUser.ID, "ECHOBOT")

	const total = 12
	l := ledger{}
	start := time.Now()
	for i := range total {
		l.send(t, a, room, fmt.Sprintf("message %d", i))
		if i == 3 || i == 8 {
			b.kill()
			time.Sleep(300 * time.Millisecond)
			b.start()
		}
		time.Sleep(250 * time.Millisecond)
	}

	var answered, duplicates, undecryptable int
	var reasons []string
	deadline := time.Now().Add(90 * time.Second)
	for {
		answers := map[string]int{}
		answered, duplicates, undecryptable, reasons = 0, 0, 0, nil
		for _, m := range a.Messages(room) {
			if m.Sender != botUser.ID || !m.Encrypted {
				continue
			}
			if m.Err != nil {
				undecryptable++
				reasons = append(reasons, fmt.Sprintf("%s: %v", m.EventID, m.Err))
				continue
			}
			answers[m.Body]++
		}
		for _, x := range l {
			switch n := answers[x.body]; {
			case n >= 1:
				answered++
				duplicates += n - 1
			}
		}
		if answered == total && undecryptable == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	t.Logf("echobot killed %d times (SIGKILL), %d starts: %d of %d messages answered, %d duplicate answers, %d bot events undecryptable, settled in %v",
		b.killed, b.starts, answered, total, duplicates, undecryptable, time.Since(start).Round(time.Second))
	for _, r := range reasons {
		t.Errorf("bot event does not decrypt: %s", r)
	}
	if answered != total {
		t.Errorf("%d of %d messages answered", answered, total)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := strings.IndexByte(s[len(s)-n:], '\n')
	return s[len(s)-n+i+1:]
}
