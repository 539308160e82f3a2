# read-under-upload: GET 1 KiB p99 at c=8 alone and while 1 MiB durable
# PUTs run at c=8, and the uploads' MB/s alone and beside the reads
# (strata bench --scenario read-under-write: three phases of --duration,
# reads alone, both, uploads alone; 1s warmup before each). Variants, run
# alternately in each round so drifting load hits all alike:
#   off   this build, [pacing] enabled = false
#   on    this build, pacing on with the node's default target, or
#   on@T  with read_latency_target T, one variant per T in $PACE_TARGETS
#         (e.g. PACE_TARGETS="1ms 2ms 5ms", to pick a target on a machine)
#   base  $STRATA_BASE_BIN, when set (a build of an older commit, e.g. the
#         8bed8bc baseline), with its defaults
# Figures per variant: read p99 with uploads / alone (goal <= 1.5), upload
# MB/s with reads / alone (goal >= 0.5); and across variants, the read p99
# under uploads and the upload MB/s of each pacing variant over off (and
# base); each the median of the per-round ratios.
bench_read_under_upload() {
	local variants=(off) pacing=() v r t
	[[ -n "${STRATA_BASE_BIN:-}" ]] && variants=(base off)
	if [[ -n "${PACE_TARGETS:-}" ]]; then
		for t in $PACE_TARGETS; do pacing+=("on@$t"); done
	else
		pacing=(on)
	fi
	variants+=("${pacing[@]}")
	say ""
	say "== read-under-upload: GET 1 KiB c=8 beside PUT 1 MiB c=8, ${duration}s per phase, variants ${variants[*]}"
	declare -A p99r share p99with mbwith
	local -a order
	for ((r = 1; r <= repeat; r++)); do
		order=("${variants[@]}")
		if ((r % 2 == 0)); then # reverse the order every other round
			local -a rev=()
			for ((i = ${#order[@]} - 1; i >= 0; i--)); do rev+=("${order[i]}"); done
			order=("${rev[@]}")
		fi
		for v in "${order[@]}"; do
			local saved_bin="$bin" toml=""
			case "$v" in
			base) bin="$(readlink -f "$STRATA_BASE_BIN")" ;;
			off) toml="[pacing]
enabled = false" ;;
			on) toml="[pacing]
enabled = true" ;;
			on@*) toml="[pacing]
enabled = true
read_latency_target = \"${v#on@}\"" ;;
			esac
			start_node "rou-$v-$r" "$toml"
			local json="$out/read-under-upload.$v.$r.json"
			"$bin" bench --addr "$node_addr" --scenario read-under-write --read-size 1KiB --write-size 1MiB \
				--read-concurrency 8 --write-concurrency 8 --read-keys 1000 --zipf 0 --warmup 1s \
				--duration "${duration}s" --json "$json" >"$out/read-under-upload.$v.$r.txt" 2>&1 || true
			curl -fsS "$node_addr/metrics" 2>/dev/null | grep -E '^strata_pacing' >"$out/read-under-upload.$v.$r.metrics" || true
			stop_node
			rm -rf "$node_data"
			bin="$saved_bin"
			local alone with mbw mbs
			alone="$(json_get "$json" '.scenario.phases[0].read.latency_us.p99' "['scenario']['phases'][0]['read']['latency_us']['p99']")"
			with="$(json_get "$json" '.scenario.phases[1].read.latency_us.p99' "['scenario']['phases'][1]['read']['latency_us']['p99']")"
			mbw="$(json_get "$json" '.scenario.upload_mb_per_sec' "['scenario']['upload_mb_per_sec']")"
			mbs="$(json_get "$json" '.scenario.upload_solo_mb_per_sec' "['scenario']['upload_solo_mb_per_sec']")"
			p99r[$v]+="$(ratio "$with" "$alone") "
			share[$v]+="$(ratio "$mbw" "$mbs") "
			p99with[$v,$r]="$with"
			mbwith[$v,$r]="$mbw"
			say "round $r $v: read p99 alone ${alone}us, with uploads ${with}us (x$(ratio "$with" "$alone")) | uploads alone $(printf '%.1f' "$mbs") MB/s, with reads $(printf '%.1f' "$mbw") MB/s (x$(ratio "$mbw" "$mbs"))$(awk '/^strata_pacing_backoffs_total/ {printf " | backoffs %s", $2}' "$out/read-under-upload.$v.$r.metrics")"
		done
	done
	for v in "${variants[@]}"; do
		# shellcheck disable=SC2086
		say "read-under-upload $v: read p99 with/alone median $(median ${p99r[$v]}) (goal <= 1.5), upload MB/s with/alone median $(median ${share[$v]}) (goal >= 0.5)"
	done
	local lat=() mb=() cmp p
	for p in "${pacing[@]}"; do
		for cmp in off base; do
			[[ " ${variants[*]} " == *" $cmp "* ]] || continue
			lat=() mb=()
			for ((r = 1; r <= repeat; r++)); do
				lat+=("$(ratio "${p99with[$p,$r]}" "${p99with[$cmp,$r]}")")
				mb+=("$(ratio "${mbwith[$p,$r]}" "${mbwith[$cmp,$r]}")")
			done
			say "read-under-upload $p/$cmp, under uploads: read p99 median $(median "${lat[@]}"), upload MB/s median $(median "${mb[@]}")"
		done
	done
}
