#!/usr/bin/env bash
# bench-tiers.sh: Strata on an emulated HDD/SSD layout (scripts/tier-emulate.sh),
# every figure a ratio against a baseline measured in the same run, runs of
# Strata and of its baseline alternating so drifting load hits both alike.
#
#   fio         baselines on the throttled "HDD" and on the "SSD": 1 MiB
#               sequential O_DIRECT write and read (QD1), 4 KiB random
#               O_DIRECT reads at QD1 and QD32.
#   cold-get    4 KiB GETs of KEYS keys at random, 64 clients, RAM and SSD
#               caches off, so every GET needs the HDD; vs fio 4 KiB random
#               reads at QD32 on the HDD (IOPS ratio). HDD reads per GET from
#               the node's /metrics (strata_device_ops_total, data devices)
#               and from the kernel's count for the cgroup on the loop device.
#   warm-get    4 KiB GETs of 1000 keys (fit in RAM) after a warm-up; vs fio
#               4 KiB random reads at QD32 on the SSD; tier shares, HDD reads.
#   large-put   1 MiB PUTs, 16 clients; vs fio 1 MiB sequential O_DIRECT
#               writes on the HDD (MB/s ratio).
#   read-under-write
#               cold 4 KiB GETs (caches off, 8 clients) alone, then with 8
#               clients uploading 8 MiB blobs beside them (two strata bench
#               processes); read p99 with uploads over read p99 alone, and the
#               upload MB/s. With a strata whose bench has --scenario, also
#               `strata bench --scenario read-under-write` over HTTP.
#   device-model
#               strata bench --embedded --device-model hdd (one modelled head,
#               no cgroup): cold 4 KiB GETs and 1 MiB PUTs vs the model's own
#               figures, and --scenario read-under-write when bench has it.
#
# Usage (as root): scripts/bench-tiers.sh [--dir DIR] [--duration S] [--repeat N]
#                  [--keys N] [--out DIR] [--keep] [TEST...]
#   TEST       any of fio cold-get warm-get large-put read-under-write device-model (default: all)
#   --dir      work directory (default: a new one under /var/tmp); the tier
#              layout goes to DIR/tiers
#   --duration measured seconds per Strata run (default 15)
#   --fio-runtime seconds per fio run (default 10)
#   --repeat   measured runs per side, alternating (default 3)
#   --keys     keys of cold-get (default 50000, about 400 MiB of records)
#   --out      results (default DIR/results): summary.txt, results.tsv,
#              bench-tiers.json and every raw output
#   SHORT=1    2-second runs, one repeat, small files, no read-under-write
#              and no --scenario runs: a smoke test for CI (about a minute
#              once the binary is built; STRATA_BIN=PATH skips the build)
# Needs root (loop device, mount, cgroups). Installs fio with apt-get when it
# is missing; without fio the baselines are skipped and ratios say n/a.
# Every figure is from one machine at one moment: the summary gives the load
# average at the start of each run.
set -euo pipefail
self="$(readlink -f "$0")"
cd "$(dirname "$self")/.."
repo="$PWD"
# shellcheck source=lib/node.sh
source "$repo/scripts/lib/node.sh"

if [[ $EUID -ne 0 ]]; then
	echo "bench-tiers: SKIPPED: needs root (loop device, mount, cgroups); run it as root: sudo $0 $*"
	exit 0
fi

short="${SHORT:-0}"
dir=""
out=""
keep=0
tests=()
if [[ $short == 1 ]]; then
	duration=2 repeat=1 keys=2000 img_size=3G fio_size=64M rw_keys=1000 warmup=1 fio_runtime=1
else
	duration=15 repeat=3 keys=50000 img_size=16G fio_size=1G rw_keys=20000 warmup=5 fio_runtime=10
fi
while [[ $# -gt 0 ]]; do
	case "$1" in
	--dir) dir="$2"; shift 2 ;;
	--duration) duration="$2"; shift 2 ;;
	--fio-runtime) fio_runtime="$2"; shift 2 ;;
	--repeat) repeat="$2"; shift 2 ;;
	--keys) keys="$2"; shift 2 ;;
	--out) out="$2"; shift 2 ;;
	--keep) keep=1; shift ;;
	-h | --help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$self"; exit 0 ;;
	fio | cold-get | warm-get | large-put | read-under-write | device-model) tests+=("$1"); shift ;;
	*) echo "bench-tiers: unknown argument $1" >&2; exit 2 ;;
	esac
done
if [[ ${#tests[@]} -eq 0 ]]; then
	tests=(fio cold-get warm-get large-put read-under-write device-model)
	[[ $short == 1 ]] && tests=(fio cold-get warm-get large-put device-model)
fi
if [[ -z "$dir" ]]; then
	dir="$(mktemp -d /var/tmp/strata-tiers-bench.XXXXXX)"
else
	mkdir -p "$dir"
fi
out="${out:-$dir/results}"
mkdir -p "$out"
summary="$out/summary.txt"
results="$out/results.tsv"
: >"$summary"
printf 'test\trun\tmetric\tfigure\tbaseline\tbaseline_name\tratio\tload1\tload5\tnote\n' >"$results"
tiers="$dir/tiers"
emulate="$repo/scripts/tier-emulate.sh"

node_pid=""
node_name=""
writer_pid=""
tiers_up=0
cleanup() {
	set +e
	if [[ -n "$writer_pid" ]]; then
		kill "$writer_pid" 2>/dev/null
		wait "$writer_pid" 2>/dev/null
	fi
	stop_node
	if [[ $tiers_up -eq 1 ]] && ! "$emulate" down --dir "$tiers" >/dev/null; then
		echo "bench-tiers: tier layout left at $tiers: run $emulate down --dir $tiers" >&2
		keep=1
	fi
	if [[ $keep -eq 0 ]]; then
		find "$dir" -mindepth 1 -maxdepth 1 ! -path "$out" -exec rm -rf {} +
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "$*" | tee -a "$summary"; }
have() { command -v "$1" >/dev/null 2>&1; }
load1() { cut -d' ' -f1 /proc/loadavg; }
load5() { cut -d' ' -f2 /proc/loadavg; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "") printf "%.3f", a / b; else print "n/a" }'; }
median() { printf '%s\n' "$@" | grep -v '^n/a$' | sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
jq_num() { jq -r "$2 // empty" "$1" 2>/dev/null || true; } # jq_num FILE FILTER

# record TEST RUN METRIC STRATA BASELINE BASELINE_NAME [NOTE]: one line of results.tsv.
record() {
	local r
	r="$(ratio "$4" "$5")"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$r" "$run_load1" "$run_load5" "${7:-}" >>"$results"
	echo "$r"
}
run_load1="" run_load5=""
mark_run() { run_load1="$(load1)"; run_load5="$(load5)"; }

if ! have jq; then
	echo "bench-tiers: needs jq to read JSON results (apt-get install jq)" >&2
	exit 1
fi
fio_ok=1
if ! have fio; then
	echo "bench-tiers: fio missing; installing it from Debian (apt-get install -y fio)" >&2
	if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fio >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fio >/dev/null 2>&1; }; }; then
		fio_ok=0
	fi
	have fio || fio_ok=0
fi

bin="${STRATA_BIN:-$dir/strata}"
if [[ -z "${STRATA_BIN:-}" ]]; then
	go build -o "$bin" ./cmd/strata
fi
has_scenario=0
if [[ $short == 1 ]]; then
	: # SHORT=1 leaves the scenarios out (three phases each)
elif "$bin" bench --help 2>&1 | grep -q -- '-scenario'; then
	has_scenario=1
fi

layout="$("$emulate" up --dir "$tiers" --size "$img_size" 2> >(tee -a "$summary" >&2))" || {
	echo "bench-tiers: tier-emulate.sh up failed" >&2
	exit 1
}
tiers_up=1
eval "$layout"
majmin="$(cat "/sys/block/$(basename "$LOOP_DEV")/dev")"

say "strata tier benchmarks, $(date -u +%FT%TZ), $(nproc) cores, $(uname -r)${SHORT:+, SHORT=$short}"
say "strata: $("$bin" version | head -1)"
say "HDD: $HDD_DIR on $LOOP_DEV ($majmin), throttle: $THROTTLE"
say "SSD: $SSD_DIR ($(df -T "$SSD_DIR" | awk 'NR==2 {print $1 ", " $2}'))"
if [[ $THROTTLE_MODE != iocost ]]; then
	say "NOTE: the throttle budgets reads and writes separately (no io.cost here): on the HDD, reads do not queue behind uploads as on one disk head; see device-model for a shared budget"
fi
say "runs: strata ${duration}s, fio ${fio_runtime}s, $repeat per side, alternating; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# in_cg CMD...: run CMD inside the throttled cgroup (tier-emulate.sh execs
# it, so a background "$emulate" run ... & has CMD's pid).
in_cg() { "$emulate" run --dir "$tiers" -- "$@"; }

# cg_reads: read I/Os the kernel completed on the loop device for the cgroup.
cg_reads() {
	if [[ -f "$CGROUP/blkio.throttle.io_serviced" ]]; then
		awk -v d="$majmin" '$1 == d && $2 == "Read" {print $3; found = 1} END {if (!found) print 0}' "$CGROUP/blkio.throttle.io_serviced"
	else
		awk -v d="$majmin" '$1 == d {for (i = 2; i <= NF; i++) if ($i ~ /^rios=/) {sub("rios=", "", $i); print $i; found = 1}} END {if (!found) print 0}' "$CGROUP/io.stat"
	fi
}


# start_node NAME [EXTRA_TOML]: a fresh node inside the cgroup, HDD tier on
# the loop device, SSD cache and index on the SSD.
start_node() {
	local name="$1" extra="${2:-}" port
	node_name="$name"
	port="$(free_port)"
	node_addr="http://127.0.0.1:$port"
	rm -rf "${HDD_DIR:?}/$name" "${SSD_DIR:?}/$name"
	mkdir -p "$HDD_DIR/$name" "$SSD_DIR/$name"
	{
		echo "listen = \"127.0.0.1:$port\""
		echo "admin_listen = \"off\""
		echo "data_dir = \"$SSD_DIR/$name\""
		echo "hdd_dirs = [\"$HDD_DIR/$name\"]"
		echo "ssd_dir = \"$SSD_DIR/$name/cache\""
		echo "index_dir = \"$SSD_DIR/$name/index\""
		echo "volume_size = \"1GiB\""
		echo "log_level = \"warn\""
		echo -e "$extra"
	} >"$dir/$name.toml"
	"$emulate" run --dir "$tiers" -- "$bin" serve --config "$dir/$name.toml" >"$out/$name.node.log" 2>&1 &
	node_pid=$! # the node itself: tier-emulate.sh execs it
	wait_ready "$node_addr" 600 "$node_pid" "$out/$name.node.log" || exit 1
}

# stop_node: stop the node and drop its data (its log stays in $out).
stop_node() {
	if [[ -n "$node_pid" ]]; then
		kill -TERM "$node_pid" 2>/dev/null || true
		wait "$node_pid" 2>/dev/null || true
		node_pid=""
		rm -rf "${HDD_DIR:?}/$node_name" "${SSD_DIR:?}/$node_name"
	fi
}

# node_hdd_reads: read operations the node did on its HDD (data) devices.
node_hdd_reads() {
	curl -fsS "$node_addr/metrics" | awk '/^strata_device_ops_total/ && /device="data[0-9]+"/ && /op="read"/ {s += $2} END {printf "%d\n", s}'
}

# node_coalesced: cache misses that waited for another GET's read of the
# same key instead of reading themselves.
node_coalesced() {
	curl -fsS "$node_addr/metrics" | awk '/^strata_tier_coalesced_reads_total/ {s += $2} END {printf "%d\n", s}'
}

# node_gets: GETs of blobs the node answered with 200, the denominator of
# HDD reads per GET.
node_gets() {
	curl -fsS "$node_addr/metrics" | awk '/^strata_http_requests_total/ && /method="GET"/ && /code="200"/ && /route="[^"]*blob/ {s += $2} END {printf "%d\n", s}'
}

# bench NAME ARGS...: strata bench against the node, JSON to $out/NAME.json.
bench() {
	local name="$1"
	shift
	"$bin" bench --addr "$node_addr" --json "$out/$name.json" "$@" >"$out/$name.txt" 2>&1 || {
		echo "bench-tiers: strata bench $name failed:" >&2
		tail -5 "$out/$name.txt" >&2
		return 1
	}
}

# fio_file WHERE: lay out the fio data file on the HDD or the SSD once.
fio_file() {
	local d
	case "$1" in hdd) d="$HDD_DIR/fio" ;; ssd) d="$SSD_DIR/fio" ;; esac
	if [[ ! -f "$d/fio.data" ]]; then
		mkdir -p "$d"
		in_cg fio --name=layout --filename="$d/fio.data" --size="$fio_size" --rw=write --bs=1M --direct=1 \
			--ioengine=psync --end_fsync=1 --output-format=json --output="$out/fio.layout.$1.json" >/dev/null
	fi
	echo "$d/fio.data"
}

# fio_run WHERE NAME RW BS QD: one fio job on WHERE (hdd|ssd) inside the
# cgroup; prints the figure: IOPS for 4 KiB jobs, MB/s for 1 MiB ones.
fio_run() {
	local where="$1" name="$2" rw="$3" bs="$4" qd="$5" file dirn json
	file="$(fio_file "$where")"
	json="$out/fio.$where.$name.$run.json"
	in_cg fio --name="$name" --filename="$file" --size="$fio_size" --rw="$rw" --bs="$bs" --direct=1 \
		--ioengine=libaio --iodepth="$qd" --runtime="$fio_runtime" --time_based --randrepeat=0 \
		--group_reporting --output-format=json --output="$json" >/dev/null
	dirn=read
	[[ $rw == write ]] && dirn=write
	if [[ $bs == 4k ]]; then
		jq -r ".jobs[0].$dirn.iops | . * 10 | round / 10" "$json"
	else
		jq -r ".jobs[0].$dirn.bw_bytes / 1e6 | . * 10 | round / 10" "$json"
	fi
}

fio_p99_ms() { jq -r '.jobs[0].read.clat_ns.percentile."99.000000" / 1e6 | . * 100 | round / 100' "$out/fio.$1.$2.$run.json"; }

run=0
fio_baselines() {
	say ""
	say "== fio baselines (O_DIRECT, libaio, ${fio_runtime}s each, file $fio_size)"
	if [[ $fio_ok -ne 1 ]]; then
		say "fio: SKIPPED (fio missing and apt-get install -y fio failed)"
		return
	fi
	local where v
	for ((run = 1; run <= repeat; run++)); do
		for where in hdd ssd; do
			mark_run
			local sw sr q1 q32
			sw="$(fio_run "$where" seqwrite write 1M 1)"
			sr="$(fio_run "$where" seqread read 1M 1)"
			q1="$(fio_run "$where" randread-qd1 randread 4k 1)"
			q32="$(fio_run "$where" randread-qd32 randread 4k 32)"
			record fio "$run" "$where seq write 1MiB MB/s" "$sw" "" "" >/dev/null
			record fio "$run" "$where seq read 1MiB MB/s" "$sr" "" "" >/dev/null
			record fio "$run" "$where rand read 4KiB QD1 IOPS" "$q1" "" "" >/dev/null
			record fio "$run" "$where rand read 4KiB QD32 IOPS" "$q32" "" "" >/dev/null
			say "run $run $where: seq write 1MiB $sw MB/s | seq read 1MiB $sr MB/s | rand read 4KiB QD1 $q1 IOPS (p99 $(fio_p99_ms "$where" randread-qd1) ms) | QD32 $q32 IOPS (p99 $(fio_p99_ms "$where" randread-qd32) ms) | load $run_load1"
		done
	done
}

cold_get() {
	say ""
	say "== cold-get: 4 KiB GETs of $keys keys at random (zipf 0), 64 clients, RAM and SSD caches off; baseline fio 4 KiB randread QD32 on the HDD"
	start_node cold 'ram_cache_size = "0"\nssd_cache_size = "0"'
	bench cold.prefill --size 4KiB --read-ratio 1 --zipf 0 --keys "$keys" --key-prefix cold/ --concurrency 16 --duration 1s --verify
	say "prefill: $(grep '^prefill:' "$out/cold.prefill.txt" || true)"
	local rv=() pv=() s f m0 m1 k0 k1 g0 g1 c0 c1 gets per_get per_get_kernel p99 hdd_share
	for ((run = 1; run <= repeat; run++)); do
		mark_run
		m0="$(node_hdd_reads)"
		k0="$(cg_reads)"
		g0="$(node_gets)"
		c0="$(node_coalesced)"
		# A count, not a deadline, ends the run, so no GET is cut off after
		# its read: reads per GET is exact. About $duration s at 150 IOPS.
		local plots=()
		[[ $run -eq 1 && $has_scenario -eq 1 ]] && plots=(--plot-dir "$out/plots/cold")
		bench "cold.$run" --size 4KiB --read-ratio 1 --zipf 0 --keys "$keys" --key-prefix cold/ --no-prefill \
			--concurrency 64 --ops "$((duration * 150))" --duration "$((duration * 10))s" "${plots[@]}"
		m1="$(node_hdd_reads)"
		k1="$(cg_reads)"
		g1="$(node_gets)"
		c1="$(node_coalesced)"
		s="$(jq_num "$out/cold.$run.json" '.read.ops_per_sec | . * 10 | round / 10')"
		gets="$(jq_num "$out/cold.$run.json" '.read.ops')"
		p99="$(jq_num "$out/cold.$run.json" '.read.latency_us.p99 / 1000')"
		hdd_share="$(jq_num "$out/cold.$run.json" '.tier_hit_ratio.hdd')"
		per_get="$(ratio "$((m1 - m0))" "$((g1 - g0))")"
		per_get_kernel="$(ratio "$((k1 - k0))" "$((g1 - g0))")"
		f=""
		[[ $fio_ok -eq 1 ]] && f="$(fio_run hdd randread-qd32 randread 4k 32)"
		rv+=("$(record cold-get "$run" "GET/s vs fio QD32 IOPS" "$s" "$f" "fio randread 4KiB QD32 HDD" "hdd_reads_per_get=$per_get kernel_reads_per_get=$per_get_kernel coalesced=$((c1 - c0))")")
		pv+=("$per_get")
		say "run $run: strata $s GET/s (p99 $p99 ms, hdd share $hdd_share, $gets GETs, HDD reads per GET: node $per_get, kernel $per_get_kernel over $((g1 - g0)) GETs answered; $((m1 - m0)) reads + $((c1 - c0)) coalesced) | fio QD32 ${f:-n/a} IOPS | ratio ${rv[-1]} | load $run_load1"
	done
	stop_node
	say "cold-get ratio strata GET/s / fio QD32 IOPS, median of paired runs: $(median "${rv[@]}") (goal >= 0.95); HDD reads per GET (node counters), median: $(median "${pv[@]}")"
}

warm_get() {
	say ""
	say "== warm-get: 4 KiB GETs of 1000 keys at random, 64 clients, default caches, ${warmup}s warm-up; baseline fio 4 KiB randread QD32 on the SSD"
	start_node warm
	bench warm.prefill --size 4KiB --read-ratio 1 --zipf 0 --keys 1000 --key-prefix warm/ --concurrency 16 --duration 1s --verify
	local rv=() s f m0 m1 g0 g1 gets per_get p99 shares
	for ((run = 1; run <= repeat; run++)); do
		mark_run
		bench "warm.$run.warmup" --size 4KiB --read-ratio 1 --zipf 0 --keys 1000 --key-prefix warm/ --no-prefill \
			--concurrency 64 --warmup "${warmup}s" --duration 1s # unmeasured: fills the RAM cache
		m0="$(node_hdd_reads)"
		g0="$(node_gets)"
		bench "warm.$run" --size 4KiB --read-ratio 1 --zipf 0 --keys 1000 --key-prefix warm/ --no-prefill \
			--concurrency 64 --duration "${duration}s"
		sleep 1 # GETs cut off at the deadline finish (RAM hits: no reads either way)
		m1="$(node_hdd_reads)"
		g1="$(node_gets)"
		s="$(jq_num "$out/warm.$run.json" '.read.ops_per_sec | . * 10 | round / 10')"
		gets="$(jq_num "$out/warm.$run.json" '.read.ops')"
		p99="$(jq_num "$out/warm.$run.json" '.read.latency_us.p99 / 1000')"
		shares="$(jq -r '.tier_hit_ratio | to_entries | map("\(.key)=\(.value * 1000 | round / 10)%") | join(" ")' "$out/warm.$run.json")"
		per_get="$(ratio "$((m1 - m0))" "$((g1 - g0))")"
		f=""
		[[ $fio_ok -eq 1 ]] && f="$(fio_run ssd randread-qd32 randread 4k 32)"
		rv+=("$(record warm-get "$run" "GET/s vs fio QD32 IOPS on SSD" "$s" "$f" "fio randread 4KiB QD32 SSD" "tiers: $shares; hdd_reads_per_get=$per_get")")
		say "run $run: strata $s GET/s (p99 $p99 ms; tiers $shares; HDD reads per GET $per_get) | fio SSD QD32 ${f:-n/a} IOPS | ratio ${rv[-1]} | load $run_load1"
	done
	stop_node
	say "warm-get ratio strata GET/s / fio SSD QD32 IOPS, median of paired runs: $(median "${rv[@]}")"
}

large_put() {
	say ""
	say "== large-put: 1 MiB PUTs, 16 clients; baseline fio 1 MiB sequential write QD1 on the HDD"
	local rv=() s f p99
	for ((run = 1; run <= repeat; run++)); do
		mark_run
		start_node put # fresh, so the image never fills
		bench "put.$run" --size 1MiB --read-ratio 0 --concurrency 16 --keys 100000 --key-prefix "put$run/" --no-prefill --duration "${duration}s"
		stop_node
		s="$(jq_num "$out/put.$run.json" '.write.mb_per_sec | . * 10 | round / 10')"
		p99="$(jq_num "$out/put.$run.json" '.write.latency_us.p99 / 1000')"
		f=""
		[[ $fio_ok -eq 1 ]] && f="$(fio_run hdd seqwrite write 1M 1)"
		rv+=("$(record large-put "$run" "PUT MB/s vs fio seq write MB/s" "$s" "$f" "fio write 1MiB QD1 HDD")")
		say "run $run: strata $s MB/s (p99 $p99 ms) | fio seq write ${f:-n/a} MB/s | ratio ${rv[-1]} | load $run_load1"
	done
	say "large-put ratio strata / fio seq write (MB/s), median of paired runs: $(median "${rv[@]}")"
}

read_under_write() {
	say ""
	say "== read-under-write: cold 4 KiB GETs ($rw_keys keys, caches off, 8 clients) alone, then beside 8 clients uploading 8 MiB blobs (two strata bench processes, ${duration}s each)"
	local rv=() up=() a b u
	for ((run = 1; run <= repeat; run++)); do
		start_node rw 'ram_cache_size = "0"\nssd_cache_size = "0"'
		bench rw.prefill.$run --size 4KiB --read-ratio 1 --zipf 0 --keys "$rw_keys" --key-prefix rw/ --concurrency 16 --duration 1s
		mark_run
		bench "rw.alone.$run" --size 4KiB --read-ratio 1 --zipf 0 --keys "$rw_keys" --key-prefix rw/ --no-prefill --concurrency 8 --duration "${duration}s"
		"$bin" bench --addr "$node_addr" --size 8MiB --read-ratio 0 --concurrency 8 --keys 64 --key-prefix rw-up/ --no-prefill \
			--duration "$((duration + 2))s" --json "$out/rw.uploads.$run.json" >"$out/rw.uploads.$run.txt" 2>&1 &
		writer_pid=$!
		sleep 1
		bench "rw.with.$run" --size 4KiB --read-ratio 1 --zipf 0 --keys "$rw_keys" --key-prefix rw/ --no-prefill --concurrency 8 --duration "${duration}s"
		wait "$writer_pid" || say "upload bench failed: $(tail -2 "$out/rw.uploads.$run.txt")"
		writer_pid=""
		stop_node
		a="$(jq_num "$out/rw.alone.$run.json" '.read.latency_us.p99 / 1000')"
		b="$(jq_num "$out/rw.with.$run.json" '.read.latency_us.p99 / 1000')"
		u="$(jq_num "$out/rw.uploads.$run.json" '.write.mb_per_sec | . * 10 | round / 10')"
		rv+=("$(record read-under-write "$run" "read p99 ms with uploads vs alone" "$b" "$a" "same reads without uploads" "uploads ${u} MB/s; GET/s alone $(jq_num "$out/rw.alone.$run.json" '.read.ops_per_sec | round') with $(jq_num "$out/rw.with.$run.json" '.read.ops_per_sec | round')")")
		up+=("$u")
		say "run $run: read p99 alone $a ms, with uploads $b ms, ratio ${rv[-1]}; GET/s alone $(jq_num "$out/rw.alone.$run.json" '.read.ops_per_sec | round'), with $(jq_num "$out/rw.with.$run.json" '.read.ops_per_sec | round'); uploads $u MB/s | load $run_load1"
	done
	say "read-under-write (two processes, $THROTTLE_MODE): read p99 ratio with/without uploads, median: $(median "${rv[@]}"); uploads $(median "${up[@]}") MB/s"
	if [[ $has_scenario -eq 1 ]]; then
		say "-- strata bench --scenario read-under-write over HTTP, its defaults (warm 4 KiB working set, 8 readers; 8 MiB uploads, 8 writers), default caches"
		local sv=()
		for ((run = 1; run <= repeat; run++)); do
			start_node rws
			mark_run
			sv+=("$(scenario_run read-under-write-scenario "rw.scenario.$run" --addr "$node_addr")")
			stop_node
		done
		say "read-under-write --scenario over HTTP: read p99 ratio, median: $(median "${sv[@]}")"
	else
		say "read-under-write --scenario: SKIPPED (this strata bench has no --scenario)"
	fi
}

# scenario_run TEST NAME ARGS...: one strata bench --scenario read-under-write
# (target in ARGS), plots for the first run under $out/plots/NAME; records
# and prints the read p99 ratio, then prints it on stdout.
scenario_run() {
	local test="$1" name="$2" plots=()
	shift 2
	[[ $run -eq 1 ]] && plots=(--plot-dir "$out/plots/${name%.*}")
	"$bin" bench "$@" --scenario read-under-write --duration "${duration}s" --json "$out/$name.json" "${plots[@]}" >"$out/$name.txt" 2>&1 ||
		echo "bench-tiers: $name failed: $(tail -2 "$out/$name.txt")" >&2
	local j="$out/$name.json" p1 p2 r u share
	p1="$(jq_num "$j" '.scenario.phases[] | select(.name == "reads") | .read.latency_us.p99 / 1000')"
	p2="$(jq_num "$j" '.scenario.phases[] | select(.name == "reads+writes") | .read.latency_us.p99 / 1000')"
	u="$(jq_num "$j" '.scenario.upload_mb_per_sec | . * 10 | round / 10')"
	share="$(jq_num "$j" '.scenario.upload_share | . * 1000 | round / 1000')"
	r="$(record "$test" "$run" "read p99 ms with uploads vs alone (scenario)" "$p2" "$p1" "phase reads alone" "uploads $u MB/s, $share of solo")"
	echo "run $run: read p99 alone $p1 ms, with uploads $p2 ms, ratio $r; p99.9 ratio $(jq_num "$j" '.scenario.read_p99_9_ratio | . * 1000 | round / 1000'); uploads $u MB/s ($share of solo) | load $run_load1" >>"$summary"
	echo "run $run: read p99 alone $p1 ms, with uploads $p2 ms, ratio $r; uploads $u MB/s ($share of solo) | load $run_load1" >&2
	echo "$r"
}

device_model() {
	say ""
	say "== device-model: strata bench --embedded on the SSD with --device-model hdd (one modelled head: 8 ms seek, 7200 rpm, 180 MB/s); no cgroup"
	# The full stroke spans the records the GETs read (about 4.25 KiB each
	# on disk), so a random GET pays the average seek, as on a disk full of
	# such data.
	local spec="hdd:span=$((keys * 4352))B" mdir="$SSD_DIR/model" rv=() pv=() wv=() cv=() s
	# The model's own figures: a random read costs seek + half a turn +
	# transfer; sequential writes stream at the media rate.
	local model_iops model_mbps=180
	model_iops="$(awk 'BEGIN {printf "%.1f", 1 / (8e-3 + 30 / 7200 + 8192 / 180e6)}')"
	printf 'ram_cache_size = "0"\nssd_cache_size = "0"\nvolume_size = "1GiB"\n' >"$dir/model.toml"
	for ((run = 1; run <= repeat; run++)); do
		rm -rf "$mdir"
		mark_run
		"$bin" bench --embedded "$mdir" --config "$dir/model.toml" --device-model "$spec" --size 4KiB --read-ratio 1 --zipf 0 \
			--keys "$keys" --concurrency 64 --duration "${duration}s" --json "$out/model.get.$run.json" >"$out/model.get.$run.txt" 2>&1
		s="$(jq_num "$out/model.get.$run.json" '.read.ops_per_sec | . * 10 | round / 10')"
		rv+=("$(record device-model-cold-get "$run" "GET/s vs model random 8 KiB read IOPS" "$s" "$model_iops" "model 1/(seek+rev/2+xfer), full stroke" "$(grep '^device model' "$out/model.get.$run.txt" | cut -c1-200)")")
		say "run $run: cold GET $s/s (p99 $(jq_num "$out/model.get.$run.json" '.read.latency_us.p99 / 1000') ms) vs model $model_iops IOPS over the full stroke: ratio ${rv[-1]} | $(grep '^device model' "$out/model.get.$run.txt" | sed 's/.*: head busy/head busy/') | load $run_load1"
		rm -rf "$mdir"
		"$bin" bench --embedded "$mdir" --config "$dir/model.toml" --device-model "$spec" --size 1MiB --read-ratio 0 --no-prefill \
			--keys 100000 --concurrency 16 --duration "${duration}s" --json "$out/model.put.$run.json" >"$out/model.put.$run.txt" 2>&1
		s="$(jq_num "$out/model.put.$run.json" '.write.mb_per_sec | . * 10 | round / 10')"
		pv+=("$(record device-model-large-put "$run" "PUT MB/s vs model media MB/s" "$s" "$model_mbps" "model mbps")")
		say "run $run: 1 MiB PUT $s MB/s vs model $model_mbps MB/s: ratio ${pv[-1]} | load $run_load1"
		if [[ $has_scenario -eq 1 ]]; then
			# As designed: the working set warm in the embedded layout's
			# RAM cache, uploads on the modelled head.
			rm -rf "$mdir"
			wv+=("$(scenario_run device-model-read-under-write-warm "model.rw-warm.$run" --embedded "$mdir" --device-model hdd)")
			# Cold: caches off, so every read needs the head the uploads hold.
			rm -rf "$mdir"
			cv+=("$(scenario_run device-model-read-under-write-cold "model.rw-cold.$run" --embedded "$mdir" --config "$dir/model.toml" --device-model hdd)")
		fi
	done
	rm -rf "$mdir"
	say "device-model cold GET / model IOPS, median: $(median "${rv[@]}"); 1 MiB PUT / model MB/s, median: $(median "${pv[@]}")"
	if [[ $has_scenario -eq 1 ]]; then
		say "device-model --scenario read-under-write (hdd, span 1 GiB): read p99 ratio, median: warm set $(median "${wv[@]}"), caches off $(median "${cv[@]}")"
	else
		say "device-model --scenario read-under-write: SKIPPED (this strata bench has no --scenario)"
	fi
}

for t in "${tests[@]}"; do
	case "$t" in
	fio) fio_baselines ;;
	cold-get) cold_get ;;
	warm-get) warm_get ;;
	large-put) large_put ;;
	read-under-write) read_under_write ;;
	device-model) device_model ;;
	esac
done

# The table: per test and metric, the median of each side and of the ratios.
say ""
say "== summary (medians over runs; ratio = figure / baseline, per run, then the median)"
jq -R -s --arg mode "$THROTTLE_MODE" --arg throttle "$THROTTLE" --arg started "$(grep -m1 '^strata tier benchmarks' "$summary")" --argjson short "$short" '
	split("\n") | map(select(length > 0) | split("\t")) | .[0] as $h | .[1:]
	| map([$h, .] | transpose | map({(.[0]): .[1]}) | add)
	| {schema_version: 1, header: $started, throttle_mode: $mode, throttle: $throttle, short: ($short == 1),
	   runs: map(. + {run: (.run | tonumber), figure: (.figure | tonumber? // null), baseline: (.baseline | tonumber? // null),
	                  ratio: (.ratio | tonumber? // null), load1: (.load1 | tonumber), load5: (.load5 | tonumber)})}' \
	"$results" >"$out/bench-tiers.json"
jq -r '.runs | group_by(.test + "|" + .metric)[] | {t: .[0].test, m: .[0].metric,
		s: (map(.figure | select(. != null)) | sort), b: (map(.baseline | select(. != null)) | sort), r: (map(.ratio | select(. != null)) | sort),
		l: (map(.load1) | map(tostring) | join(","))}
	| def med: if length == 0 then "-" else (if length % 2 == 1 then .[(length - 1) / 2] else (.[length / 2 - 1] + .[length / 2]) / 2 end | tostring) end;
	  [.t, .m, (.s | med), (.b | med), (.r | med), .l] | @tsv' "$out/bench-tiers.json" |
	awk -F'\t' 'BEGIN {printf "%-28s %-44s %10s %10s %8s  %s\n", "test", "metric", "figure", "baseline", "ratio", "load1 per run"}
		{printf "%-28s %-44s %10s %10s %8s  %s\n", $1, $2, $3, $4, $5, $6}' | tee -a "$summary"
say ""
say "raw outputs: $out (bench-tiers.json, results.tsv, summary.txt)"
