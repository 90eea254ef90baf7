// Command echobot is an end-to-end encrypted Matrix bot on sicher: it joins the rooms it is
// invited to and answers each encrypted text message with the same text, and each encrypted
// file with the same file, encrypted again. Its state (the machine's keys and sessions, the
// access token, the sync token) lives in a SQLite store, so a restart resumes where it
// stopped.
//
// Usage:
//
//	ECHOBOT_PASSWORD=... go run ./examples/echobot -homeserver https://matrix.example.org -user @echobot:example.org
//
// Flags (each also read from the environment variable in brackets):
//
//	-homeserver  the homeserver's base URL [ECHOBOT_HOMESERVER]
//	-user        the bot's full user id [ECHOBOT_USER]
//	-device      the device id to log in as (default ECHOBOT) [ECHOBOT_DEVICE]
//	-store       the SQLite store (default echobot.db) [ECHOBOT_STORE]
//	-cpuprofile  write a CPU profile (runtime/pprof) to this file until the bot stops
//	             [ECHOBOT_CPUPROFILE]
//
// Secrets never come from the command line: the password from ECHOBOT_PASSWORD (used only for
// the first login and user-interactive authentication), or an access token from
// ECHOBOT_ACCESS_TOKEN instead; the store key from ECHOBOT_STORE_KEY (64 hex digits), or else
// from the file <store>.key, which the first start creates with mode 0600.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/sicher-go/sicher/machine"
	"github.com/sicher-go/sicher/matrixhttp"
	"github.com/sicher-go/sicher/store/sqlstore"
)

// options are the bot's settings.
type options struct {
	homeserver, user, device, storePath string
	password, accessToken, storeKey     string    // secrets, from the environment
	out                                 io.Writer // where the recovery key is printed (stdout)
}

func main() {
	o := options{
		password: os.Getenv("ECHOBOT_PASSWORD"), accessToken: os.Getenv("ECHOBOT_ACCESS_TOKEN"),
		storeKey: os.Getenv("ECHOBOT_STORE_KEY"), out: os.Stdout,
	}
	flag.StringVar(&o.homeserver, "homeserver", os.Getenv("ECHOBOT_HOMESERVER"), "homeserver base URL")
	flag.StringVar(&o.user, "user", os.Getenv("ECHOBOT_USER"), "the bot's user id, @name:server")
	flag.StringVar(&o.device, "device", envOr("ECHOBOT_DEVICE", "ECHOBOT"), "device id")
	flag.StringVar(&o.storePath, "store", envOr("ECHOBOT_STORE", "echobot.db"), "SQLite store path")
	cpuprofile := flag.String("cpuprofile", os.Getenv("ECHOBOT_CPUPROFILE"), "write a CPU profile to this file")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			log.Error("echobot: cpu profile", "err", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := run(ctx, o, log); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("echobot stopped", "err", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// run starts the bot and syncs until ctx ends.
func run(ctx context.Context, o options, log *slog.Logger) error {
	if o.homeserver == "" || o.user == "" && o.accessToken == "" {
		return errors.New("echobot: -homeserver and -user (or ECHOBOT_ACCESS_TOKEN) are required")
	}
	key, err := storeKey(o)
	if err != nil {
		return err
	}
	st, err := sqlstore.OpenSQLite(ctx, o.storePath, key)
	if err != nil {
		return err
	}
	defer st.Close()

	var c *matrixhttp.Client
	b := &bot{log: log}
	cfg := matrixhttp.Config{
		HomeserverURL: o.homeserver, Logger: log,
		OnInvite: func(_ context.Context, roomID, inviter string) bool {
			log.Info("joining", "room", roomID, "inviter", inviter)
			return true
		},
		OnEvent: func(ctx context.Context, roomID string, ev *machine.DecryptedEvent) { b.echo(ctx, c, roomID, ev) },
		OnDecryptionFailure: func(_ context.Context, roomID, eventID string, err *machine.DecryptionError) {
			log.Warn("cannot decrypt", "room", roomID, "event", eventID, "reason", err.Reason, "err", err)
		},
	}
	if o.password != "" {
		cfg.Password = func(context.Context) (string, error) { return o.password, nil }
	}
	firstStart := false
	switch {
	case o.accessToken != "":
		sess, err := matrixhttp.Whoami(ctx, cfg, o.accessToken)
		if err != nil {
			return err
		}
		c, err = matrixhttp.New(ctx, cfg, sess, st)
		if err != nil {
			return err
		}
	default:
		c, err = matrixhttp.Resume(ctx, cfg, st, o.user, o.device)
		if errors.Is(err, matrixhttp.ErrNoSession) {
			if o.password == "" {
				return errors.New("echobot: first start: set ECHOBOT_PASSWORD or ECHOBOT_ACCESS_TOKEN")
			}
			var sess *matrixhttp.Session
			if sess, err = matrixhttp.LoginPassword(ctx, cfg, o.user, o.password, o.device); err == nil {
				c, err = matrixhttp.New(ctx, cfg, sess, st)
				firstStart = true
			}
		}
		if err != nil {
			return err
		}
	}
	log.Info("echobot running", "user", c.UserID(), "device", c.DeviceID(), "resumed", !firstStart)
	if firstStart {
		if err := bootstrap(ctx, c, o.out, log); err != nil {
			return err
		}
	}
	return c.Run(ctx)
}

// bootstrap sets up cross-signing, secret storage and server-side key backup on the first
// start (machine.Bootstrap) and prints the recovery key once. The machine first learns from
// the server whether our user already has a cross-signing identity; if it has (another device
// set it up), the bot leaves it alone and says how to recover instead.
func bootstrap(ctx context.Context, c *matrixhttp.Client, out io.Writer, log *slog.Logger) error {
	m := c.Machine()
	if err := m.UpdateTrackedUsers(ctx, []string{c.UserID()}); err != nil {
		return err
	}
	if err := c.SendRequests(ctx); err != nil {
		return err
	}
	res, err := m.Bootstrap(ctx, machine.BootstrapOptions{})
	switch {
	case errors.Is(err, machine.ErrIdentityExists):
		log.Warn("our user already has a cross-signing identity: not bootstrapping; recover this device with its recovery key (machine.Recover)")
		return nil
	case err != nil:
		return fmt.Errorf("echobot: bootstrap: %w", err)
	}
	if !res.AlreadyDone {
		// Printed before the requests go out: a crash after this line loses nothing, the
		// queued requests are sent on the next start.
		fmt.Fprintf(out, "Recovery key (shown once; it restores the bot's keys and history): %s\n", res.RecoveryKey)
	}
	// Completes the user-interactive authentication of the cross-signing key upload with
	// the password (Config.Password).
	if err := c.SendRequests(ctx); err != nil {
		return fmt.Errorf("echobot: bootstrap requests: %w", err)
	}
	log.Info("cross-signing and key backup set up")
	return nil
}

// storeKey returns the store key from ECHOBOT_STORE_KEY or the key file beside the store,
// creating the file (mode 0600) with a random key on the first start.
func storeKey(o options) (sqlstore.Key, error) {
	text := o.storeKey
	if text == "" {
		path := o.storePath + ".key"
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			raw := make([]byte, sqlstore.KeySize)
			if _, err := rand.Read(raw); err != nil {
				return sqlstore.Key{}, err
			}
			b = []byte(hex.EncodeToString(raw) + "\n")
			err = os.WriteFile(path, b, 0o600)
		}
		if err != nil {
			return sqlstore.Key{}, fmt.Errorf("echobot: store key file: %w", err)
		}
		text = string(b)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return sqlstore.Key{}, errors.New("echobot: the store key is not hex")
	}
	return sqlstore.NewKey(raw)
}

// bot answers messages.
type bot struct {
	log *slog.Logger
}

// echo answers an encrypted text with the same text and an encrypted file with the same
// file; the bot's own messages are not answered.
func (b *bot) echo(ctx context.Context, c *matrixhttp.Client, roomID string, ev *machine.DecryptedEvent) {
	if ev.Info.Sender == c.UserID() || ev.Type != "m.room.message" {
		return
	}
	var msg struct {
		MsgType string `json:"msgtype"`
		Body    string `json:"body"`
	}
	if json.Unmarshal(ev.Content, &msg) != nil {
		return
	}
	var err error
	switch msg.MsgType {
	case "m.text", "m.notice", "m.emote":
		b.log.Info("echo text", "room", roomID, "sender", ev.Info.Sender, "shield", ev.Info.Shield)
		_, err = c.SendMessage(ctx, roomID, "m.room.message", map[string]string{"msgtype": "m.text", "body": msg.Body})
	case "m.file", "m.image", "m.audio", "m.video":
		var f *matrixhttp.File
		if f, err = c.DownloadFile(ctx, ev.Content); err == nil {
			b.log.Info("echo file", "room", roomID, "sender", ev.Info.Sender, "size", len(f.Data))
			_, err = c.SendFile(ctx, roomID, f)
		}
	}
	if err != nil {
		b.log.Warn("echo failed", "room", roomID, "err", err)
	}
}
