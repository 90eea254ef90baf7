package peer

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
)

// Python is the interpreter the nio peer runs with: the system Python,
// where Debian's python3-matrix-nio and python3-olm are installed.
const Python = "/usr/bin/python3"

// NioAvailable reports why a matrix-nio peer cannot start (wrapping
// ErrUnavailable), or nil.
func NioAvailable() error {
	if err := exec.Command(Python, "-c", "import nio, olm").Run(); err != nil {
		return fmt.Errorf("%w: %s cannot import nio and olm (apt-get install python3-matrix-nio python3-olm): %v", ErrUnavailable, Python, err)
	}
	return nil
}

// StartNio starts a matrix-nio peer that keeps its store in storeDir.
func StartNio(storeDir string) (*Peer, error) {
	if err := NioAvailable(); err != nil {
		return nil, err
	}
	p, err := start("nio", peersDir(), Python, filepath.Join(peersDir(), "nio_peer.py"))
	if err != nil {
		return nil, err
	}
	p.storeDir = storeDir
	return p, nil
}

// Nio starts a matrix-nio peer for a test, with its store in a temporary
// directory, and ends it with the test. Without Python and matrix-nio the
// test is skipped, or fails under CI=true.
func Nio(tb testing.TB) *Peer {
	tb.Helper()
	dir := tb.TempDir()
	return forTest(tb, NioAvailable, func() (*Peer, error) { return StartNio(dir) })
}
