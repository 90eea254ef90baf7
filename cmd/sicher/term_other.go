//go:build !unix

package main

import (
	"fmt"
	"io"
	"os"
)

// promptSecret asks for a secret on the console. Without a dependency
// there is no portable way to turn off echo here, so it warns that the
// input will be visible. It needs stdin to be the console.
func promptSecret(prompt string, stderr io.Writer) (string, error) {
	if !isTerminal(os.Stdin) {
		return "", errNoTerminal
	}
	fmt.Fprintln(stderr, "sicher: warning: what you type will be visible (no echo control on this system)")
	fmt.Fprint(stderr, prompt)
	return readLineFrom(os.Stdin)
}
