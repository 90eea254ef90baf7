package bench

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
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
	for r := range rounds {
		for _, op := range collected {
			for i := range implOrder {
				name := implOrder[(i+r)%len(implOrder)]
				f, ok := op.m[name]
				if !ok {
					continue
				}
				res := testing.Benchmark(f)
				if res.N == 0 {
					t.Fatalf("%s/%s failed", op.name, name)
				}
				fmt.Printf("Benchmark%s/%s-%d\t%d\t%d ns/op\t%d B/op\t%d allocs/op\n",
					op.name, name, procs, res.N, res.NsPerOp(), res.AllocedBytesPerOp(), res.AllocsPerOp())
			}
		}
	}
}
