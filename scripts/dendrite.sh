#!/bin/sh
# dendrite.sh build|start|stop: a local Matrix homeserver (Dendrite v0.13.8) for the end-to-end
# tests in e2e/.
#
# build installs the binaries once per machine with `go install` into
# ${SICHER_CACHE:-$HOME/.cache/sicher}/dendrite/bin (outside the clone; a rebuild is a few seconds
# once the Go build cache is warm) and skips the step when they are there and report v0.13.8.
#
# start builds first if the binaries are missing, then writes a fresh configuration into a temporary directory (signing key from generate-keys,
# config from generate-config for server name "localhost", SQLite files next to it; open
# registration, a registration shared secret, federation off, rate limiting off), starts Dendrite
# on 127.0.0.1:${DENDRITE_PORT:-8008} in the background, waits until /_matrix/client/versions
# answers and prints
#
#     export SICHER_TEST_HOMESERVER=http://127.0.0.1:8008
#     export SICHER_TEST_HOMESERVER_SECRET=...
#     export SICHER_TEST_HOMESERVER_IMPL=dendrite-v0.13.8
#
# so a script can run: eval "$(scripts/dendrite.sh start)". Everything else goes to stderr, with
# the time each part took. On a timeout it prints Dendrite's log and fails.
#
# restart kills the server started by start (by its pid) and starts it again on the same
# directory, so its data survive (for the homeserver-restart test).
#
# register NAME creates the account @NAME:localhost on the running server (Dendrite's
# create-account, through the registration shared secret), with the password read from stdin.
#
# stop kills the server started by start (by its pid) and removes its temporary directory.
set -eu

version=v0.13.8
cache=${SICHER_CACHE:-$HOME/.cache/sicher}/dendrite
bin=$cache/bin
port=${DENDRITE_PORT:-8008}
state=$cache/run-$port
secret=${SICHER_DENDRITE_SECRET:-sicher-e2e-shared-secret}

now() { date +%s; }

build() {
	have=yes
	for tool in dendrite generate-keys generate-config create-account; do
		[ -x "$bin/$tool" ] || have=no
	done
	if [ $have = yes ] && [ "$("$bin/dendrite" -version 2>/dev/null)" = "${version#v}" ]; then
		echo "dendrite.sh: $version already in $bin" >&2
		return
	fi
	t0=$(now)
	mkdir -p "$bin"
	m=github.com/matrix-org/dendrite/cmd
	GOBIN=$bin go install "$m/dendrite@$version" "$m/generate-keys@$version" \
		"$m/generate-config@$version" "$m/create-account@$version" >&2
	echo "dendrite.sh: built $version into $bin in $(($(now) - t0))s" >&2
}

start() {
	t0=$(now)
	for tool in dendrite generate-keys generate-config create-account; do
		if [ ! -x "$bin/$tool" ]; then
			echo "dendrite.sh: $bin/$tool missing: building Dendrite first" >&2
			build
			break
		fi
	done
	if [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null; then
		echo "dendrite.sh: already running (pid $(cat "$state/pid")); run scripts/dendrite.sh stop first" >&2
		exit 1
	fi
	url=http://127.0.0.1:$port
	if curl -fsS -o /dev/null "$url/_matrix/client/versions" 2>/dev/null; then
		echo "dendrite.sh: something already answers on $url; stop it or set DENDRITE_PORT" >&2
		exit 1
	fi
	dir=$(mktemp -d "${TMPDIR:-/tmp}/sicher-dendrite.XXXXXX")
	mkdir -p "$state"
	echo "$dir" >"$state/dir"
	"$bin/generate-keys" --private-key "$dir/matrix_key.pem" >&2
	"$bin/generate-config" -dir "$dir" -server localhost >"$dir/generated.yaml"
	# Edit the generated YAML in place; each pattern below matches one line of generate-config's
	# output for v0.13.8 (checked after the edit).
	sed -e "s|^  private_key: .*|  private_key: $dir/matrix_key.pem|" \
		-e 's|^  disable_federation: false|  disable_federation: true|' \
		-e 's|^  registration_disabled: true|  registration_disabled: false|' \
		-e "s|^  registration_shared_secret: \"\"|  registration_shared_secret: \"$secret\"|" \
		-e '/^  rate_limiting:/,/^  [a-z]/s|^    enabled: true|    enabled: false|' \
		-e 's|^  level: info|  level: warn|' \
		"$dir/generated.yaml" >"$dir/dendrite.yaml"
	for want in "private_key: $dir/matrix_key.pem" 'disable_federation: true' \
		'registration_disabled: false' "registration_shared_secret: \"$secret\""; do
		if ! grep -qF "$want" "$dir/dendrite.yaml"; then
			echo "dendrite.sh: config edit failed, no line '$want' in $dir/dendrite.yaml" >&2
			exit 1
		fi
	done
	if ! sed -n '/^  rate_limiting:/,/^    threshold/p' "$dir/dendrite.yaml" | grep -q 'enabled: false'; then
		echo "dendrite.sh: config edit failed: rate limiting still on in $dir/dendrite.yaml" >&2
		exit 1
	fi
	launch "$dir"
	echo "dendrite.sh: Dendrite $version answers on $url (pid $(cat "$state/pid"), data in $dir), started in $(($(now) - t0))s" >&2
	echo "export SICHER_TEST_HOMESERVER=$url"
	echo "export SICHER_TEST_HOMESERVER_SECRET=$secret"
	echo "export SICHER_TEST_HOMESERVER_IMPL=dendrite-$version"
}

# launch starts Dendrite on the configuration in $1 and waits until it answers.
launch() {
	dir=$1
	url=http://127.0.0.1:$port
	(cd "$dir" && exec "$bin/dendrite" --config "$dir/dendrite.yaml" \
		--http-bind-address "127.0.0.1:$port" --really-enable-open-registration \
		>>"$dir/dendrite.log" 2>&1) &
	echo $! >"$state/pid"
	i=0
	until curl -fsS -o /dev/null "$url/_matrix/client/versions" 2>/dev/null; do
		i=$((i + 1))
		if ! kill -0 "$(cat "$state/pid")" 2>/dev/null || [ "$i" -gt 120 ]; then
			echo "dendrite.sh: $url does not answer; the log ($dir/dendrite.log):" >&2
			tail -n 60 "$dir/dendrite.log" >&2 || true
			stop
			exit 1
		fi
		sleep 0.5
	done
}

# restart stops the server started by start and starts it again on the same data directory
# (the users, rooms, keys and undelivered to-device messages survive).
restart() {
	t0=$(now)
	if [ ! -f "$state/dir" ]; then
		echo "dendrite.sh: no server to restart on port $port" >&2
		exit 1
	fi
	kill_server
	launch "$(cat "$state/dir")"
	echo "dendrite.sh: Dendrite restarted on $url in $(($(now) - t0))s" >&2
}

kill_server() {
	if [ -f "$state/pid" ]; then
		pid=$(cat "$state/pid")
		if kill "$pid" 2>/dev/null; then
			i=0
			while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 20 ]; do
				sleep 0.25
				i=$((i + 1))
			done
			kill -9 "$pid" 2>/dev/null || true
		fi
		rm -f "$state/pid"
	fi
}

stop() {
	kill_server
	if [ -f "$state/dir" ]; then
		dir=$(cat "$state/dir")
		case $dir in
		*/sicher-dendrite.*) rm -rf "$dir" ;;
		esac
		rm -f "$state/dir"
	fi
}

# register creates an account; the password comes from stdin.
register() {
	name=${1:?usage: dendrite.sh register NAME <password}
	if [ ! -f "$state/dir" ]; then
		echo "dendrite.sh: not started (run scripts/dendrite.sh start first)" >&2
		exit 1
	fi
	dir=$(cat "$state/dir")
	"$bin/create-account" --config "$dir/dendrite.yaml" -url "http://127.0.0.1:$port" \
		-username "$name" -passwordstdin >&2
	echo "dendrite.sh: created @$name:localhost" >&2
}

case "${1:-}" in
build) build ;;
start) start ;;
stop) stop ;;
restart) restart ;;
register) register "${2:-}" ;;
*)
	echo "usage: $0 build|start|stop|restart|register NAME" >&2
	exit 2
	;;
esac
