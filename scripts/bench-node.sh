#!/usr/bin/env bash
# bench-node.sh: the node benchmarks, each a ratio against a baseline measured
# in the same run on the same machine.
#
#   hot-get    4 KiB blobs read at random from N keys with wrk (64 connections)
#              vs nginx serving the same bytes as static files from the page
#              cache. Figure: requests/s ratio.
#   large-put  1 MiB PUTs from 16 concurrent clients (strata bench) vs fio
#              sequential O_DIRECT writes, bs=1M, 16 jobs, in the same
#              directory: once with fdatasync after every write (what an
#              acknowledged PUT costs without group commit) and once with a
#              single fsync at the end (the device's streaming ceiling).
#              Figure: MB/s ratios; also the node's CPU per PUT and PUTs per
#              data-disk fdatasync.
#   memory     peak RSS (VmHWM) of the node during one 1 GiB streaming PUT,
#              and during 64 concurrent 64 MiB PUTs (fresh node each).
#   zipf       (not in the default set) 16 KiB blobs, Zipf 0.99 over 40000
#              keys (625 MiB) with a 64 MiB RAM and 256 MiB SSD cache, 95%
#              reads: strata bench's per-tier hit ratios and latencies.
#
# Usage: scripts/bench-node.sh [--dir DIR] [--duration SECONDS] [--keys N]
#                              [--repeat N] [--out DIR] [--keep] [TEST...]
#   TEST      any of hot-get, large-put, memory, zipf (default: the first three),
#             small-put (1 KiB durable PUTs vs the bare net/http ceiling),
#             or NAME for a file scripts/bench-node.d/NAME.sh: each such file
#             defines bench_NAME (dashes as underscores) and may use every
#             helper below (say, start_node, stop_node, median, ratio, ...)
#   --dir     where node data and fio files go (default: a temp dir in /var/tmp);
#             with HDD_DIR and SSD_DIR set (see tier-emulate.sh) the node's
#             tiers go there instead
#   --duration measured seconds per run (default 15)
#   --keys    distinct keys for hot-get (default 1000)
#   --repeat  measured runs per side, alternating strata and baseline; the
#             summary gives each run, the medians, and the median of the
#             per-run ratios, which is robust to load drifting between pairs
#             (default 3)
#   --out     directory for raw outputs and summary.txt (default DIR/results)
#   --keep    keep DIR afterwards
# STRATA_BIN=PATH runs a prebuilt strata binary instead of building this tree.
# NODE_EXTRA_TOML=TEXT is appended to every node's config (start it with a
# table header, e.g. NODE_EXTRA_TOML=$'[http]\nlean_put = false').
# Needs wrk, nginx and fio for the baselines (apt-get install wrk nginx-light fio);
# a test whose tool is missing is skipped with a message.
set -euo pipefail
self="$(readlink -f "$0")"
cd "$(dirname "$self")/.."
repo="$PWD"
# shellcheck source=lib/node.sh
source "$repo/scripts/lib/node.sh"

dir=""
duration=15
keys=1000
repeat=3
out=""
keep=0
tests=()
while [[ $# -gt 0 ]]; do
	case "$1" in
	--dir) dir="$2"; shift 2 ;;
	--duration) duration="$2"; shift 2 ;;
	--keys) keys="$2"; shift 2 ;;
	--repeat) repeat="$2"; shift 2 ;;
	--out) out="$2"; shift 2 ;;
	--keep) keep=1; shift ;;
	-h | --help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$self"; exit 0 ;;
	hot-get | large-put | memory | zipf) tests+=("$1"); shift ;;
	*)
		if [[ -f "scripts/bench-node.d/$1.sh" ]]; then
			tests+=("$1")
			shift
		else
			echo "bench-node: unknown argument $1" >&2
			exit 2
		fi
		;;
	esac
done
[[ ${#tests[@]} -gt 0 ]] || tests=(hot-get large-put memory)
if [[ -z "$dir" ]]; then
	dir="$(mktemp -d /var/tmp/strata-bench.XXXXXX)"
else
	mkdir -p "$dir"
fi
out="${out:-$dir/results}"
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"

node_pid=""
nginx_pid=""
cleanup() {
	stop_node
	if declare -F stop_ceiling >/dev/null; then stop_ceiling; fi
	if declare -F stop_nginx >/dev/null; then stop_nginx; fi
	if declare -F stop_lean_ceiling >/dev/null; then stop_lean_ceiling; fi
	if declare -F stop_base_node >/dev/null; then stop_base_node; fi
	if [[ $keep -eq 0 ]]; then
		# Keep the results, drop the bulk data.
		find "$dir" -mindepth 1 -maxdepth 1 ! -path "$out" -exec rm -rf {} +
	fi
}
trap cleanup EXIT

say() { echo "$*" | tee -a "$summary"; }
have() { command -v "$1" >/dev/null 2>&1; }

# STRATA_BIN=PATH benchmarks a binary built elsewhere (an older commit, for
# before/after figures) instead of building this tree.
if [[ -n "${STRATA_BIN:-}" ]]; then
	bin="$(readlink -f "$STRATA_BIN")"
else
	bin="$dir/strata"
	go build -o "$bin" ./cmd/strata
fi


# start_node NAME [EXTRA_TOML]: a fresh node with data under $dir/NAME.
start_node() {
	local name="$1" extra="${2:-}"
	local port
	port="$(free_port)"
	node_addr="http://127.0.0.1:$port"
	node_data="$dir/$name"
	mkdir -p "$node_data"
	{
		echo "listen = \"127.0.0.1:$port\""
		echo "admin_listen = \"off\"" # never clash with a node already on 7071
		echo "data_dir = \"$node_data\""
		if [[ -n "${HDD_DIR:-}" && -n "${SSD_DIR:-}" ]]; then
			echo "hdd_dirs = [\"$HDD_DIR/$name\"]"
			echo "ssd_dir = \"$SSD_DIR/$name/cache\""
			echo "index_dir = \"$SSD_DIR/$name/index\""
		fi
		echo "log_level = \"warn\""
		echo "$extra"
		echo "${NODE_EXTRA_TOML:-}"
	} >"$dir/$name.toml"
	"$bin" serve --config "$dir/$name.toml" >"$out/$name.node.log" 2>&1 &
	node_pid=$!
	wait_ready "$node_addr" 600 "$node_pid" "$out/$name.node.log" || exit 1
}

stop_node() {
	if [[ -n "$node_pid" ]]; then
		kill -TERM "$node_pid" 2>/dev/null || true
		wait "$node_pid" 2>/dev/null || true
		node_pid=""
	fi
}

# hwm_kib PID: peak resident set size so far.
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

wrk_rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }

# median of the numbers given as arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }

json_get() { # json_get FILE JQ_PATH
	if have jq; then jq -r "$2" "$1"; else python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$1" "$3"; fi
}

say "strata node benchmarks, $(date -u +%FT%TZ), $(nproc) cores, $(uname -r)"
say "data: ${HDD_DIR:+HDD_DIR=$HDD_DIR SSD_DIR=$SSD_DIR }dir=$dir ($(df -T "$dir" | awk 'NR==2 {print $2}'))"
say "strata: $("$bin" version)"
say "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)"

# random_key_lua FILE: a wrk script that GETs WRK_PREFIX followed by a key
# number drawn at random below WRK_KEYS, zero-padded to WRK_WIDTH digits
# (default 6).
random_key_lua() {
	cat >"$1" <<'LUA'
local keys = tonumber(os.getenv("WRK_KEYS"))
local prefix = os.getenv("WRK_PREFIX")
local pattern = "%s%0" .. (os.getenv("WRK_WIDTH") or "6") .. "d"
local counter = 0
function setup(thread)
	counter = counter + 1
	thread:set("seed", counter)
end
function init(args)
	math.randomseed(os.time() * 1000 + seed)
end
function request()
	return wrk.format("GET", string.format(pattern, prefix, math.random(0, keys - 1)))
end
LUA
}

# wrk_requests FILE: requests a wrk run completed.
wrk_requests() { awk '/ requests in / {print $1}' "$1"; }
# wrk_latency FILE: "p50=.. p90=.. p99=.." of a wrk --latency run.
wrk_latency() { awk '/^ +(50|90|99)%/ {sub("%", "", $1); printf "p%s=%s ", $1, $2}' "$1"; }

# make_hot_files DIR N SIZE: N files of SIZE random bytes named 000000...
make_hot_files() {
	local d="$1" n="$2" size="$3" i
	mkdir -p "$d"
	for ((i = 0; i < n; i++)); do
		head -c "$size" /dev/urandom >"$d/$(printf '%06d' "$i")"
	done
}

# load_hot_keys DIR KEY_PREFIX: PUT every file of DIR into the node under
# KEY_PREFIX (escaped, e.g. hot%2F) + its name, 16 uploads at a time.
load_hot_keys() {
	(cd "$1" && ls | xargs -P 16 -I{} curl -fsS -o /dev/null -X PUT --data-binary @{} "$node_addr/blobs/$2{}")
}

# write_hot_lua: $dir/hot.lua, the wrk script asking for a random key of
# WRK_KEYS under the path prefix WRK_PREFIX on every request.
write_hot_lua() { random_key_lua "$dir/hot.lua"; }

# start_nginx WWW PROBE: nginx serving WWW as static files (sendfile, open
# file cache, no access log), the baseline of the hot GET rows; sets
# nginx_addr and nginx_pid, waits until PROBE (a path under WWW) answers and
# reads WWW once so it is in the page cache. stop_nginx ends it.
start_nginx() {
	local www="$1" probe="$2" port
	port="$(free_port)"
	mkdir -p "$dir/nginx/logs"
	chmod -R a+rX "$www"
	chmod a+x "$dir"
	cat >"$dir/nginx/nginx.conf" <<NGINX
worker_processes auto;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 1000000;
	open_file_cache max=100000 inactive=60s;
	client_body_temp_path $dir/nginx/body;
	proxy_temp_path $dir/nginx/proxy;
	fastcgi_temp_path $dir/nginx/fastcgi;
	uwsgi_temp_path $dir/nginx/uwsgi;
	scgi_temp_path $dir/nginx/scgi;
	server {
		listen 127.0.0.1:$port;
		root $www;
		location / { }
	}
}
NGINX
	nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -g 'daemon off;' &
	nginx_pid=$!
	nginx_addr="http://127.0.0.1:$port"
	for _ in $(seq 1 100); do
		curl -fsS -o /dev/null "$nginx_addr/$probe" 2>/dev/null && break
		sleep 0.1
	done
	find "$www" -type f -exec cat {} + >/dev/null # page cache
}

stop_nginx() { stop_pid nginx_pid; }

# nginx_ticks: user+sys clock ticks of nginx's master and workers so far.
nginx_ticks() {
	local p t=0
	for p in "$nginx_pid" $(cat "/proc/$nginx_pid"/task/*/children 2>/dev/null); do
		t=$((t + $(cpu_ticks "$p" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

hot_get() {
	if ! have wrk || ! have nginx; then
		say "hot-get: SKIPPED (needs wrk and nginx: apt-get install wrk nginx-light)"
		return
	fi
	local www="$dir/www"
	say ""
	say "== hot-get: $keys keys x 4 KiB, wrk -t2 -c64 -d${duration}s, random key per request"
	start_node hot
	make_hot_files "$www/hot" "$keys" 4096
	load_hot_keys "$www/hot" "hot%2F"
	write_hot_lua
	start_nginx "$www" hot/000000

	# Warm up both (fills the node's RAM cache), then alternate measured runs
	# so drifting background load hits both sides alike.
	WRK_KEYS=$keys WRK_PREFIX="/blobs/hot%2F" wrk -t2 -c64 -d5s -s "$dir/hot.lua" "$node_addr" >/dev/null
	WRK_KEYS=$keys WRK_PREFIX="/hot/" wrk -t2 -c64 -d5s -s "$dir/hot.lua" "$nginx_addr" >/dev/null
	local r sv=() nv=() rv=() s n
	for ((r = 1; r <= repeat; r++)); do
		WRK_KEYS=$keys WRK_PREFIX="/blobs/hot%2F" wrk -t2 -c64 -d"${duration}s" --latency -s "$dir/hot.lua" "$node_addr" >"$out/hot-get.strata.$r.wrk"
		WRK_KEYS=$keys WRK_PREFIX="/hot/" wrk -t2 -c64 -d"${duration}s" --latency -s "$dir/hot.lua" "$nginx_addr" >"$out/hot-get.nginx.$r.wrk"
		s="$(wrk_rps "$out/hot-get.strata.$r.wrk")"
		n="$(wrk_rps "$out/hot-get.nginx.$r.wrk")"
		sv+=("$s")
		nv+=("$n")
		rv+=("$(ratio "$s" "$n")")
		say "run $r: strata $s req/s (latency $(wrk_latency "$out/hot-get.strata.$r.wrk")) | nginx $n req/s (latency $(wrk_latency "$out/hot-get.nginx.$r.wrk")) | ratio $(ratio "$s" "$n")"
	done
	curl -fsS -o /dev/null -D "$out/hot-get.strata.headers" "$node_addr/blobs/hot%2F000000"
	curl -fsS "$node_addr/metrics" >"$out/hot-get.strata.metrics" || true
	stop_nginx
	stop_node
	grep -E 'Non-2xx|Socket errors' "$out"/hot-get.*.wrk | tee -a "$summary" || true
	say "tier of a hot key: $(grep -i '^x-strata-tier' "$out/hot-get.strata.headers" | tr -d '\r')"
	s="$(median "${sv[@]}")"
	n="$(median "${nv[@]}")"
	say "hot-get median: strata $s req/s, nginx $n req/s"
	say "hot-get ratio strata/nginx (req/s), median of the paired runs: $(median "${rv[@]}")"
}

# large_put_syncs: the node's fdatasyncs of its data disk so far.
large_put_syncs() {
	curl -fsS "$node_addr/metrics" 2>/dev/null | awk '$1 == "strata_device_ops_total{class=\"write\",device=\"data0\",op=\"sync\"}" {v = $2} END {printf "%d\n", v + 0}'
}

large_put() {
	say ""
	say "== large-put: 1 MiB blobs, 16 concurrent clients, ${duration}s per run"
	if ! have fio; then
		say "large-put: fio baseline SKIPPED (apt-get install fio)"
	fi
	start_node put
	# fio writes on the file system that holds the node's HDD tier.
	local fio_dir="${HDD_DIR:-$dir}/fio"
	mkdir -p "$fio_dir"
	local r s f variant sync sv=() fe=() fs=() re=() rs=()
	local t0 t1 y0 y1 ops
	for ((r = 1; r <= repeat; r++)); do
		t0="$(cpu_ticks "$node_pid")"
		y0="$(large_put_syncs)"
		"$bin" bench --addr "$node_addr" --size 1MiB --read-ratio 0 --concurrency 16 --keys 100000 \
			--key-prefix "put$r/" --no-prefill --duration "${duration}s" --json "$out/large-put.strata.$r.json" >"$out/large-put.strata.$r.txt"
		t1="$(cpu_ticks "$node_pid")"
		y1="$(large_put_syncs)"
		s="$(json_get "$out/large-put.strata.$r.json" .write.mb_per_sec "['write']['mb_per_sec']")"
		s="$(printf '%.1f' "$s")"
		sv+=("$s")
		ops="$(json_get "$out/large-put.strata.$r.json" .write.ops "['write']['ops']")"
		local line="run $r: strata $s MB/s (p50 $(json_get "$out/large-put.strata.$r.json" .write.latency_us.p50 "['write']['latency_us']['p50']") us, p99 $(json_get "$out/large-put.strata.$r.json" .write.latency_us.p99 "['write']['latency_us']['p99']") us, errors $(json_get "$out/large-put.strata.$r.json" .write.errors "['write']['errors']"), node cpu $(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$ops" 'BEGIN {printf "%.0f", (n > 0 ? t / hz * 1e6 / n : 0)}') us/PUT, PUTs per data-disk fdatasync $(ratio "$ops" $((y1 - y0))))"
		if have fio; then
			for variant in fdatasync-each end-fsync; do
				case "$variant" in
				fdatasync-each) sync="--fdatasync=1" ;;
				end-fsync) sync="--end_fsync=1" ;;
				esac
				fio --name=seqwrite --directory="$fio_dir" --rw=write --bs=1M --direct=1 --ioengine=psync \
					--numjobs=16 --size=512M --runtime="$duration" --time_based $sync --group_reporting \
					--output-format=json --output="$out/large-put.fio.$variant.$r.json"
				rm -f "$fio_dir"/seqwrite.*
				f="$(json_get "$out/large-put.fio.$variant.$r.json" '.jobs[0].write.bw_bytes' "['jobs'][0]['write']['bw_bytes']")"
				f="$(awk -v b="$f" 'BEGIN {printf "%.1f", b / 1e6}')"
				if [[ $variant == fdatasync-each ]]; then
					fe+=("$f")
					re+=("$(ratio "$s" "$f")")
				else
					fs+=("$f")
					rs+=("$(ratio "$s" "$f")")
				fi
				line+=" | fio $variant $f MB/s"
			done
		fi
		say "$line"
	done
	stop_node
	rm -rf "$node_data" "$fio_dir"
	s="$(median "${sv[@]}")"
	say "large-put median: strata $s MB/s"
	if have fio; then
		say "large-put median: fio O_DIRECT bs=1M numjobs=16 fdatasync-each $(median "${fe[@]}") MB/s, end-fsync $(median "${fs[@]}") MB/s"
		say "large-put ratio strata/fio-fdatasync-each (MB/s), median of the paired runs: $(median "${re[@]}")"
		say "large-put ratio strata/fio-end-fsync (MB/s), median of the paired runs: $(median "${rs[@]}")"
	fi
}

memory() {
	say ""
	say "== memory: peak RSS (VmHWM) of the node"
	start_node mem1 "[limits]
max_uploads = 64"
	say "idle after start: VmRSS $(rss_kib "$node_pid") KiB, VmHWM $(hwm_kib "$node_pid") KiB"
	"$bin" bench --addr "$node_addr" --size 1GiB --read-ratio 0 --concurrency 1 --ops 1 --keys 1 \
		--no-prefill --duration 10m --json "$out/memory.1gib.json" >"$out/memory.1gib.txt"
	say "one 1 GiB streaming PUT: VmHWM $(hwm_kib "$node_pid") KiB ($(json_get "$out/memory.1gib.json" .write.mb_per_sec "['write']['mb_per_sec']" | xargs printf '%.0f') MB/s)"
	stop_node
	rm -rf "$node_data"

	start_node mem64 "[limits]
max_uploads = 64"
	"$bin" bench --addr "$node_addr" --size 64MiB --read-ratio 0 --concurrency 64 --ops 64 --keys 64 \
		--no-prefill --duration 10m --json "$out/memory.64x64mib.json" >"$out/memory.64x64mib.txt" || true
	say "64 concurrent 64 MiB PUTs: VmHWM $(hwm_kib "$node_pid") KiB (ok=$(json_get "$out/memory.64x64mib.json" .write.ops "['write']['ops']") errors=$(json_get "$out/memory.64x64mib.json" .write.errors "['write']['errors']"))"
	stop_node
	rm -rf "$node_data"
}

zipf() {
	say ""
	say "== zipf: 16 KiB blobs, zipf 0.99 over 40000 keys, 95% reads, RAM cache 64 MiB, SSD cache 256 MiB"
	start_node zipf 'ram_cache_size = "64MiB"
ssd_cache_size = "256MiB"'
	"$bin" bench --addr "$node_addr" --size 16KiB --keys 40000 --zipf 0.99 --read-ratio 0.95 --concurrency 16 \
		--warmup 10s --duration "${duration}s" --json "$out/zipf.json" --hgrm "$out/zipf" | tee "$out/zipf.txt" | tee -a "$summary"
	stop_node
	rm -rf "$node_data"
}

# The bare net/http server the HTTP rows are measured against.
ceiling_bin="$dir/httpceiling"
go build -o "$ceiling_bin" ./internal/cmd/httpceiling
ceiling_pid=""
# run_ceiling PID_VAR ADDR_VAR SIZE [FLAG...]: the ceiling server answering
# GETs with SIZE bytes (with FLAGs, e.g. -lean), its pid and URL in the
# variables named.
run_ceiling() {
	local -n run_pid="$1" run_addr="$2"
	local size="$3" port
	shift 3
	port="$(free_port)"
	"$ceiling_bin" "$@" -listen "127.0.0.1:$port" -size "$size" &
	run_pid=$!
	run_addr="http://127.0.0.1:$port"
	for _ in $(seq 1 100); do
		curl -fsS -o /dev/null "$run_addr/x" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "httpceiling $* did not start" >&2
	return 1
}
# stop_pid PID_VAR: end the process whose pid the variable holds, if any,
# and clear it.
stop_pid() {
	local -n stop_ref="$1"
	if [[ -n "$stop_ref" ]]; then
		kill "$stop_ref" 2>/dev/null || true
		wait "$stop_ref" 2>/dev/null || true
		stop_ref=""
	fi
}
# start_ceiling SIZE: the ceiling server answering GETs with SIZE bytes;
# sets ceiling_addr. stop_ceiling ends it.
start_ceiling() { run_ceiling ceiling_pid ceiling_addr "$1"; }
stop_ceiling() { stop_pid ceiling_pid; }

for f in scripts/bench-node.d/*.sh; do
	[[ -e "$f" ]] || continue
	# shellcheck source=/dev/null
	source "$f"
done

for t in "${tests[@]}"; do
	case "$t" in
	hot-get) hot_get ;;
	large-put) large_put ;;
	memory) memory ;;
	zipf) zipf ;;
	*) "bench_${t//-/_}" ;;
	esac
done
say ""
say "raw outputs: $out"
