#!/usr/bin/env bash
# Runs the e2e module's checks and tests against a fresh Dendrite: gofmt,
# go vet, staticcheck (if installed), then scripts/dendrite.sh start, go
# test, and scripts/dendrite.sh stop (also on failure or interrupt). Run
# scripts/dendrite.sh build and e2e/scripts/setup.sh first. Arguments go
# to `go test` (for example -run TestNioWithJSSDK -v). Prints the time of
# each part.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(cd .. && pwd)
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
echo "e2e/scripts/test.sh: checks done in $((SECONDS - start))s"
t=$SECONDS
# A failing start must stop the script: eval of an empty substitution
# would succeed.
server_env=$("$root/scripts/dendrite.sh" start)
eval "$server_env"
trap '"$root/scripts/dendrite.sh" stop' EXIT INT TERM
echo "e2e/scripts/test.sh: Dendrite up in $((SECONDS - t))s"
t=$SECONDS
status=0
go test -count=1 -v "$@" ./... || status=$?
echo "e2e/scripts/test.sh: go test in $((SECONDS - t))s, all in $((SECONDS - start))s"
exit "$status"
