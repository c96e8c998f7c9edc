#!/usr/bin/env bash
# qos.sh - QoS between hosts (PARDA windows), measured on slated with an
# emulated contended device: three hosts (iscsi-load processes with their
# own initiator names) with shares 1:2:3 and different IO sizes (4 KiB;
# 8 KiB and 64 KiB; 128 KiB), each at queue depth 16, on a pool whose
# emulated device has 4 channels of 500 us + 200 MB/s each.
#
# Usage: bench/qos.sh [--json] [--quick]
#
# Two runs in one: the same load with QoS on (L = 6 ms, period 250 ms) and,
# as the peer, with QoS off.  Each run: all three hosts for a steady phase,
# then host 0 stops, and starts again a few seconds later.  Figures:
#   share-error     largest relative error of a host's share of the
#                   size-normalized throughput (8 KiB reference IOs by the
#                   device's cost model) against its share of the shares,
#                   from the API's per-host stats after a warm-up
#   latency-error   |average latency normalized to 8 KiB - L| / L, the
#                   latency the target sees (not the time a command waits in
#                   the initiator behind its window), as PARDA measures it
#   convergence-s   seconds from host 0's restart until every host's window
#                   is within 5% of its share and stays so for 1 s (QoS only)
#   total-units-per-s   size-normalized throughput of the three together
# The ratio column is QoS / no QoS (lower is better for the errors).  It
# never passes or fails on a figure; exit 1 only when a measurement could
# not run.
set -u

. "$(dirname "$0")/common.sh"
if ! make -s build/slated build/slate-store build/bench/iscsi-load >&2; then
	echo "qos.sh: building failed" >&2
	exit 1
fi

SHARES=(1000 2000 3000)
SIZES=("4k" "8k:50,64k:50" "128k")
FIXED_US=500
BYTES_PER_US=200 # 200 MB/s per channel
THRESHOLD_US=6000
if [ "$quick" -eq 1 ]; then steady_s=10 warm_s=4 gap_s=3 after_s=8; else steady_s=25 warm_s=5 gap_s=5 after_s=15; fi

scratch=$(mktemp -d /dev/shm/qos-bench.XXXXXX) || exit 1
daemon_pid=
cleanup() {
	[ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null
	jobs -p | xargs -r kill 2>/dev/null
	rm -rf "$scratch"
}
trap cleanup EXIT

start_slated() { # start_slated DIR: a fresh pool on the emulated device
	build/slate-store "$1/pool" pool create --capacity 8G >/dev/null &&
		build/slate-store "$1/pool" pool emulate --channels 4 --service-us $FIXED_US \
			--mbps $BYTES_PER_US >/dev/null || return 1
	build/slated --data "$1/pool" --iscsi 127.0.0.1:0 --nfs 127.0.0.1:0 --portmap off \
		--api 127.0.0.1:0 2>"$1/slated.log" &
	daemon_pid=$!
	for _ in $(seq 100); do grep -qs 'ready;' "$1/slated.log" && break; sleep 0.1; done
	port=$(sed -n 's/.*iSCSI: listening on 127.0.0.1:\([0-9]*\),.*/\1/p' "$1/slated.log")
	api_url=http://127.0.0.1:$(sed -n 's,.*API: listening on http://127\.0\.0\.1:\([0-9]*\)/.*,\1,p' \
		"$1/slated.log")/api/v1
	token=$(cat "$1/pool/admin-token" 2>/dev/null)
	[ -n "$port" ] && [ -n "$token" ]
}
api() {
	curl -s -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
		${3:+-d "$3"} "$api_url$2"
}
load() { # load DIR I SECONDS: host I in the background
	build/bench/iscsi-load --initiator "iqn.2026-12.dev.bench:host-$2" --sizes "${SIZES[$2]}" \
		--qd 16 --seconds "$3" --json \
		"iscsi://127.0.0.1:$port/iqn.2026-11.dev.slate:demo/0" >"$1/host-$2.json" 2>>"$1/load.err" &
}

# run WHO QOS: one run; records its figures under WHO
run() {
	local who=$1 qos=$2 dir=$scratch/$1 t0 i
	mkdir -p "$dir"
	if ! start_slated "$dir"; then
		fail "$who: slated did not start ($(tail -n 3 "$dir/slated.log" | tr '\n' '|'))"
		return
	fi
	for i in 0 1 2; do api PUT "/qos-hosts/iqn.2026-12.dev.bench:host-$i" "{\"shares\":${SHARES[$i]}}" >/dev/null; done
	# the device is known here: its cost model is given, not learned
	api PATCH /qos-settings "{\"enabled\":$qos,\"latency_threshold_us\":$THRESHOLD_US,\"period_ms\":250,\"device_fixed_us\":$FIXED_US,\"device_us_per_mib\":$((1048576 / BYTES_PER_US))}" >/dev/null
	# steady phase: measured after warm_s, when the controller has learned
	for i in 0 1 2; do load "$dir" "$i" "$steady_s"; done
	local since; since=$(date -u -d "+${warm_s} seconds" +%Y-%m-%dT%H:%M:%SZ)
	wait $(jobs -p | grep -vx "$daemon_pid")
	local until; until=$(date -u -d "-1 seconds" +%Y-%m-%dT%H:%M:%SZ)
	sleep 1.5 # the last second is sampled
	for i in 0 1 2; do
		api GET "/stats?series=host:iqn.2026-12.dev.bench:host-$i&resolution=1&since=$since&until=$until" \
			>"$dir/stats-$i.json"
	done
	read -r share_err lat_err units <<<"$(/usr/bin/python3 bench/qos_calc.py steady "$dir" \
		$FIXED_US $BYTES_PER_US $THRESHOLD_US "${SHARES[@]}")"
	if [ -z "${share_err:-}" ]; then
		fail "$who: the steady phase gave no figures ($(tail -n 2 "$dir/load.err" | tr '\n' '|'))"
	else
		record "$who" share-error "$share_err"
		record "$who" latency-error "$lat_err"
		record "$who" total-units-per-s "$(awk -v u="$units" 'BEGIN { n = split(u, a, " "); for (i = 1; i <= n; i++) s += a[i]; print s }')"
	fi
	# host 0 stops, the others go on; it restarts after gap_s
	t0=$(date +%s.%N)
	load "$dir" 1 $((gap_s + after_s)); load "$dir" 2 $((gap_s + after_s))
	sleep "$gap_s"
	local restart; restart=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { print a - b }')
	load "$dir" 0 "$after_s"
	: >"$dir/status.log"
	local end=$(( $(date +%s) + after_s ))
	while [ "$(date +%s)" -lt "$end" ]; do
		printf '%s %s\n' "$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { print a - b }')" \
			"$(api GET /qos-status | tr -d '\n')" >>"$dir/status.log"
		sleep 0.25
	done
	wait $(jobs -p | grep -vx "$daemon_pid")
	if [ "$qos" = true ]; then
		local conv; conv=$(/usr/bin/python3 bench/qos_calc.py converge "$dir/status.log" "$restart" "${SHARES[@]}")
		if [ "$conv" = "-1" ]; then
			log "$who: the windows did not converge within ${after_s} s of the restart"
		else
			record "$who" convergence-s "$conv"
		fi
	fi
	kill -TERM "$daemon_pid"; wait "$daemon_pid"; daemon_pid=
}

run slated true
run noqos false

rows=()
peer_rows noqos share-error:ratio latency-error:ratio total-units-per-s:ref-IO/s
rows+=("convergence-s|$(median "${samples[slated:convergence-s]:-}")|||s")
print_results \
	"{\"bench\":\"qos\",\"mode\":\"$mode\",\"machine\":{\"cpus\":$cpus,\"mem_gib\":$mem_gib,\"kernel\":$(json_str "$kernel")},\"slate\":$(json_str "$slate_rev"),\"device\":\"emulated: 4 channels x (500 us + 200 MB/s)\",\"threshold_us\":$THRESHOLD_US,\"shares\":[1000,2000,3000],\"results\":[" \
	"# qos bench ($mode; 3 hosts, shares 1:2:3, sizes 4k / 8k+64k / 128k, QD16 each, on an emulated device of 4 x (500 us + 200 MB/s); L = $THRESHOLD_US us; peer: the same without QoS)
# machine: $cpus cpus, $mem_gib GiB, kernel $kernel, slate $slate_rev"
finish
