# shellcheck shell=bash
# cold-get: 64 KiB GETs of cold keys, the node with its default caches
# (RAM and SSD cache, default sizes and admission) against the same node and
# data with both caches off (ram_cache_size = 0, ssd_cache_size = 0),
# alternating (ABBA), a fresh process and an empty SSD cache file for every run.
# Every request reads a key no earlier request of the run read (each wrk
# thread walks its own stride of a permutation of COLD_KEYS keys, from an
# offset that moves every run), so every read is a miss on a cache that
# copies, admits and writes what it misses: the figure is what the caches
# cost a reader that they cannot help. Each run first reads COLD_WARMUP
# seconds of other cold keys, unmeasured, so the measured reads find the
# RAM cache full and evicting (the steady state of a node, not its heap
# growing from empty).
#   COLD_KEYS    keys x 64 KiB uploaded once (default 40000, 2.5 GiB: more than
#                the default RAM + SSD caches, and more than one run reads)
#   COLD_CONNS   wrk connections (default 16)
#   COLD_WARMUP  unmeasured seconds per run before the measured ones (default 6)
#   COLD_BASE_BIN  also run this (older) strata binary with default caches in
#                every pair, for before/after in one run: ratio base/off too
# Figures: req/s ratio default/off (median of paired runs) and CPU
# milliseconds per request of each side (user+sys of the node over requests).
# ssd_share METRICS: SSD cache bytes written and read over bytes read at the
# read class from the data devices, from one /metrics scrape.
ssd_share() {
	awk '/^strata_device_bytes_total\{/ {
			dev = $0; sub(/.*device="/, "", dev); sub(/".*/, "", dev)
			if (dev == "ssd-cache") ssd += $2
			else if ($0 ~ /class="read"/ && $0 ~ /direction="read"/) data += $2
		}
		END {if (data > 0) printf "%.3f", ssd / data; else print "n/a"}' "$1"
}

bench_cold_get() {
	if ! have wrk; then
		say "cold-get: SKIPPED (needs wrk: apt-get install wrk)"
		return
	fi
	local keys="${COLD_KEYS:-40000}" conns="${COLD_CONNS:-16}" warmup="${COLD_WARMUP:-6}"
	say ""
	say "== cold-get: $keys keys x 64 KiB, wrk -t2 -c$conns -d${duration}s after ${warmup}s of warm-up, each key read at most once per run; default caches vs caches off"
	start_node cold 'ram_cache_size = 0
ssd_cache_size = 0'
	"$bin" bench --addr "$node_addr" --size 64KiB --keys "$keys" --key-prefix cold/ --read-ratio 1 --ops 1 \
		--concurrency 16 --duration 10m >"$out/cold-get.prefill.txt"
	stop_node
	cat >"$dir/cold.lua" <<'LUA'
-- Thread t of T reads permutation slots t, t+T, t+2T, ... : no key twice
-- in a run until the whole set has been read.
local keys = tonumber(os.getenv("WRK_KEYS"))
local offset = tonumber(os.getenv("WRK_OFFSET"))
local slot0 = tonumber(os.getenv("WRK_SLOT0") or "0")
local threads = 2
local counter = 0
function setup(thread)
	thread:set("tid", counter)
	counter = counter + 1
end
function init(args)
	n = 0
end
function request()
	local slot = slot0 + n * threads + tid
	n = n + 1
	-- 1000003 is prime, so slot -> slot * 1000003 mod keys is a permutation
	-- whenever keys is not a multiple of it.
	local k = (offset + slot * 1000003) % keys
	return wrk.format("GET", string.format("/blobs/cold%%2F%010d", k))
end
LUA
	local cachefile="${SSD_DIR:+$SSD_DIR/cold/cache}"
	cachefile="${cachefile:-$dir/cold/ssd}"
	local r side extra rps ticks0 ticks1 dv=() ov=() rv=() dc=() oc=() bv=() bc=() brv=() line
	local hz
	hz="$(getconf CLK_TCK)"
	for ((r = 1; r <= repeat; r++)); do
		line="run $r:"
		# ABBA: the side that goes first alternates, so drift and
		# anything a first run leaves behind favours neither side.
		local order="default off"
		((r % 2 == 0)) && order="off default"
		[[ -n "${COLD_BASE_BIN:-}" ]] && order="$order base"
		for side in $order; do
			local side_bin="$bin"
			case "$side" in
			default) extra="" ;;
			base) extra="" side_bin="$COLD_BASE_BIN" ;;
			off) extra='ram_cache_size = 0
ssd_cache_size = 0' ;;
			esac
			rm -rf "$cachefile" # empty SSD cache, no saved index: a cold start
			local own_bin="$bin"
			bin="$side_bin"
			start_node cold "$extra"
			bin="$own_bin"
			# Warm-up: slots from 0, the measured run from keys/2 on: no key
			# twice while each reads fewer than keys/2.
			WRK_KEYS=$keys WRK_OFFSET=$((r * 7919)) WRK_SLOT0=0 wrk -t2 -c"$conns" -d"${warmup}s" -s "$dir/cold.lua" "$node_addr" >/dev/null
			ticks0="$(cpu_ticks "$node_pid")"
			WRK_KEYS=$keys WRK_OFFSET=$((r * 7919)) WRK_SLOT0=$((keys / 2)) wrk -t2 -c"$conns" -d"${duration}s" --latency -s "$dir/cold.lua" "$node_addr" >"$out/cold-get.$side.$r.wrk"
			ticks1="$(cpu_ticks "$node_pid")"
			curl -fsS "$node_addr/metrics" >"$out/cold-get.$side.$r.metrics" || true
			stop_node
			# The next side must not pay for this one's writeback (its SSD
			# cache flushed at close, the cache file removed next).
			rm -rf "$cachefile"
			sync
			rps="$(wrk_rps "$out/cold-get.$side.$r.wrk")"
			local reqs cpu
			reqs="$(awk '/requests in/ {print $1}' "$out/cold-get.$side.$r.wrk")"
			cpu="$(awk -v t=$((ticks1 - ticks0)) -v n="$reqs" -v hz="$hz" 'BEGIN {if (n > 0) printf "%.3f", t * 1000 / hz / n; else print "n/a"}')"
			if [[ $side == base ]]; then
				bv+=("$rps")
				bc+=("$cpu")
			elif [[ $side == default ]]; then
				dv+=("$rps")
				dc+=("$cpu")
			else
				ov+=("$rps")
				oc+=("$cpu")
			fi
			line+=" $side $rps req/s (cpu ${cpu} ms/req, latency $(awk '/^ +(50|99)%/ {sub("%", "", $1); printf "p%s=%s ", $1, $2}' "$out/cold-get.$side.$r.wrk"))"
		done
		rv+=("$(ratio "${dv[-1]}" "${ov[-1]}")")
		if [[ -n "${COLD_BASE_BIN:-}" ]]; then
			brv+=("$(ratio "${bv[-1]}" "${ov[-1]}")")
			line+=" | base/off ${brv[-1]}"
		fi
		say "$line | ratio ${rv[-1]}"
	done
	grep -E 'Non-2xx|Socket errors' "$out"/cold-get.*.wrk | tee -a "$summary" || true
	say "cold-get tiers (default side, last run): $(grep -E '^strata_tier_(hits|misses)_total' "$out/cold-get.default.$repeat.metrics" 2>/dev/null | tr '\n' ' ')"
	# What the SSD cache took from the data disk: bytes it wrote and read
	# per byte the backend read (warm-up included), per default run.
	local sv=()
	for ((r = 1; r <= repeat; r++)); do
		sv+=("$(ssd_share "$out/cold-get.default.$r.metrics")")
	done
	say "cold-get SSD cache I/O per byte read from the data disk (default side, each run): ${sv[*]}"
	say "cold-get median: default caches $(median "${dv[@]}") req/s (cpu $(median "${dc[@]}") ms/req), caches off $(median "${ov[@]}") req/s (cpu $(median "${oc[@]}") ms/req)"
	say "cold-get ratio default/off (req/s), median of the paired runs: $(median "${rv[@]}")"
	if [[ -n "${COLD_BASE_BIN:-}" ]]; then
		local bs=()
		for ((r = 1; r <= repeat; r++)); do
			bs+=("$(ssd_share "$out/cold-get.base.$r.metrics")")
		done
		say "cold-get base ($COLD_BASE_BIN): $(median "${bv[@]}") req/s (cpu $(median "${bc[@]}") ms/req), SSD I/O per data byte ${bs[*]}"
		say "cold-get ratio base-default/off (req/s), median of the runs: $(median "${brv[@]}")"
	fi
	rm -rf "$dir/cold"
}
