package sqlstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sicher-go/sicher/key"
	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/olm"
	"github.com/sicher-go/sicher/store"
)

// The crash test: a child process (this test binary, re-executed) runs real Olm and Megolm
// operations between Alice and Bob, both stored in one SQLite store, and the parent kills it
// with SIGKILL at random points, restarts it and checks the store after every restart.
//
// Every operation is a client's real sequence of transactions: the sender encrypts and, in
// the same transaction, stores its advanced session and the message as an outgoing request;
// delivery is at least once (the receiver decrypts, stores its session, the replay record and
// a "received" marker in one transaction; the sender deletes the request afterwards), so a
// kill between the two redelivers a message and the receiver must recognise it. After every
// commit the child appends an acknowledgement line to a file; the parent checks that
//   - no Megolm message index and no one-time key was used twice (the sender's and the
//     receiver's state never went backwards),
//   - no message was decrypted twice,
//   - every acknowledged operation is still in the store.

const (
	crashChildEnv = "SICHER_STORE_CRASH_CHILD"
	crashReady    = "SICHER-CRASH-CHILD-READY"
)

var (
	crashAlice  = store.Owner{UserID: "@alice:example.org", DeviceID: "ALICE"}
	crashBob    = store.Owner{UserID: "@bob:example.org", DeviceID: "BOB"}
	crashRoom   = "!crash:example.org"
	crashPK     = [olm.PickleKeySize]byte{1, 2, 3}
	crashKey, _ = NewKey(make([]byte, KeySize))
)

func TestCrashSafety(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("child")
	}
	if raceEnabled {
		t.Skip("under the race detector the children are too slow to do enough work between kills; the plain test run covers this")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "store.db")
	acks := filepath.Join(dir, "acks")
	crashSetup(t, path)

	kills, budget := 40, 15*time.Second
	if testing.Short() {
		kills, budget = 10, 4*time.Second
	}
	const minOps = 50
	start := time.Now()
	var ops, restarts, killed int
	// The kills planned, within the budget; on a slow machine more (up to
	// three budgets) until the children have done enough to prove anything.
	for i := 0; (i < kills && time.Since(start) < budget) || (ops < minOps && time.Since(start) < 3*budget); i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path, "SICHER_STORE_CRASH_ACKS="+acks, fmt.Sprintf("SICHER_STORE_CRASH_SEED=%d", i))
		var out strings.Builder
		cmd.Stderr = &out
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Start the clock when the child has opened the store, so every child works for a while
		// however slowly the machine starts processes.
		var head strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() && !strings.Contains(sc.Text(), crashReady) {
			head.WriteString(sc.Text() + "\n")
		}
		copied := make(chan struct{})
		go func() { io.Copy(&head, stdout); close(copied) }()
		time.Sleep(time.Duration(20+rand.IntN(250)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		<-copied
		err = cmd.Wait()
		out.WriteString(head.String())
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() {
			killed++
		} else {
			t.Fatalf("child %d ended on its own (%v):\n%s", i, err, out.String())
		}
		restarts++
		ops = crashCheck(t, path, acks)
	}
	t.Logf("%d operations acknowledged, %d SIGKILLs, %d restarts checked", ops, killed, restarts)
	if ops < minOps {
		t.Errorf("only %d operations: the children did too little to prove anything", ops)
	}
}

func crashSetup(t *testing.T, path string) {
	s, err := OpenSQLite(context.Background(), path, crashKey)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	alice, err := olm.NewAccount()
	if err != nil {
		t.Fatal(err)
	}
	bob, err := olm.NewAccount()
	if err != nil {
		t.Fatal(err)
	}
	out, err := megolm.NewOutboundSession()
	if err != nil {
		t.Fatal(err)
	}
	in, err := megolm.NewInboundSession(out.SessionKey())
	if err != nil {
		t.Fatal(err)
	}
	must := func(p string, err error) store.Secret {
		if err != nil {
			t.Fatal(err)
		}
		return store.Secret(p)
	}
	put(t, s, crashAlice, func(tx store.Tx) error {
		return errors.Join(
			tx.PutAccount(ctx, must(alice.Pickle(&crashPK))),
			tx.PutOutboundGroupSession(ctx, &store.OutboundGroupSession{RoomID: crashRoom, SessionID: out.SessionID().String(), Created: time.Now(), State: must(out.Pickle(&crashPK))}),
			tx.PutValue(ctx, "peer", []byte(bob.Curve25519().String())),
		)
	})
	put(t, s, crashBob, func(tx store.Tx) error {
		return errors.Join(
			tx.PutAccount(ctx, must(bob.Pickle(&crashPK))),
			tx.PutInboundGroupSession(ctx, &store.InboundGroupSession{RoomID: crashRoom, SessionID: in.SessionID().String(),
				SenderKey: alice.Curve25519().String(), SigningKey: alice.Ed25519().String(), Provenance: store.FromOlm, State: must(in.Pickle(&crashPK))}),
			tx.PutValue(ctx, "peer", []byte(alice.Curve25519().String())),
			tx.PutValue(ctx, "megolm-session", []byte(in.SessionID().String())),
		)
	})
}

// crashCheck reads every acknowledgement so far and checks the store against them. It returns
// the number of acknowledged operations.
func crashCheck(t *testing.T, path, acksPath string) int {
	t.Helper()
	f, err := os.Open(acksPath)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	var encrypted, delivered, claimed []string
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasSuffix(line, ".") {
			continue // the child was killed in the middle of writing this line
		}
		line = strings.TrimSuffix(line, ".")
		n++
		kind, arg, _ := strings.Cut(line, " ")
		switch kind {
		case "E", "D", "K", "C": // encrypted (request id), decrypted (request id), key published, key claimed
			if seen[line] {
				t.Fatalf("%q acknowledged twice: the store went backwards", line)
			}
			seen[line] = true
		case "S": // a redelivered message recognised and skipped
		default:
			t.Fatalf("bad ack line %q", line)
		}
		switch kind {
		case "E":
			encrypted = append(encrypted, arg)
		case "D":
			delivered = append(delivered, arg)
		case "C":
			claimed = append(claimed, arg)
		}
	}
	s, err := OpenSQLite(context.Background(), path, crashKey)
	if err != nil {
		t.Fatalf("reopening after SIGKILL: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	pending := map[string]bool{}
	var maxIndex uint32
	s.View(ctx, crashAlice, func(tx store.Tx) error {
		reqs, err := tx.OutgoingRequests(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reqs {
			pending[r.ID] = true
		}
		o, err := tx.OutboundGroupSession(ctx, crashRoom)
		if err != nil {
			t.Fatal(err)
		}
		sess, err := megolm.UnpickleOutboundSession(&crashPK, string(o.State))
		if err != nil {
			t.Fatal(err)
		}
		maxIndex = sess.MessageIndex()
		for _, otk := range claimed {
			if _, err := tx.Value(ctx, "claimed/"+otk); err != nil {
				t.Fatalf("claimed one-time key %s lost: %v", otk, err)
			}
		}
		return nil
	})
	s.View(ctx, crashBob, func(tx store.Tx) error {
		got := func(id string) bool { _, err := tx.Value(ctx, "got/"+id); return err == nil }
		for _, id := range delivered {
			if !got(id) {
				t.Fatalf("acknowledged delivery of %s lost", id)
			}
		}
		for _, id := range encrypted {
			if !pending[id] && !got(id) {
				t.Fatalf("acknowledged message %s is neither pending nor received", id)
			}
			if idx, ok := strings.CutPrefix(id, "mg-"); ok {
				i, _ := strconv.Atoi(idx)
				if uint32(i) >= maxIndex {
					t.Fatalf("the outbound session is at index %d but index %d was acknowledged: the sender went backwards", maxIndex, i)
				}
			}
		}
		return nil
	})
	return n
}

// TestCrashChild is the child process of TestCrashSafety; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("runs only as the child of TestCrashSafety")
	}
	seed, _ := strconv.ParseUint(os.Getenv("SICHER_STORE_CRASH_SEED"), 10, 64)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	acks, err := os.OpenFile(os.Getenv("SICHER_STORE_CRASH_ACKS"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ack := func(format string, a ...any) {
		if _, err := acks.WriteString(fmt.Sprintf(format, a...) + ".\n"); err != nil {
			t.Fatal(err)
		}
	}
	s, err := OpenSQLite(context.Background(), path, crashKey)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(crashReady)
	c := &crashClient{t: t, s: s, ack: ack}
	for {
		switch r := rng.IntN(10); {
		case r < 5:
			c.megolmEncrypt()
		case r < 6:
			c.newOlmSession()
		case r < 7:
			c.olmEncrypt()
		default:
			c.deliver()
		}
	}
}

type crashClient struct {
	t   *testing.T
	s   *Store
	ack func(string, ...any)
}

func (c *crashClient) update(o store.Owner, fn func(ctx context.Context, tx store.Tx) error) {
	ctx := context.Background()
	if err := c.s.Update(ctx, o, func(tx store.Tx) error { return fn(ctx, tx) }); err != nil {
		c.t.Fatalf("child: %v", err)
	}
}

func (c *crashClient) megolmEncrypt() {
	var id string
	c.update(crashAlice, func(ctx context.Context, tx store.Tx) error {
		o, err := tx.OutboundGroupSession(ctx, crashRoom)
		if err != nil {
			return err
		}
		sess, err := megolm.UnpickleOutboundSession(&crashPK, string(o.State))
		if err != nil {
			return err
		}
		idx := sess.MessageIndex()
		id = fmt.Sprintf("mg-%d", idx)
		ct := sess.Encrypt(nil, []byte("room message "+id))
		p, err := sess.Pickle(&crashPK)
		if err != nil {
			return err
		}
		o.State, o.MessageCount = store.Secret(p), sess.MessageIndex()
		if err := tx.PutOutboundGroupSession(ctx, o); err != nil {
			return err
		}
		return tx.PutOutgoingRequest(ctx, &store.OutgoingRequest{ID: id, Type: "megolm", Body: ct, Created: time.Now()})
	})
	c.ack("E %s", id)
}

// newOlmSession: Bob publishes a one-time key; Alice claims it and starts an Olm session with a
// pre-key message.
func (c *crashClient) newOlmSession() {
	var otk olm.OneTimeKey
	c.update(crashBob, func(ctx context.Context, tx store.Tx) error {
		a, err := tx.Account(ctx)
		if err != nil {
			return err
		}
		acct, err := olm.UnpickleAccount(&crashPK, string(a))
		if err != nil {
			return err
		}
		created, _, err := acct.GenerateOneTimeKeys(1)
		if err != nil {
			return err
		}
		acct.MarkKeysAsPublished()
		otk = created[0]
		p, err := acct.Pickle(&crashPK)
		if err != nil {
			return err
		}
		return tx.PutAccount(ctx, store.Secret(p))
	})
	c.ack("K %s", otk.Key)
	var id string
	c.update(crashAlice, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.Value(ctx, "claimed/"+otk.Key.String()); err == nil {
			return fmt.Errorf("one-time key %s claimed twice", otk.Key)
		}
		a, err := tx.Account(ctx)
		if err != nil {
			return err
		}
		acct, err := olm.UnpickleAccount(&crashPK, string(a))
		if err != nil {
			return err
		}
		peer, err := c.peer(ctx, tx)
		if err != nil {
			return err
		}
		sess, err := acct.NewOutboundSession(peer, otk.Key)
		if err != nil {
			return err
		}
		if err := tx.PutValue(ctx, "claimed/"+otk.Key.String(), nil); err != nil {
			return err
		}
		id, err = c.olmSend(ctx, tx, sess, peer)
		return err
	})
	c.ack("C %s", otk.Key)
	c.ack("E %s", id)
}

func (c *crashClient) peer(ctx context.Context, tx store.Tx) (key.Curve25519, error) {
	v, err := tx.Value(ctx, "peer")
	if err != nil {
		return key.Curve25519{}, err
	}
	return key.ParseCurve25519(string(v))
}

// olmSend encrypts with sess and stores the session and the message as an outgoing request.
func (c *crashClient) olmSend(ctx context.Context, tx store.Tx, sess *olm.Session, peer key.Curve25519) (string, error) {
	var seq uint64
	if v, err := tx.Value(ctx, "olm-seq"); err == nil {
		seq, _ = strconv.ParseUint(string(v), 10, 64)
	}
	seq++
	id := fmt.Sprintf("olm-%d", seq)
	m, err := sess.Encrypt(nil, []byte("to-device "+id))
	if err != nil {
		return "", err
	}
	p, err := sess.Pickle(&crashPK)
	if err != nil {
		return "", err
	}
	now := time.Now()
	return id, errors.Join(
		tx.PutValue(ctx, "olm-seq", []byte(strconv.FormatUint(seq, 10))),
		tx.PutOlmSession(ctx, &store.OlmSession{PeerKey: peer.String(), SessionID: sess.ID(), Created: now, LastUsed: now, State: store.Secret(p)}),
		tx.PutOutgoingRequest(ctx, &store.OutgoingRequest{ID: id, Type: "olm" + strconv.Itoa(m.Type), Body: m.Body, Created: now}),
	)
}

// olmEncrypt sends a message on Alice's most recently used Olm session.
func (c *crashClient) olmEncrypt() {
	var id string
	c.update(crashAlice, func(ctx context.Context, tx store.Tx) error {
		peer, err := c.peer(ctx, tx)
		if err != nil {
			return err
		}
		list, err := tx.OlmSessions(ctx, peer.String())
		if err != nil || len(list) == 0 {
			return err
		}
		sess, err := olm.UnpickleSession(&crashPK, string(list[0].State))
		if err != nil {
			return err
		}
		id, err = c.olmSend(ctx, tx, sess, peer)
		return err
	})
	if id != "" {
		c.ack("E %s", id)
	}
}

// deliver hands Alice's oldest outgoing request to Bob (at least once) and then deletes it.
func (c *crashClient) deliver() {
	var req *store.OutgoingRequest
	ctx := context.Background()
	if err := c.s.View(ctx, crashAlice, func(tx store.Tx) error {
		reqs, err := tx.OutgoingRequests(ctx)
		if len(reqs) > 0 {
			req = reqs[0]
		}
		return err
	}); err != nil {
		c.t.Fatal(err)
	}
	if req == nil {
		return
	}
	skipped := false
	c.update(crashBob, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.Value(ctx, "got/"+req.ID); err == nil {
			skipped = true
			return nil
		}
		var plaintext []byte
		var err error
		switch req.Type {
		case "megolm":
			plaintext, err = c.bobMegolm(ctx, tx, req)
		default:
			plaintext, err = c.bobOlm(ctx, tx, req)
		}
		if err != nil {
			return fmt.Errorf("Bob decrypting %s: %w", req.ID, err)
		}
		if !strings.HasSuffix(string(plaintext), " "+req.ID) {
			return fmt.Errorf("Bob decrypted %q for %s", plaintext, req.ID)
		}
		return tx.PutValue(ctx, "got/"+req.ID, nil)
	})
	if skipped {
		c.ack("S %s", req.ID)
	} else {
		c.ack("D %s", req.ID)
	}
	c.update(crashAlice, func(ctx context.Context, tx store.Tx) error { return tx.DeleteOutgoingRequest(ctx, req.ID) })
}

func (c *crashClient) bobMegolm(ctx context.Context, tx store.Tx, req *store.OutgoingRequest) ([]byte, error) {
	v, err := tx.Value(ctx, "megolm-session")
	if err != nil {
		return nil, err
	}
	sid := string(v)
	rec, err := tx.InboundGroupSession(ctx, crashRoom, sid)
	if err != nil {
		return nil, err
	}
	sess, err := megolm.UnpickleInboundSession(&crashPK, string(rec.State))
	if err != nil {
		return nil, err
	}
	pt, idx, err := sess.Decrypt(nil, req.Body)
	if err != nil {
		return nil, err
	}
	if err := tx.RecordReplay(ctx, &store.Replay{RoomID: crashRoom, SessionID: sid, Index: idx, EventID: "$" + req.ID, OriginServerTS: 1}); err != nil {
		return nil, err
	}
	p, err := sess.Pickle(&crashPK)
	if err != nil {
		return nil, err
	}
	rec.State = store.Secret(p)
	return pt, tx.PutInboundGroupSession(ctx, rec)
}

func (c *crashClient) bobOlm(ctx context.Context, tx store.Tx, req *store.OutgoingRequest) ([]byte, error) {
	peer, err := c.peer(ctx, tx)
	if err != nil {
		return nil, err
	}
	typ, _ := strconv.Atoi(strings.TrimPrefix(req.Type, "olm"))
	msg := olm.EncryptedMessage{Type: typ, Body: req.Body}
	list, err := tx.OlmSessions(ctx, peer.String())
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for _, rec := range list {
		sess, err := olm.UnpickleSession(&crashPK, string(rec.State))
		if err != nil {
			return nil, err
		}
		pt, err := sess.Decrypt(nil, msg)
		if err != nil {
			continue
		}
		p, err := sess.Pickle(&crashPK)
		if err != nil {
			return nil, err
		}
		rec.State, rec.LastUsed, rec.LastReceived = store.Secret(p), now, now
		return pt, tx.PutOlmSession(ctx, rec)
	}
	if typ != olm.TypePreKey {
		return nil, errors.New("no Olm session decrypts the message")
	}
	pre, err := olm.ParsePreKeyMessage(req.Body)
	if err != nil {
		return nil, err
	}
	a, err := tx.Account(ctx)
	if err != nil {
		return nil, err
	}
	acct, err := olm.UnpickleAccount(&crashPK, string(a))
	if err != nil {
		return nil, err
	}
	// NewInboundSession removes the one-time key: a second pre-key message on the same key
	// fails here, which is the "one-time key used twice" check.
	sess, pt, err := acct.NewInboundSession(pre, &olm.InboundOptions{TheirIdentityKey: &peer})
	if err != nil {
		return nil, err
	}
	ap, err := acct.Pickle(&crashPK)
	if err != nil {
		return nil, err
	}
	sp, err := sess.Pickle(&crashPK)
	if err != nil {
		return nil, err
	}
	return pt, errors.Join(
		tx.PutAccount(ctx, store.Secret(ap)),
		tx.PutOlmSession(ctx, &store.OlmSession{PeerKey: peer.String(), SessionID: sess.ID(), Created: now, LastUsed: now, LastReceived: now, State: store.Secret(sp)}),
	)
}
