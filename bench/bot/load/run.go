package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/matrixhttp"
	"github.com/sicher-go/sicher/store"
)

// sender is one of the three users sending the load.
type sender struct {
	id    string
	token string // of the device registration created, for the set-up queries
	c     *matrixhttp.Client
}

// newSender registers a user and logs a sicher device in for it, with an in-memory store.
func newSender(ctx context.Context, hs *homeserver, name string, cfg matrixhttp.Config) (*sender, error) {
	password := "pw-" + randomID() + randomID()
	id, token, err := hs.register(ctx, name+"-"+randomID(), password)
	if err != nil {
		return nil, err
	}
	sess, err := matrixhttp.LoginPassword(ctx, cfg, id, password, "")
	if err != nil {
		return nil, err
	}
	c, err := matrixhttp.New(ctx, cfg, sess, store.NewMemory())
	if err != nil {
		return nil, err
	}
	return &sender{id: id, token: token, c: c}, nil
}

// tally counts the bot's answers: each must carry the body of a message sent and not yet
// answered.
type tally struct {
	bot     string
	mu      sync.Mutex
	pending map[string]bool // bodies sent and not answered
	// observed holds the messages of other senders the first sender decrypted: a message
	// the bot did not answer and the first sender did not see either was lost between the
	// homeserver and the clients.
	observed map[string]bool
	wrong    int // answers with a body never sent, or answered twice
	count    atomic.Int64
	last     atomic.Int64 // unix nanoseconds of the last answer
	free     chan struct{}
	done     chan struct{}
	n        int
}

func (t *tally) sent(body string) {
	t.mu.Lock()
	t.pending[body] = true
	t.mu.Unlock()
}

// onEvent is the first sender's matrixhttp OnEvent.
func (t *tally) onEvent(_ context.Context, _ string, ev *machine.DecryptedEvent) {
	if ev.Type != "m.room.message" {
		return
	}
	var msg struct {
		Body string `json:"body"`
	}
	if json.Unmarshal(ev.Content, &msg) != nil {
		return
	}
	if ev.Info.Sender != t.bot {
		t.mu.Lock()
		t.observed[msg.Body] = true
		t.mu.Unlock()
		return
	}
	t.mu.Lock()
	ok := t.pending[msg.Body]
	delete(t.pending, msg.Body)
	if !ok {
		t.wrong++
	}
	t.mu.Unlock()
	if !ok {
		return
	}
	t.last.Store(time.Now().UnixNano())
	if t.free != nil {
		t.free <- struct{}{}
	}
	if t.count.Add(1) == int64(t.n) {
		close(t.done)
	}
}

// warmup is the number of messages sent before the measurement, one per sender.
const warmup = 3

// runOnce measures one bot once.
func runOnce(ctx context.Context, c config, hs *homeserver, b botKind, round int) (result, error) {
	res := result{bot: b.name, round: round, n: c.n}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dir, err := os.MkdirTemp("", "sicher-botload-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)

	t := &tally{pending: map[string]bool{}, observed: map[string]bool{}, done: make(chan struct{}), n: warmup + c.n}
	if c.window > 0 {
		t.free = make(chan struct{}, warmup+c.n)
	}
	cfg := matrixhttp.Config{HomeserverURL: hs.url, SyncTimeout: 2 * time.Second}
	senders := make([]*sender, 3)
	for i := range senders {
		sc := cfg
		if i == 0 {
			sc.OnEvent = t.onEvent
			sc.OnDecryptionFailure = func(_ context.Context, _, eventID string, err *machine.DecryptionError) {
				fmt.Fprintf(os.Stderr, "load: the first sender cannot decrypt %s: %v\n", eventID, err)
			}
		}
		if senders[i], err = newSender(ctx, hs, fmt.Sprintf("sender%d-%s-%d", i, b.name, round+1), sc); err != nil {
			return res, err
		}
	}
	cmd, botID, err := startBot(ctx, c, hs, b, round, dir, senders[0].token)
	if err != nil {
		return res, err
	}
	defer stopBot(cmd)
	t.bot = botID

	// One encrypted room: the first sender creates it and invites the bot and the others.
	s0 := senders[0]
	room, err := s0.c.CreateRoom(ctx, "load "+b.name, []string{botID, senders[1].id, senders[2].id}, false)
	if err != nil {
		return res, err
	}
	for _, s := range senders[1:] {
		if _, err := s.c.JoinRoom(ctx, room); err != nil {
			return res, err
		}
	}
	runErr := make(chan error, 1)
	go func() { runErr <- s0.c.Run(ctx) }()
	// Every sender must see the bot (and each other) joined before the first message, so
	// the room key goes to the bot's device.
	deadline := time.Now().Add(2 * time.Minute)
	for _, s := range senders {
		for !slices.Contains(s.c.Members(room), botID) || len(s.c.Members(room)) < 4 {
			if time.Now().After(deadline) {
				return res, fmt.Errorf("%s does not see the bot joined in %s (members %v)", s.id, room, s.c.Members(room))
			}
			if s == s0 {
				time.Sleep(100 * time.Millisecond)
			} else if err := s.c.SyncOnce(ctx); err != nil {
				return res, err
			}
		}
	}

	// Warm-up: each sender sends one message and waits for its answer, so the bot's first
	// syncs in the new room (a newly joined room comes as a limited timeline) are behind us.
	for i, s := range senders {
		body := fmt.Sprintf("load %s %d: warm-up from sender %d", b.name, round+1, i)
		t.sent(body)
		if _, err := s.c.SendMessage(ctx, room, "m.room.message", map[string]string{"msgtype": "m.text", "body": body}); err != nil {
			return res, fmt.Errorf("warm-up: %w", err)
		}
		for t.count.Load() < int64(i+1) {
			if time.Now().After(deadline) {
				return res, fmt.Errorf("warm-up: the bot did not answer %q", body)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if t.free != nil {
			<-t.free
		}
	}

	// The load: -n messages over 3 senders x -workers goroutines, at most -window unanswered.
	cpu0, err := cpuTime(cmd.Process.Pid)
	if err != nil {
		return res, err
	}
	self0, _ := cpuTime(os.Getpid())
	start := time.Now()
	var next atomic.Int64
	sendErr := make(chan error, 1)
	var wg sync.WaitGroup
	for i, s := range senders {
		for w := range c.workers {
			wg.Go(func() {
				for {
					k := next.Add(1) - 1
					if k >= int64(c.n) {
						return
					}
					if t.free != nil && k >= int64(c.window) {
						select {
						case <-t.free:
						case <-ctx.Done():
							return
						}
					}
					body := fmt.Sprintf("load %s %d: message %d from sender %d worker %d", b.name, round+1, k, i, w)
					t.sent(body)
					if _, err := s.c.SendMessage(ctx, room, "m.room.message", map[string]string{"msgtype": "m.text", "body": body}); err != nil {
						select {
						case sendErr <- err:
						default:
						}
						cancel()
						return
					}
				}
			})
		}
	}
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	select {
	case <-t.done:
	case <-timer.C:
	case err := <-sendErr:
		return res, fmt.Errorf("send: %w", err)
	case err := <-runErr:
		return res, fmt.Errorf("first sender's sync: %w", err)
	}
	cpu1, err := cpuTime(cmd.Process.Pid)
	if err != nil {
		return res, err
	}
	self1, _ := cpuTime(os.Getpid())
	if res.peakRSS, err = peakRSS(cmd.Process.Pid); err != nil {
		return res, err
	}
	res.answered = int(t.count.Load()) - warmup
	res.wall = time.Since(start)
	if res.answered == c.n {
		res.wall = time.Unix(0, t.last.Load()).Sub(start)
	}
	res.cpu, res.senderCPU = cpu1-cpu0, self1-self0
	cancel()
	wg.Wait()
	t.mu.Lock()
	wrong := t.wrong
	var missing []string
	unseen := 0
	for body := range t.pending {
		missing = append(missing, body)
		if !t.observed[body] {
			unseen++
		}
	}
	t.mu.Unlock()
	if len(missing) > 0 {
		slices.Sort(missing)
		log, _ := os.ReadFile(filepath.Join(dir, "bot.log"))
		if c.keepLogs != "" {
			os.WriteFile(filepath.Join(c.keepLogs, fmt.Sprintf("%s-%d.log", b.name, round+1)), log, 0o644)
		}
		fmt.Fprintf(os.Stderr, "load: %d not answered (%d of them not seen by the first sender either), such as %q; the bot's log ends:\n%s\n",
			len(missing), unseen, missing[:min(len(missing), 5)], tail(string(log), 30))
	}
	if wrong > 0 {
		return res, fmt.Errorf("%d answers carried a body never sent or already answered", wrong)
	}
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		return res, errors.New("the bot exited during the run")
	}
	return res, nil
}
