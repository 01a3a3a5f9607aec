#!/usr/bin/env bash
# bench-tracker.sh: gale tracker beside opentracker under the same load.
#
# Each tracker is pinned to CPU 0 and `gale bench` to CPU 1 (when the
# machine has two or more); both trackers get the same whitelist of
# $TORRENTS info hashes (Debian's opentracker is a whitelist build). For UDP
# and HTTP (one connection per request) it prints announces per second and
# p99 latency side by side with the ratio gale/opentracker.
#
# Environment: DURATION (10s), TORRENTS (1000), PEERS (10000), NUMWANT (50),
# SEEDERS (0.25), UDP_CONCURRENCY (128), HTTP_CONCURRENCY (64),
# PROTOCOLS ("udp http"), OT_PORT (16969), GALE_PORT (26969), KEEP=1 keeps
# the work directory. Needs root (or a present opentracker) for apt-get.
set -euo pipefail

DURATION=${DURATION:-10s}
TORRENTS=${TORRENTS:-1000}
PEERS=${PEERS:-10000}
NUMWANT=${NUMWANT:-50}
SEEDERS=${SEEDERS:-0.25}
UDP_CONCURRENCY=${UDP_CONCURRENCY:-128}
HTTP_CONCURRENCY=${HTTP_CONCURRENCY:-64}
PROTOCOLS=${PROTOCOLS:-"udp http"}
OT_PORT=${OT_PORT:-16969}
GALE_PORT=${GALE_PORT:-26969}

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/gale-bench-tracker.XXXXXX)
chmod 755 "$work" # opentracker drops to nobody inside its chroot
pid=""

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if [ "${KEEP:-}" = 1 ]; then
		echo "work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

log() { echo "bench-tracker: $*" >&2; }

if ! command -v opentracker >/dev/null; then
	log "installing opentracker"
	if [ "$(id -u)" != 0 ]; then
		log "opentracker is missing and apt-get needs root"
		exit 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y opentracker >/dev/null ||
		{ apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y opentracker >/dev/null; }
fi

pin_tracker=() pin_load=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	pin_tracker=(taskset -c 0) pin_load=(taskset -c 1)
else
	log "fewer than 2 CPUs or no taskset: not pinning (figures will be lower)"
fi

log "building gale"
(cd "$root" && go build -o "$work/gale" ./cmd/gale)
gale="$work/gale"
"$gale" bench --print-infohashes --torrents "$TORRENTS" >"$work/whitelist"

# wait_tcp PORT: until something accepts connections on 127.0.0.1:PORT.
wait_tcp() {
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		kill -0 "$pid" 2>/dev/null || { log "tracker exited"; return 1; }
		sleep 0.1
	done
	log "nothing listens on port $1"
	return 1
}

# warm_up PORT: a short discarded run, so that both trackers have loaded
# their whitelist (opentracker does so in the background) and hold swarms.
warm_up() {
	timeout 30 "${pin_load[@]}" "$gale" bench --url "udp://127.0.0.1:$1/announce" \
		--infohashes "$work/whitelist" --peers "$PEERS" --duration 1s >/dev/null 2>&1 || true
}

stop_tracker() {
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=""
}

# proc_ticks PID: user+system CPU time of a process, in clock ticks.
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# cpu0_ticks: total and idle ticks of CPU 0.
cpu0_ticks() { awk '/^cpu0 /{t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $5 + $6}' /proc/stat; }

# run_bench NAME PROTO PORT: one bounded load run, JSON to
# $work/NAME-PROTO.json; the tracker's CPU time and CPU 0's busy share
# during the run to $work/NAME-PROTO.cpu.
run_bench() {
	local conc=$UDP_CONCURRENCY t0 t1 c0 c1
	[ "$2" = http ] && conc=$HTTP_CONCURRENCY
	log "$1 $2: ${DURATION} of announces"
	t0=$(proc_ticks "$pid") c0=$(cpu0_ticks)
	timeout 120 "${pin_load[@]}" "$gale" bench --json --url "$2://127.0.0.1:$3/announce" \
		--infohashes "$work/whitelist" --peers "$PEERS" --numwant "$NUMWANT" \
		--seeders "$SEEDERS" --concurrency "$conc" --duration "$DURATION" \
		>"$work/$1-$2.json" || { log "$1 $2 failed"; echo '{}' >"$work/$1-$2.json"; }
	t1=$(proc_ticks "$pid") c1=$(cpu0_ticks)
	echo "$((t1 - t0)) $c0 $c1" | awk -v hz="$(getconf CLK_TCK)" \
		'{busy = ($4 - $2) > 0 ? 100 * (1 - ($5 - $3) / ($4 - $2)) : 0; print $1 / hz, busy}' \
		>"$work/$1-$2.cpu"
}

# opentracker: -p TCP port, -P UDP port, -i bind address, -w whitelist,
# -d chroot directory (it chroots and drops to nobody when run as root).
(cd "$work" && exec "${pin_tracker[@]}" opentracker -i 127.0.0.1 -p "$OT_PORT" -P "$OT_PORT" \
	-w whitelist -d "$work" >"$work/opentracker.log" 2>&1) &
pid=$!
wait_tcp "$OT_PORT"
warm_up "$OT_PORT"
for proto in $PROTOCOLS; do run_bench opentracker "$proto" "$OT_PORT"; done
stop_tracker

"${pin_tracker[@]}" "$gale" tracker --http "127.0.0.1:$GALE_PORT" --udp "127.0.0.1:$GALE_PORT" \
	--whitelist "$work/whitelist" 2>"$work/gale-tracker.log" &
pid=$!
status=0
if wait_tcp "$GALE_PORT"; then
	warm_up "$GALE_PORT"
	for proto in $PROTOCOLS; do run_bench gale "$proto" "$GALE_PORT"; done
else
	log "gale tracker did not start:"
	tail -5 "$work/gale-tracker.log" >&2
	status=1
	for proto in $PROTOCOLS; do echo '{}' >"$work/gale-$proto.json"; done
fi
stop_tracker

# field FILE KEY: a number from gale bench --json output (0 if absent).
field() {
	local v
	v=$(sed -n "s/^ *\"$2\": \([0-9.e+-]*\),\{0,1\}$/\1/p" "$1" | head -1)
	echo "${v:-0}"
}

echo
echo "tracker benchmark: $TORRENTS torrents, $PEERS peers, numwant $NUMWANT, $DURATION per run"
echo "tracker pinned to CPU 0, load (gale bench) to CPU 1; HTTP: one connection per request"
echo "(a tracker core under 100% busy means the load generator, not the tracker, was the limit)"
echo
printf '%-6s %-22s %14s %14s %8s\n' proto metric opentracker gale ratio
for proto in $PROTOCOLS; do
	ot="$work/opentracker-$proto.json" ga="$work/gale-$proto.json"
	read -r ocpu obusy <"$work/opentracker-$proto.cpu" || true
	read -r gcpu gbusy <"$work/gale-$proto.cpu" || true
	awk -v p="$proto" \
		-v oc="${ocpu:-0}" -v gc="${gcpu:-0}" -v ob="${obusy:-0}" -v gb="${gbusy:-0}" \
		-v on="$(field "$ot" responses)" -v gn="$(field "$ga" responses)" \
		-v or="$(field "$ot" responses_per_second)" -v gr="$(field "$ga" responses_per_second)" \
		-v op="$(field "$ot" p99_us)" -v gp="$(field "$ga" p99_us)" \
		-v oe="$(field "$ot" errors)" -v ge="$(field "$ga" errors)" \
		-v ot="$(field "$ot" timeouts)" -v gt="$(field "$ga" timeouts)" '
		function ratio(a, b) { return b > 0 ? sprintf("%.2fx", a / b) : "-" }
		BEGIN {
			printf "%-6s %-22s %14.0f %14.0f %8s\n", p, "announces/s", or, gr, ratio(gr, or)
			printf "%-6s %-22s %14.0f %14.0f %8s\n", p, "p99 latency (us)", op, gp, ratio(gp, op)
			printf "%-6s %-22s %14d %14d\n", p, "errors+timeouts", oe + ot, ge + gt
			ou = on > 0 ? 1e6 * oc / on : 0; gu = gn > 0 ? 1e6 * gc / gn : 0
			printf "%-6s %-22s %14.1f %14.1f %8s\n", p, "tracker CPU us/announce", ou, gu, ratio(gu, ou)
			printf "%-6s %-22s %13.0f%% %13.0f%%\n", p, "tracker core busy", ob, gb
		}'
done
exit $status
