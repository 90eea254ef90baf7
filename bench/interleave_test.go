package bench

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Fine-grained interleaving for a noisy, shared machine: TestInterleaved
// collects every operation's implementations from the Benchmark functions
// (run() records them instead of running sub-benchmarks), then runs
// rounds in which each operation's implementations are measured back to
// back with testing.Benchmark for a short benchtime, in an order that
// rotates every round. Each round prints one standard benchmark line per
// operation and implementation, so per-round paired ratios compare runs
// that were a few hundred milliseconds apart. run.sh uses this; the plain
// `go test -bench .` path still works for a quick look.
//
// With BENCH_CPUTIME=1 the reported ns/op is the process's CPU time
// (user+sys, getrusage) per operation instead of wall time, and wall time
// goes to an extra "wall-ns/op" column: on a machine shared with other
// busy processes, wall time measures the scheduler as much as the code,
// while CPU time stays close to what an idle machine shows. CPU time
// includes the garbage collector's work (a real cost of allocating code)
// and the benchmark's setup amortised over the benchtime (a few per cent
// for the Olm operations, whose setup creates two accounts and a session).

type collectedOp struct {
	name string
	m    impls
}

var (
	collecting bool
	collected  []collectedOp
)

// interleaved lists the benchmarks TestInterleaved covers (the bulk
// benchmarks have minute-long setups and run classically).
var interleaved = []func(*testing.B){
	BenchmarkMegolmEncrypt, BenchmarkMegolmDecrypt, BenchmarkMegolmFreshInbound,
	BenchmarkMegolmAdvance, BenchmarkOlmAccount, BenchmarkOlmOneTimeKeys100,
	BenchmarkOlmOutbound, BenchmarkOlmInbound, BenchmarkOlmSameChain,
	BenchmarkOlmPingPong, BenchmarkPickle, BenchmarkSAS, BenchmarkBackupEncrypt,
	BenchmarkBackupDecrypt,
}

func TestInterleaved(t *testing.T) {
	rounds, _ := strconv.Atoi(os.Getenv("BENCH_INTERLEAVE"))
	if rounds <= 0 {
		t.Skip("set BENCH_INTERLEAVE=<rounds>")
	}
	if flag.Lookup("test.benchtime").Value.String() == "1s" {
		flag.Set("test.benchtime", "40ms")
	}
	collecting = true
	for _, f := range interleaved {
		testing.Benchmark(f)
	}
	collecting = false
	procs := runtime.GOMAXPROCS(0)
	useCPU := os.Getenv("BENCH_CPUTIME") == "1"
	for r := range rounds {
		for _, op := range collected {
			for i := range implOrder {
				name := implOrder[(i+r)%len(implOrder)]
				f, ok := op.m[name]
				if !ok {
					continue
				}
				c0 := cpuTime()
				res := testing.Benchmark(f)
				cpu := cpuTime() - c0
				if res.N == 0 {
					t.Fatalf("%s/%s failed", op.name, name)
				}
				if useCPU {
					fmt.Printf("Benchmark%s/%s-%d\t%d\t%d ns/op\t%d B/op\t%d allocs/op\t%d wall-ns/op\n",
						op.name, name, procs, res.N, cpu.Nanoseconds()/int64(res.N),
						res.AllocedBytesPerOp(), res.AllocsPerOp(), res.NsPerOp())
					continue
				}
				fmt.Printf("Benchmark%s/%s-%d\t%d\t%d ns/op\t%d B/op\t%d allocs/op\n",
					op.name, name, procs, res.N, res.NsPerOp(), res.AllocedBytesPerOp(), res.AllocsPerOp())
			}
		}
	}
}

// cpuTime returns the process's user+sys CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
