# shellcheck shell=bash
# small-put: durable 1 KiB PUTs at c=1, c=16 and c=256 (wrk, 2 threads, a new key
# per request) against internal/cmd/httpceiling (reads and discards the
# body, answers 201), alternating strata / ceiling, --repeat pairs per
# concurrency. Figures per run: req/s of each side and their ratio, CPU
# (user+sys from /proc/PID/stat) per acknowledged PUT of each side, and the
# node's records per fdatasync (strata_store_group_records_total over
# strata_store_group_commits_total on /metrics; for a binary without them,
# acknowledged PUTs over the data disk's fdatasyncs from
# strata_device_ops_total). The node runs with limits.max_uploads = 512 so c=256 is admitted
# (the ceiling has no admission limit either); non-2xx answers are counted
# and are not acknowledged PUTs.
#
#   SMALL_PUT_CONC="1 16 256"  concurrencies to run
#   SMALL_PUT_SIZE=1024      body bytes

# small_put_metric NAME: the node's value of the sample NAME (labels
# included, as /metrics prints them; 0 when absent).
small_put_metric() {
	curl -fsS "$node_addr/metrics" 2>/dev/null | awk -v n="$1" '$1 == n {v = $2} END {printf "%d\n", v + 0}'
}

# small_put_syncs: the node's fdatasyncs of its data disk so far, for
# binaries without the group counters (each PUT is then one record).
small_put_syncs() { small_put_metric 'strata_device_ops_total{class="write",device="data0",op="sync"}'; }

# small_put_run URL PREFIX PID CONC TAG: one measured wrk run; prints
# "rps acks cpu_us_per_ack".
small_put_run() {
	local url="$1" prefix="$2" pid="$3" conc="$4" tag="$5"
	local t0 t1 acks non2xx hz threads=2
	hz="$(getconf CLK_TCK)"
	((conc >= 2)) || threads=1
	t0="$(cpu_ticks "$pid")"
	WRK_PREFIX="$prefix" WRK_SIZE="$size" wrk -t"$threads" -c"$conc" -d"${duration}s" --latency -s "$dir/small-put.lua" "$url" >"$out/small-put.$tag.wrk"
	t1="$(cpu_ticks "$pid")"
	acks="$(awk '/requests in/ {print $1}' "$out/small-put.$tag.wrk")"
	non2xx="$(awk '/Non-2xx/ {print $5}' "$out/small-put.$tag.wrk")"
	acks=$((acks - ${non2xx:-0}))
	awk -v r="$(wrk_rps "$out/small-put.$tag.wrk")" -v a="$acks" -v n="${non2xx:-0}" -v d="$duration" -v t=$((t1 - t0)) -v hz="$hz" \
		'BEGIN { printf "%.1f %d %.1f %d\n", (a / d), a, (a > 0 ? t / hz * 1e6 / a : 0), n }'
}

bench_small_put() {
	if ! have wrk; then
		say "small-put: SKIPPED (needs wrk: apt-get install wrk)"
		return
	fi
	local size="${SMALL_PUT_SIZE:-1024}" concs="${SMALL_PUT_CONC:-1 16 256}"
	say ""
	say "== small-put: ${size}-byte durable PUTs, wrk -t2 -d${duration}s, new key per request, strata vs httpceiling (bare net/http PUT: discard body, 201)"
	cat >"$dir/small-put.lua" <<'LUA'
local prefix = os.getenv("WRK_PREFIX")
local body = string.rep("s", tonumber(os.getenv("WRK_SIZE")))
local counter = 0
function setup(thread)
	counter = counter + 1
	thread:set("tid", counter)
end
function init(args)
	n = 0
	hdr = { ["Content-Type"] = "application/octet-stream" }
end
function request()
	n = n + 1
	return wrk.format("PUT", string.format("%s%d-%d", prefix, tid, n), hdr, body)
end
LUA
	start_node small-put "[limits]
max_uploads = 512"
	start_ceiling "$size"
	local conc r srow crow sr cr sacks ratios cpus recs g0 g1 c0 c1 y0 y1 rps
	# Warm up both sides (connections, the node's first volume).
	WRK_PREFIX="/blobs/warm%2F" WRK_SIZE="$size" wrk -t2 -c16 -d2s -s "$dir/small-put.lua" "$node_addr" >/dev/null
	WRK_PREFIX="/warm/" WRK_SIZE="$size" wrk -t2 -c16 -d2s -s "$dir/small-put.lua" "$ceiling_addr" >/dev/null
	for conc in $concs; do
		ratios=() cpus=() recs=() rps=()
		for ((r = 1; r <= repeat; r++)); do
			g0="$(small_put_metric strata_store_group_commits_total)"
			c0="$(small_put_metric strata_store_group_records_total)"
			y0="$(small_put_syncs)"
			srow="$(small_put_run "$node_addr" "/blobs/sp$conc-$r%2F" "$node_pid" "$conc" "strata.c$conc.$r")"
			g1="$(small_put_metric strata_store_group_commits_total)"
			c1="$(small_put_metric strata_store_group_records_total)"
			y1="$(small_put_syncs)"
			crow="$(small_put_run "$ceiling_addr" "/sp$conc-$r/" "$ceiling_pid" "$conc" "ceiling.c$conc.$r")"
			read -r sr sacks scpu sbad <<<"$srow"
			read -r cr _ ccpu cbad <<<"$crow"
			local per="n/a"
			if ((g1 > g0)); then
				per="$(ratio $((c1 - c0)) $((g1 - g0)))"
			elif ((y1 > y0)); then
				per="$(ratio "$sacks" $((y1 - y0)))" # acks per device fdatasync
			fi
			ratios+=("$(ratio "$sr" "$cr")")
			cpus+=("$scpu")
			rps+=("$sr")
			[[ $per != n/a ]] && recs+=("$per")
			say "c=$conc run $r: strata $sr acks/s (cpu $scpu us/ack, non-2xx $sbad, records/fdatasync $per) | ceiling $cr /s (cpu $ccpu us/req, non-2xx $cbad) | ratio $(ratio "$sr" "$cr")"
		done
		say "small-put c=$conc median: strata $(median "${rps[@]}") acks/s, cpu $(median "${cpus[@]}") us/ack, records/fdatasync ${recs[*]:+$(median "${recs[@]}")}"
		say "small-put c=$conc ratio strata/ceiling (acks/s), median of the paired runs: $(median "${ratios[@]}")"
	done
	curl -fsS "$node_addr/metrics" >"$out/small-put.strata.metrics" || true
	stop_ceiling
	stop_node
	rm -rf "$node_data"
}
