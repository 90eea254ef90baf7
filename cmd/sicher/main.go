// Command sicher is the command-line face of the sicher library.
//
// Usage:
//
//	sicher demo           narrated end-to-end walkthrough (exit code 0 if every check passed)
//	sicher inspect        recognise and describe a message, event, key, pickle or file
//	sicher attachment     encrypt|decrypt an encrypted attachment (EncryptedFile v2)
//	sicher keyexport      decrypt|encrypt a MEGOLM SESSION DATA key export file
//	sicher recovery-key   generate|check|from-passphrase
//	sicher backup         restore: a key backup download into a key export file
//	sicher version        print the release (and the VCS revision, if the build recorded one)
//	sicher peer           JSON-lines interop driver on stdin/stdout (docs/peer.md)
//	sicher store          import-mautrix: copy a mautrix-go crypto store into a sicher store
//	sicher help           list the commands
//
// Every command takes -h. Errors go to stderr with exit code 1 (the
// operation failed: bad input, wrong key or passphrase) or 2 (bad command
// line). Passphrases, recovery keys and pickle keys are never taken from
// the command line: they come from a file, an environment variable named
// on the command line, or the terminal with echo off.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sort"

	"github.com/sicher-go/sicher"
)

// version is the release of the sicher library this binary was built from.
const version = sicher.Version

// vcsRevision returns the version control revision the binary was built
// from, with "-dirty" if the work tree had changes, or "" when the build
// recorded none (go run, go test, a build outside a checkout).
func vcsRevision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" && modified == "true" {
		rev += "-dirty"
	}
	return rev
}

// command is one subcommand of the sicher tool.
type command struct {
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func init() {
	commands["version"] = command{"print the version", runVersion}
	commands["peer"] = command{"JSON-lines interop driver on stdin/stdout (see docs/peer.md)", runPeer}
	commands["help"] = command{"list the commands", runHelp}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		runHelp(nil, stdin, stderr, stderr)
		return 2
	}
	name := args[0]
	if name == "-h" || name == "--help" {
		name = "help"
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "sicher: unknown command %q (see 'sicher help')\n", args[0])
		return 2
	}
	return cmd.run(args[1:], stdin, stdout, stderr)
}

func runVersion(_ []string, _ io.Reader, stdout, _ io.Writer) int {
	fmt.Fprintf(stdout, "sicher %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if rev := vcsRevision(); rev != "" {
		fmt.Fprintf(stdout, "revision %s\n", rev)
	}
	return 0
}

func runHelp(_ []string, _ io.Reader, stdout, _ io.Writer) int {
	fmt.Fprintln(stdout, "sicher: Matrix end-to-end encryption in pure Go.")
	fmt.Fprintln(stdout, "\nUsage: sicher COMMAND [arguments]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(stdout, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(stdout, "\nRun 'sicher COMMAND -h' for a command's options.")
	return 0
}
