#!/usr/bin/env bash
# bench-cluster.sh: the cost of replication, as ratios measured in one run
# on one machine.
#
#   throughput  PUT and GET of 4 KiB and 1 MiB blobs with the same
#               `strata bench` client against a 3-node loopback cluster
#               (N=3, W=2, R=2; the client talks to node 1) and against one
#               node alone (N=1), runs alternating; prints ops/s, p99 and the
#               cluster/single ratios (median of the per-pair ratios).
#   catch-up    node 3 stopped, 100k writes of 1 KiB (uniform keys) through
#               node 1, node 3 restarted: seconds until node 3's index holds
#               as many blobs as node 1's (hints replay + anti-entropy).
#
# Usage: scripts/bench-cluster.sh [--dir DIR] [--duration D] [--repeat N]
#                                 [--writes N] [--keep] [TEST...]
#   TEST        throughput, catch-up (default both)
#   --dir       node data (default a temp dir in /var/tmp)
#   --duration  measured time per run, Go duration (default 10s)
#   --repeat    runs per side, alternating (default 3)
#   --writes    writes node 3 misses in catch-up (default 100000)
#   --keep      keep DIR afterwards
# Loopback only; on a small machine the three nodes and the client share the
# cores, so the ratio is an upper bound of the cost on separate hosts.
set -euo pipefail
self="$(readlink -f "$0")"
cd "$(dirname "$self")/.."
repo="$PWD"
# shellcheck source=lib/node.sh
source "$repo/scripts/lib/node.sh"

dir=""
duration=10s
repeat=3
writes=100000
keep=0
tests=()
while [[ $# -gt 0 ]]; do
	case "$1" in
	--dir) dir="$2"; shift 2 ;;
	--duration) duration="$2"; shift 2 ;;
	--repeat) repeat="$2"; shift 2 ;;
	--writes) writes="$2"; shift 2 ;;
	--keep) keep=1; shift ;;
	-h | --help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$self"; exit 0 ;;
	throughput | catch-up) tests+=("$1"); shift ;;
	*) echo "bench-cluster: unknown argument $1" >&2; exit 2 ;;
	esac
done
[[ ${#tests[@]} -gt 0 ]] || tests=(throughput catch-up)
[[ -n "$dir" ]] || dir="$(mktemp -d /var/tmp/strata-bench-cluster.XXXXXX)"
mkdir -p "$dir"
out="$dir/results"
mkdir -p "$out"

bin="$dir/strata"
go build -o "$bin" ./cmd/strata

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [[ $keep == 0 ]]; then rm -rf "$dir"; else echo "bench-cluster: kept $dir"; fi
}
trap cleanup EXIT


secret="$dir/secret"
head -c 32 /dev/urandom | base64 >"$secret"
chmod 600 "$secret"

# Ports: single node, then three cluster nodes (listen and gossip each).
single_port=$(free_port)
declare -a lport gport
for i in 1 2 3; do lport[$i]=$(free_port); gport[$i]=$(free_port); done

common_cfg() { # DATA
	cat <<EOF
data_dir = "$1"
ram_cache_size = "64MiB"
ssd_cache_size = "0"
log_level = "warn"
[http]
max_connections_per_client = 0
[cluster]
gossip_timing = "loopback"
anti_entropy_interval = "5s"
EOF
}

start_single() {
	common_cfg "$dir/single" >"$dir/single.toml"
	"$bin" serve --config "$dir/single.toml" --listen "127.0.0.1:$single_port" --admin-listen off >"$dir/single.log" 2>&1 &
	pids+=($!)
	single_pid=$!
	wait_ready "http://127.0.0.1:$single_port" 300 || exit 1
}

declare -a npid
start_node() { # I
	local i=$1 join=()
	for j in 1 2 3; do [[ $j == "$i" ]] || join+=("127.0.0.1:${gport[$j]}"); done
	common_cfg "$dir/n$i" >"$dir/n$i.toml"
	"$bin" serve --config "$dir/n$i.toml" --node-id "n$i" --listen "127.0.0.1:${lport[$i]}" \
		--gossip "127.0.0.1:${gport[$i]}" --join "$(IFS=,; echo "${join[*]}")" \
		--cluster-secret-file "$secret" >>"$dir/n$i.log" 2>&1 &
	npid[$i]=$!
	pids+=($!)
	wait_ready "http://127.0.0.1:${lport[$i]}" 300 || exit 1
}

start_cluster() {
	for i in 1 2 3; do start_node "$i"; done
	# Wait until node 1 sees three members alive.
	for _ in $(seq 1 300); do
		alive=$(curl -fsS "http://127.0.0.1:$((lport[1] + 1000))/admin/cluster" 2>/dev/null | grep -o '"state":"alive"' | wc -l || true)
		[[ "$alive" -ge 3 ]] && return 0
		sleep 0.1
	done
	echo "bench-cluster: the cluster did not form" >&2
	exit 1
}

bench() { # ADDR NAME ARGS...
	local addr=$1 name=$2
	shift 2
	"$bin" bench --addr "$addr" --json "$out/$name.json" --duration "$duration" "$@" >"$out/$name.txt"
}

field() { # FILE OP FIELD (ops_per_sec or p99)
	python3 - "$@" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
op = r[sys.argv[2]]
print(op["ops_per_sec"] if sys.argv[3] == "ops" else op["latency_us"]["p99"])
EOF
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

throughput() {
	start_single
	start_cluster
	local single="http://127.0.0.1:$single_port" cluster="http://127.0.0.1:${lport[1]}"
	printf '%-10s %12s %12s %8s %12s %12s %8s\n' case single_op/s cluster_op/s ratio single_p99 cluster_p99 ratio | tee "$out/summary.txt"
	for c in "put 4KiB 0 --no-prefill --keys 20000 --concurrency 16" "get 4KiB 1 --keys 2000 --concurrency 16" \
		"put 1MiB 0 --no-prefill --keys 500 --concurrency 8" "get 1MiB 1 --keys 200 --concurrency 8"; do
		read -r op size ratio extra <<<"$c"
		local kind=write
		[[ $op == get ]] && kind=read
		local ops_r=() p99_r=() so=() co=() sp=() cp=()
		for r in $(seq 1 "$repeat"); do
			# shellcheck disable=SC2086
			bench "$single" "single-$op-$size-$r" --size "$size" --read-ratio "$ratio" --key-prefix "b/$op$size/" $extra
			# shellcheck disable=SC2086
			bench "$cluster" "cluster-$op-$size-$r" --size "$size" --read-ratio "$ratio" --key-prefix "b/$op$size/" $extra
			s_ops=$(field "$out/single-$op-$size-$r.json" "$kind" ops)
			c_ops=$(field "$out/cluster-$op-$size-$r.json" "$kind" ops)
			s_p99=$(field "$out/single-$op-$size-$r.json" "$kind" p99)
			c_p99=$(field "$out/cluster-$op-$size-$r.json" "$kind" p99)
			so+=("$s_ops"); co+=("$c_ops"); sp+=("$s_p99"); cp+=("$c_p99")
			ops_r+=("$(awk -v a="$c_ops" -v b="$s_ops" 'BEGIN {print (b > 0) ? a / b : 0}')")
			p99_r+=("$(awk -v a="$c_p99" -v b="$s_p99" 'BEGIN {print (b > 0) ? a / b : 0}')")
		done
		printf '%-10s %12.0f %12.0f %8.2f %10sus %10sus %8.2f\n' "$op-$size" \
			"$(printf '%s\n' "${so[@]}" | median)" "$(printf '%s\n' "${co[@]}" | median)" "$(printf '%s\n' "${ops_r[@]}" | median)" \
			"$(printf '%s\n' "${sp[@]}" | median)" "$(printf '%s\n' "${cp[@]}" | median)" "$(printf '%s\n' "${p99_r[@]}" | median)" | tee -a "$out/summary.txt"
	done
	kill "$single_pid" 2>/dev/null || true
}

hdd_items() { # ADMIN_URL
	curl -fsS "$1/metrics" 2>/dev/null | awk '/^strata_tier_items\{tier="hdd"\}/ {v = $2} END {print v}' || true
}

catch_up() {
	[[ -n "${npid[1]:-}" ]] || start_cluster
	kill -TERM "${npid[3]}"
	wait "${npid[3]}" 2>/dev/null || true
	echo "catch-up: node 3 stopped; writing $writes keys of 1 KiB through node 1"
	"$bin" bench --addr "http://127.0.0.1:${lport[1]}" --size 1KiB --read-ratio 0 --keys "$writes" --zipf 0 \
		--ops "$writes" --duration 1h --key-prefix catchup/ --concurrency 32 >"$out/catchup-writes.txt"
	sleep 1
	local want
	want=$(hdd_items "http://127.0.0.1:$((lport[1] + 1000))")
	start=$(date +%s.%N)
	start_node 3
	local admin3="http://127.0.0.1:$((lport[3] + 1000))" got=0
	for _ in $(seq 1 6000); do
		got=$(hdd_items "$admin3")
		if [[ -n "$got" && -n "$want" ]] && awk -v g="$got" -v w="$want" 'BEGIN {exit !(g >= w)}'; then break; fi
		sleep 0.1
	done
	end=$(date +%s.%N)
	printf 'catch-up: node 3 holds %s of %s blobs %.1f s after its restart (%s writes missed)\n' \
		"$got" "$want" "$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')" "$writes" | tee -a "$out/summary.txt"
}

for t in "${tests[@]}"; do
	case "$t" in
	throughput) throughput ;;
	catch-up) catch_up ;;
	esac
done
echo "bench-cluster: results in $out"
cat "$out/summary.txt"
