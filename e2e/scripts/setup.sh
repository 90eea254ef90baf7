#!/usr/bin/env bash
# Installs the matrix-js-sdk peer's npm packages (e2e/peers/jssdk, pinned
# by its package-lock.json) with `npm ci`, and checks that the matrix-nio
# peer's Python modules import. Needs node >= 20 and npm on PATH (js-sdk 43
# asks for node 22; peer.mjs supplies the one missing function on 20), and
# /usr/bin/python3 with Debian's python3-matrix-nio and python3-olm.
# Prints the time it took.
set -euo pipefail
cd "$(dirname "$0")/../peers/jssdk"
start=$SECONDS
for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "e2e/scripts/setup.sh: $tool not found (apt-get install nodejs npm)" >&2
		exit 1
	fi
done
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
	echo "e2e/scripts/setup.sh: node $(node --version) is too old; the js-sdk peer needs node 20 or newer" >&2
	exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
node -p 'const fs = require("node:fs"); const v = (p) => JSON.parse(fs.readFileSync(`node_modules/${p}/package.json`)).version; `matrix-js-sdk ${v("matrix-js-sdk")} with matrix-sdk-crypto-wasm ${v("@matrix-org/matrix-sdk-crypto-wasm")} and fake-indexeddb ${v("fake-indexeddb")} in node ${process.version}`'
/usr/bin/python3 -c 'import nio, olm, importlib.metadata as m; print("matrix-nio", m.version("matrix-nio"), "with python-olm", m.version("python-olm"))'
echo "e2e/scripts/setup.sh: done in $((SECONDS - start))s"
