//go:build unix

package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
)

// promptSecret asks for a secret on the controlling terminal (/dev/tty)
// with echo turned off, so it never shows on screen, in argv or in a
// shell history. stdin stays free for data.
func promptSecret(prompt string, _ io.Writer) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", errNoTerminal
	}
	defer tty.Close()
	restore, err := echoOff(tty)
	if err != nil {
		return "", err
	}
	// Put echo back if the user interrupts the prompt.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	stop := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-sig:
			restore()
			fmt.Fprintln(tty)
			os.Exit(130)
		case <-stop:
		}
	}()
	fmt.Fprint(tty, prompt)
	line, err := readLineFrom(tty)
	close(stop)
	<-exited
	signal.Stop(sig)
	restore()
	fmt.Fprintln(tty)
	return line, err
}

// echoOff turns off echo on tty with stty(1) and returns the function that
// restores the previous settings.
func echoOff(tty *os.File) (restore func(), err error) {
	saved, err := stty(tty, "-g")
	if err != nil {
		return nil, fmt.Errorf("cannot read the terminal settings: %w", err)
	}
	if _, err := stty(tty, "-echo"); err != nil {
		return nil, fmt.Errorf("cannot turn off echo: %w", err)
	}
	return func() { stty(tty, strings.TrimSpace(saved)) }, nil
}

func stty(tty *os.File, args ...string) (string, error) {
	cmd := exec.Command("stty", args...)
	cmd.Stdin = tty
	out, err := cmd.Output()
	return string(out), err
}
