package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/store"
)

const pgChildEnv = "SICHER_STORE_PG_CHILD"

// TestTwoProcessesOnePostgresSession: two processes encrypt with the same Olm session row,
// each read-modify-write in one Update. The row lock (SELECT … FOR UPDATE) makes them take
// turns, so the session never forks: every message has its own chain index, and Bob decrypts
// all of them in index order.
func TestTwoProcessesOnePostgresSession(t *testing.T) {
	if os.Getenv(pgChildEnv) != "" {
		t.Skip("child")
	}
	b := postgresBackend(t)
	alice, err := olm.NewAccount()
	if err != nil {
		t.Fatal(err)
	}
	bob, err := olm.NewAccount()
	if err != nil {
		t.Fatal(err)
	}
	otks, _, err := bob.GenerateOneTimeKeys(1)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := alice.NewOutboundSession(bob.Curve25519(), otks[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	p, err := sess.Pickle(&crashPK)
	if err != nil {
		t.Fatal(err)
	}
	s := mustOpen(t, b, crashKey)
	put(t, s, crashAlice, func(tx store.Tx) error {
		return tx.PutOlmSession(ctx, &store.OlmSession{PeerKey: bob.Curve25519().String(), SessionID: sess.ID(), State: store.Secret(p)})
	})

	each := 60
	if testing.Short() {
		each = 20
	}
	var cmds []*exec.Cmd
	for i := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPostgresChild$")
		cmd.Env = append(os.Environ(), pgChildEnv+"="+b.dsn, "SICHER_STORE_PG_PEER="+bob.Curve25519().String(),
			fmt.Sprintf("SICHER_STORE_PG_NAME=child%d", i), fmt.Sprintf("SICHER_STORE_PG_COUNT=%d", each))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
	}

	var reqs []*store.OutgoingRequest
	if err := s.View(ctx, crashAlice, func(tx store.Tx) (err error) {
		reqs, err = tx.OutgoingRequests(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 2*each {
		t.Fatalf("%d messages, want %d", len(reqs), 2*each)
	}
	type msg struct {
		index uint32
		id    string
		pre   *olm.PreKeyMessage
		body  []byte
	}
	var msgs []msg
	for _, r := range reqs {
		pre, err := olm.ParsePreKeyMessage(r.Body)
		if err != nil {
			t.Fatalf("%s: %v", r.ID, err)
		}
		msgs = append(msgs, msg{pre.Message.Index, r.ID, pre, r.Body})
	}
	slices.SortFunc(msgs, func(a, b msg) int { return int(a.index) - int(b.index) })
	for i, m := range msgs {
		if m.index != uint32(i) {
			t.Fatalf("message %d has chain index %d: the session forked (two messages share an index)", i, m.index)
		}
	}
	aliceKey := alice.Curve25519()
	in, pt, err := bob.NewInboundSession(msgs[0].pre, &olm.InboundOptions{TheirIdentityKey: &aliceKey})
	if err != nil {
		t.Fatal(err)
	}
	check := func(m msg, pt []byte) {
		if string(pt) != "from "+m.id {
			t.Fatalf("message %d decrypted to %q, want from %s", m.index, pt, m.id)
		}
	}
	check(msgs[0], pt)
	for _, m := range msgs[1:] {
		pt, err := in.Decrypt(nil, olm.EncryptedMessage{Type: olm.TypePreKey, Body: m.body})
		if err != nil {
			t.Fatalf("Bob cannot decrypt index %d: %v", m.index, err)
		}
		check(m, pt)
	}
}

// TestPostgresChild is the child process of TestTwoProcessesOnePostgresSession.
func TestPostgresChild(t *testing.T) {
	dsn := os.Getenv(pgChildEnv)
	if dsn == "" {
		t.Skip("runs only as the child of TestTwoProcessesOnePostgresSession")
	}
	peer, name := os.Getenv("SICHER_STORE_PG_PEER"), os.Getenv("SICHER_STORE_PG_NAME")
	n, _ := strconv.Atoi(os.Getenv("SICHER_STORE_PG_COUNT"))
	s, err := OpenPostgres(context.Background(), dsn, crashKey)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range n {
		id := fmt.Sprintf("%s-%d", name, i)
		err := s.Update(ctx, crashAlice, func(tx store.Tx) error {
			list, err := tx.OlmSessions(ctx, peer)
			if err != nil || len(list) != 1 {
				return fmt.Errorf("sessions: %v, %v", list, err)
			}
			sess, err := olm.UnpickleSession(&crashPK, string(list[0].State))
			if err != nil {
				return err
			}
			m, err := sess.Encrypt(nil, []byte("from "+id))
			if err != nil {
				return err
			}
			p, err := sess.Pickle(&crashPK)
			if err != nil {
				return err
			}
			list[0].State, list[0].LastUsed = store.Secret(p), time.Now()
			return errors.Join(
				tx.PutOlmSession(ctx, list[0]),
				tx.PutOutgoingRequest(ctx, &store.OutgoingRequest{ID: id, Type: "olm", Body: m.Body, Created: time.Now()}),
			)
		})
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
}
