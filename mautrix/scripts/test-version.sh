#!/usr/bin/env bash
# Vets and tests the driver module against another mautrix version (default
# v0.32.0) in a temporary copy whose go.mod is switched to it. With v0.32
# it runs twice: with -tags mautrix_v032 (the driver also sets
# olm.GetVersion, which v0.33 removed) and without (it must build and
# pass either way).
# Usage: scripts/test-version.sh [version]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$here/.." && pwd)
version=${1:-v0.32.0}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$here" "$tmp/mautrix"
cd "$tmp/mautrix"
rm -f CONFORMANCE.md bench-results.txt
go mod edit -replace=github.com/sicher-go/sicher="$root" -require=maunium.net/go/mautrix@"$version"
GOFLAGS=-mod=mod go mod tidy
tags=("")
case "$version" in v0.32.*) tags=(mautrix_v032 "") ;; esac
for tag in "${tags[@]}"; do
	echo "== mautrix $version${tag:+ -tags $tag}"
	go vet ${tag:+-tags "$tag"} ./...
	go test ${tag:+-tags "$tag"} ./...
	CGO_ENABLED=0 go test -tags "goolm${tag:+,$tag}" ./...
done
