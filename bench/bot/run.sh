#!/usr/bin/env bash
# bench/bot/run.sh [load flags...]: the echo bots under load on a local Dendrite.
#
# Builds examples/echobot (sicher) and mautrixbot (mautrix-go v0.33, goolm, modernc SQLite),
# starts its own Dendrite on 127.0.0.1:${DENDRITE_PORT:-8028} with scripts/dendrite.sh (unless
# SICHER_TEST_HOMESERVER is set), runs the load generator (./load) and prints its table.
# Flags go to the load generator: -n (messages per run, default 10000), -rounds (default 2),
# -window, -workers, -profile DIR (a CPU profile of every bot run), -only sicher|mautrix.
#
#     bench/bot/run.sh                  # the full benchmark: 2 rounds x 2 bots x 10,000 messages
#     bench/bot/run.sh -n 300 -rounds 1 # the CI smoke
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(mktemp -d "${TMPDIR:-/tmp}/sicher-botbench.XXXXXX")
started=no
cleanup() {
	if [ $started = yes ]; then DENDRITE_PORT=${DENDRITE_PORT:-8028} "$root/scripts/dendrite.sh" stop; fi
	rm -rf "$bin"
}
trap cleanup EXIT

(cd "$root" && go build -o "$bin/echobot" ./examples/echobot)
(cd "$here" && go build -tags goolm -o "$bin/mautrixbot" ./mautrixbot && go build -o "$bin/load" ./load)
if [ -z "${SICHER_TEST_HOMESERVER:-}" ]; then
	"$root/scripts/dendrite.sh" build
	export DENDRITE_PORT=${DENDRITE_PORT:-8028}
	eval "$("$root/scripts/dendrite.sh" start)"
	started=yes
fi
"$bin/load" -homeserver "$SICHER_TEST_HOMESERVER" -sicher "$bin/echobot" -mautrix "$bin/mautrixbot" "$@"
