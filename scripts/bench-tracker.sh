#!/usr/bin/env bash
# bench-tracker.sh (make bench-tracker): gale tracker beside opentracker
# under the same load, on loopback, in about three minutes.
#
# Both trackers get the same whitelist of $TORRENTS info hashes (Debian's
# opentracker is a whitelist build) and the same load: $PEERS simulated
# peers announcing with numwant $NUMWANT, over UDP (BEP 15, gale bench)
# and HTTP with one connection per request (wrk running a script written
# by `gale bench --wrk-lua`, and gale bench). For each protocol:
#
#  (a) plain runs: tracker pinned to CPU 0, load to CPU 1: announces/s,
#      p50/p99 latency, how busy CPU 0 was. When CPU 0 is not ~100% busy
#      the load generator, not the tracker, was the limit.
#  (b) equal-CPU-budget runs: the tracker in a cgroup with a CPU quota
#      (QUOTA_UDP / QUOTA_HTTP percent of one core) while the load keeps a
#      whole core, so each tracker does what that budget allows. The
#      cgroup's throttling counters show whether the budget really was
#      the limit (saturated); a ratio means something only when both were.
#      HTTP runs with wrk at each of HTTP_BUDGET_CONCURRENCY connections and
#      with gale bench at the largest.
#  (c) tracker CPU time per announce: user+system from /proc/PID/stat
#      (all threads, kernel network work included) over each run.
#
# Then the state snapshot: a gale tracker filled with $SNAPSHOT_PEERS peers
# over $SNAPSHOT_TORRENTS torrents; latency without saves, then restarted
# from the saved state and saving every second while under load.
#
# Environment: DURATION (8s per run), TORRENTS (1000), PEERS (10000),
# NUMWANT (50), SEEDERS (0.25), UDP_CONCURRENCY (128), UDP_SOCKETS (16), HTTP_CONCURRENCY
# (64, plain runs), HTTP_BUDGET_CONCURRENCY ("64 1024"), PROTOCOLS ("udp http"), QUOTA_UDP (40), QUOTA_HTTP (25) in percent
# of one core (0 skips the budget runs) per QUOTA_PERIOD_MS (100) ms, HTTP_LOAD (auto: both; wrk; gale),
# SNAPSHOT_PEERS (1000000; 0 skips), SNAPSHOT_TORRENTS (100000), OT_PORT
# (16969), GALE_PORT (26969), KEEP=1 keeps the work directory (the JSON of
# every run, logs), NET (loopback, or netns; see "The network" below). Root is needed for apt-get (opentracker, wrk), the
# cgroup and sysctl; without it the script runs what it can and says
# what it skipped.
set -euo pipefail

DURATION=${DURATION:-8s}
TORRENTS=${TORRENTS:-1000}
PEERS=${PEERS:-10000}
NUMWANT=${NUMWANT:-50}
SEEDERS=${SEEDERS:-0.25}
UDP_CONCURRENCY=${UDP_CONCURRENCY:-128}
# A tracker hears from many clients, each its own address and port: the
# UDP load comes from this many sockets (the requests in flight are shared
# out among them).
UDP_SOCKETS=${UDP_SOCKETS:-16}
HTTP_CONCURRENCY=${HTTP_CONCURRENCY:-64}
# Under a budget the tracker is stopped for most of each quota period.
# With few connections its accept queue runs dry soon after it runs again,
# and it idles and wakes per connection until the load reacts; with many
# it works through a deep queue. The trackers' costs depend on this (each
# saves per connection when it handles many per wakeup), so the budget
# runs use several connection counts.
HTTP_BUDGET_CONCURRENCY=${HTTP_BUDGET_CONCURRENCY:-"64 1024"}
budget_max=$(echo "$HTTP_BUDGET_CONCURRENCY" | tr ' ' '\n' | sort -n | tail -1)
PROTOCOLS=${PROTOCOLS:-"udp http"}
QUOTA_UDP=${QUOTA_UDP:-40}
QUOTA_HTTP=${QUOTA_HTTP:-25}
QUOTA_PERIOD_MS=${QUOTA_PERIOD_MS:-100}
# UDP at equal load: paced runs at these fractions of opentracker's
# announces per second in its plain run ("" skips them).
UDP_RATE_FRACTIONS=${UDP_RATE_FRACTIONS:-"0.5 0.9"}
udp_rates=""
HTTP_LOAD=${HTTP_LOAD:-auto}
SNAPSHOT_PEERS=${SNAPSHOT_PEERS:-1000000}
SNAPSHOT_TORRENTS=${SNAPSHOT_TORRENTS:-100000}
OT_PORT=${OT_PORT:-16969}
GALE_PORT=${GALE_PORT:-26969}
NET=${NET:-loopback}

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/gale-bench-tracker.XXXXXX)
chmod 755 "$work" # opentracker drops to nobody inside its chroot
pid=""
cg="" cg_kind="" cg_root="" cg_note=""
tw_restore=""

log() { echo "bench-tracker: $*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }

stop_tracker() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	pid=""
}

cleanup() {
	stop_tracker
	for p in ${ot_pid:-} ${gale_pid:-}; do
		kill "$p" 2>/dev/null || true
	done
	if [ -n "$cg" ] && [ -d "$cg" ]; then
		rmdir "$cg" 2>/dev/null || log "could not remove cgroup $cg"
	fi
	[ -n "$ns_t" ] && ip netns del "$ns_t" 2>/dev/null
	[ -n "$ns_l" ] && ip netns del "$ns_l" 2>/dev/null
	if [ -n "$tw_restore" ]; then
		sysctl -q -w net.ipv4.tcp_tw_reuse="$tw_restore" >/dev/null 2>&1 || true
	fi
	if [ "${KEEP:-}" = 1 ]; then
		log "work directory kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

apt_install() {
	is_root || return 1
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
}

if ! command -v opentracker >/dev/null; then
	log "installing opentracker"
	apt_install opentracker || { log "opentracker is missing and cannot be installed (apt-get needs root)"; exit 1; }
fi
if [ "$HTTP_LOAD" != gale ] && ! command -v wrk >/dev/null; then
	log "installing wrk"
	apt_install wrk || log "wrk is missing and cannot be installed: HTTP load by gale bench only"
fi
command -v wrk >/dev/null || HTTP_LOAD=gale
command -v curl >/dev/null || apt_install curl || true

pin_tracker=() pin_load=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	pin_tracker=(taskset -c 0) pin_load=(taskset -c 1)
else
	log "fewer than 2 CPUs or no taskset: not pinning (figures will be lower)"
fi

# The network. On loopback the kernel runs the receive side of every
# packet on the CPU that sent it: the load's CPU does the tracker's TCP
# handshakes and the tracker's CPU the client's receives, so a load on one
# core cannot saturate a tracker on the other and HTTP figures come out
# load-bound (compare the trackers' CPU per announce, or use the budget
# runs). This is the set-up the tracker issue's reference figures come
# from, and the default. NET=netns (root) instead gives each side a
# network namespace of its own joined by a veth pair, with receive packet
# steering (RPS) sending each side's received packets to its own CPU, as
# two machines on a wire would: the tracker's CPU does all of the
# tracker's network work and none of the client's. On a virtual machine
# every such cross-CPU hand-off is an inter-processor interrupt, which
# costs a VM exit, so there the kernel's share of every request grows and
# the trackers' own differences shrink. The addresses are from
# 198.18.0.0/15 (RFC 2544, for benchmarks), in namespaces this script
# makes and removes. NET=auto picks netns when it can.
host=127.0.0.1 in_load=() in_tracker=() remote=() net_desc="loopback (127.0.0.1)"
ns_t="" ns_l=""
if [ "$NET" = auto ]; then
	NET=loopback
	is_root && command -v ip >/dev/null && [ ${#pin_tracker[@]} -gt 0 ] && NET=netns
fi
if [ "$NET" = netns ]; then
	ns_t=galebench-t$$ ns_l=galebench-l$$
	if ip netns add "$ns_t" && ip netns add "$ns_l" &&
		ip link add gbt$$ type veth peer name gbl$$ &&
		ip link set gbt$$ netns "$ns_t" && ip link set gbl$$ netns "$ns_l" &&
		ip -n "$ns_t" addr add 198.18.0.1/30 dev gbt$$ && ip -n "$ns_l" addr add 198.18.0.2/30 dev gbl$$ &&
		ip -n "$ns_t" link set lo up && ip -n "$ns_l" link set lo up &&
		ip -n "$ns_t" link set gbt$$ up && ip -n "$ns_l" link set gbl$$ up &&
		ip netns exec "$ns_t" sh -c "echo 1 >/sys/class/net/gbt$$/queues/rx-0/rps_cpus" &&
		ip netns exec "$ns_l" sh -c "echo 2 >/sys/class/net/gbl$$/queues/rx-0/rps_cpus" &&
		ip netns exec "$ns_l" sysctl -q -w net.ipv4.ip_local_port_range="1024 65535" >/dev/null; then
		host=198.18.0.1 in_load=(ip netns exec "$ns_l") in_tracker=(ip netns exec "$ns_t") remote=(--allow-remote)
		pin_tracker=(ip netns exec "$ns_t" "${pin_tracker[@]}") pin_load=(ip netns exec "$ns_l" "${pin_load[@]}")
		net_desc="two network namespaces joined by veth, RPS: tracker side on CPU 0, load side on CPU 1 (198.18.0.1 <- 198.18.0.2)"
	else
		log "could not set up the network namespaces: falling back to loopback"
		NET=loopback
	fi
fi

# Ports: each HTTP run opens about 10^5 connections. The trackers close
# first, so TIME_WAIT sits on their side and does not hold client ports;
# when wrk closes first its port needs tcp_tw_reuse (1, or 2 = loopback
# only, the kernel default since 4.19) to be reused at once.
tw=$(sysctl -n net.ipv4.tcp_tw_reuse 2>/dev/null || echo "?")
if [ "$tw" = 0 ]; then
	if is_root && sysctl -q -w net.ipv4.tcp_tw_reuse=1 >/dev/null 2>&1; then
		tw_restore=0 tw="1 (set for this run, restored at exit)"
	else
		tw="0 (not root: HTTP runs may run out of ports)"
	fi
fi

# The CPU budget: a cgroup v1 cpu controller, else v2 with cpu enabled.
setup_cgroup() {
	local d r
	if [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
		d=/sys/fs/cgroup/cpu/galebench.$$
		if mkdir "$d" 2>/dev/null; then
			cg=$d cg_kind=v1 cg_root=/sys/fs/cgroup/cpu
			echo $((QUOTA_PERIOD_MS * 1000)) >"$d/cpu.cfs_period_us"
			return 0
		fi
	fi
	for r in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		[ -f "$r/cgroup.controllers" ] || continue
		if ! grep -qw cpu "$r/cgroup.controllers"; then
			cg_note="cgroup v2 at $r has no cpu controller"
			continue
		fi
		grep -qw cpu "$r/cgroup.subtree_control" || echo +cpu >"$r/cgroup.subtree_control" 2>/dev/null || true
		d=$r/galebench.$$
		if mkdir "$d" 2>/dev/null && [ -f "$d/cpu.max" ]; then
			cg=$d cg_kind=v2 cg_root=$r
			return 0
		fi
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
	cg_note=${cg_note:-"no writable cgroup with a CPU quota (not root, or no cpu controller)"}
	return 1
}
cg_quota() { # PERCENT of one core in each period of QUOTA_PERIOD_MS
	if [ "$cg_kind" = v1 ]; then
		echo $(($1 * QUOTA_PERIOD_MS * 10)) >"$cg/cpu.cfs_quota_us"
	else
		echo "$(($1 * QUOTA_PERIOD_MS * 10)) $((QUOTA_PERIOD_MS * 1000))" >"$cg/cpu.max"
	fi
}
cg_stat() { # prints: periods throttled-periods throttled-ms
	awk -v kind="$cg_kind" '
		$1 == "nr_periods" { p = $2 } $1 == "nr_throttled" { t = $2 }
		$1 == "throttled_time" && kind == "v1" { ms = $2 / 1e6 }
		$1 == "throttled_usec" && kind == "v2" { ms = $2 / 1e3 }
		END { printf "%d %d %.0f\n", p, t, ms }' "$cg/cpu.stat"
}
quota=1
if [ "$QUOTA_UDP" = 0 ] || [ "$QUOTA_HTTP" = 0 ]; then
	quota=0 cg_note="skipped (QUOTA_UDP or QUOTA_HTTP is 0)"
elif ! setup_cgroup; then
	quota=0
	log "equal-CPU-budget runs unavailable: $cg_note"
fi

log "building gale"
(cd "$root" && go build -o "$work/gale" ./cmd/gale)
gale="$work/gale"
"$gale" bench --print-infohashes --torrents "$TORRENTS" >"$work/whitelist"

# wait_tcp PORT: until something accepts connections on $host:PORT.
wait_tcp() {
	for _ in $(seq 100); do
		if "${in_load[@]}" bash -c "exec 3<>/dev/tcp/$host/$1" 2>/dev/null; then return 0; fi
		kill -0 "$pid" 2>/dev/null || { log "tracker exited"; return 1; }
		sleep 0.1
	done
	log "nothing listens on port $1"
	return 1
}

# proc_ticks PID: user+system CPU time of a process (all threads), ticks.
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# cpu0_ticks: total and idle ticks of CPU 0.
cpu0_ticks() { awk '/^cpu0 /{t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $5 + $6}' /proc/stat; }
hz=$(getconf CLK_TCK)

# field FILE KEY: a number from a JSON result (0 if absent).
field() {
	local v
	v=$(sed -n "s/^ *\"$2\": \([0-9.e+-]*\),\{0,1\}$/\1/p" "$1" 2>/dev/null | head -1)
	echo "${v:-0}"
}

# load PROTO PORT SECONDS OUT TOOL CONC: one bounded load run on the load
# CPU (TOOL gale or wrk, CONC requests in flight), JSON result to OUT.
load() {
	local proto=$1 port=$2 dur=$3 out=$4 tool=$5 conc=$6
	local url="$proto://$host:$port/announce" sock_flag=()
	[ "$proto" = udp ] && sock_flag=(--sockets "$UDP_SOCKETS")
	if [ "$tool" = wrk ]; then
		[ -f "$work/wrk-$port.lua" ] || "$gale" bench "${remote[@]}" --wrk-lua "$work/wrk-$port.lua" --url "$url" \
			--infohashes "$work/whitelist" --peers "$PEERS" --numwant "$NUMWANT" --seeders "$SEEDERS"
		timeout 120 "${pin_load[@]}" wrk -t1 -c"$conc" -d"$dur" --timeout 2s \
			-s "$work/wrk-$port.lua" "$url" >"$out.raw" 2>&1 || true
		sed -n '/^{"load"/,/^}$/p' "$out.raw" >"$out"
	else
		timeout 120 "${pin_load[@]}" "$gale" bench "${remote[@]}" --json --url "$url" --peers "$PEERS" \
			--numwant "$NUMWANT" --seeders "$SEEDERS" --concurrency "$conc" --duration "$dur" \
			"${rate_flag[@]}" "${sock_flag[@]}" --infohashes "$work/whitelist" >"$out" 2>"$out.err" || true
	fi
	[ -s "$out" ] || { log "load run $out failed: $(tail -2 "$out.raw" "$out.err" 2>/dev/null | tr '\n' ' ')"; echo '{}' >"$out"; }
}

rate_flag=()

# measure NAME PROTO PORT KIND TOOL [CONC]: one measured run; KIND is
# plain or quota, or rate (UDP at the same paced load for both trackers:
# then the sixth argument is the rate in requests per second). Writes $work/NAME-PROTO-KIND-TOOL[-cCONC].json and .cpu
# (tracker CPU seconds, CPU 0 busy %, cgroup periods, throttled periods,
# throttled ms).
measure() {
	local name=$1 proto=$2 port=$3 kind=$4 tool=$5 t0 t1 c0 c1 s0="0 0 0" s1="0 0 0" q=0 what=""
	local out="$work/$name-$proto-$kind-$tool.json" conc=$UDP_CONCURRENCY
	[ "$proto" = http ] && conc=$HTTP_CONCURRENCY
	if [ "$kind" = rate ]; then
		conc=4096 out="$work/$name-$proto-$kind-$tool-r$6.json" rate_flag=(--rate "$6") what=" at $6/s"
	elif [ -n "${6:-}" ]; then
		conc=$6 out="$work/$name-$proto-$kind-$tool-c$6.json"
	fi
	if [ "$kind" = quota ]; then
		q=$QUOTA_UDP
		[ "$proto" = http ] && q=$QUOTA_HTTP
		what=" at a ${q}% budget"
	fi
	[ "$proto" = http ] && what="$what (TIME_WAIT sockets: $("${in_tracker[@]}" ss -tan state time-wait 2>/dev/null | tail -n +2 | wc -l))"
	log "$name $proto: $DURATION of $tool, $conc in flight$what"
	if [ "$kind" = quota ]; then
		cg_quota "$q"
		echo "$pid" >"$cg/cgroup.procs"
		s0=$(cg_stat)
	fi
	t0=$(proc_ticks "$pid") c0=$(cpu0_ticks)
	load "$proto" "$port" "$DURATION" "$out" "$tool" "$conc"
	rate_flag=()
	t1=$(proc_ticks "$pid") c1=$(cpu0_ticks)
	if [ "$kind" = quota ]; then
		s1=$(cg_stat)
		echo "$pid" >"$cg_root/cgroup.procs"
	fi
	echo "$((t1 - t0)) $c0 $c1 $s0 $s1" | awk -v hz="$hz" '{
		busy = ($4 - $2) > 0 ? 100 * (1 - ($5 - $3) / ($4 - $2)) : 0
		print $1 / hz, busy, $9 - $6, $10 - $7, $11 - $8 }' >"${out%.json}.cpu"
	sleep 1
}

# HTTP loads; the summary quotes the one that got more answers per second
# from opentracker in the plain runs.
case $HTTP_LOAD in
gale) http_tools=gale ;;
wrk) http_tools=wrk ;;
*) http_tools="wrk gale" ;;
esac
http_tool=""

# pair PROTO KIND TOOL [ARG]: the same run against opentracker, then
# against gale, back to back, so that both meet the same machine.
pair() {
	local proto=$1
	shift
	pid=$ot_pid
	measure opentracker "$proto" "$OT_PORT" "$@"
	pid=$gale_pid
	measure gale "$proto" "$GALE_PORT" "$@"
	pid=""
}

# bench_both: the plain runs, then the budget runs, each kind of run
# against both trackers in turn.
bench_both() {
	local proto tool port
	# Warm up: both trackers load their whitelist (opentracker does so in
	# the background) and hold the swarms before anything is measured.
	for port in "$OT_PORT" "$GALE_PORT"; do
		timeout 30 "${pin_load[@]}" "$gale" bench "${remote[@]}" --url "udp://$host:$port/announce" --numwant 0 \
			--infohashes "$work/whitelist" --peers "$PEERS" --duration 1s >/dev/null 2>&1 || true
	done
	for proto in $PROTOCOLS; do
		if [ "$proto" = udp ]; then
			pair udp plain gale
			# The same paced loads for both trackers, below what either
			# answers: latency at equal load.
			udp_rates=$(awk -v r="$(field "$work/opentracker-udp-plain-gale.json" responses_per_second)" -v f="$UDP_RATE_FRACTIONS" \
				'BEGIN { n = split(f, F, " "); for (i = 1; i <= n; i++) printf "%s%d", (i > 1 ? " " : ""), int(r * F[i] / 1000) * 1000 }')
			for r in $udp_rates; do
				[ "$r" -gt 0 ] && pair udp rate gale "$r"
			done
		else
			for tool in $http_tools; do pair http plain "$tool"; done
		fi
	done
	if [ -z "$http_tool" ]; then
		http_tool=${http_tools%% *}
		if [ "$http_tools" = "wrk gale" ]; then
			http_tool=$(awk -v w="$(field "$work/opentracker-http-plain-wrk.json" responses_per_second)" \
				-v g="$(field "$work/opentracker-http-plain-gale.json" responses_per_second)" \
				'BEGIN { print (g > w ? "gale" : "wrk") }')
		fi
	fi
	if [ "$quota" = 1 ]; then
		for proto in $PROTOCOLS; do
			if [ "$proto" = udp ]; then
				pair udp quota gale
			else
				for c in $HTTP_BUDGET_CONCURRENCY; do
					for tool in $http_tools; do
						# gale bench needs a deep queue (see above): only at the largest
						[ "$tool" = gale ] && [ "$http_tools" != gale ] && [ "$c" != "$budget_max" ] && continue
						pair http quota "$tool" "$c"
					done
				done
			fi
		done
	fi
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load_start=$(loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')

# Both trackers run on CPU 0 for the whole comparison (the one not being
# measured is idle) and meet each kind of load in turn.
# opentracker: -p TCP port, -P UDP port, -i bind address, -w whitelist,
# -d chroot directory (it chroots and drops to nobody when run as root).
(cd "$work" && exec "${pin_tracker[@]}" opentracker -i "$host" -p "$OT_PORT" -P "$OT_PORT" \
	-w whitelist -d "$work" >"$work/opentracker.log" 2>&1) &
ot_pid=$! pid=$!
wait_tcp "$OT_PORT"
status=0
"${pin_tracker[@]}" "$gale" tracker --http "$host:$GALE_PORT" --udp "$host:$GALE_PORT" \
	--whitelist "$work/whitelist" 2>"$work/gale-tracker.log" &
gale_pid=$! pid=$!
if wait_tcp "$GALE_PORT"; then
	pid=""
	bench_both
else
	log "gale tracker did not start:"
	tail -5 "$work/gale-tracker.log" >&2
	status=1
fi
pid=$ot_pid
stop_tracker
pid=$gale_pid
stop_tracker
ot_pid="" gale_pid=""

# The snapshot: fill a gale tracker with SNAPSHOT_PEERS peers (state saved
# every hour, so never during the baseline), measure, stop (it saves),
# restart from the saved state saving every second, measure again.
snapshot=0
if [ "$SNAPSHOT_PEERS" -gt 0 ] && [ "$status" = 0 ]; then
	snapshot=1
	state=$work/tracker.state
	"$gale" bench --print-infohashes --torrents "$SNAPSHOT_TORRENTS" >"$work/snap-hashes"
	snap_tracker() { # STATE-INTERVAL LOG
		printf 'state = "%s"\nstate-interval = "%s"\n' "$state" "$1" >"$work/snap.toml"
		"${pin_tracker[@]}" "$gale" tracker --config "$work/snap.toml" --http "$host:$GALE_PORT" \
			--udp "$host:$GALE_PORT" 2>"$2" &
		pid=$!
		wait_tcp "$GALE_PORT"
	}
	snap_load() { # PROTO OUT [gale bench flags]
		local proto=$1 out=$2 conc=$UDP_CONCURRENCY
		shift 2
		[ "$proto" = http ] && conc=$HTTP_CONCURRENCY
		timeout 120 "${pin_load[@]}" "$gale" bench "${remote[@]}" --json --url "$proto://$host:$GALE_PORT/announce" \
			--infohashes "$work/snap-hashes" --peers "$SNAPSHOT_PEERS" --seeders "$SEEDERS" \
			--concurrency "$conc" "$@" >"$out" 2>"$out.err" || { log "snapshot load failed: $(cat "$out.err")"; echo '{}' >"$out"; }
	}
	stats_peers() {
		"${in_load[@]}" curl -s "http://$host:$GALE_PORT/stats.json" 2>/dev/null | tr ',{}' '\n\n\n' |
			sed -n 's/^ *"peers": *\([0-9]*\).*/\1/p' | head -1
	}
	log "snapshot: filling a gale tracker with $SNAPSHOT_PEERS peers over $SNAPSHOT_TORRENTS torrents"
	snap_tracker 1h "$work/snap-1.log"
	filled=0
	for _ in 1 2; do # every peer announces once, numwant 0
		snap_load udp "$work/snap-fill.json" --numwant 0 --once --duration 60s
		filled=$(stats_peers)
		[ "${filled:-0}" -ge "$SNAPSHOT_PEERS" ] && break
		log "snapshot: ${filled:-?} peers so far"
	done
	log "snapshot: $filled peers; runs without saving"
	for proto in udp http; do
		snap_load "$proto" "$work/snap-base-$proto.json" --numwant "$NUMWANT" --duration 5s
		sleep 1
	done
	stop_tracker # saves the state on the way out
	log "snapshot: restart from the state file ($(du -h "$state" | cut -f1)), saving every second"
	snap_tracker 1s "$work/snap-2.log"
	restored=$(stats_peers)
	# The first announces after the restart get the peers from before.
	snap_load udp "$work/snap-first.json" --numwant "$NUMWANT" --duration 300ms --peers 1000
	for proto in udp http; do
		snap_load "$proto" "$work/snap-save-$proto.json" --numwant "$NUMWANT" --duration 5s
		sleep 1
	done
	stop_tracker
fi

# ---------------------------------------------------------------- report

echo
echo "== gale tracker vs opentracker, $started"
echo "machine: $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)), Linux $(uname -r)," \
	"$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "load average: $load_start at start, $(loadavg) at end"
echo "versions: gale $(cd "$root" && git describe --always --dirty 2>/dev/null || echo '?') ($(go version | cut -d' ' -f3))," \
	"opentracker $(dpkg-query -W -f '${Version}' opentracker 2>/dev/null || echo '?')," \
	"wrk $(dpkg-query -W -f '${Version}' wrk 2>/dev/null || echo '-')"
echo "load: $TORRENTS whitelisted torrents, $PEERS peers (seeders $SEEDERS), numwant $NUMWANT, $DURATION per run;" \
	"UDP $UDP_CONCURRENCY requests in flight from $UDP_SOCKETS sockets; HTTP one connection per request, $HTTP_CONCURRENCY at a time" \
	"(${HTTP_BUDGET_CONCURRENCY// /, } under a budget)"
if [ ${#pin_tracker[@]} -gt 0 ]; then
	echo "pinning: tracker on CPU 0, load on CPU 1 (taskset)"
else
	echo "pinning: NONE (fewer than 2 CPUs or no taskset)"
fi
echo "network: $net_desc"
echo "net.ipv4.tcp_tw_reuse: $tw"
if [ "$quota" = 1 ]; then
	echo "CPU budget: cgroup $cg_kind quota, UDP ${QUOTA_UDP}% / HTTP ${QUOTA_HTTP}% of one core per ${QUOTA_PERIOD_MS} ms period," \
		"tracker still on CPU 0"
else
	echo "CPU budget runs: NOT AVAILABLE: $cg_note"
fi

# runstats RUN: the numbers of one run (RUN is e.g. gale-http-plain-wrk):
# 1 responses/s, 2 p50, 3 p99, 4 errors+timeouts, 5 tracker CPU s,
# 6 CPU 0 busy %, 7 periods, 8 throttled periods, 9 throttled ms,
# 10 responses, 11 wrk read errors.
runstats() {
	local j="$work/$1.json" c="$work/$1.cpu" cpu=0 busy=0 per=0 thr=0 thrms=0
	[ -f "$c" ] && read -r cpu busy per thr thrms <"$c"
	echo "$(field "$j" responses_per_second) $(field "$j" p50_us) $(field "$j" p99_us)" \
		"$(($(field "$j" errors) + $(field "$j" timeouts)))" "$cpu $busy $per $thr $thrms" \
		"$(field "$j" responses) $(field "$j" errors_read)"
}

# table TITLE RUN: opentracker and gale side by side for RUN (e.g.
# http-plain-wrk).
table() {
	local title=$1 run=$2
	[ -f "$work/opentracker-$run.json" ] || [ -f "$work/gale-$run.json" ] || return 0
	echo
	echo "-- $title"
	awk -v o="$(runstats "opentracker-$run")" -v g="$(runstats "gale-$run")" -v run="$run" '
		function ratio(a, b) { return b > 0 && a > 0 ? sprintf("%.2fx", a / b) : "-" }
		function row(label, a, b, r) { printf "  %-32s %16s %16s %8s\n", label, a, b, r }
		function us(x) { return x[10] > 0 ? 1e6 * x[5] / x[10] : 0 }
		function c0(x) { return x[1] > 0 ? sprintf("%.1f", 1e4 * x[6] / x[1]) : "-" }
		function sat(x) { return sprintf("%d/%d %s", x[8], x[7], (x[7] > 0 && x[8] >= x[7] / 2) ? "SAT" : "NOT-SAT") }
		function used(x) { return x[1] > 0 && x[10] > 0 ? sprintf("%.0f%%", 100 * x[5] / (x[10] / x[1])) : "-" }
		BEGIN {
			split(o, O, " "); split(g, G, " ")
			row("", "opentracker", "gale", "gale/ot")
			row("announces/s", sprintf("%.0f", O[1]), sprintf("%.0f", G[1]), ratio(G[1], O[1]))
			row("p50 latency (us)", O[2], G[2], ratio(G[2], O[2]))
			row("p99 latency (us)", O[3], G[3], ratio(G[3], O[3]))
			row("errors + timeouts", O[4], G[4], "")
			if (O[11] + G[11] > 0) row("wrk read errors (see notes)", O[11], G[11], "")
			if (run ~ /plain/) {
				row("CPU 0 busy (all processes)", sprintf("%.0f%%", O[6]), sprintf("%.0f%%", G[6]), "")
				row("CPU 0 time per announce (us)", c0(O), c0(G), ratio(c0(G), c0(O)))
			}
			else
				row("throttled periods", sat(O), sat(G), "")
			row("tracker CPU used (of one core)", used(O), used(G), "")
			row("tracker CPU per announce (us)", sprintf("%.1f", us(O)), sprintf("%.1f", us(G)), ratio(us(G), us(O)))
		}'
}

for proto in $PROTOCOLS; do
	if [ "$proto" = udp ]; then
		table "UDP, plain (gale bench)" udp-plain-gale
		for r in $udp_rates; do table "UDP, the same paced load for both: $r announces/s (gale bench)" "udp-rate-gale-r$r"; done
		[ "$quota" = 1 ] && table "UDP, equal CPU budget of ${QUOTA_UDP}% (gale bench)" udp-quota-gale
	else
		table "HTTP, plain (wrk)" http-plain-wrk
		table "HTTP, plain (gale bench)" http-plain-gale
		if [ "$quota" = 1 ]; then
			for c in $HTTP_BUDGET_CONCURRENCY; do
				table "HTTP, equal CPU budget of ${QUOTA_HTTP}%, $c connections (wrk)" "http-quota-wrk-c$c"
				table "HTTP, equal CPU budget of ${QUOTA_HTTP}%, $c connections (gale bench)" "http-quota-gale-c$c"
			done
		fi
	fi
done
echo
cat <<'NOTES'
Notes. Plain: a tracker using well under 100% of its core means the load
generator (CPU 1) was the limit, not the tracker; CPU 0 busy counts every
process there, so other work on the machine shows up as the difference.
Budget: SAT means throttled in at least half of the quota periods, i.e.
the budget was the limit; a ratio of announces/s compares the trackers
only when both are SAT, and p99 there includes the pauses of throttling.
Latency ratios: lower is better. wrk starts its clock once connected
(gale bench includes the handshake). wrk read errors: wrk counts one each
time a tracker closes a connection after an HTTP/1.1 answer without
"Connection: close" (opentracker does), as it tries to send the next
request on it; the answers are counted, but wrk pays a wasted write and
reconnect for each, which lowers the plain (load-bound) figure.
NOTES

if [ "$snapshot" = 1 ]; then
	echo
	echo "-- state snapshot: gale tracker with $filled peers over $SNAPSHOT_TORRENTS torrents (gale bench, numwant $NUMWANT, 5 s runs)"
	# durations of "state saved" lines in ms
	save_ms() { sed -n 's/.*msg="state saved".*duration=\([0-9.]*\)\([a-zµ]*\).*/\1 \2/p' "$1" |
		awk '{ m = ($2 == "s") ? 1000 : ($2 == "ms") ? 1 : ($2 == "µs" || $2 == "us") ? 0.001 : ($2 == "m") ? 60000 : 0; print $1 * m }'; }
	save_ms "$work/snap-1.log" | awk '{ printf "save at shutdown: %.0f ms\n", $1 }'
	sed -n 's/.*msg="state loaded".*peers=\([0-9]*\).*duration=\([0-9.a-zµ]*\).*/restart: loaded \1 peers in \2/p' "$work/snap-2.log"
	echo "restart: $restored peers in /stats.json right after the restart"
	printf 'restart: the first announces after it got %.1f peers each (before the restart: %.1f)\n' \
		"$(field "$work/snap-first.json" peers_per_response)" "$(field "$work/snap-base-udp.json" peers_per_response)"
	save_ms "$work/snap-2.log" | awk '{ n++; s += $1; if ($1 > m) m = $1 }
		END { if (n) printf "saving every second under load: %d saves, %.0f ms on average, %.0f ms at most (saving %.0f%% of the time)\n", n, s / n, m, s / n / 10 }'
	printf '%-6s %-20s %12s %8s %8s %8s %8s\n' proto run announces/s p50_us p99_us max_us errors
	for proto in udp http; do
		for r in base save; do
			f="$work/snap-$r-$proto.json"
			label="no save"
			[ "$r" = save ] && label="saving every 1 s"
			printf '%-6s %-20s %12.0f %8s %8s %8s %8s\n' "$proto" "$label" "$(field "$f" responses_per_second)" \
				"$(field "$f" p50_us)" "$(field "$f" p99_us)" "$(field "$f" max_us)" \
				"$(($(field "$f" errors) + $(field "$f" timeouts)))"
		done
	done
	echo "(when saves take more than 1% of the time, a stall during them would show in p99)"
fi

# summary RUN LABEL: one line of ratios gale/opentracker for RUN.
summary() {
	[ -f "$work/gale-$1.json" ] && [ -f "$work/opentracker-$1.json" ] || return 0
	awk -v o="$(runstats "opentracker-$1")" -v g="$(runstats "gale-$1")" -v label="$2" -v run="$1" '
		function us(x) { return x[10] > 0 ? 1e6 * x[5] / x[10] : 0 }
		function sat(x) { return x[7] > 0 && x[8] >= x[7] / 2 }
		function used(x) { return x[1] > 0 && x[10] > 0 ? 100 * x[5] / (x[10] / x[1]) : 0 }
		BEGIN {
			split(o, O, " "); split(g, G, " ")
			note = ""
			if (run ~ /quota/ && !(sat(O) && sat(G))) note = "  (NOT both saturated: ratio not meaningful)"
			if (run ~ /plain/ && (used(O) < 90 || used(G) < 90))
				note = sprintf("  (trackers used %.0f%%/%.0f%% of a core: load-bound)", used(G), used(O))
			printf "  %-36s %7.0f vs %7.0f/s = %5.2fx   p99 %6d vs %6d us   CPU/announce %5.1f vs %5.1f us = %4.2fx less%s\n",
				label, G[1], O[1], (O[1] > 0 ? G[1] / O[1] : 0), G[3], O[3], us(G), us(O),
				(us(G) > 0 ? us(O) / us(G) : 0), note
		}'
}
echo
echo "== summary: gale vs opentracker"
for proto in $PROTOCOLS; do
	if [ "$proto" = udp ]; then
		summary udp-plain-gale "UDP plain"
		for r in $udp_rates; do summary "udp-rate-gale-r$r" "UDP at $r/s"; done
		[ "$quota" = 1 ] && summary udp-quota-gale "UDP budget ${QUOTA_UDP}%"
	else
		for tool in $http_tools; do
			label=$tool
			[ "$tool" = gale ] && label="gale bench"
			summary "http-plain-$tool" "HTTP plain ($label)"
		done
		if [ "$quota" = 1 ]; then
			for c in $HTTP_BUDGET_CONCURRENCY; do
				for tool in $http_tools; do
					label=$tool
					[ "$tool" = gale ] && label="gale bench"
					summary "http-quota-$tool-c$c" "HTTP budget ${QUOTA_HTTP}% c$c ($label)"
				done
			done
		fi
	fi
done
[ -n "$http_tool" ] && echo "  (the faster HTTP load against opentracker in the plain runs: $http_tool)"
exit $status
