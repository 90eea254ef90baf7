#!/bin/sh
# postgres.sh start|stop: a local PostgreSQL for the store tests (store/sqlstore).
#
# start installs Debian's postgresql package if it is missing, starts the cluster, creates the
# role and database "sicher" with a password, waits until the server answers and prints
#
#     export SICHER_TEST_POSTGRES=postgres://sicher:...@127.0.0.1:5432/sicher?sslmode=disable
#
# so a CI script can run: eval "$(scripts/postgres.sh start)". Run as root (CI containers) or as
# a user allowed to run pg_ctlcluster and su postgres.
set -eu

version=${PG_VERSION:-15}
cluster=${PG_CLUSTER:-main}
port=${PG_PORT:-5432}
password=${SICHER_PG_PASSWORD:-sicher-test}

as_postgres() {
	if [ "$(id -un)" = postgres ]; then "$@"; else (cd /tmp && runuser -u postgres -- "$@"); fi
}

case "${1:-}" in
start)
	if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d "/usr/lib/postgresql/$version" ]; then
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y postgresql >&2 || { apt-get update >&2 && apt-get install -y postgresql >&2; }
	fi
	if [ ! -d "/etc/postgresql/$version/$cluster" ]; then
		pg_createcluster "$version" "$cluster" --port "$port" >&2
	fi
	pg_ctlcluster "$version" "$cluster" start >&2 || pg_ctlcluster "$version" "$cluster" status >/dev/null
	i=0
	until as_postgres pg_isready -q -h 127.0.0.1 -p "$port"; do
		i=$((i + 1))
		if [ "$i" -gt 60 ]; then echo "postgres.sh: the server does not answer" >&2; exit 1; fi
		sleep 0.5
	done
	as_postgres psql -q -p "$port" -v ON_ERROR_STOP=1 >&2 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sicher') THEN
    CREATE ROLE sicher LOGIN PASSWORD '$password';
  ELSE
    ALTER ROLE sicher LOGIN PASSWORD '$password';
  END IF;
END \$\$;
SQL
	if [ -z "$(as_postgres psql -p "$port" -tAc "SELECT 1 FROM pg_database WHERE datname = 'sicher'")" ]; then
		as_postgres createdb -p "$port" -O sicher sicher >&2
	fi
	echo "export SICHER_TEST_POSTGRES='postgres://sicher:$password@127.0.0.1:$port/sicher?sslmode=disable'"
	;;
stop)
	pg_ctlcluster "$version" "$cluster" stop >&2 || true
	;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
