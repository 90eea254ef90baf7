// Command load measures two end-to-end encrypted echo bots under load on one homeserver:
// examples/echobot (sicher) and bench/bot/mautrixbot (mautrix-go with goolm).
//
// For each run it registers a fresh bot user and three sender users, starts the bot as a child
// process with a fresh SQLite store, creates one encrypted room (Megolm) with the bot and the
// three senders, and sends -n encrypted m.text messages with distinct bodies, split over the
// three senders (each a sicher machine over matrixhttp with an in-memory store, -workers
// concurrent sends each). It waits until every message is answered (the first sender decrypts
// every event from the bot and checks that its body is one that was sent and not yet
// answered) or -timeout passes, and reports
//
//   - messages per second answered: n divided by the time from the first send to the last
//     answer decrypted (the homeserver's work is part of this wall time);
//   - the bot's CPU time over that window, user plus system, from /proc/<pid>/stat;
//   - the bot's peak resident set size, VmHWM from /proc/<pid>/status.
//
// The runs alternate between the bots (sicher, mautrix, sicher, mautrix, ... for -rounds
// rounds) so that noise on the machine falls on both alike. -window limits the messages sent
// and not yet answered (0: no limit, send as fast as the homeserver accepts).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	homeserver         string
	sicherBin, mauBin  string
	n, rounds, workers int
	window             int
	timeout            time.Duration
	profileDir         string
	only               string
	keepLogs           string
}

func main() {
	var c config
	flag.StringVar(&c.homeserver, "homeserver", os.Getenv("SICHER_TEST_HOMESERVER"), "homeserver base URL (scripts/dendrite.sh start)")
	flag.StringVar(&c.sicherBin, "sicher", "", "the echobot binary (go build ./examples/echobot)")
	flag.StringVar(&c.mauBin, "mautrix", "", "the mautrixbot binary (go build -tags goolm ./mautrixbot)")
	flag.IntVar(&c.n, "n", 10000, "messages per run")
	flag.IntVar(&c.rounds, "rounds", 2, "rounds; each runs every bot once")
	flag.IntVar(&c.workers, "workers", 4, "concurrent sends per sender")
	flag.IntVar(&c.window, "window", 4, "most messages sent and not yet answered; 0 means no limit")
	flag.DurationVar(&c.timeout, "timeout", 20*time.Minute, "longest wait for the answers of one run")
	flag.StringVar(&c.profileDir, "profile", "", "directory for a CPU profile of each bot run (-cpuprofile)")
	flag.StringVar(&c.only, "only", "", "run only this bot: sicher or mautrix")
	flag.StringVar(&c.keepLogs, "logs", "", "directory to keep the bot's log of each incomplete run in")
	flag.Parse()
	if err := mainErr(c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func mainErr(c config) error {
	if c.homeserver == "" || c.n <= 0 || c.rounds <= 0 || c.workers <= 0 {
		return errors.New("load: -homeserver (or SICHER_TEST_HOMESERVER), -n, -rounds and -workers are required")
	}
	var bots []botKind
	for _, b := range []botKind{
		{name: "sicher", bin: c.sicherBin, start: startSicher},
		{name: "mautrix", bin: c.mauBin, start: startMautrix},
	} {
		if c.only != "" && c.only != b.name {
			continue
		}
		if b.bin == "" {
			return fmt.Errorf("load: -%s: the %s bot binary is required", b.name, b.name)
		}
		bots = append(bots, b)
	}
	hs := newHomeserver(c.homeserver)
	var results []result
	failed := false
	for round := range c.rounds {
		for _, b := range bots {
			fmt.Fprintf(os.Stderr, "load: round %d, %s bot, %d messages\n", round+1, b.name, c.n)
			r, err := runOnce(context.Background(), c, hs, b, round)
			if err != nil {
				return fmt.Errorf("load: round %d, %s: %w", round+1, b.name, err)
			}
			results = append(results, r)
			failed = failed || r.answered < c.n
			fmt.Fprintln(os.Stderr, "load:", r.row())
		}
	}
	printTable(os.Stdout, c, results)
	if failed {
		return errors.New("load: not every message was answered (see the table)")
	}
	return nil
}

// botKind is one of the bots under test.
type botKind struct {
	name  string
	bin   string
	start func(ctx context.Context, bin, homeserver, userID, password, dir, profile string) *exec.Cmd
}

// startSicher returns the command running examples/echobot.
func startSicher(ctx context.Context, bin, homeserver, userID, password, dir, profile string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, "-homeserver", homeserver, "-user", userID, "-store", filepath.Join(dir, "echobot.db"))
	cmd.Env = append(os.Environ(), "ECHOBOT_PASSWORD="+password, "ECHOBOT_CPUPROFILE="+profile)
	return cmd
}

// startMautrix returns the command running bench/bot/mautrixbot.
func startMautrix(ctx context.Context, bin, homeserver, userID, password, dir, profile string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, "-homeserver", homeserver, "-user", userID, "-store", filepath.Join(dir, "mautrixbot.db"), "-cpuprofile", profile)
	cmd.Env = append(os.Environ(), "MAUTRIXBOT_PASSWORD="+password)
	return cmd
}

// result is what one run measured.
type result struct {
	bot         string
	round       int
	n, answered int
	wall        time.Duration // first send to last answer (or the timeout)
	cpu         time.Duration // the bot's user+system CPU time over wall
	peakRSS     int64         // the bot's VmHWM, bytes
	senderCPU   time.Duration // this process's CPU time over wall (the senders)
}

func (r result) perSecond() float64 { return float64(r.answered) / r.wall.Seconds() }

func (r result) row() string {
	return fmt.Sprintf("%-8s %5d %6d/%-6d %8.1fs %9.1f %9.1fs %8.2f %8.1f %9.1fs",
		r.bot, r.round+1, r.answered, r.n, r.wall.Seconds(), r.perSecond(), r.cpu.Seconds(),
		r.cpu.Seconds()*1000/float64(max(r.answered, 1)), float64(r.peakRSS)/(1<<20), r.senderCPU.Seconds())
}

const header = "bot      round answered      wall     msg/s   bot CPU  CPU ms/msg  peak MiB  load CPU"

// printTable prints every run and, per bot, the median of the rounds.
func printTable(w io.Writer, c config, results []result) {
	fmt.Fprintf(w, "\n%d messages per run, 3 senders x %d workers, window %d, %d rounds\n%s\n", c.n, c.workers, c.window, c.rounds, header)
	for _, r := range results {
		fmt.Fprintln(w, r.row())
	}
	for _, name := range []string{"sicher", "mautrix"} {
		var rate, cpu, rss []float64
		for _, r := range results {
			if r.bot == name {
				rate = append(rate, r.perSecond())
				cpu = append(cpu, r.cpu.Seconds()*1000/float64(max(r.answered, 1)))
				rss = append(rss, float64(r.peakRSS)/(1<<20))
			}
		}
		if len(rate) > 0 {
			fmt.Fprintf(w, "median %-8s %.1f msg/s, %.2f bot CPU ms/msg, %.1f MiB peak RSS\n", name, median(rate), median(cpu), median(rss))
		}
	}
}

func median(v []float64) float64 {
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// randomID returns 8 random hex digits for user names.
func randomID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// startBot registers the bot's user, starts it and waits until it has uploaded its device
// keys. The caller stops it with stopBot.
func startBot(ctx context.Context, c config, hs *homeserver, b botKind, round int, dir string, watcherToken string) (*exec.Cmd, string, error) {
	local := fmt.Sprintf("bot-%s-%d-%s", b.name, round+1, randomID())
	password := "pw-" + randomID() + randomID()
	botID, _, err := hs.register(ctx, local, password)
	if err != nil {
		return nil, "", err
	}
	profile := ""
	if c.profileDir != "" {
		profile, _ = filepath.Abs(filepath.Join(c.profileDir, fmt.Sprintf("%s-%d.pprof", b.name, round+1)))
	}
	cmd := b.start(context.WithoutCancel(ctx), b.bin, hs.url, botID, password, dir, profile)
	logFile, err := os.Create(filepath.Join(dir, "bot.log"))
	if err != nil {
		return nil, "", err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ok, err := hs.hasDeviceKeys(ctx, watcherToken, botID)
		if err == nil && ok {
			return cmd, botID, nil
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			stopBot(cmd)
			log, _ := os.ReadFile(filepath.Join(dir, "bot.log"))
			return nil, "", fmt.Errorf("the %s bot uploaded no device keys (err %v); its log:\n%s", b.name, err, tail(string(log), 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stopBot sends SIGTERM (the bots stop and write their CPU profile) and waits.
func stopBot(cmd *exec.Cmd) {
	if cmd.Process != nil && cmd.ProcessState == nil {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
