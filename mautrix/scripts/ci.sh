#!/usr/bin/env bash
# The driver module's CI: gofmt, vet and tests on mautrix v0.33 (go.mod's)
# with cgo (libolm available, as mautrix's default build) and without
# (-tags goolm, CGO_ENABLED=0: the pure-Go build an operator switches to),
# the same on mautrix v0.32 (scripts/test-version.sh), then the
# conformance runs on both versions (scripts/conformance.sh, which rewrites
# CONFORMANCE.md and CONFORMANCE-v0.32.md).
# Needs Go, libolm-dev and a C compiler (for mautrix's libolm driver and
# mautrix's own tests, which use cgo SQLite). About 13 minutes on a busy
# 2-core machine with a warm module cache.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
start=$(date +%s)
test -z "$(gofmt -l .)" || { gofmt -l .; exit 1; }
echo "== mautrix $(go list -m -f '{{.Version}}' maunium.net/go/mautrix)"
go vet ./...
go vet -tags goolm ./...
go test ./...
CGO_ENABLED=0 go test -tags goolm ./...
# A short differential fuzzing pass (each target 2,000 executions: a count,
# not a time, because Go 1.26 can end a timed fuzz run with a spurious
# "context deadline exceeded", go.dev/issue/75804).
for f in $(go test ./driver -list 'Fuzz.*' | grep ^Fuzz); do
	go test ./driver -run '^$' -fuzz "^$f\$" -fuzztime 2000x >/dev/null
done
"$here/scripts/test-version.sh" v0.32.0
"$here/scripts/conformance.sh" >/dev/null
CONFORMANCE_OUT="$here/CONFORMANCE-v0.32.md" "$here/scripts/conformance.sh" v0.32.0 >/dev/null
# With libolm pickles every mautrix test passes; with the default (sicher's
# pickles) only the two store tests that compare a re-pickled object with
# a fixed libolm pickle fail (docs/mautrix.md). The same on both versions.
for report in CONFORMANCE.md CONFORMANCE-v0.32.md; do
	grep -q "With libolm pickles every test passes." "$report"
	unexpected=$(sed -n 's/^- maunium.net\/go\/mautrix\/\([^ ]*\) \(.*\)$/\1 \2/p' "$report" |
		grep -Ev '^crypto TestStore(Olm|Megolm)Session(/sql|/gob)?$' || true)
	if [ -n "$unexpected" ]; then
		echo "unexpected conformance failures in $report: $unexpected"
		exit 1
	fi
done
echo "ci: ok in $(($(date +%s) - start)) s"
