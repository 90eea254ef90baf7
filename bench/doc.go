// Package bench compares sicher with goolm (the pure-Go implementation in
// maunium.net/go/mautrix v0.32.0) and libolm 3.2.13 (through mautrix's cgo
// binding and the small shim in internal/olmc), beside the primitive floor
// of each operation (package floor). Run ./run.sh; it writes RESULTS.md.
//
// All benchmarks live in the _test.go files: BenchmarkX/<case>/<impl> with
// impl one of sicher, goolm, libolm, floor, run as adjacent sub-benchmarks
// in the order given by $BENCH_ORDER (run.sh rotates it between passes).
package bench
