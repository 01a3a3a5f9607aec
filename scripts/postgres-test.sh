#!/usr/bin/env bash
# postgres-test.sh: a throwaway PostgreSQL cluster for the catalog tests.
#
#   eval "$(scripts/postgres-test.sh start)"  # exports GALE_TEST_POSTGRES, GALE_PG_DIR
#   go test ./internal/catalog/...
#   scripts/postgres-test.sh stop "$GALE_PG_DIR"
#
#   scripts/postgres-test.sh run CMD ARGS...   # start, run CMD with
#                                              # GALE_TEST_POSTGRES set, stop
#
# Installs Debian's postgresql when no server binaries are found (needs root
# or sudo), creates a cluster in a new temporary directory owned by the
# postgres user (when run as root; initdb refuses root) listening on
# 127.0.0.1 at a random free port with trust authentication, and creates the
# database gale_test. The URL is printed as shell assignments on stdout;
# progress goes to stderr. `stop` shuts the cluster down and removes the
# directory.
set -euo pipefail

log() { echo "postgres-test: $*" >&2; }

find_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

as_owner() { # run "$@" as the cluster owner
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  local p i
  for i in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  log "no free port found"; return 1
}

start() {
  local bin
  if ! bin=$(find_bin); then
    log "installing postgresql"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql >&2
    bin=$(find_bin)
  fi
  local dir port
  dir=$(mktemp -d /tmp/gale-pg.XXXXXX)
  chmod 755 "$dir"
  mkdir "$dir/data"
  if [ "$(id -u)" = 0 ]; then chown -R postgres: "$dir"; fi
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  local tries
  for tries in 1 2 3; do
    port=$(free_port)
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >&2; then
      break
    fi
    [ "$tries" = 3 ] && { cat "$dir/server.log" >&2; exit 1; }
  done
  echo "$bin" >"$dir/bin"
  as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres gale_test >&2
  local url="postgres://postgres@127.0.0.1:$port/gale_test?sslmode=disable"
  log "running at $url (stop: $0 stop $dir)"
  echo "export GALE_TEST_POSTGRES='$url'"
  echo "export GALE_PG_DIR='$dir'"
}

stop() {
  local dir=${1:-${GALE_PG_DIR:-}}
  if [ -z "$dir" ] || [ ! -d "$dir/data" ]; then log "stop: no cluster directory given"; exit 2; fi
  local bin
  bin=$(cat "$dir/bin" 2>/dev/null || find_bin)
  as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >&2 || true
  rm -rf "$dir"
}

case "${1:-}" in
start) start ;;
stop) stop "${2:-}" ;;
run)
  shift
  [ $# -gt 0 ] || { log "run: no command"; exit 2; }
  eval "$(start)"
  trap 'stop "$GALE_PG_DIR"' EXIT
  "$@"
  ;;
*)
  echo "usage: $0 start | stop DIR | run CMD [ARGS...]" >&2
  exit 2
  ;;
esac
