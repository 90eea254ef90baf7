#!/usr/bin/env bash
# Runs every Go fuzz target of the main module for DURATION each.
#
#   scripts/fuzz.sh 10m         # the full local campaign
#   scripts/fuzz.sh 3s          # what CI runs: replays the seeds and corpus, then fuzzes briefly
#
# Inputs that fail are written by `go test` to testdata/fuzz/<Target>/ in the
# package; commit them so every later run replays them.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:?usage: scripts/fuzz.sh DURATION (e.g. 10m, 3s)}
failed=0
for pkg in $(go list ./...); do
	targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
	for target in $targets; do
		printf '%-60s %s ... ' "$pkg" "$target"
		if out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$duration" "$pkg" 2>&1); then
			echo ok
		else
			echo FAILED
			echo "$out" | tail -30
			failed=1
		fi
	done
done
exit $failed
