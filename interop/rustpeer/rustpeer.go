// Package rustpeer drives matrix-sdk-crypto's OlmMachine, in its wasm
// build (npm @matrix-org/matrix-sdk-crypto-wasm), from Go tests.
//
// A Peer is one OlmMachine with an in-memory store, running in its own
// node process (interop/node/driver.mjs), spoken to in JSON lines. The
// machine is sans-I/O: the test pushes sync changes in (ReceiveSync),
// pulls the requests it wants sent (OutgoingRequests), executes them
// against a homeserver or a fake one, and reports the responses
// (MarkRequestSent). Request and response bodies are the JSON of the
// client-server API (https://spec.matrix.org/v1.19/client-server-api/#end-to-end-encryption).
//
// The peer needs node on PATH and the npm packages installed
// (interop/scripts/setup.sh). Start returns ErrUnavailable without them;
// ForTest skips the test then, unless CI=true, where it fails.
package rustpeer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// ErrUnavailable means node or the driver's npm packages are missing.
var ErrUnavailable = errors.New("rustpeer: matrix-sdk-crypto-wasm driver unavailable")

// ErrClosed is returned by calls on a peer that was closed or whose
// process exited.
var ErrClosed = errors.New("rustpeer: peer closed")

// wasmPackage is the npm package the driver loads.
const wasmPackage = "@matrix-org/matrix-sdk-crypto-wasm"

// DefaultTimeout bounds one command when Peer.Timeout is zero.
const DefaultTimeout = 60 * time.Second

// NodeDir returns the directory of driver.mjs and its node_modules: the
// environment variable SICHER_INTEROP_NODE_DIR if set, else interop/node
// next to this package's source.
func NodeDir() string {
	if d := os.Getenv("SICHER_INTEROP_NODE_DIR"); d != "" {
		return d
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("..", "node")
	}
	return filepath.Join(filepath.Dir(file), "..", "node")
}

// Available reports why a peer cannot start (wrapping ErrUnavailable), or
// nil if node and the npm packages are there.
func Available() error {
	if _, err := exec.LookPath("node"); err != nil {
		return fmt.Errorf("%w: node is not on PATH", ErrUnavailable)
	}
	dir := NodeDir()
	if _, err := os.Stat(filepath.Join(dir, "driver.mjs")); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", wasmPackage, "package.json")); err != nil {
		return fmt.Errorf("%w: %s not installed in %s (run interop/scripts/setup.sh)", ErrUnavailable, wasmPackage, dir)
	}
	return nil
}

// Error is a failure the driver reports: Type is the error's name (for a
// room event that does not decrypt, the wasm DecryptionErrorCode name such
// as "MissingRoomKey" or "UnknownMessageIndex"; "BadArgument",
// "UnknownCommand" and "NotInitialised" from the driver itself; a
// JavaScript error name otherwise).
type Error struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	// WithheldCode is the m.room_key.withheld code the machine received
	// for the session, if any.
	WithheldCode string `json:"withheld_code,omitempty"`
}

// Error returns "rustpeer: <type>: <message>".
func (e *Error) Error() string { return "rustpeer: " + e.Type + ": " + e.Message }

// IsType reports whether err is an *Error of type t.
func IsType(err error, t string) bool {
	var e *Error
	return errors.As(err, &e) && e.Type == t
}

// Peer is one OlmMachine in a node process. Its methods may be called from
// several goroutines; commands run one at a time.
type Peer struct {
	// Timeout bounds each command (DefaultTimeout if zero). A command
	// that times out kills the process.
	Timeout time.Duration

	keys IdentityKeys

	mu      sync.Mutex // serialises commands
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan []byte
	done    chan struct{} // closed when the process has exited
	waitErr error
	next    int64
	stderr  *tailBuffer
}

// Start starts a driver process and initialises its machine as device
// deviceID of userID.
func Start(userID, deviceID string) (*Peer, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	cmd := exec.Command("node", "driver.mjs")
	cmd.Dir = NodeDir()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &Peer{cmd: cmd, stdin: stdin, lines: make(chan []byte, 1), done: make(chan struct{}), stderr: &tailBuffer{max: 64 << 10}}
	if os.Getenv("SICHER_INTEROP_VERBOSE") != "" {
		cmd.Stderr = io.MultiWriter(p.stderr, os.Stderr)
	} else {
		cmd.Stderr = p.stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("rustpeer: start node: %w", err)
	}
	go func() {
		r := bufio.NewReaderSize(stdout, 1<<20)
		for {
			line, err := r.ReadBytes('\n')
			if len(bytes.TrimSpace(line)) > 0 {
				p.lines <- line
			}
			if err != nil {
				break
			}
		}
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := p.call("init", map[string]string{"user_id": userID, "device_id": deviceID}, &p.keys); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// ForTest starts a peer for a test and closes it when the test ends. It
// skips the test when the driver is unavailable, except under CI=true,
// where that fails the test.
func ForTest(tb testing.TB, userID, deviceID string) *Peer {
	tb.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%v (CI=true: the interop peer is required)", err)
		}
		tb.Skipf("%v; skipping (run interop/scripts/setup.sh)", err)
	}
	p, err := Start(userID, deviceID)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := p.Close(); err != nil {
			tb.Errorf("rustpeer: close: %v", err)
		}
	})
	return p
}

// Close ends the process (closing its stdin lets the driver finish) and
// waits for it.
func (p *Peer) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	return p.waitErr
}

// Stderr returns the last output the driver wrote to stderr (logs of the
// library), for failure messages.
func (p *Peer) Stderr() string { return p.stderr.String() }

// call runs one command and decodes its result into out (if not nil).
func (p *Peer) call(cmd string, args, out any) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	id := p.next
	line, err := json.Marshal(struct {
		ID   int64  `json:"id"`
		Cmd  string `json:"cmd"`
		Args any    `json:"args,omitempty"`
	}{id, cmd, args})
	if err != nil {
		return fmt.Errorf("rustpeer: %s: %w", cmd, err)
	}
	select {
	case <-p.done:
		return p.exited(cmd)
	default:
	}
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrClosed, cmd, err)
	}
	timeout := p.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var resp answer
	// Lines that are not the answer (output that bypassed the driver's
	// console redirection, an answer to a command that timed out) are
	// kept with stderr and skipped.
	for {
		select {
		case b := <-p.lines:
			resp = answer{}
			if err := json.Unmarshal(b, &resp); err != nil || resp.ID != id {
				fmt.Fprintf(p.stderr, "rustpeer: unexpected stdout line: %s", b)
				continue
			}
		case <-p.done:
			return p.exited(cmd)
		case <-timer.C:
			p.cmd.Process.Kill()
			return fmt.Errorf("rustpeer: %s: no answer in %v; stderr:\n%s", cmd, timeout, p.stderr)
		}
		break
	}
	if resp.Error != nil {
		return resp.Error
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(resp.Result, out); err != nil {
		return fmt.Errorf("rustpeer: %s: result %s: %w", cmd, resp.Result, err)
	}
	return nil
}

// answer is one line the driver writes.
type answer struct {
	ID     int64           `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
}

func (p *Peer) exited(cmd string) error {
	return fmt.Errorf("%w: %s: node exited (%v); stderr:\n%s", ErrClosed, cmd, p.waitErr, p.stderr)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, b...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
