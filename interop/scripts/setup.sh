#!/usr/bin/env bash
# Installs the interop driver's npm packages (interop/node, pinned by its
# package-lock.json) with `npm ci`. Needs node >= 18 (the wasm package's
# "engines"; Debian 12's nodejs is 18.20, tested with 20.20) and npm on
# PATH. Prints the time it took.
set -euo pipefail
cd "$(dirname "$0")/../node"
start=$SECONDS
for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "interop/scripts/setup.sh: $tool not found (apt-get install nodejs npm)" >&2
		exit 1
	fi
done
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
	echo "interop/scripts/setup.sh: node $(node --version) is too old; the driver needs node 18 or newer" >&2
	exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
# The driver loads the wasm module once; check that it does.
node -e 'import("@matrix-org/matrix-sdk-crypto-wasm").then(async (m) => { await m.initAsync(); console.log("matrix-sdk-crypto-wasm", m.getVersions().git_description, "loads in node", process.version); })'
echo "interop/scripts/setup.sh: done in $((SECONDS - start))s"
