// Package peer drives other Matrix clients from Go tests, each in its own
// process spoken to in JSON lines: matrix-nio in Python (e2e/peers/nio_peer.py)
// and matrix-js-sdk with its Rust crypto in Node (e2e/peers/jssdk/peer.mjs).
// Both drivers answer the same commands (login, sync, join, create_room,
// send_text, messages, trust_all_devices, device_keys, quit); the typed
// calls are in commands.go.
//
// Request:  {"id": 1, "cmd": "login", "args": {...}}
// Response: {"id": 1, "result": ...} or {"id": 1, "error": {"type", "message"}}
package peer

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

// ErrUnavailable means the runtime or packages a peer needs are missing.
var ErrUnavailable = errors.New("peer: driver unavailable")

// ErrClosed is returned by calls on a peer that was closed or whose
// process exited.
var ErrClosed = errors.New("peer: closed")

// DefaultTimeout bounds one command when Peer.Timeout is zero.
const DefaultTimeout = 90 * time.Second

// Error is a failure a driver reports: Type is the error's name (a
// matrix-nio response class such as "JoinError", a JavaScript error name,
// or "BadArgument", "UnknownCommand", "NotLoggedIn" from the driver).
type Error struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// Error returns "peer: <type>: <message>".
func (e *Error) Error() string { return "peer: " + e.Type + ": " + e.Message }

// Peer is one client in a child process. Its methods may be called from
// several goroutines; commands run one at a time.
type Peer struct {
	// Kind names the client ("nio", "jssdk"), for messages.
	Kind string
	// Timeout bounds each command (DefaultTimeout if zero). A command
	// that times out kills the process.
	Timeout time.Duration

	mu      sync.Mutex // serialises commands
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan []byte
	done    chan struct{} // closed when the process has exited
	waitErr error
	next    int64
	stderr  *tailBuffer

	storeDir string // where a peer with a disk store keeps it
}

// peersDir returns e2e/peers next to this package's source.
func peersDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("..", "..", "peers")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "peers")
}

// start runs name args... in dir as a peer process.
func start(kind, dir, name string, args ...string) (*Peer, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &Peer{Kind: kind, cmd: cmd, stdin: stdin, lines: make(chan []byte, 1), done: make(chan struct{}), stderr: &tailBuffer{max: 64 << 10}}
	if os.Getenv("SICHER_E2E_VERBOSE") != "" {
		cmd.Stderr = io.MultiWriter(p.stderr, os.Stderr)
	} else {
		cmd.Stderr = p.stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("peer: start %s: %w", name, err)
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
	return p, nil
}

// forTest starts a peer with startFn for a test and closes it when the
// test ends. It skips the test when available reports an error, except
// under CI=true, where that fails the test.
func forTest(tb testing.TB, available func() error, startFn func() (*Peer, error)) *Peer {
	tb.Helper()
	if err := available(); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%v (CI=true: the peer is required)", err)
		}
		tb.Skipf("%v; skipping", err)
	}
	p, err := startFn()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		p.call("quit", nil, nil)
		if err := p.Close(); err != nil {
			tb.Logf("peer %s: close: %v", p.Kind, err)
		}
		if tb.Failed() {
			tb.Logf("peer %s stderr (tail):\n%s", p.Kind, p.Stderr())
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

// Stderr returns the last output the driver wrote to stderr, for failure
// messages.
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
		return fmt.Errorf("peer %s: %s: %w", p.Kind, cmd, err)
	}
	select {
	case <-p.done:
		return p.exited(cmd)
	default:
	}
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrClosed, p.Kind, cmd, err)
	}
	timeout := p.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var resp answer
	// Lines that are not the answer (library output that reached stdout,
	// an answer to a command that timed out) are kept with stderr.
	for {
		select {
		case b := <-p.lines:
			resp = answer{}
			if err := json.Unmarshal(b, &resp); err != nil || resp.ID != id {
				fmt.Fprintf(p.stderr, "peer: unexpected stdout line: %s", b)
				continue
			}
		case <-p.done:
			return p.exited(cmd)
		case <-timer.C:
			p.cmd.Process.Kill()
			return fmt.Errorf("peer %s: %s: no answer in %v; stderr:\n%s", p.Kind, cmd, timeout, p.stderr)
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
		return fmt.Errorf("peer %s: %s: result %s: %w", p.Kind, cmd, resp.Result, err)
	}
	return nil
}

// answer is one line a driver writes.
type answer struct {
	ID     int64           `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *Error          `json:"error"`
}

func (p *Peer) exited(cmd string) error {
	return fmt.Errorf("%w: %s: %s exited (%v); stderr:\n%s", ErrClosed, cmd, p.Kind, p.waitErr, p.stderr)
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
