//go:build goolm

// Command mautrixbot is examples/echobot written on mautrix-go v0.33 for the load benchmark in
// bench/bot/load: it joins the rooms it is invited to and answers each m.text message with
// the same body, encrypted in an encrypted room. Encryption is mautrix's cryptohelper with
// goolm (build with -tags goolm, no libolm) and its SQL store on SQLite through
// modernc.org/sqlite (pure Go, no cgo; the database/sql driver "sqlite", opened with the
// pragmas mautrix's "sqlite3-fk-wal" driver sets and handed to mautrix as the "sqlite3"
// dialect).
//
// Usage (the password from MAUTRIXBOT_PASSWORD):
//
//	mautrixbot -homeserver http://127.0.0.1:8028 -user @bot:localhost -store bot.db
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

func main() {
	homeserver := flag.String("homeserver", "", "homeserver base URL")
	user := flag.String("user", "", "the bot's user id, @name:server")
	storePath := flag.String("store", "mautrixbot.db", "SQLite store path")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, NoColor: true}).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			log.Fatal().Err(err).Msg("cpu profile")
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := run(ctx, *homeserver, *user, os.Getenv("MAUTRIXBOT_PASSWORD"), *storePath, log); err != nil && !errors.Is(err, context.Canceled) {
		pprof.StopCPUProfile()
		log.Fatal().Err(err).Msg("mautrixbot stopped")
	}
}

func run(ctx context.Context, homeserver, user, password, storePath string, log zerolog.Logger) error {
	if homeserver == "" || user == "" || password == "" {
		return errors.New("mautrixbot: -homeserver, -user and MAUTRIXBOT_PASSWORD are required")
	}
	client, err := mautrix.NewClient(homeserver, id.UserID(user), "")
	if err != nil {
		return err
	}
	client.Log = log
	raw, err := sql.Open("sqlite", "file:"+storePath+"?_txlock=immediate"+
		"&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	db, err := dbutil.NewWithDB(raw, "sqlite3")
	if err != nil {
		return err
	}
	helper, err := cryptohelper.NewCryptoHelper(client, []byte("mautrixbot pickle key"), db)
	if err != nil {
		return err
	}
	localpart, _, err := id.UserID(user).Parse()
	if err != nil {
		return err
	}
	helper.LoginAs = &mautrix.ReqLogin{
		Type:       mautrix.AuthTypePassword,
		Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: localpart},
		Password:   password,
	}
	if err := helper.Init(ctx); err != nil {
		return fmt.Errorf("mautrixbot: crypto: %w", err)
	}
	defer helper.Close()
	client.Crypto = helper

	syncer := client.Syncer.(*mautrix.DefaultSyncer)
	syncer.OnSync(client.DontProcessOldEvents)
	syncer.OnEventType(event.StateMember, func(ctx context.Context, evt *event.Event) {
		if evt.GetStateKey() == client.UserID.String() && evt.Content.AsMember().Membership == event.MembershipInvite {
			log.Info().Stringer("room", evt.RoomID).Stringer("inviter", evt.Sender).Msg("joining")
			if _, err := client.JoinRoomByID(ctx, evt.RoomID); err != nil {
				log.Warn().Err(err).Stringer("room", evt.RoomID).Msg("join failed")
			}
		}
	})
	syncer.OnEventType(event.EventMessage, func(ctx context.Context, evt *event.Event) {
		msg := evt.Content.AsMessage()
		if evt.Sender == client.UserID || msg.MsgType != event.MsgText {
			return
		}
		if _, err := client.SendText(ctx, evt.RoomID, msg.Body); err != nil {
			log.Warn().Err(err).Stringer("room", evt.RoomID).Msg("echo failed")
		}
	})
	log.Info().Stringer("user", client.UserID).Stringer("device", client.DeviceID).Msg("mautrixbot running")
	return client.SyncWithContext(ctx)
}
