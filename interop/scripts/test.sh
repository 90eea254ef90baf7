#!/usr/bin/env bash
# Runs the interop module's checks and tests: gofmt, go vet, staticcheck (if
# installed) and go test. Run interop/scripts/setup.sh first; without the npm
# packages the peer tests skip, unless CI=true, where they fail. Arguments
# go to `go test` (for example -run TestSicherAndRust -v).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
staticcheck=$(command -v staticcheck || true)
if [ -z "$staticcheck" ] && [ -x "$(go env GOPATH)/bin/staticcheck" ]; then
	staticcheck="$(go env GOPATH)/bin/staticcheck"
fi
if [ -n "$staticcheck" ]; then
	"$staticcheck" ./...
fi
go test -count=1 "$@" ./...
echo "interop/scripts/test.sh: done in $((SECONDS - start))s"
