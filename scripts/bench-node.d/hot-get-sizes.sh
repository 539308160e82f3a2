# shellcheck shell=bash
# hot-get-sizes: hot GETs served from the node's RAM cache at 1 KiB, 64 KiB
# and 1 MiB (HOT_SIZES, bytes), wrk -t2 at c=16 and c=64 (HOT_CONNS), each
# run alternating three servers of the same bytes: strata, nginx serving
# them as static files from the page cache, and internal/cmd/httpceiling
# (bare net/http writing them from memory). Figures, medians of the paired
# per-run ratios: strata/nginx and strata/ceiling req/s, and CPU per request
# (user+sys ticks of the server over the requests wrk completed) of strata
# against the ceiling and nginx.
#
# HOT_LEAN=1 adds a fourth server to each round: httpceiling -lean, a
# minimal HTTP/1.1 loop (no net/http) writing the same bytes, which bounds
# what a leaner serving path could gain.
#
# HOT_BASE_BIN=PATH adds a node of that strata binary (an older build, for
# before/after figures) to each round, loaded with the same keys: figures
# strata/base for req/s and CPU per request.
#
# Keys per size: --keys, capped so a size's keys total at most 32 MiB (all
# fit the 512 MiB RAM cache of the node it starts); at least 8.
lean_pid=""
base_pid=""
# start_base_node: a node of $HOT_BASE_BIN on its own data dir; sets
# base_addr and base_pid. stop_base_node ends it.
start_base_node() {
	local port
	port="$(free_port)"
	base_addr="http://127.0.0.1:$port"
	mkdir -p "$dir/hotbase"
	printf 'listen = "127.0.0.1:%s"\nadmin_listen = "off"\ndata_dir = "%s"\nlog_level = "warn"\nram_cache_size = "512MiB"\n' "$port" "$dir/hotbase" >"$dir/hotbase.toml"
	"$HOT_BASE_BIN" serve --config "$dir/hotbase.toml" >"$out/hotbase.node.log" 2>&1 &
	base_pid=$!
	wait_ready "$base_addr" 600 "$base_pid" "$out/hotbase.node.log" || exit 1
}
stop_base_node() { stop_pid base_pid; }
# start_lean_ceiling SIZE: httpceiling -lean answering GETs with SIZE
# bytes; sets lean_addr. stop_lean_ceiling ends it.
start_lean_ceiling() { run_ceiling lean_pid lean_addr "$1" -lean; }
stop_lean_ceiling() { stop_pid lean_pid; }

bench_hot_get_sizes() {
	if ! have wrk || ! have nginx; then
		say "hot-get-sizes: SKIPPED (needs wrk and nginx: apt-get install wrk nginx-light)"
		return
	fi
	local sizes=(${HOT_SIZES:-1024 65536 1048576}) conns=(${HOT_CONNS:-16 64})
	local www="$dir/www-sizes" hz size n c r
	hz="$(getconf CLK_TCK)"
	say ""
	say "== hot-get-sizes: sizes ${sizes[*]} B, connections ${conns[*]}, wrk -t2 -d${duration}s, $repeat alternating runs of strata | nginx | httpceiling"
	start_node hotsizes 'ram_cache_size = "512MiB"'
	[[ -n "${HOT_BASE_BIN:-}" ]] && start_base_node
	declare -A nkeys=()
	for size in "${sizes[@]}"; do
		n=$(((32 << 20) / size))
		((n > keys)) && n=$keys
		((n < 8)) && n=8
		nkeys[$size]=$n
		make_hot_files "$www/s$size" "$n" "$size"
		load_hot_keys "$www/s$size" "s$size%2F"
		if [[ -n "$base_pid" ]]; then
			(cd "$www/s$size" && ls | xargs -P 16 -I{} curl -fsS -o /dev/null -X PUT --data-binary @{} "$base_addr/blobs/s$size%2F{}")
		fi
	done
	write_hot_lua
	start_nginx "$www" "s${sizes[0]}/000000"

	# run_wrk NAME URL PREFIX KEYS CONNS PID TICKS_FN: one measured run;
	# sets rps and us (CPU microseconds per request of PID).
	run_wrk() {
		local name="$1" url="$2" prefix="$3" k="$4" conns="$5" pid="$6" ticks="$7" t0 t1 reqs
		t0="$($ticks "$pid")"
		WRK_KEYS=$k WRK_PREFIX="$prefix" wrk -t2 -c"$conns" -d"${duration}s" --latency -s "$dir/hot.lua" "$url" >"$out/$name.wrk"
		t1="$($ticks "$pid")"
		rps="$(wrk_rps "$out/$name.wrk")"
		reqs="$(wrk_requests "$out/$name.wrk")"
		us="$(awk -v t="$((t1 - t0))" -v hz="$hz" -v n="$reqs" 'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "n/a" }')"
	}
	local rps us tier
	for size in "${sizes[@]}"; do
		n=${nkeys[$size]}
		start_ceiling "$size"
		[[ "${HOT_LEAN:-0}" == 1 ]] && start_lean_ceiling "$size"
		tier="$(curl -fsS -o /dev/null -D - "$node_addr/blobs/s$size%2F000000" | awk -F': ' 'tolower($1) == "x-strata-tier" {print $2}' | tr -d '\r')"
		# Warm-up: the node's RAM cache, nginx's open file cache, the connections.
		WRK_KEYS=$n WRK_PREFIX="/blobs/s$size%2F" wrk -t2 -c16 -d3s -s "$dir/hot.lua" "$node_addr" >/dev/null
		WRK_KEYS=$n WRK_PREFIX="/s$size/" wrk -t2 -c16 -d3s -s "$dir/hot.lua" "$nginx_addr" >/dev/null
		if [[ -n "$base_pid" ]]; then
			WRK_KEYS=$n WRK_PREFIX="/blobs/s$size%2F" wrk -t2 -c16 -d3s -s "$dir/hot.lua" "$base_addr" >/dev/null
		fi
		tier="$(curl -fsS -o /dev/null -D - "$node_addr/blobs/s$size%2F000000" | awk -F': ' 'tolower($1) == "x-strata-tier" {print $2}' | tr -d '\r')"
		say "-- $size B x $n keys (X-Strata-Tier of a hot key after warm-up: $tier)"
		for c in "${conns[@]}"; do
			local sn=() sc=() cn=() cc=() sv=() nv=() cv=() su=() nu=() cu=() lv=() lu=() ln=() lc=() bv=() bu=() br=() bc=()
			for ((r = 1; r <= repeat; r++)); do
				local base="hot-get-sizes.$size.c$c.$r"
				run_wrk "$base.strata" "$node_addr" "/blobs/s$size%2F" "$n" "$c" "$node_pid" cpu_ticks
				local s="$rps" s_us="$us"
				run_wrk "$base.nginx" "$nginx_addr" "/s$size/" "$n" "$c" "$nginx_pid" nginx_ticks
				local g="$rps" g_us="$us"
				run_wrk "$base.ceiling" "$ceiling_addr" "/x" "$n" "$c" "$ceiling_pid" cpu_ticks
				local h="$rps" h_us="$us" lean_line="" base_line=""
				if [[ -n "$base_pid" ]]; then
					run_wrk "$base.base" "$base_addr" "/blobs/s$size%2F" "$n" "$c" "$base_pid" cpu_ticks
					bv+=("$rps") bu+=("$us") br+=("$(ratio "$s" "$rps")") bc+=("$(ratio "$s_us" "$us")")
					base_line=" | base $rps req/s ${us} us/req"
				fi
				if [[ -n "$lean_pid" ]]; then
					run_wrk "$base.lean" "$lean_addr" "/x" "$n" "$c" "$lean_pid" cpu_ticks
					lv+=("$rps") lu+=("$us") ln+=("$(ratio "$rps" "$g")") lc+=("$(ratio "$us" "$h_us")")
					lean_line=" | lean $rps req/s ${us} us/req"
				fi
				sv+=("$s") nv+=("$g") cv+=("$h") su+=("$s_us") nu+=("$g_us") cu+=("$h_us")
				sn+=("$(ratio "$s" "$g")") sc+=("$(ratio "$s" "$h")")
				cn+=("$(ratio "$s_us" "$g_us")") cc+=("$(ratio "$s_us" "$h_us")")
				say "  c=$c run $r: strata $s req/s ${s_us} us/req ($(wrk_latency "$out/$base.strata.wrk")) | nginx $g req/s ${g_us} us/req | ceiling $h req/s ${h_us} us/req $lean_line$base_line | strata/nginx $(ratio "$s" "$g") strata/ceiling $(ratio "$s" "$h")"
			done
			grep -hE 'Non-2xx|Socket errors' "$out"/hot-get-sizes."$size".c"$c".*.wrk | sed 's/^/  /' | tee -a "$summary" || true
			say "  size=$size c=$c medians: strata $(median "${sv[@]}") nginx $(median "${nv[@]}") ceiling $(median "${cv[@]}") req/s; CPU us/req strata $(median "${su[@]}") nginx $(median "${nu[@]}") ceiling $(median "${cu[@]}")"
			say "  size=$size c=$c ratio (median of paired runs): strata/nginx $(median "${sn[@]}") strata/ceiling $(median "${sc[@]}") req/s; CPU/req strata/ceiling $(median "${cc[@]}") strata/nginx $(median "${cn[@]}")"
			if [[ ${#bv[@]} -gt 0 ]]; then
				say "  size=$size c=$c base build: $(median "${bv[@]}") req/s, $(median "${bu[@]}") us/req; strata/base $(median "${br[@]}") req/s; CPU/req strata/base $(median "${bc[@]}")"
			fi
			if [[ ${#lv[@]} -gt 0 ]]; then
				say "  size=$size c=$c lean loop: $(median "${lv[@]}") req/s, $(median "${lu[@]}") us/req; lean/nginx $(median "${ln[@]}") req/s; CPU/req lean/ceiling $(median "${lc[@]}")"
			fi
		done
		stop_ceiling
		stop_lean_ceiling
	done
	curl -fsS "$node_addr/metrics" >"$out/hot-get-sizes.strata.metrics" || true
	stop_nginx
	stop_node
	stop_base_node
	rm -rf "$www" "$node_data" "$dir/hotbase"
}
