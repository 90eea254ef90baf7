#!/usr/bin/env bash
# Benchmarks the sicher driver against goolm and libolm and prints the
# speed tables of docs/mautrix.md (scripts/benchtable.awk):
#   1. the driver microbenchmarks (driver/bench_test.go: every operation
#      through mautrix's olm interfaces, the three drivers as adjacent
#      sub-benchmarks), PASSES interleaved passes of 0.5 s each, with the
#      same operations through sicher's own API (driver/overhead_bench_test.go);
#   2. BenchmarkDecrypt10000RoomEvents (e2e/bench_test.go): an OlmMachine
#      decrypting 10,000 room events, PASSES samples;
#   3. mautrix's own BenchmarkOlmMachine_ShareGroupSession, in a temporary
#      copy of mautrix (as scripts/conformance.sh does): libolm once, then
#      goolm and sicher alternately, twice each (two shares per run).
# Every time in the tables is a median; every ratio is the median of the
# ratios within one pass (see scripts/benchtable.awk).
# Raw output goes to $OUT (default: bench-results.txt in the module).
# Needs a C compiler and libolm-dev for the libolm column (as ci.sh).
# 28 minutes on the project's 2-core machine shared with other jobs, with
# the default 5 passes; 9 without step 3 (SHARE=0).
#
# Usage: scripts/bench.sh [passes]          run, then print the tables
#        scripts/bench.sh -table [file]     print the tables of a run
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$here/.." && pwd)
cd "$here"
OUT=${OUT:-$here/bench-results.txt}
if [ "${1:-}" = -table ]; then
	awk -f "$here/scripts/benchtable.awk" "${2:-$OUT}"
	exit
fi
passes=${1:-5}
start=$(date +%s)
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
go test -c -o "$tmp/driver.test" ./driver
go test -c -o "$tmp/e2e.test" ./e2e
{
	echo "# $(date -u) $(go version), $passes passes"
	for p in $(seq "$passes"); do
		echo "## pass $p"
		(cd driver && "$tmp/driver.test" -test.run '^$' -test.bench . -test.benchtime 0.5s -test.benchmem)
	done
	echo "## OlmMachine"
	(cd e2e && "$tmp/e2e.test" -test.run '^$' -test.bench . -test.benchtime 1x -test.count "$passes" -test.benchmem)
} | tee "$OUT"

if [ "${SHARE:-1}" != 0 ]; then
	version=$(go list -m -f '{{.Version}}' maunium.net/go/mautrix)
	go mod download "maunium.net/go/mautrix@$version"
	src=$(go mod download -json "maunium.net/go/mautrix@$version" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
	cp -r "$src" "$tmp/m"
	chmod -R u+w "$tmp/m"
	cd "$tmp/m"
	go test -c -o "$tmp/libolm.test" ./crypto
	go test -c -tags goolm -o "$tmp/goolm.test" ./crypto
	go mod edit -require=github.com/sicher-go/sicher/mautrix@v0.0.0 \
		-replace=github.com/sicher-go/sicher/mautrix="$here" -replace=github.com/sicher-go/sicher="$root"
	cat >crypto/zz_sicher_test.go <<'GO'
package crypto

import "github.com/sicher-go/sicher/mautrix/driver"

func init() { driver.Register() }
GO
	GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || true
	GOFLAGS=-mod=mod go test -c -tags goolm -o "$tmp/sicher.test" ./crypto
	cd crypto
	share() { # NAME
		echo "## ShareGroupSession: $1"
		"$tmp/$1.test" -test.run '^$' -test.bench BenchmarkOlmMachine_ShareGroupSession -test.benchtime 2x -test.benchmem 2>&1 |
			grep -E 'Benchmark|devices total'
	}
	for d in libolm goolm sicher goolm sicher; do share "$d"; done | tee -a "$OUT"
	cd "$here"
fi
echo
awk -f "$here/scripts/benchtable.awk" "$OUT"
echo
echo "bench: $(($(date +%s) - start)) s"
