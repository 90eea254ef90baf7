package peer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// JSSDKDir returns the directory of peer.mjs and its node_modules
// (e2e/peers/jssdk).
func JSSDKDir() string { return filepath.Join(peersDir(), "jssdk") }

// JSSDKAvailable reports why a matrix-js-sdk peer cannot start (wrapping
// ErrUnavailable), or nil.
func JSSDKAvailable() error {
	if _, err := exec.LookPath("node"); err != nil {
		return fmt.Errorf("%w: node is not on PATH", ErrUnavailable)
	}
	if _, err := os.Stat(filepath.Join(JSSDKDir(), "node_modules", "matrix-js-sdk", "package.json")); err != nil {
		return fmt.Errorf("%w: matrix-js-sdk not installed in %s (run e2e/scripts/setup.sh)", ErrUnavailable, JSSDKDir())
	}
	return nil
}

// StartJSSDK starts a matrix-js-sdk peer (Rust crypto, in-memory stores).
func StartJSSDK() (*Peer, error) {
	if err := JSSDKAvailable(); err != nil {
		return nil, err
	}
	return start("jssdk", JSSDKDir(), "node", "peer.mjs")
}

// JSSDK starts a matrix-js-sdk peer for a test and ends it with the test.
// Without node and the npm packages the test is skipped, or fails under
// CI=true.
func JSSDK(tb testing.TB) *Peer {
	tb.Helper()
	return forTest(tb, JSSDKAvailable, StartJSSDK)
}
