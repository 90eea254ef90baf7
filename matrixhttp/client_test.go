package matrixhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sicher-go/sicher/internal/cryptotest"
	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/machine/machinetest"
	"github.com/sicher-go/sicher/matrixhttp"
	"github.com/sicher-go/sicher/store"
)

const alice, bob = "@alice:example.org", "@bob:example.org"

// fake is the machinetest server over HTTP, behind a wrapper that counts requests and can
// answer some of them with an error first.
type fake struct {
	srv *machinetest.Server
	hs  *httptest.Server

	mu     sync.Mutex
	counts map[string]int                                           // "METHOD /path" → requests
	times  map[string][]time.Time                                   // "METHOD /path" → when
	inject func(w http.ResponseWriter, r *http.Request, n int) bool // answers instead of the server when true
}

func newFake(t *testing.T) *fake {
	f := &fake{srv: machinetest.NewServer(), counts: map[string]int{}, times: map[string][]time.Time{}}
	h := f.srv.Handler()
	f.hs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := r.Method + " " + r.URL.Path
		f.mu.Lock()
		f.counts[k]++
		n := f.counts[k]
		f.times[k] = append(f.times[k], time.Now())
		inject := f.inject
		f.mu.Unlock()
		if inject != nil && inject(w, r, n) {
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(f.hs.Close)
	f.srv.AddUser(alice, "alice-password")
	f.srv.AddUser(bob, "bob-password")
	return f
}

func (f *fake) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[key]
}

func (f *fake) setInject(fn func(w http.ResponseWriter, r *http.Request, n int) bool) {
	f.mu.Lock()
	f.inject = fn
	f.mu.Unlock()
}

// bot is a logged-in client whose events arrive on a channel.
type bot struct {
	c      *matrixhttp.Client
	st     store.Store
	events chan received
	cfg    matrixhttp.Config
	stop   func() error
}

type received struct {
	room string
	ev   *machine.DecryptedEvent
}

// config delivers the room events of others to events (a bot sees its own messages too).
func (f *fake) config(user string, events chan received) matrixhttp.Config {
	return matrixhttp.Config{HomeserverURL: f.hs.URL, Backoff: 5 * time.Millisecond, SyncTimeout: 200 * time.Millisecond,
		OnEvent: func(_ context.Context, room string, ev *machine.DecryptedEvent) {
			if ev.Info.Sender != user {
				events <- received{room, ev}
			}
		},
		OnInvite: func(context.Context, string, string) bool { return true }}
}

// login logs user in and starts its sync loop.
func (f *fake) login(t *testing.T, user, password string) *bot {
	t.Helper()
	ctx := context.Background()
	b := &bot{st: store.NewMemory(), events: make(chan received, 16)}
	b.cfg = f.config(user, b.events)
	sess, err := matrixhttp.LoginPassword(ctx, b.cfg, user, password, "")
	if err != nil {
		t.Fatal(err)
	}
	if b.c, err = matrixhttp.New(ctx, b.cfg, sess, b.st); err != nil {
		t.Fatal(err)
	}
	b.start(t)
	return b
}

func (b *bot) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.c.Run(ctx) }()
	var once sync.Once
	var err error
	b.stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = b.stop() })
}

// next waits for the bot's next decrypted event.
func (b *bot) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-b.events:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
		return received{}
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within 10 s", what)
}

// room makes alice create an encrypted room with bob, who joins on the invite.
func room(t *testing.T, a, b *bot) string {
	t.Helper()
	id, err := a.c.CreateRoom(context.Background(), "test", []string{bob}, false)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "alice sees bob join", func() bool { return len(a.c.Members(id)) == 2 })
	return id
}

func text(t *testing.T, r received) string {
	t.Helper()
	var c struct {
		Body string `json:"body"`
	}
	if r.ev.Type != "m.room.message" || json.Unmarshal(r.ev.Content, &c) != nil {
		t.Fatalf("event %s %s", r.ev.Type, r.ev.Content)
	}
	return c.Body
}

func TestTwoBotsExchangeMessagesAndFile(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	a, b := f.login(t, alice, "alice-password"), f.login(t, bob, "bob-password")
	id := room(t, a, b)

	if _, err := a.c.SendMessage(ctx, id, "m.room.message", map[string]string{"msgtype": "m.text", "body": "hello bob"}); err != nil {
		t.Fatal(err)
	}
	got := b.next(t)
	if body := text(t, got); body != "hello bob" || got.room != id || got.ev.Info.Sender != alice || got.ev.Info.SenderDevice != a.c.DeviceID() {
		t.Fatalf("bob got %q in %s from %s %s", body, got.room, got.ev.Info.Sender, got.ev.Info.SenderDevice)
	}
	if _, err := b.c.SendMessage(ctx, id, "m.room.message", map[string]string{"msgtype": "m.text", "body": "hello alice"}); err != nil {
		t.Fatal(err)
	}
	if body := text(t, a.next(t)); body != "hello alice" {
		t.Fatalf("alice got %q", body)
	}
	// Nothing readable crossed the server.
	for _, ev := range f.srv.Messages(id) {
		if bytes.Contains(ev, []byte("hello")) {
			t.Fatalf("plaintext on the server: %s", ev)
		}
	}

	// An encrypted file, downloaded once with the authenticated media API and once from a
	// server that only has the v3 path (Dendrite 0.13).
	data := bytes.Repeat([]byte("attachment "), 1000)
	if _, err := a.c.SendFile(ctx, id, &matrixhttp.File{Name: "notes.txt", MimeType: "text/plain", Data: data}); err != nil {
		t.Fatal(err)
	}
	got = b.next(t)
	for _, legacy := range []bool{false, true} {
		f.srv.LegacyMediaOnly(legacy)
		file, err := b.c.DownloadFile(ctx, got.ev.Content)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(file.Data, data) || file.Name != "notes.txt" || file.MimeType != "text/plain" || file.MsgType != "m.file" {
			t.Fatalf("file %q %q %q, %d bytes", file.Name, file.MimeType, file.MsgType, len(file.Data))
		}
	}
	if n := f.count("GET /_matrix/media/v3/download/example.org/" + mediaID(t, got.ev.Content)); n != 1 {
		t.Fatalf("v3 media downloads: %d, want 1 (the fallback only)", n)
	}
	// A file whose ciphertext the server changed does not decrypt.
	var c map[string]json.RawMessage
	_ = json.Unmarshal(got.ev.Content, &c)
	f.srv.LegacyMediaOnly(false)
	other, err := a.c.UploadMedia(ctx, []byte("something else"), "application/octet-stream", "")
	if err != nil {
		t.Fatal(err)
	}
	c["file"] = bytes.Replace(c["file"], []byte(`"url":"`+mxc(t, got.ev.Content)+`"`), []byte(`"url":"`+other+`"`), 1)
	tampered, _ := json.Marshal(c)
	if _, err := b.c.DownloadFile(ctx, tampered); err == nil {
		t.Fatal("a swapped ciphertext decrypted")
	}
}

func mxc(t *testing.T, content json.RawMessage) string {
	var c struct {
		File struct {
			URL string `json:"url"`
		} `json:"file"`
	}
	if json.Unmarshal(content, &c) != nil || c.File.URL == "" {
		t.Fatalf("no file in %s", content)
	}
	return c.File.URL
}

func mediaID(t *testing.T, content json.RawMessage) string {
	u := mxc(t, content)
	return u[strings.LastIndex(u, "/")+1:]
}

// A restarted bot resumes from the sync token in its store: it receives what was sent while it
// was down, and a sync response lost on the way (a 502 after the server built it) is delivered
// again, to-device events included.
func TestRestartResumesFromStoredToken(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	a, b := f.login(t, alice, "alice-password"), f.login(t, bob, "bob-password")
	id := room(t, a, b)
	if _, err := a.c.SendMessage(ctx, id, "m.room.message", map[string]string{"msgtype": "m.text", "body": "one"}); err != nil {
		t.Fatal(err)
	}
	if body := text(t, b.next(t)); body != "one" {
		t.Fatal(body)
	}
	if err := b.stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	// A room key travels to bob while he is down: alice invites him to a new room and writes.
	id2, err := a.c.CreateRoom(ctx, "second", []string{bob}, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.c.SendMessage(ctx, id2, "m.room.message", map[string]string{"msgtype": "m.text", "body": "two"}); err != nil {
		t.Fatal(err)
	}

	var initialSyncs, lost atomic.Int32
	f.setInject(func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if r.URL.Path != "/_matrix/client/v3/sync" || r.Header.Get("Authorization") == "" {
			return false
		}
		if r.URL.Query().Get("since") == "" {
			initialSyncs.Add(1)
		}
		if lost.Add(1) == 1 {
			// The server builds the response, and it is lost on the way back.
			f.srv.Handler().ServeHTTP(httptest.NewRecorder(), r)
			w.WriteHeader(http.StatusBadGateway)
			return true
		}
		return false
	})
	b2 := &bot{st: b.st, events: make(chan received, 16)}
	b2.cfg = f.config(bob, b2.events)
	if b2.c, err = matrixhttp.Resume(ctx, b2.cfg, b.st, bob, b.c.DeviceID()); err != nil {
		t.Fatal(err)
	}
	b2.start(t)
	got := b2.next(t)
	if text(t, got) == "one" && got.room == id {
		// Delivered at least once: the first run may have stopped after the handler and
		// before it stored the sync token.
		got = b2.next(t)
	}
	if text(t, got) != "two" || got.room != id2 {
		t.Fatalf("after the restart bob got %q in %s", text(t, got), got.room)
	}
	if n := initialSyncs.Load(); n != 0 {
		t.Fatalf("%d syncs without a since token after the restart", n)
	}
	if lost.Load() < 2 {
		t.Fatal("the lost sync was not repeated")
	}
	if _, err := matrixhttp.Resume(ctx, b2.cfg, store.NewMemory(), bob, b.c.DeviceID()); !errors.Is(err, matrixhttp.ErrNoSession) {
		t.Fatalf("Resume on an empty store: %v", err)
	}
}

// A 429 is retried after retry_after_ms (or Retry-After), a 5xx after the backoff.
func TestRetries(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	const upload = "POST /_matrix/client/v3/keys/upload"
	for _, c := range []struct {
		name   string
		answer func(w http.ResponseWriter)
		want   time.Duration
	}{
		{"retry_after_ms", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":300}`))
		}, 300 * time.Millisecond},
		{"Retry-After", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"errcode":"M_LIMIT_EXCEEDED"}`))
		}, time.Second},
		{"500", func(w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) }, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := f.count(upload)
			f.setInject(func(w http.ResponseWriter, r *http.Request, n int) bool {
				if r.Method+" "+r.URL.Path == upload && n <= before+2 {
					c.answer(w)
					return true
				}
				return false
			})
			defer f.setInject(nil)
			cfg := f.config("", nil)
			sess, err := matrixhttp.LoginPassword(ctx, cfg, alice, "alice-password", "")
			if err != nil {
				t.Fatal(err)
			}
			cl, err := matrixhttp.New(ctx, cfg, sess, store.NewMemory())
			if err != nil {
				t.Fatal(err)
			}
			if err := cl.SendRequests(ctx); err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			times := f.times[upload][before:]
			f.mu.Unlock()
			if len(times) != 3 {
				t.Fatalf("%d uploads, want 3 (two refused)", len(times))
			}
			if gap := times[2].Sub(times[1]); gap < c.want {
				t.Fatalf("retried after %v, the server asked for %v", gap, c.want)
			}
			if f.srv.DeviceKeys(alice, sess.DeviceID) == nil {
				t.Fatal("the keys were not uploaded")
			}
		})
	}

	// Without retries left, the refusal is an *Error with the server's delay.
	f.setInject(func(w http.ResponseWriter, r *http.Request, _ int) bool {
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":1500}`))
		return true
	})
	cfg := f.config("", nil)
	cfg.MaxRetries = -1
	_, err := matrixhttp.LoginPassword(ctx, cfg, alice, "alice-password", "")
	var e *matrixhttp.Error
	if !errors.As(err, &e) || e.RetryAfter != 1500*time.Millisecond || !errors.Is(err, &matrixhttp.Error{ErrCode: "M_LIMIT_EXCEEDED"}) ||
		errors.Is(err, &matrixhttp.Error{Status: 500}) {
		t.Fatalf("error %#v", err)
	}
	// A cancelled context stops the wait for a retry at once.
	cfg.MaxRetries = 0
	f.setInject(func(w http.ResponseWriter, r *http.Request, _ int) bool {
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"errcode":"M_LIMIT_EXCEEDED","retry_after_ms":3600000}`))
		return true
	})
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := matrixhttp.LoginPassword(cctx, cfg, alice, "alice-password", ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("login while cancelled: %v", err)
	}
}

// Cancelling the context ends Run during its long poll; a logged-out device ends it with the
// server's error.
func TestRunStops(t *testing.T) {
	f := newFake(t)
	b := f.login(t, alice, "alice-password")
	time.Sleep(100 * time.Millisecond) // inside a long poll
	stopped := make(chan error, 1)
	go func() { stopped <- b.stop() }()
	select {
	case err := <-stopped:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}

	cfg := f.config("", nil)
	cl, err := matrixhttp.New(context.Background(), cfg, matrixhttp.NewSession(alice, "GONE", "not-a-token"), store.NewMemory())
	if err != nil {
		t.Fatal(err)
	}
	err = cl.Run(context.Background())
	if !errors.Is(err, &matrixhttp.Error{Status: http.StatusUnauthorized, ErrCode: "M_UNKNOWN_TOKEN"}) {
		t.Fatalf("Run with an unknown token: %v", err)
	}
}

func TestLoginToken(t *testing.T) {
	f := newFake(t)
	cfg := f.config("", nil)
	sess, err := matrixhttp.LoginToken(context.Background(), cfg, f.srv.LoginToken(bob), "BOTDEVICE")
	if err != nil || sess.UserID != bob || sess.DeviceID != "BOTDEVICE" || sess.AccessToken() == "" {
		t.Fatalf("%v %v", sess, err)
	}
	_, err = matrixhttp.LoginPassword(context.Background(), cfg, bob, "wrong", "")
	if !errors.Is(err, &matrixhttp.Error{Status: http.StatusForbidden, ErrCode: "M_FORBIDDEN"}) {
		t.Fatalf("wrong password: %v", err)
	}
	who, err := matrixhttp.Whoami(context.Background(), cfg, sess.AccessToken())
	if err != nil || who.UserID != bob || who.DeviceID != "BOTDEVICE" {
		t.Fatalf("whoami: %v %v", who, err)
	}
	if _, err := matrixhttp.Whoami(context.Background(), cfg, "unknown"); !errors.Is(err, &matrixhttp.Error{ErrCode: "M_UNKNOWN_TOKEN"}) {
		t.Fatalf("whoami with an unknown token: %v", err)
	}
	cryptotest.Redacted(t, sess, []byte(sess.AccessToken()))
	cryptotest.Redacted(t, *sess, []byte(sess.AccessToken()))
	cl, err := matrixhttp.New(context.Background(), cfg, sess, store.NewMemory())
	if err != nil {
		t.Fatal(err)
	}
	cryptotest.RedactedInLogs(t, cl, []byte(sess.AccessToken()))
}
