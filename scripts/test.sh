#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs the Debian
# packages the interoperability tests drive when they are missing, then
# runs gofmt, go vet and every test. Interop tests fail instead of
# skipping here (GALE_REQUIRE_INTEROP=1).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mktorrent >/dev/null || need+=(mktorrent)
command -v transmission-create >/dev/null || need+=(transmission-cli)
/usr/bin/python3 -c 'import libtorrent' 2>/dev/null || need+=(python3-libtorrent)
command -v aria2c >/dev/null || need+=(aria2)
command -v opentracker >/dev/null || need+=(opentracker)
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Headless Chromium for the catalog's browser tests.
bash scripts/install-browser.sh

export GALE_REQUIRE_INTEROP=1

# A real PostgreSQL for the catalog conformance suite (SQLite always runs).
eval "$(bash scripts/postgres-test.sh start)"
trap 'bash scripts/postgres-test.sh stop "$GALE_PG_DIR" >/dev/null 2>&1 || true' EXIT
export GALE_REQUIRE_POSTGRES=1
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
go test -count=1 "$@" ./...
# The bencode comparison module checks that gale and anacrolix agree.
(cd bench/bencodecmp && go test -count=1 ./...)
