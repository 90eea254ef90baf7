package main

// Helpers shared by the interactive subcommands: flag parsing with the
// conventions of the tool (-h prints the usage on stdout and exits 0; a bad
// flag prints it on stderr and exits 2), error reporting, passphrase and key
// input that never goes through argv, and progress output that appears only
// when stderr is a terminal.

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes of the subcommands.
const (
	exitOK    = 0 // success; for check commands: the check passed
	exitFail  = 1 // the operation failed: bad input, wrong key or passphrase, failed check
	exitUsage = 2 // bad command line
)

// cliCommand describes a subcommand for its flag set and usage text.
type cliCommand struct {
	name  string // "attachment encrypt"
	args  string // "[flags] [INPUT]"
	about string // paragraphs printed under the usage line
}

// newFlags returns a flag set for c whose usage goes where parseFlags
// decides.
func newFlags(c cliCommand) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// printUsage writes the usage text of c and its flags to w.
func printUsage(w io.Writer, c cliCommand, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: sicher %s %s\n", c.name, c.args)
	if c.about != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.about))
	}
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintln(w, "\nFlags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// parseFlags parses args. It reports ok=false with the exit code to return
// when the command must stop: after -h (usage on stdout, exit 0) or a bad
// flag (message and usage on stderr, exit 2).
func parseFlags(c cliCommand, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, c, fs)
		return exitOK, false
	}
	if err != nil {
		fmt.Fprintf(stderr, "sicher %s: %v\n", c.name, err)
		printUsage(stderr, c, fs)
		return exitUsage, false
	}
	return 0, true
}

// usageError reports a bad command line (wrong number of arguments,
// conflicting flags) and returns exitUsage.
func usageError(stderr io.Writer, c cliCommand, format string, args ...any) int {
	fmt.Fprintf(stderr, "sicher %s: %s\n", c.name, fmt.Sprintf(format, args...))
	fmt.Fprintf(stderr, "Run 'sicher %s -h' for usage.\n", c.name)
	return exitUsage
}

// fail reports err for command c on stderr and returns exitFail.
func fail(stderr io.Writer, c cliCommand, err error) int {
	fmt.Fprintf(stderr, "sicher %s: %v\n", c.name, err)
	return exitFail
}

// subcommand is one verb of a command group such as "attachment".
type subcommand struct {
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// runGroup dispatches args to the verbs of group, and prints the group's
// usage for -h, help or a missing verb.
func runGroup(group, about string, verbs map[string]subcommand, order []string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: sicher %s COMMAND [flags] [arguments]\n\n%s\n\nCommands:\n", group, strings.TrimSpace(about))
		for _, v := range order {
			fmt.Fprintf(w, "  %-16s %s\n", v, verbs[v].summary)
		}
		fmt.Fprintf(w, "\nRun 'sicher %s COMMAND -h' for a command's flags.\n", group)
	}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	}
	v, ok := verbs[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "sicher %s: unknown command %q\n", group, args[0])
		usage(stderr)
		return exitUsage
	}
	return v.run(args[1:], stdin, stdout, stderr)
}

// readSecretFile returns the contents of a file holding a passphrase or
// key, without one trailing line ending.
func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	return string(b), nil
}

// secretSource says where a passphrase (or other typed secret) comes from.
// At most one of file and env is set; with neither, the user is asked on
// the terminal.
type secretSource struct {
	what string // "passphrase", "recovery key"
	file string // --passphrase-file
	env  string // --passphrase-env
}

// askSecret asks for a secret on the terminal (tests replace it).
var askSecret = promptSecret

// errNoTerminal is returned when a secret must be typed but there is no
// terminal to type it on.
var errNoTerminal = errors.New("no terminal to ask on")

// read returns the secret. With confirm, a secret typed at the terminal is
// asked twice and must match (for secrets that protect new data).
func (s secretSource) read(confirm bool, stderr io.Writer) (string, error) {
	switch {
	case s.file != "" && s.env != "":
		return "", fmt.Errorf("give the %s in a file or an environment variable, not both", s.what)
	case s.file != "":
		v, err := readSecretFile(s.file)
		if err != nil {
			return "", fmt.Errorf("reading the %s: %w", s.what, err)
		}
		return v, nil
	case s.env != "":
		v, ok := os.LookupEnv(s.env)
		if !ok {
			return "", fmt.Errorf("environment variable %s (the %s) is not set", s.env, s.what)
		}
		return v, nil
	}
	v, err := askSecret("Enter "+s.what+": ", stderr)
	if err != nil {
		return "", fmt.Errorf("cannot ask for the %s: %w (use a file flag instead)", s.what, err)
	}
	if confirm {
		again, err := askSecret("Repeat "+s.what+": ", stderr)
		if err != nil {
			return "", fmt.Errorf("cannot ask for the %s: %w", s.what, err)
		}
		if again != v {
			return "", fmt.Errorf("the two %ss differ", s.what)
		}
	}
	return v, nil
}

// readLineFrom reads one line (without its line ending) from r, the
// terminal, byte by byte so nothing after the line is consumed.
func readLineFrom(r io.Reader) (string, error) {
	var line []byte
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			line = append(line, b[0])
			if len(line) > 64<<10 {
				return "", errors.New("input line too long")
			}
			continue
		}
		if err == io.EOF {
			if len(line) == 0 {
				return "", io.ErrUnexpectedEOF
			}
			break
		}
		if err != nil {
			return "", err
		}
	}
	return strings.TrimSuffix(string(line), "\r"), nil
}

// isTerminalWriter reports whether w is an *os.File open on a terminal.
func isTerminalWriter(w any) bool {
	f, ok := w.(*os.File)
	return ok && f != nil && isTerminal(f)
}
