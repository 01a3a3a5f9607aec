#!/usr/bin/env bash
# Benchmarks `gale create` beside mktorrent on one large file held in the
# page cache, same piece size, both using every core, and prints the
# rates and their ratio. Also times v2 and hybrid (single read pass).
#   scripts/bench-create.sh            # 2 GiB file, 3 runs each, best kept
#   SIZE_MB=512 RUNS=5 scripts/bench-create.sh
set -euo pipefail
cd "$(dirname "$0")/.."
need=(); command -v mktorrent >/dev/null || need+=(mktorrent); command -v bc >/dev/null || need+=(bc)
if ((${#need[@]})); then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi
SIZE_MB=${SIZE_MB:-2048}
RUNS=${RUNS:-3}
PIECE_EXP=${PIECE_EXP:-20} # 1 MiB pieces
threads=$(nproc)
work=${BENCH_DIR:-$(mktemp -d)}
trap '[ -z "${BENCH_DIR:-}" ] && rm -rf "$work"' EXIT
go build -trimpath -o "$work/gale" ./cmd/gale
data="$work/data.bin"
if [ ! -s "$data" ] || [ "$(stat -c %s "$data")" -ne $((SIZE_MB << 20)) ]; then
  # Random bytes (not a sparse file) so that every page is real.
  head -c $((SIZE_MB << 20)) /dev/urandom >"$data"
fi
cat "$data" >/dev/null # into the page cache

best() { # best wall time in seconds of RUNS runs of "$@"
  local b=""
  for _ in $(seq "$RUNS"); do
    rm -f "$work/out.torrent"
    local s e t
    s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l)
    if [ -z "$b" ] || (( $(echo "$t < $b" | bc -l) )); then b=$t; fi
  done
  echo "$b"
}
rate() { echo "scale=1; $SIZE_MB * 1.048576 / $1" | bc -l; } # MB/s (10^6)

mk=$(best mktorrent -t "$threads" -l "$PIECE_EXP" -a http://t/announce -o "$work/out.torrent" "$data")
g1=$(best "$work/gale" create --threads "$threads" --piece-length $((1 << PIECE_EXP)) -a http://t/announce -o "$work/out.torrent" "$data")
g2=$(best "$work/gale" create --meta-version 2 --piece-length $((1 << PIECE_EXP)) -a http://t/announce -o "$work/out.torrent" "$data")
gh=$(best "$work/gale" create --meta-version hybrid --piece-length $((1 << PIECE_EXP)) -a http://t/announce -o "$work/out.torrent" "$data")

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(go version | cut -d' ' -f3)"
echo "input: ${SIZE_MB} MiB file in page cache, piece length 2^${PIECE_EXP}, ${threads} threads, best of ${RUNS}"
printf "%-22s %8s %10s %8s\n" tool seconds "MB/s" "x mktorrent"
printf "%-22s %8.3f %10s %8s\n" "mktorrent (v1)" "$mk" "$(rate "$mk")" "1.00"
printf "%-22s %8.3f %10s %8.2f\n" "gale create v1" "$g1" "$(rate "$g1")" "$(echo "$mk / $g1" | bc -l)"
printf "%-22s %8.3f %10s %8s\n" "gale create v2" "$g2" "$(rate "$g2")" "-"
printf "%-22s %8.3f %10s %8s\n" "gale create hybrid" "$gh" "$(rate "$gh")" "-"
