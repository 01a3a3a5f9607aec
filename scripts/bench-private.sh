#!/usr/bin/env bash
# bench-private.sh (make bench-private): the private tracker of `gale serve`
# against the open `gale tracker`, under the same load, in the same run,
# over loopback sockets, in about two minutes.
#
# Private mode is the whole of it: every announce carries a personal key
# (BEP 41 URL data over UDP, /<key>/announce over HTTP) that is checked
# (XBT's SHA-1 formula, constant-time compare), rights and client rules
# are applied, and the accounting records every announce and flushes the
# peers' counters to the site's SQLite database every second.
#
# Setup: `gale bench-keys` creates $USERS users and $TORRENTS torrents on a
# fresh site and writes every user's personal announce URL of every torrent;
# `gale serve` (private) and `gale tracker` (open, no lists) both run for
# the whole run, the one measured on CPU 0 and the other on CPU 1 (taskset;
# its background work, such as the private tracker's flushes, goes on at
# its pace without taking CPU 0). Load: `gale bench` on CPU 1, $PEERS
# peers spread over the same $TORRENTS info hashes (peer i in torrent
# i mod T, using that torrent's users' keys in turn), numwant $NUMWANT.
# Each protocol gets a warm-up per mode (every peer started, the first
# accounting rows inserted), then $ROUNDS rounds of open and private runs
# of $DURATION, alternating which goes first; medians are reported, with
# the private/open ratio, p99 latency, the tracker's CPU time per announce
# (user+system from /proc/PID/stat) and how busy CPU 0 was (when it is not
# ~100%, the load generator was the limit, not the tracker).
#
# HTTP runs use keep-alive connections by default (HTTP_KEEPALIVE=0 for one
# connection per request, where the load generator is the limit on a
# small machine and both modes look alike).
#
# Accounting writes: gale bench's peers send the same counters every time,
# so by default the private tracker holds their announces back for
# idle-write (30 s: they only add seeding or leeching time). MOVING=1 sets
# idle-write = "off": every peer that announced is written at the next
# flush, its row and its totals, as when all counters move (the same rows
# and statements; with PEERS=200000 that is the heavy case of accounting).
# IDLE_WRITE sets another value ("10s", "off").
#
# Environment: DURATION (6s), ROUNDS (3), TORRENTS (1000), USERS (20),
# PEERS (10000), NUMWANT (50), SEEDERS (0.25), UDP_CONCURRENCY (128),
# HTTP_CONCURRENCY (64), HTTP_KEEPALIVE (1), PROTOCOLS ("udp http"),
# MIN_RATIO (0.8, the target), PRIV_PORT (36969), OPEN_PORT (46969),
# MOVING (0), IDLE_WRITE (unset: gale serve's default),
# KEEP=1 keeps the work directory (site, logs, the JSON of every run).
set -euo pipefail

DURATION=${DURATION:-6s}
ROUNDS=${ROUNDS:-3}
TORRENTS=${TORRENTS:-1000}
USERS=${USERS:-20}
PEERS=${PEERS:-10000}
NUMWANT=${NUMWANT:-50}
SEEDERS=${SEEDERS:-0.25}
UDP_CONCURRENCY=${UDP_CONCURRENCY:-128}
HTTP_CONCURRENCY=${HTTP_CONCURRENCY:-64}
HTTP_KEEPALIVE=${HTTP_KEEPALIVE:-1}
PROTOCOLS=${PROTOCOLS:-"udp http"}
MIN_RATIO=${MIN_RATIO:-0.8}
PRIV_PORT=${PRIV_PORT:-36969}
OPEN_PORT=${OPEN_PORT:-46969}
MOVING=${MOVING:-0}
IDLE_WRITE=${IDLE_WRITE:-}
if [ "$MOVING" = 1 ] && [ -z "$IDLE_WRITE" ]; then IDLE_WRITE=off; fi

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/gale-bench-private.XXXXXX)
priv_pid="" open_pid=""

log() { echo "bench-private: $*" >&2; }

cleanup() {
	for p in $priv_pid $open_pid; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [ "${KEEP:-}" = 1 ]; then
		log "work directory kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pin_tracker=() pin_load=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	pin_tracker=(taskset -c 0) pin_load=(taskset -c 1)
else
	log "fewer than 2 CPUs or no taskset: not pinning"
fi

log "building gale"
(cd "$root" && go build -o "$work/gale" ./cmd/gale)
gale="$work/gale"

# The site: state file off (the open tracker saves none either); the
# announce URLs in the .torrent files are the loopback listeners.
site=$work/site
cat >"$work/site.toml" <<EOF
site-name = "bench-private"
announce-urls = ["http://127.0.0.1:$PRIV_PORT", "udp://127.0.0.1:$PRIV_PORT"]
state = ""
EOF
if [ -n "$IDLE_WRITE" ]; then echo "idle-write = \"$IDLE_WRITE\"" >>"$work/site.toml"; fi
log "creating $USERS users and $TORRENTS torrents, writing $((USERS * TORRENTS)) personal announce URLs"
for proto in $PROTOCOLS; do
	"$gale" bench-keys --data "$site" --config "$work/site.toml" --users "$USERS" --torrents "$TORRENTS" \
		--scheme "$proto" -o "$work/keys-$proto.txt" 2>/dev/null
done
# The same info hashes, in the same order, for the open tracker.
awk '!seen[$1]++ { print $1 }' "$work/keys-${PROTOCOLS%% *}.txt" >"$work/hashes.txt"

# wait_listening LOG: until the process logging to LOG printed both of its
# "listening" lines.
wait_listening() {
	for _ in $(seq 200); do
		[ "$(grep -c '^listening ' "$1" 2>/dev/null)" -ge 2 ] && return 0
		sleep 0.05
	done
	log "no listening lines in $1:"
	tail -5 "$1" >&2
	return 1
}

"${pin_tracker[@]}" "$gale" serve --data "$site" --config "$work/site.toml" \
	--http "127.0.0.1:$PRIV_PORT" --udp "127.0.0.1:$PRIV_PORT" >"$work/serve.out" 2>"$work/serve.log" &
priv_pid=$!
"${pin_tracker[@]}" "$gale" tracker --http "127.0.0.1:$OPEN_PORT" --udp "127.0.0.1:$OPEN_PORT" 2>"$work/tracker.log" &
open_pid=$!
wait_listening "$work/serve.log"
wait_listening "$work/tracker.log"

proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu0_ticks() { awk '/^cpu0 /{t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $5 + $6}' /proc/stat; }
hz=$(getconf CLK_TCK)

# field FILE KEY: a number from a JSON result (0 if absent).
field() {
	local v
	v=$(sed -n "s/^ *\"$2\": \([0-9.e+-]*\),\{0,1\}$/\1/p" "$1" 2>/dev/null | head -1)
	echo "${v:-0}"
}

# metric NAME: a counter of the private tracker's /metrics.
metric() {
	local v
	v=$(curl -s "http://127.0.0.1:$PRIV_PORT/metrics" 2>/dev/null | sed -n "s/^$1 \([0-9]*\)$/\1/p")
	echo "${v:-0}"
}

# load MODE PROTO SECONDS OUT [flags]: one gale bench run on the load CPU.
load() {
	local mode=$1 proto=$2 dur=$3 out=$4 conc=$UDP_CONCURRENCY
	shift 4
	local target=()
	if [ "$mode" = private ]; then
		target=(--announce-urls "$work/keys-$proto.txt")
	else
		target=(--url "$proto://127.0.0.1:$OPEN_PORT/announce" --infohashes "$work/hashes.txt")
	fi
	if [ "$proto" = http ]; then
		conc=$HTTP_CONCURRENCY
		[ "$HTTP_KEEPALIVE" = 1 ] && set -- "$@" --keepalive
	fi
	timeout 120 "${pin_load[@]}" "$gale" bench --json "${target[@]}" --peers "$PEERS" --seeders "$SEEDERS" \
		--concurrency "$conc" --duration "$dur" "$@" >"$out" 2>"$out.err" ||
		{ log "load run $out failed: $(cat "$out.err")"; echo '{}' >"$out"; }
}

# pin PID CPU: move every thread of PID to CPU (when pinning).
pin() {
	[ ${#pin_tracker[@]} -gt 0 ] || return 0
	taskset -a -p -c "$2" "$1" >/dev/null
}

# measure MODE PROTO ROUND: a measured run; $work/MODE-PROTO-ROUND.json and
# .cpu (tracker CPU seconds, CPU 0 busy %). The other tracker moves to
# CPU 1 meanwhile: its background work (the private tracker flushes every
# second, at the same pace whichever tracker is measured) does not take
# CPU 0 from the one measured, and a tracker's measured runs get their
# share of it.
measure() {
	local mode=$1 proto=$2 round=$3 pid=$open_pid other=$priv_pid t0 t1 c0 c1
	[ "$mode" = private ] && pid=$priv_pid other=$open_pid
	local out="$work/$mode-$proto-$round.json"
	pin "$other" 1
	t0=$(proc_ticks "$pid") c0=$(cpu0_ticks)
	load "$mode" "$proto" "$DURATION" "$out" --numwant "$NUMWANT"
	t1=$(proc_ticks "$pid") c1=$(cpu0_ticks)
	pin "$other" 0
	echo "$((t1 - t0)) $c0 $c1" | awk -v hz="$hz" '{
		busy = ($4 - $2) > 0 ? 100 * (1 - ($5 - $3) / ($4 - $2)) : 0
		print $1 / hz, busy }' >"${out%.json}.cpu"
	log "$proto round $round $mode: $(printf '%.0f' "$(field "$out" responses_per_second)") announces/s," \
		"p99 $(field "$out" p99_us) us, errors $(($(field "$out" errors) + $(field "$out" timeouts)))"
	sleep 1
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
m_rec=0 m_wr=0 m_fl=0

for proto in $PROTOCOLS; do
	log "$proto: warm-up (every peer starts; first accounting rows)"
	load open "$proto" 2s "$work/warm-open-$proto.json" --numwant 0
	load private "$proto" 2s "$work/warm-private-$proto.json" --numwant 0
	sleep 1.5 # the warm-up's accounting flushed
	m_rec=$((m_rec - $(metric gale_accounting_recorded_total))) m_wr=$((m_wr - $(metric gale_accounting_written_total)))
	m_fl=$((m_fl - $(metric gale_accounting_flushes_total)))
	for round in $(seq "$ROUNDS"); do
		if [ $((round % 2)) = 1 ]; then
			measure open "$proto" "$round"
			measure private "$proto" "$round"
		else
			measure private "$proto" "$round"
			measure open "$proto" "$round"
		fi
	done
	sleep 1.5 # the last flush
	m_rec=$((m_rec + $(metric gale_accounting_recorded_total))) m_wr=$((m_wr + $(metric gale_accounting_written_total)))
	m_fl=$((m_fl + $(metric gale_accounting_flushes_total)))
done
m_drop=$(metric gale_accounting_dropped_total)
m_ferr=$(metric gale_accounting_flush_errors_total) m_unk=$(metric gale_accounting_unknown_total)

# ---------------------------------------------------------------- report

echo
echo "== private (gale serve) vs open (gale tracker), $started"
echo "machine: $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)), Linux $(uname -r)"
echo "load average: $load_start at start, $(loadavg) at end"
echo "version: gale $(cd "$root" && git describe --always --dirty 2>/dev/null || echo '?') ($(go version | cut -d' ' -f3))"
echo "load: $TORRENTS torrents, $PEERS peers (seeders $SEEDERS), numwant $NUMWANT; private: $USERS users," \
	"a personal key per user and torrent; $ROUNDS rounds of $DURATION per mode, medians;" \
	"UDP $UDP_CONCURRENCY in flight, HTTP $HTTP_CONCURRENCY connections$([ "$HTTP_KEEPALIVE" = 1 ] && echo ' (keep-alive)')"
if [ ${#pin_tracker[@]} -gt 0 ]; then
	echo "pinning: the tracker measured on CPU 0; the other tracker and the load on CPU 1 (taskset)"
else
	echo "pinning: NONE"
fi
echo "accounting: SQLite $site/gale.db, idle-write ${IDLE_WRITE:-default (30s)}; during the measured runs $m_wr peer updates written" \
	"in $m_fl flushes for $m_rec announces recorded; in all $m_drop dropped," \
	"$m_ferr flush errors, $m_unk unknown"

# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# runstat MODE PROTO WHAT: the median over the rounds of WHAT: a JSON key,
# "errors" (errors + timeouts), "us" (tracker CPU us per announce) or
# "busy" (CPU 0 busy %).
runstat() {
	local mode=$1 proto=$2 what=$3 r j c cpu busy
	for r in $(seq "$ROUNDS"); do
		j="$work/$mode-$proto-$r.json" c="$work/$mode-$proto-$r.cpu"
		read -r cpu busy <"$c"
		case $what in
		errors) echo $(($(field "$j" errors) + $(field "$j" timeouts))) ;;
		us) awk -v c="$cpu" -v n="$(field "$j" responses)" 'BEGIN { print (n > 0 ? 1e6 * c / n : 0) }' ;;
		busy) echo "$busy" ;;
		*) field "$j" "$what" ;;
		esac
	done | median
}

status=0
for proto in $PROTOCOLS; do
	echo
	echo "-- $proto"
	o_rate=$(runstat open "$proto" responses_per_second) p_rate=$(runstat private "$proto" responses_per_second)
	awk -v o="$o_rate" -v p="$p_rate" -v o50="$(runstat open "$proto" p50_us)" -v p50="$(runstat private "$proto" p50_us)" \
		-v o99="$(runstat open "$proto" p99_us)" -v p99="$(runstat private "$proto" p99_us)" \
		-v oe="$(runstat open "$proto" errors)" -v pe="$(runstat private "$proto" errors)" \
		-v ous="$(runstat open "$proto" us)" -v pus="$(runstat private "$proto" us)" \
		-v ob="$(runstat open "$proto" busy)" -v pb="$(runstat private "$proto" busy)" '
		function ratio(a, b) { return b > 0 ? sprintf("%.2fx", a / b) : "-" }
		function row(l, a, b, r) { printf "  %-32s %12s %12s %9s\n", l, a, b, r }
		BEGIN {
			row("", "open", "private", "priv/open")
			row("announces/s", sprintf("%.0f", o), sprintf("%.0f", p), ratio(p, o))
			row("p50 latency (us)", o50, p50, ratio(p50, o50))
			row("p99 latency (us)", o99, p99, ratio(p99, o99))
			row("errors + timeouts", oe, pe, "")
			row("tracker CPU per announce (us)", sprintf("%.2f", ous), sprintf("%.2f", pus), ratio(pus, ous))
			row("CPU 0 busy", sprintf("%.0f%%", ob), sprintf("%.0f%%", pb), "")
		}'
	printf '  per round (open/private announces/s):'
	for r in $(seq "$ROUNDS"); do
		printf ' %.0f/%.0f' "$(field "$work/open-$proto-$r.json" responses_per_second)" \
			"$(field "$work/private-$proto-$r.json" responses_per_second)"
	done
	echo
	verdict=$(awk -v o="$o_rate" -v p="$p_rate" -v m="$MIN_RATIO" 'BEGIN { print (o > 0 && p / o >= m) ? "MET" : "NOT MET" }')
	echo "  target private >= ${MIN_RATIO}x open: $verdict"
	[ "$(runstat private "$proto" errors)" = 0 ] || { log "$proto: the private runs had errors (first: $(sed -n 's/.*"error_sample": "\(.*\)",*$/\1/p' "$work"/private-"$proto"-*.json | head -1))"; status=1; }
done
[ "$m_drop" = 0 ] && [ "$m_ferr" = 0 ] || status=1
exit $status
