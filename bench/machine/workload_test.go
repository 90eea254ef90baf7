package machinebench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The workloads, the same on both sides.
const (
	// shareUsers × shareDevices devices receive a new room key.
	shareUsers, shareDevices = 100, 5
	// decryptEvents room events are decrypted, from one session or from decryptSessions.
	decryptEvents, decryptSessions = 10000, 100
	// syncSenders devices each share syncRooms room keys with one device: a sync with
	// syncSenders × syncRooms Olm-encrypted m.room_key events. Each sender takes one of the
	// receiver's 50 one-time keys.
	syncSenders, syncRooms = 50, 20
)

func shareUser(i int) string      { return fmt.Sprintf("@user%d:localhost", i) }
func shareDevice(i, j int) string { return fmt.Sprintf("U%dD%d", i, j) }
func syncSender(i int) string     { return fmt.Sprintf("@sender%d:localhost", i) }
func roomName(i int) string       { return fmt.Sprintf("!room%d:localhost", i) }
func eventID(i int) string        { return fmt.Sprintf("$event%d", i) }
func messageBody(i int) map[string]string {
	return map[string]string{"msgtype": "m.text", "body": fmt.Sprintf("message %d", i)}
}

// copyDB copies a closed SQLite database (with its WAL files, if any) to a new file in dir.
func copyDB(tb testing.TB, from, dir string, n int) string {
	tb.Helper()
	to := filepath.Join(dir, fmt.Sprintf("copy%d.db", n))
	for _, suffix := range []string{"", "-wal", "-shm"} {
		src, err := os.Open(from + suffix)
		if os.IsNotExist(err) && suffix != "" {
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		dst, err := os.Create(to + suffix)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			tb.Fatal(err)
		}
		src.Close()
		if err := dst.Close(); err != nil {
			tb.Fatal(err)
		}
	}
	return to
}

// cpuClock adds up the process's CPU time (user and system, all goroutines) over the timed
// parts of a benchmark, which stays meaningful on a machine shared with other busy processes.
// Wall time (ns/op) also counts waiting for the disk, which is part of the cost of a store.
type cpuClock struct {
	start, total time.Duration
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (c *cpuClock) Start() { c.start = processCPU() }
func (c *cpuClock) Stop()  { c.total += processCPU() - c.start }

// report adds the CPU time per op to the benchmark's output as cpu-ns/op.
func (c *cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(c.total.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
