#!/usr/bin/env bash
# Runs every Go fuzz target (or those matching $1) for ${FUZZTIME:-30s}
# and copies what the fuzzer found interesting into the package's
# testdata/fuzz/<Target>/ so the corpus is committed and replayed by
# plain `go test`.
#   scripts/fuzz.sh                 # all targets, 30 s each
#   FUZZTIME=2m scripts/fuzz.sh FuzzParse
set -euo pipefail
cd "$(dirname "$0")/.."
pattern=${1:-Fuzz}
cache=$(go env GOCACHE)/fuzz
mod=$(go list -m)
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho "^func \(Fuzz[A-Za-z0-9_]*\)" "$dir"/*_test.go 2>/dev/null | awk '{print $2}' | sed 's/(.*//' | sort -u); do
    [[ $target == *$pattern* ]] || continue
    echo "== $pkg $target"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "${FUZZTIME:-30s}" "$pkg" | tail -2
    src="$cache/$pkg/$target"
    if [ -d "$src" ]; then
      mkdir -p "$dir/testdata/fuzz/$target"
      # keep the committed corpus small: only inputs up to 4 KiB
      find "$src" -type f -size -4k -exec cp -n {} "$dir/testdata/fuzz/$target/" \;
    fi
  done
done
: "$mod"
