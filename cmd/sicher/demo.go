package main

// sicher demo: a narrated end-to-end walkthrough of the library in one
// process, without network. Every step says what happened and checks it;
// the exit code is 0 only if every check passed.

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"time"
)

func init() {
	commands["demo"] = command{"narrated end-to-end walkthrough: Olm, Megolm, SAS, backup, attachments, the client machine", runDemo}
}

var demoCmd = cliCommand{
	name: "demo",
	args: "[--json] [--size SIZE] [--seed N]",
	about: `Demo tells the story of Alice and Bob in one process, without network:
accounts and signed device keys, an Olm session carrying a Megolm room key,
room messages, a late device that gets the key forwarded, SAS verification,
key backup and restore with a recovery key, an encrypted document, and
the same conversation on the client machine through an in-memory homeserver.
Each step prints what happened and what was checked. The exit code is 0
only if every check passed.`,
}

// sizeFlag is a byte count given as 20MiB, 20MB, 512KiB, 4096 ...
type sizeFlag int64

func (s *sizeFlag) String() string { return humanBytes(int64(*s)) }

func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

func parseSize(v string) (int64, error) {
	v = strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("invalid size %q", v)
	}
	return n * mult, nil
}

// demoDefaultSize is the size of the document of the last step.
const demoDefaultSize = 20 << 20

// demoRandom is the demo's randomness without --seed (tests replace it).
var demoRandom io.Reader = rand.Reader

func runDemo(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlags(demoCmd)
	jsonOut := fs.Bool("json", false, "print the steps and checks as one JSON object instead of prose")
	size := sizeFlag(demoDefaultSize)
	fs.Var(&size, "size", "size of the encrypted document (e.g. 20MiB, 64KiB, 1000)")
	seed := fs.Uint64("seed", 0, "take randomness from a ChaCha8 stream with this seed instead of crypto/rand,\nso the output repeats exactly (for tests; NOT secure)")
	if code, ok := parseFlags(demoCmd, fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return usageError(stderr, demoCmd, "unexpected argument %q", fs.Arg(0))
	}
	rnd := demoRandom
	if isFlagSet(fs, "seed") {
		var s [32]byte
		copy(s[:], "sicher demo seed")
		for i := range 8 {
			s[24+i] = byte(*seed >> (8 * i))
		}
		rnd = mrand.NewChaCha8(s)
	}
	d := &demoRun{out: stdout, json: *jsonOut, rand: rnd, size: int64(size)}
	d.run()
	if d.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		enc.Encode(d.report())
	}
	if d.failed > 0 {
		fmt.Fprintf(stderr, "sicher demo: %d of %d checks failed\n", d.failed, d.checks)
		return exitFail
	}
	return exitOK
}

func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// demoRun is one run of the demo: the narration so far and the checks.
type demoRun struct {
	out   io.Writer
	json  bool
	rand  io.Reader
	size  int64
	steps []*demoStep
	cur   *demoStep

	checks, failed int
	elapsed        time.Duration
}

type demoStep struct {
	N      int         `json:"step"`
	Title  string      `json:"title"`
	Events []string    `json:"events"`
	Checks []demoCheck `json:"checks"`
}

type demoCheck struct {
	What  string `json:"what"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

type demoReport struct {
	Passed   bool        `json:"passed"`
	Checks   int         `json:"checks"`
	Failed   int         `json:"failed"`
	DocBytes int64       `json:"document_bytes"`
	Steps    []*demoStep `json:"steps"`
}

func (d *demoRun) report() demoReport {
	return demoReport{Passed: d.failed == 0, Checks: d.checks, Failed: d.failed, DocBytes: d.size, Steps: d.steps}
}

func (d *demoRun) step(title string) {
	d.cur = &demoStep{N: len(d.steps) + 1, Title: title, Events: []string{}, Checks: []demoCheck{}}
	d.steps = append(d.steps, d.cur)
	if !d.json {
		fmt.Fprintf(d.out, "\n%d. %s\n", d.cur.N, title)
	}
}

// say narrates what happened.
func (d *demoRun) say(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	d.cur.Events = append(d.cur.Events, s)
	if !d.json {
		fmt.Fprintf(d.out, "   %s\n", s)
	}
}

// check records a check that passed if err is nil.
func (d *demoRun) check(what string, err error) bool {
	c := demoCheck{What: what, OK: err == nil}
	d.checks++
	mark := "✓"
	if err != nil {
		d.failed++
		c.Error = err.Error()
		mark = "✗"
	}
	d.cur.Checks = append(d.cur.Checks, c)
	if !d.json {
		if err != nil {
			fmt.Fprintf(d.out, "   %s %s: %v\n", mark, what, err)
		} else {
			fmt.Fprintf(d.out, "   %s %s\n", mark, what)
		}
	}
	return err == nil
}

// expect checks that cond holds.
func (d *demoRun) expect(what string, cond bool, format string, args ...any) bool {
	if cond {
		return d.check(what, nil)
	}
	return d.check(what, fmt.Errorf(format, args...))
}

// refused checks that err is a failure matching want (errors.Is).
func (d *demoRun) refused(what string, err, want error) bool {
	switch {
	case err == nil:
		return d.check(what, errors.New("accepted, but must be refused"))
	case !errors.Is(err, want):
		return d.check(what, fmt.Errorf("refused with %q, want %q", err, want))
	}
	return d.check(what+" ("+err.Error()+")", nil)
}

// abort ends the story: a step could not produce what the next ones need.
type demoAbort struct{ err error }

// must stops the demo with a failed check if err is not nil.
func (d *demoRun) must(what string, err error) {
	if err != nil {
		d.check(what, err)
		// Control flow, not bad input: the failed check is recorded, and run recovers
		// demoAbort to end the demo with a non-zero exit.
		panic(demoAbort{err})
	}
}

func (d *demoRun) run() {
	start := time.Now()
	if !d.json {
		fmt.Fprintln(d.out, "sicher demo: Alice and Bob, end to end, in one process and without network.")
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(demoAbort); !ok {
					panic(r)
				}
				if !d.json {
					fmt.Fprintln(d.out, "   The story cannot go on after this failure.")
				}
			}
		}()
		newDemoStory(d).play()
	}()
	d.elapsed = time.Since(start)
	if d.json {
		return
	}
	fmt.Fprintln(d.out)
	if d.failed == 0 {
		fmt.Fprintf(d.out, "All %d checks passed (%s).\n", d.checks, d.elapsed.Round(time.Millisecond))
	} else {
		fmt.Fprintf(d.out, "%d of %d checks FAILED.\n", d.failed, d.checks)
	}
}
