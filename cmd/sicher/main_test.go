package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMain lets tests run this test binary as the sicher command itself
// (SICHER_RUN_MAIN=1), so the peer is driven through real stdin/stdout.
func TestMain(m *testing.M) {
	if os.Getenv("SICHER_RUN_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// runBinary runs the sicher command in a child process.
func runBinary(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "SICHER_RUN_MAIN=1")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestVersionAndHelp(t *testing.T) {
	out, _, code := runBinary(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "sicher "+version) {
		t.Errorf("version: %q, exit %d", out, code)
	}
	out, _, code = runBinary(t, "", "help")
	if code != 0 || !strings.Contains(out, "peer") {
		t.Errorf("help: %q, exit %d", out, code)
	}
	_, errOut, code := runBinary(t, "", "no-such-command")
	if code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown command: %q, exit %d", errOut, code)
	}
}

func TestPeerBinary(t *testing.T) {
	in := strings.Join([]string{
		`{"id":1,"cmd":"ping"}`,
		``,
		`   `,
		`{"id":"two","cmd":"sha256","input":"abc"}`,
		`{"id":[3],"cmd":"nope"}`,
		`not json`,
		`{"id":5}`,
		`{"id":6,"cmd":"ed25519_verify","key":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo","message":"","signature":"5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc+bRr0lv18FlbviRlUUFDjnoQCw"}`,
		`{"id":7,"cmd":"ed25519_verify","key":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","message":"x","signature":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`,
		`{"id":8,"cmd":"sha256","input_b64":"YWJj"}`,
		`{"id":9,"cmd":"free","handle":"nothing"}`,
		`{"id":10,"cmd":"sha256"}`,
		`{"id":11,"cmd":"quit"}`,
		`{"id":12,"cmd":"ping"}`,
	}, "\n")
	out, errOut, code := runBinary(t, in, "peer")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []struct {
		id  string
		ok  bool
		typ string
		has map[string]any
	}{
		{"1", true, "", map[string]any{"implementation": "sicher"}},
		{`"two"`, true, "", map[string]any{"hash": "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0"}},
		{"[3]", false, "PeerError", nil},
		{"null", false, "PeerError", nil},
		{"5", false, "PeerError", nil},
		{"6", true, "", map[string]any{"valid": true}},
		{"7", true, "", map[string]any{"valid": false}}, // identity key: strict verification refuses
		{"8", true, "", map[string]any{"hash": "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0"}},
		{"9", false, "PeerError", nil},
		{"10", false, "PeerError", nil},
		{"11", true, "", map[string]any{"bye": true}},
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d response lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		var resp map[string]json.RawMessage
		if err := json.Unmarshal([]byte(lines[i]), &resp); err != nil {
			t.Fatalf("line %d not JSON: %s", i, lines[i])
		}
		if string(resp["id"]) != w.id {
			t.Errorf("line %d: id %s, want %s", i, resp["id"], w.id)
		}
		if string(resp["ok"]) != map[bool]string{true: "true", false: "false"}[w.ok] {
			t.Errorf("line %d: %s", i, lines[i])
		}
		if w.typ != "" && string(resp["error_type"]) != `"`+w.typ+`"` {
			t.Errorf("line %d: error_type %s, want %s", i, resp["error_type"], w.typ)
		}
		for k, v := range w.has {
			b, _ := json.Marshal(v)
			if string(resp[k]) != string(b) {
				t.Errorf("line %d: %s = %s, want %s", i, k, resp[k], b)
			}
		}
	}
}
