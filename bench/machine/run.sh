#!/usr/bin/env bash
# Runs sicher's machine and mautrix-go's OlmMachine on the same workloads and prints the
# median time per operation of each side and the paired ratio (mautrix / sicher), in wall
# time and in the process's CPU time.
#
#   RUNS=3 ./run.sh
#
# Each run executes every benchmark once (-benchtime 1x: one op is a whole workload, 10,000
# events for the decryption benchmarks), the sicher side and then the mautrix side, so the
# two sides of a ratio are measured within a minute of each other; the runs are interleaved
# in that sense, and the table takes the median over RUNS runs (at least 3). Every sample is
# kept in results-raw.txt. goolm is mautrix's Olm (the goolm build tag, no cgo needed).
set -euo pipefail
cd "$(dirname "$0")"

RUNS=${RUNS:-3}
if [ "$RUNS" -lt 3 ]; then
	echo "run.sh: RUNS must be at least 3" >&2
	exit 1
fi
RAW=results-raw.txt
# RENDER_ONLY=1 prints the table of the samples in results-raw.txt without running.
if [ "${RENDER_ONLY:-}" != 1 ]; then
{
	echo "# $(date -u) $(go version) RUNS=$RUNS"
	for i in $(seq "$RUNS"); do
		go test -tags goolm -run '^$' -bench . -benchtime 1x -count 1 .
	done
} | tee "$RAW" | grep --line-buffered '^Benchmark' >&2
fi

# One line per sample: benchmark side wall-ns cpu-ns.
awk '/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	n = split(name, parts, "/")
	wall = ""; cpu = ""
	for (i = 2; i < NF; i++) {
		if ($(i+1) == "ns/op") wall = $i
		if ($(i+1) == "cpu-ns/op") cpu = $i
	}
	print parts[1], parts[2], wall, cpu
}' "$RAW" | sort -s -k1,1 -k2,2 >"$RAW.samples"

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '\n%-40s %12s %12s %8s %12s %12s %8s\n' benchmark "sicher wall" "mautrix wall" ratio "sicher cpu" "mautrix cpu" ratio
for bench in $(cut -d' ' -f1 "$RAW.samples" | sort -u); do
	sw=$(awk -v b="$bench" '$1 == b && $2 == "sicher" { print $3 }' "$RAW.samples" | median)
	mw=$(awk -v b="$bench" '$1 == b && $2 == "mautrix" { print $3 }' "$RAW.samples" | median)
	sc=$(awk -v b="$bench" '$1 == b && $2 == "sicher" { print $4 }' "$RAW.samples" | median)
	mc=$(awk -v b="$bench" '$1 == b && $2 == "mautrix" { print $4 }' "$RAW.samples" | median)
	# Paired ratios: per run, mautrix / sicher; then their median.
	rw=$(paste <(awk -v b="$bench" '$1 == b && $2 == "sicher" { print $3 }' "$RAW.samples") \
		<(awk -v b="$bench" '$1 == b && $2 == "mautrix" { print $3 }' "$RAW.samples") | awk '{ print $2 / $1 }' | median)
	rc=$(paste <(awk -v b="$bench" '$1 == b && $2 == "sicher" { print $4 }' "$RAW.samples") \
		<(awk -v b="$bench" '$1 == b && $2 == "mautrix" { print $4 }' "$RAW.samples") | awk '{ print $2 / $1 }' | median)
	awk -v n="${bench#Benchmark}" -v sw="$sw" -v mw="$mw" -v rw="$rw" -v sc="$sc" -v mc="$mc" -v rc="$rc" 'BEGIN {
		printf "%-40s %10.1fms %10.1fms %7.1fx %10.1fms %10.1fms %7.1fx\n", n, sw / 1e6, mw / 1e6, rw, sc / 1e6, mc / 1e6, rc
	}'
done
rm -f "$RAW.samples"
