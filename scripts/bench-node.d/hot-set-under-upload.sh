# shellcheck shell=bash
# hot-set-under-upload: does a stream of uploads push a hot read set out of
# RAM? A hot set of HOT_KEYS x 1 KiB blobs is written and read until it is
# RAM-resident; then new 1 MiB blobs totalling twice the RAM cache are
# uploaded (strata bench, 8 clients, fresh keys) while wrk keeps reading the
# hot set; then the hot set is read alone. Figures: the RAM hit ratio of
# the hot set's reads during the uploads (strata_tier_hits_total /
# strata_tier_misses_total{tier="ram"} deltas; a 1 KiB blob is one item),
# and the share of the hot set a read serves from RAM before and after the
# uploads (one read of every hot key, X-Strata-Tier). The baseline is the
# before figure of the same run (1.0 when the set is resident).
#   HOT_KEYS       hot blobs (default 2000)
#   HOT_RAM_CACHE  ram_cache_size of the node (default: the node's default)
bench_hot_set_under_upload() {
	if ! have wrk; then
		say "hot-set-under-upload: SKIPPED (needs wrk: apt-get install wrk)"
		return
	fi
	local keys="${HOT_KEYS:-2000}" extra=""
	[[ -n "${HOT_RAM_CACHE:-}" ]] && extra="ram_cache_size = \"$HOT_RAM_CACHE\""
	start_node hotset "$extra"
	local ram
	ram="$(curl -fsS "$node_addr/metrics" | awk '/^strata_tier_capacity_bytes\{tier="ram"\}/ {printf "%d", $2}')"
	local uploads=$(((2 * ram + (1 << 20) - 1) / (1 << 20)))
	say ""
	say "== hot-set-under-upload: $keys hot keys x 1 KiB, then $uploads x 1 MiB uploads (2x the RAM cache of $((ram >> 20)) MiB) while the hot set is read"
	"$bin" bench --addr "$node_addr" --size 1KiB --keys "$keys" --key-prefix hot/ --read-ratio 1 --ops 1 \
		--concurrency 16 --duration 10m >"$out/hot-set.prefill.txt"
	random_key_lua "$dir/hotset.lua"
	cat >"$dir/census.lua" <<'LUA'
-- One pass over every hot key, one request at a time (wrk -t1 -c1):
-- counts the X-Strata-Tier of each answer, then stops the thread (wrk
-- itself ends at -d).
local keys = tonumber(os.getenv("WRK_KEYS"))
local threads = {}
function setup(thread)
	table.insert(threads, thread)
end
function init(args)
	i, done_n, ram = 0, 0, 0
end
function request()
	local r = wrk.format("GET", string.format("/blobs/hot%%2F%010d", i % keys))
	i = i + 1
	return r
end
function response(status, headers, body)
	done_n = done_n + 1
	if status == 200 and headers["X-Strata-Tier"] == "ram" then ram = ram + 1 end
	if done_n >= keys then
		wrk.thread:stop()
	end
end
function done(summary, latency, requests)
	for _, t in ipairs(threads) do
		io.write(string.format("census: %d of %d from ram\n", t:get("ram"), t:get("done_n")))
	end
end
LUA
	# census NAME: the share of the hot keys a read now serves from RAM.
	census() {
		# at most about 5 ms a read on a busy machine, and a margin
		WRK_KEYS=$keys wrk -t1 -c1 -d"$((keys / 200 + 3))s" -s "$dir/census.lua" "$node_addr" >"$out/hot-set.census.$1.wrk"
		awk -v want="$keys" '/^census:/ {if ($4 < want) printf "(only %d of %d read) ", $4, want; if ($4 > 0) printf "%.4f", $2 / $4}' "$out/hot-set.census.$1.wrk"
	}
	# ram_counts: "hits misses" of the RAM tier now.
	ram_counts() {
		curl -fsS "$node_addr/metrics" | awk '
			/^strata_tier_hits_total\{tier="ram"\}/ {h = $2}
			/^strata_tier_misses_total\{tier="ram"\}/ {m = $2}
			END {printf "%d %d\n", h, m}'
	}
	# hit_ratio H0 M0 H1 M1
	hit_ratio() { awk -v h0="$1" -v m0="$2" -v h1="$3" -v m1="$4" 'BEGIN {n = (h1 - h0) + (m1 - m0); if (n > 0) printf "%.4f", (h1 - h0) / n; else print "n/a"}'; }
	local hot_wrk=(env WRK_PREFIX="/blobs/hot%2F" WRK_WIDTH=10 wrk -t2 -c8 -s "$dir/hotset.lua" "$node_addr")
	# Warm: every hot key read several times.
	WRK_KEYS=$keys "${hot_wrk[@]}" -d5s >/dev/null
	local before after c1 c2
	before="$(census before)"
	c1="$(ram_counts)"
	"$bin" bench --addr "$node_addr" --size 1MiB --read-ratio 0 --concurrency 8 --keys 1000000 --zipf 0 \
		--key-prefix "upload/" --no-prefill --ops "$uploads" --duration 30m --json "$out/hot-set.uploads.json" >"$out/hot-set.uploads.txt" &
	local up_pid=$!
	local i=0
	while kill -0 "$up_pid" 2>/dev/null; do
		i=$((i + 1))
		WRK_KEYS=$keys "${hot_wrk[@]}" -d2s >"$out/hot-set.during.$i.wrk"
	done
	wait "$up_pid"
	c2="$(ram_counts)"
	after="$(census after)"
	curl -fsS "$node_addr/metrics" >"$out/hot-set.metrics" || true
	stop_node
	local during
	# shellcheck disable=SC2086
	during="$(hit_ratio $c1 $c2)"
	say "uploads: $(json_get "$out/hot-set.uploads.json" .write.ops "['write']['ops']") x 1 MiB at $(json_get "$out/hot-set.uploads.json" .write.mb_per_sec "['write']['mb_per_sec']" | xargs printf '%.0f') MB/s, errors $(json_get "$out/hot-set.uploads.json" .write.errors "['write']['errors']")"
	say "hot set RAM hit ratio: reads during the uploads $during (strata_tier_*_total{tier=\"ram\"})"
	say "write-through: $(grep -E "^strata_tier_(writethrough|fills)_total" "$out/hot-set.metrics" | tr '\n' ' ')"
	say "hot-set-under-upload: share of the hot set in RAM after uploads of 2x the RAM cache (one read of each key, X-Strata-Tier): $after (before the uploads: $before)"
	rm -rf "$dir/hotset"
}
