#!/usr/bin/env bash
# Benchmarks the sicher driver against goolm and libolm in one run:
#   1. the driver microbenchmarks (driver/bench_test.go: every operation
#      through mautrix's olm interfaces, the three drivers as adjacent
#      sub-benchmarks);
#   2. BenchmarkDecrypt10000RoomEvents (e2e/bench_test.go): an OlmMachine
#      decrypting 10,000 room events;
#   3. mautrix's own BenchmarkOlmMachine_ShareGroupSession, run in a
#      temporary copy of mautrix (as scripts/conformance.sh does) with
#      each driver.
# Raw output goes to $OUT (default: bench-results.txt in the module).
# Usage: scripts/bench.sh [count]   (default 3 samples per benchmark)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$here/.." && pwd)
cd "$here"
count=${1:-3}
OUT=${OUT:-$here/bench-results.txt}
{
	echo "# $(date -u) $(go version)"
	go test ./driver ./e2e -run '^$' -bench . -count "$count"
} | tee "$OUT"

version=$(go list -m -f '{{.Version}}' maunium.net/go/mautrix)
go mod download "maunium.net/go/mautrix@$version"
src=$(go mod download -json "maunium.net/go/mautrix@$version" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
cp -r "$src" "$tmp/m"
chmod -R u+w "$tmp/m"
cd "$tmp/m"
share() { # NAME TAGS
	echo "## ShareGroupSession: $1" | tee -a "$OUT"
	go test ${2:+-tags "$2"} -run '^$' -bench BenchmarkOlmMachine_ShareGroupSession -benchtime "${count}x" -benchmem ./crypto 2>&1 | grep -E 'Benchmark|devices total' | tee -a "$OUT"
}
share libolm ""
share goolm goolm
go mod edit -require=github.com/sicher-go/sicher/mautrix@v0.0.0 \
	-replace=github.com/sicher-go/sicher/mautrix="$here" -replace=github.com/sicher-go/sicher="$root"
cat >crypto/zz_sicher_test.go <<'GO'
package crypto

import "github.com/sicher-go/sicher/mautrix/driver"

func init() { driver.Register() }
GO
GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || true
GOFLAGS=-mod=mod share sicher goolm
