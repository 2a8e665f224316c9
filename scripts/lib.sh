# Shell helpers shared by scripts/test and bench/run: logging, cleanups run at exit,
# Debian packages, free ports, a throwaway PostgreSQL cluster.
# shellcheck shell=bash

log() { printf '\n==> %s\n' "$*"; }
cleanups=()
cleanup() {
  local i
  for ((i=${#cleanups[@]}-1; i>=0; i--)); do eval "${cleanups[$i]}" || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A throwaway PostgreSQL cluster on a free loopback port (installing Debian's package when
# missing), removed at exit; exports TEST_DATABASE_URL, TEST_POSTGRES_BINDIR and
# TEST_POSTGRES_DATADIR.
start_postgres() {
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$bindir" ] || [ ! -x "$bindir/postgres" ]; then
    log "installing PostgreSQL (Debian package)"
    apt_install postgresql
    bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  local port dir user=postgres run=()
  port=$(free_port)
  dir=$(mktemp -d /tmp/airs-pg.XXXXXX)
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql postgres
    chown postgres "$dir"
    run=(runuser -u postgres --)
  else
    user=$(id -un)
  fi
  log "starting a throwaway PostgreSQL ($("$bindir/postgres" --version)) on 127.0.0.1:$port"
  "${run[@]}" "$bindir/initdb" -D "$dir/data" -U "$user" --auth=trust -E UTF8 --no-sync >/dev/null
  "${run[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
  cleanups+=("'${run[*]}' '$bindir/pg_ctl' -D '$dir/data' -m fast -w stop >/dev/null 2>&1; rm -rf '$dir'")
  "${run[@]}" "$bindir/psql" -h "$dir" -p "$port" -U "$user" -d postgres -qc \
    "CREATE ROLE airs LOGIN CREATEDB PASSWORD 'airs'" >/dev/null
  export TEST_DATABASE_URL="postgres://airs:airs@127.0.0.1:$port/postgres?sslmode=disable"
  export TEST_POSTGRES_BINDIR="$bindir" TEST_POSTGRES_DATADIR="$dir/data"
}
