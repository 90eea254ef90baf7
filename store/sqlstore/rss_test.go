package sqlstore

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/sicher-go/sicher/megolm"
	"github.com/sicher-go/sicher/store"
)

// rssEnv runs TestRSS: SICHER_STORE_RSS=1 go test -run '^TestRSS$' -v ./store/sqlstore/
// (without -short). It takes minutes: it writes 20,000 and 100,000 real Megolm sessions.
const (
	rssEnv      = "SICHER_STORE_RSS"
	rssChildEnv = "SICHER_STORE_RSS_CHILD" // path of the store; the messages are in path + ".msgs"
)

var rssOwner = store.Owner{UserID: "@rss:example.org", DeviceID: "RSS"}

// TestRSS measures the peak resident memory of a process that decrypts one event in each of
// N stored Megolm sessions (N = 20,000 and 100,000) through a SQLite store without a session
// cache and with a cache of 1,000 and of 10,000 rows: each run is a child process that reports VmHWM. The memory must
// be bounded by the cache, not by N: the test fails if 100,000 sessions peak more than 25%
// above 20,000 with the same cache setting.
func TestRSS(t *testing.T) {
	if os.Getenv(rssChildEnv) != "" {
		t.Skip("child")
	}
	if testing.Short() || os.Getenv(rssEnv) == "" {
		t.Skip(rssEnv + " is not set (and this test does not run with -short)")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self/status")
	}
	dir := t.TempDir()
	peak := map[[2]int]int{}
	for _, n := range []int{20000, 100000} {
		path := filepath.Join(dir, fmt.Sprintf("rss%d.db", n))
		writeRSSStore(t, path, n)
		for _, cache := range []int{-1, 1000, 10000} {
			cmd := exec.Command(os.Args[0], "-test.run=^TestRSSChild$", "-test.v")
			cmd.Env = append(os.Environ(), rssChildEnv+"="+path, fmt.Sprintf("SICHER_STORE_RSS_CACHE=%d", cache))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			var line string
			for l := range strings.Lines(string(out)) {
				if strings.HasPrefix(l, "RSS ") {
					line = strings.TrimSpace(l)
				}
			}
			var hwm, heap, cached, decrypted int
			if _, err := fmt.Sscanf(line, "RSS VmHWM=%d kB heap=%d kB cached=%d decrypted=%d", &hwm, &heap, &cached, &decrypted); err != nil || decrypted != n {
				t.Fatalf("child output %q (%v), want %d decrypted\n%s", line, err, n, out)
			}
			t.Logf("%6d sessions, cache %5d: peak RSS %6.1f MiB, Go heap in use %6.1f MiB, %d rows cached",
				n, cache, float64(hwm)/1024, float64(heap)/1024, cached)
			peak[[2]int{n, cache}] = hwm
		}
		os.Remove(path)
	}
	for _, cache := range []int{-1, 1000, 10000} {
		small, large := peak[[2]int{20000, cache}], peak[[2]int{100000, cache}]
		if large > small*5/4 {
			t.Errorf("cache %d: peak RSS %d kB with 100,000 sessions, %d kB with 20,000: it grows with the sessions", cache, large, small)
		}
	}
}

// writeRSSStore writes n real inbound Megolm sessions into a new store at path, in
// transactions of 1,000, and one encrypted message of each into path + ".msgs" (session id
// and message in base64 per line), without holding them all in memory.
func writeRSSStore(t *testing.T, path string, n int) {
	s, err := OpenSQLite(ctx, path, crashKey)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, err := os.Create(path + ".msgs")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	const batch = 1000
	for done := 0; done < n; done += batch {
		err := s.Update(ctx, rssOwner, func(tx store.Tx) error {
			for range min(batch, n-done) {
				out, err := megolm.NewOutboundSession()
				if err != nil {
					return err
				}
				in, err := megolm.NewInboundSession(out.SessionKey())
				if err != nil {
					return err
				}
				p, err := in.Pickle(&crashPK)
				if err != nil {
					return err
				}
				sid := out.SessionID().String()
				msg := out.Encrypt(nil, []byte(`{"type":"m.room.message","content":{"msgtype":"m.text","body":"hello"}}`))
				fmt.Fprintf(w, "%s %s\n", sid, base64.RawStdEncoding.EncodeToString(msg))
				if err := tx.PutInboundGroupSession(ctx, &store.InboundGroupSession{RoomID: "!r", SessionID: sid,
					SenderKey: "senderCurve25519", SigningKey: "senderEd25519", Provenance: store.FromOlm, State: store.Secret(p)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// TestRSSChild is the child of TestRSS: it decrypts every message of the file, 100 per
// Update (read the session, decrypt, record the index, write the session back), and prints
// its peak RSS.
func TestRSSChild(t *testing.T) {
	path := os.Getenv(rssChildEnv)
	if path == "" {
		t.Skip("run by TestRSS")
	}
	cache, err := strconv.Atoi(os.Getenv("SICHER_STORE_RSS_CACHE"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenSQLiteOptions(ctx, path, crashKey, Options{CacheSize: cache})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, err := os.Open(path + ".msgs")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	decrypted := 0
	for more := true; more; {
		err := s.Update(ctx, rssOwner, func(tx store.Tx) error {
			for range 100 {
				if more = sc.Scan(); !more {
					return sc.Err()
				}
				sid, b64, _ := strings.Cut(sc.Text(), " ")
				msg, err := base64.RawStdEncoding.DecodeString(b64)
				if err != nil {
					return err
				}
				if err := decryptInTx(tx, sid, msg, fmt.Sprint("$", decrypted)); err != nil {
					return err
				}
				decrypted++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("RSS VmHWM=%d kB heap=%d kB cached=%d decrypted=%d\n", vmHWM(t), ms.HeapInuse/1024, s.cache.len(), decrypted)
}

// decryptInTx is the read–decrypt–record–write cycle of room-event decryption on the store
// (as machine.DecryptRoomEvent does it, without the event JSON).
func decryptInTx(tx store.Tx, sid string, msg []byte, eventID string) error {
	rec, err := tx.InboundGroupSession(ctx, "!r", sid)
	if err != nil {
		return err
	}
	in, err := megolm.UnpickleInboundSession(&crashPK, string(rec.State))
	if err != nil {
		return err
	}
	_, idx, err := in.Decrypt(nil, msg)
	if err != nil {
		return err
	}
	if err := tx.RecordReplay(ctx, &store.Replay{RoomID: "!r", SessionID: sid, Index: idx, EventID: eventID}); err != nil {
		return err
	}
	p, err := in.Pickle(&crashPK)
	if err != nil {
		return err
	}
	rec.State = store.Secret(p)
	return tx.PutInboundGroupSession(ctx, rec)
}

// vmHWM returns the process's peak resident set size in kB (VmHWM in /proc/self/status).
func vmHWM(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}
