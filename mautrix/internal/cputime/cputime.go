//go:build unix

// Package cputime reads the CPU time of the process, for the benchmarks'
// cpu-ns/op metric: on a machine shared with other jobs, waiting for a
// core inflates wall time (ns/op) but not CPU time.
package cputime

import "syscall"

// Now returns the CPU time the process has used so far (user and system,
// all threads, so the garbage collector's work counts too) in
// nanoseconds, or 0 if it is unavailable.
func Now() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
