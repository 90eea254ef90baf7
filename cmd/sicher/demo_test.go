package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	mrand "math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// timings matches the durations and rates in the demo's narration, which
// change from run to run.
var timings = regexp.MustCompile(`[0-9.]+(ns|µs|ms|s|m[0-9.]+s)( \([0-9]+ MB/s\))?`)

func normalise(s string) string { return timings.ReplaceAllString(s, "<time>") }

func TestDemoGolden(t *testing.T) {
	out, errOut, code := runCLI(t, "", "demo", "--size", "64KiB", "--seed", "1")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q\n%s", code, errOut, out)
	}
	if strings.Contains(out, "✗") || !regexp.MustCompile(`All \d+ checks passed`).MatchString(out) {
		t.Fatalf("demo output:\n%s", out)
	}
	golden(t, "demo.golden", normalise(out))

	// The same seed tells the same story; another seed other keys.
	again, _, _ := runCLI(t, "", "demo", "--size", "64KiB", "--seed", "1")
	if normalise(again) != normalise(out) {
		t.Error("two runs with the same seed differ")
	}
	other, _, _ := runCLI(t, "", "demo", "--size", "64KiB", "--seed", "2")
	if normalise(other) == normalise(out) {
		t.Error("two seeds give the same output")
	}
}

func TestDemoJSON(t *testing.T) {
	text, _, code := runCLI(t, "", "demo", "--size", "1000")
	if code != 0 {
		t.Fatalf("demo failed:\n%s", text)
	}
	out, errOut, code := runCLI(t, "", "demo", "--json", "--size", "1000")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var r demoReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	checks := 0
	for _, s := range r.Steps {
		if len(s.Events) == 0 && s.N != 1 || len(s.Checks) == 0 {
			t.Errorf("step %d %q: %d events, %d checks", s.N, s.Title, len(s.Events), len(s.Checks))
		}
		for _, c := range s.Checks {
			checks++
			if !c.OK || c.Error != "" {
				t.Errorf("step %d: check %q failed: %s", s.N, c.What, c.Error)
			}
		}
	}
	if !r.Passed || r.Failed != 0 || r.Checks != checks || len(r.Steps) != 8 || r.DocBytes != 1000 {
		t.Errorf("report: passed %v, %d/%d checks failed, %d steps, %d bytes", r.Passed, r.Failed, r.Checks, len(r.Steps), r.DocBytes)
	}
	if n := strings.Count(text, "✓"); n != checks {
		t.Errorf("text mode shows %d checks, JSON %d", n, checks)
	}
}

// failingReader returns randomness until n bytes were read, then fails.
type failingReader struct {
	r io.Reader
	n int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("entropy source exhausted")
	}
	p = p[:min(len(p), f.n)]
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

// A failure anywhere in the story is a failed check and a non-zero exit:
// cut the randomness off at points throughout the story.
func TestDemoFailureIsReported(t *testing.T) {
	counter := &failingReader{mrand.NewChaCha8([32]byte{}), 1 << 30}
	(&demoRun{out: io.Discard, rand: counter, size: 100}).run()
	total := 1<<30 - counter.n
	if total < 1000 {
		t.Fatalf("the story reads only %d random bytes", total)
	}
	for _, n := range []int{0, total / 10, total / 3, total / 2, total * 9 / 10, total - 1} {
		var out bytes.Buffer
		d := &demoRun{out: &out, rand: &failingReader{mrand.NewChaCha8([32]byte{}), n}, size: 100}
		d.run()
		if d.failed == 0 || d.report().Passed {
			t.Errorf("randomness cut after %d bytes: no failed check\n%s", n, out.String())
		}
		if !strings.Contains(out.String(), "✗") || !strings.Contains(out.String(), "FAILED") {
			t.Errorf("randomness cut after %d bytes: output does not show the failure\n%s", n, out.String())
		}
	}
	// Through the command: the exit code says a check failed.
	old := demoRandom
	demoRandom = &failingReader{mrand.NewChaCha8([32]byte{}), total / 2}
	defer func() { demoRandom = old }()
	out, errOut, code := runCLI(t, "", "demo", "--size", "100")
	if code != 1 || !strings.Contains(errOut, "checks failed") || !strings.Contains(out, "FAILED") {
		t.Errorf("failing demo: exit %d, stderr %q", code, errOut)
	}
	jout, _, code := runCLI(t, "", "demo", "--json", "--size", "100")
	var r demoReport
	if json.Unmarshal([]byte(jout), &r) != nil || code != 1 || r.Passed || r.Failed == 0 {
		t.Errorf("failing demo --json: exit %d, %+v", code, r)
	}
	// A check that fails does not stop the story but fails the run.
	var buf bytes.Buffer
	d := &demoRun{out: &buf, json: true, rand: mrand.NewChaCha8([32]byte{}), size: 10}
	d.step("test")
	d.expect("something impossible", false, "as expected")
	if d.failed != 1 || d.report().Passed {
		t.Error("a failed expectation is not counted")
	}
}

func TestDemoFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--size", "lots"}, 2, "invalid size"},
		{[]string{"--size", "-1"}, 2, "invalid size"},
		{[]string{"--seed", "x"}, 2, "invalid value"},
		{[]string{"extra"}, 2, "unexpected argument"},
	} {
		_, errOut, code := runCLI(t, "", append([]string{"demo"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%v: exit %d, %q", tc.args, code, errOut)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1000": 1000, "20MiB": 20 << 20, "20M": 20 << 20, "20MB": 20_000_000, "64KiB": 64 << 10,
		"1K": 1024, "3 KB": 3000, "1GiB": 1 << 30, "7B": 7,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-5", "1.5MiB", "MiB", "99999999999GiB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}
