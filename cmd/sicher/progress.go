package main

// Progress on stderr for long file operations.

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress prints "label: done of total (percent), rate" on one line of
// stderr, at most every 100 ms, when stderr is a terminal; otherwise it
// does nothing, so logs and pipes stay clean. It is safe for concurrent
// use.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	label  string
	total  int64 // 0 if unknown
	done   int64
	start  time.Time
	last   time.Time
	active bool   // stderr is a terminal (tests set it to fake one)
	unit   string // "" for bytes, else a noun ("sessions")
}

// newProgress returns a progress line on stderr for work of total units
// (bytes unless unit is set; 0 if unknown).
func newProgress(stderr io.Writer, label string, total int64, unit string) *progress {
	return &progress{w: stderr, label: label, total: total, unit: unit, start: time.Now(), active: isCharDevice(stderr)}
}

// isCharDevice reports whether w is a file open on a character device
// other than the null device: a terminal, for showing progress. (It asks
// the file's mode only, so it needs no terminal library.)
func isCharDevice(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}

// rate formats the throughput so far, bytes per second for bytes.
func (p *progress) rate(now time.Time) string {
	secs := now.Sub(p.start).Seconds()
	if p.start.IsZero() || secs <= 0 {
		return ""
	}
	per := float64(p.done) / secs
	if p.unit == "" {
		return ", " + humanBytes(int64(per)) + "/s"
	}
	return fmt.Sprintf(", %.0f %s/s", per, p.unit)
}

func (p *progress) format(n int64) string {
	if p.unit == "" {
		return humanBytes(n)
	}
	return fmt.Sprintf("%d %s", n, p.unit)
}

// add records n more units done.
func (p *progress) add(n int64) {
	if p == nil || !p.active {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		if p.total > 0 {
			fmt.Fprintf(p.w, "\r%s: %s of %s (%d%%)%s\x1b[K", p.label, p.format(p.done), p.format(p.total), p.done*100/p.total, p.rate(now))
		} else {
			fmt.Fprintf(p.w, "\r%s: %s%s\x1b[K", p.label, p.format(p.done), p.rate(now))
		}
	}
}

// finish clears the progress line; later calls do nothing.
func (p *progress) finish() {
	if p == nil || !p.active {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, "\r\x1b[K")
	p.active = false
}

// progressReader counts what passes through it.
type progressReader struct {
	r io.Reader
	p *progress
}

func (r progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.p.add(int64(n))
	return n, err
}

// whileWorking runs fn and, when stderr is a terminal, shows label with the
// elapsed time until fn returns (for work that reports no progress of its
// own, such as PBKDF2 with many rounds).
func whileWorking(stderr io.Writer, label string, fn func() error) error {
	if !isCharDevice(stderr) {
		return fn()
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(stderr, "\r\x1b[K")
				return
			case <-t.C:
				fmt.Fprintf(stderr, "\r%s (%.1fs)\x1b[K", label, time.Since(start).Seconds())
			}
		}
	}()
	err := fn()
	close(done)
	wg.Wait()
	return err
}

// humanBytes formats n as B, KiB, MiB or GiB.
func humanBytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
}
