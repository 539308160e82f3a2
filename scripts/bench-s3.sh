#!/usr/bin/env bash
# bench-s3.sh: the cost of S3 (signature checks, XML, the bucket mapping)
# as a ratio against the native blob API of the same node, same client,
# same concurrency: strata bench drives both (--s3-bucket for the S3 side,
# signed with the AWS SDK's SigV4 signer).
#
#   put  SIZE at concurrency C, a closed loop of PUTs over KEYS keys
#        (native keys put/SIZE/..., S3 objects in bucket bench, put-s3/SIZE/...)
#   get  the same objects read over both APIs: prefilled once through S3, then
#        read at random (uniform) as bench/get/SIZE/... natively and as
#        get/SIZE/... in bucket bench over S3, so both read the same blobs
#        from the same tiers
#
# Runs alternate native and S3 (and S3 with a signed payload with --signed),
# --repeat times; the figure is the median of the per-pair ratios S3/native
# of MB/s, which is robust to load drifting between pairs. Beside it, the
# node's CPU per MB (user+sys ticks from /proc/PID/stat over each measured
# run, after an unmeasured 1 s warm-up run), as native/S3: on a shared
# machine wall-clock throughput swings with the neighbours' load, CPU per
# byte much less. Sizes and
# concurrency: 4KiB at 16, 1MiB at 16, 64MiB at 4 (the issue's goal: >= 0.9
# for 1 MiB and up).
#
# Usage: scripts/bench-s3.sh [--dir DIR] [--duration SECONDS] [--repeat N]
#                            [--signed] [--out DIR] [--keep] [SIZE...]
#   SIZE       any of 4KiB, 1MiB, 64MiB (default: all three)
#   --dir      node data (default: a temp dir in /var/tmp); with HDD_DIR and
#              SSD_DIR set (see tier-emulate.sh) the tiers go there instead
#   --duration measured seconds per run (default 10); 64MiB runs are 24
#              operations each instead (a deadline would cut off whole
#              seconds-long requests)
#   --repeat   pairs per size and operation (default 3)
#   --signed   also run S3 with --s3-payload signed (the body's SHA-256,
#              computed by the client and verified by the node)
#   --etag M   the node's [s3] etag: md5 (default; the S3 rule, an MD5 of
#              every single PUT) or version (no MD5 hashed)
#   --native-http M  the native side's HTTP stack: lean (default; [http]
#              lean_get and lean_put on, as a node runs) or net-http (both
#              off, so native and S3 go through the same net/http server and
#              the ratio is the cost of S3 alone: signatures, XML, buckets)
#   --out      raw JSON results and summary.txt (default DIR/results)
#   --keep     keep DIR afterwards
#
# STRATA_BIN=PATH runs that strata binary instead of building this tree
# (before/after figures: build the baseline commit elsewhere).
set -euo pipefail
self="$(readlink -f "$0")"
cd "$(dirname "$self")/.."
repo="$PWD"
# shellcheck source=lib/node.sh
source "$repo/scripts/lib/node.sh"

dir=""
duration=10
repeat=3
signed=0
out=""
keep=0
etag=md5
native_http=lean
sizes=()
while [[ $# -gt 0 ]]; do
	case "$1" in
	--dir) dir="$2"; shift 2 ;;
	--duration) duration="$2"; shift 2 ;;
	--repeat) repeat="$2"; shift 2 ;;
	--signed) signed=1; shift ;;
	--out) out="$2"; shift 2 ;;
	--keep) keep=1; shift ;;
	--etag) etag="$2"; shift 2 ;;
	--native-http) native_http="$2"; shift 2 ;;
	-h | --help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$self"; exit 0 ;;
	4KiB | 1MiB | 64MiB) sizes+=("$1"); shift ;;
	*) echo "bench-s3: unknown argument $1" >&2; exit 2 ;;
	esac
done
[[ ${#sizes[@]} -gt 0 ]] || sizes=(4KiB 1MiB 64MiB)
case "$native_http" in
lean | net-http) ;;
*) echo "bench-s3: --native-http is lean or net-http, not $native_http" >&2; exit 2 ;;
esac
if [[ -z "$dir" ]]; then
	dir="$(mktemp -d /var/tmp/strata-bench-s3.XXXXXX)"
else
	mkdir -p "$dir"
	dir="$(readlink -f "$dir")"
fi
out="${out:-$dir/results}"
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"
unset AWS_CA_BUNDLE

node_pid=""
cleanup() {
	if [[ -n "$node_pid" ]]; then
		kill -TERM "$node_pid" 2>/dev/null || true
		wait "$node_pid" 2>/dev/null || true
	fi
	if [[ $keep -eq 0 ]]; then
		find "$dir" -mindepth 1 -maxdepth 1 ! -path "$out" -exec rm -rf {} +
	fi
}
trap cleanup EXIT
say() { echo "$*" | tee -a "$summary"; }

if [[ -n "${STRATA_BIN:-}" ]]; then
	bin="$(readlink -f "$STRATA_BIN")"
else
	bin="$dir/strata"
	go build -o "$bin" ./cmd/strata
fi

port="$(free_port)"
s3port="$(free_port_except "$port")"
native="http://127.0.0.1:$port"
s3="http://127.0.0.1:$s3port"
export AWS_ACCESS_KEY_ID="bench-s3"
AWS_SECRET_ACCESS_KEY="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export AWS_SECRET_ACCESS_KEY
mkdir -p "$dir/data"
{
	echo "listen = \"127.0.0.1:$port\""
	echo "admin_listen = \"off\""
	echo "data_dir = \"$dir/data\""
	if [[ -n "${HDD_DIR:-}" && -n "${SSD_DIR:-}" ]]; then
		echo "hdd_dirs = [\"$HDD_DIR/bench-s3\"]"
		echo "ssd_dir = \"$SSD_DIR/bench-s3/cache\""
		echo "index_dir = \"$SSD_DIR/bench-s3/index\""
	fi
	echo "log_level = \"warn\""
	if [[ $native_http == net-http ]]; then
		echo ""
		echo "[http]"
		echo "lean_get = false"
		echo "lean_put = false"
	fi
	echo ""
	echo "[s3]"
	echo "listen = \"127.0.0.1:$s3port\""
	echo "etag = \"$etag\""
	echo ""
	echo "[[s3.keys]]"
	echo "access_key = \"$AWS_ACCESS_KEY_ID\""
	echo "secret_key = \"$AWS_SECRET_ACCESS_KEY\""
	echo "scope = \"read-write\""
} >"$dir/strata.toml"
"$bin" serve --config "$dir/strata.toml" >"$out/node.log" 2>&1 &
node_pid=$!
wait_ready "$native" 600 "$node_pid" "$out/node.log" || exit 1

say "strata S3 vs native benchmarks, $(date -u +%FT%TZ), $(nproc) cores, $(uname -r)"
say "data: ${HDD_DIR:+HDD_DIR=$HDD_DIR SSD_DIR=$SSD_DIR }dir=$dir ($(df -T "$dir" | awk 'NR==2 {print $2}'))"
say "strata: $("$bin" version), [s3] etag = $etag, native HTTP stack: $native_http"
say "duration ${duration}s per run, $repeat pairs, load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)"

conc_of() { case "$1" in 64MiB) echo 4 ;; *) echo 16 ;; esac; }
keys_of() { case "$1" in 4KiB) echo 2000 ;; 1MiB) echo 256 ;; 64MiB) echo 8 ;; esac; }
# bound_of SIZE: what ends a measured run. 64 MiB requests take seconds
# each, so a deadline would cut a large share of the bytes off: those runs
# end after a count of operations instead (6 per client), timed until the
# last one finished.
bound_of() {
	case "$1" in
	64MiB) echo "--ops 24 --duration 10m" ;;
	*) echo "--duration ${duration}s" ;;
	esac
}

# bench_once NAME ARGS...: one strata bench run, no warm-up, no CPU count.
bench_once() {
	local name="$1"
	shift
	if ! "$bin" bench --json "$out/$name.json" --seed 1 "$@" >"$out/$name.txt" 2>&1; then
		cat "$out/$name.txt" >&2
		echo "bench-s3: run $name failed" >&2
		exit 1
	fi
}


# bench NAME ARGS...: one strata bench run, its JSON in $out/NAME.json and
# the node's CPU ticks during it in $out/NAME.cpu. A 1 s warm-up run goes
# first, unmeasured, so the ticks are those of the measured operations.
bench() {
	local name="$1" t0
	shift
	if ! "$bin" bench --seed 1 "$@" --ops 0 --duration 1s >"$out/$name.warmup.txt" 2>&1; then
		cat "$out/$name.warmup.txt" >&2
		echo "bench-s3: warm-up of $name failed" >&2
		exit 1
	fi
	t0="$(cpu_ticks "$node_pid")"
	bench_once "$name" "$@"
	echo $(($(cpu_ticks "$node_pid") - t0)) >"$out/$name.cpu"
}

sides=(native s3)
[[ $signed -eq 1 ]] && sides+=(s3-signed)
# side_args SIDE: the target flags of one side.
side_args() {
	case "$1" in
	native) echo "--addr $native" ;;
	s3) echo "--addr $s3 --s3-bucket bench" ;;
	s3-signed) echo "--addr $s3 --s3-bucket bench --s3-payload signed" ;;
	esac
}

for size in "${sizes[@]}"; do
	conc="$(conc_of "$size")"
	keys="$(keys_of "$size")"
	# Prefill the GET objects once, through S3 (so they are S3 objects).
	# shellcheck disable=SC2046
	bench_once "prefill-$size" $(side_args s3) --key-prefix "get/$size/" --size "$size" --keys "$keys" \
		--read-ratio 1 --zipf 0 --concurrency "$conc" --ops 1 --duration 10m
	for i in $(seq 1 "$repeat"); do
		for side in "${sides[@]}"; do
			prefix="put/$size/"
			[[ $side != native ]] && prefix="put-s3/$size/"
			# shellcheck disable=SC2046
			bench "put-$size-$side-$i" $(side_args "$side") $(bound_of "$size") --key-prefix "$prefix" --size "$size" --keys "$keys" \
				--read-ratio 0 --no-prefill --zipf 0 --concurrency "$conc"
			prefix="get/$size/"
			[[ $side == native ]] && prefix="bench/get/$size/"
			# shellcheck disable=SC2046
			bench "get-$size-$side-$i" $(side_args "$side") $(bound_of "$size") --key-prefix "$prefix" --size "$size" --keys "$keys" \
				--read-ratio 1 --no-prefill --zipf 0 --concurrency "$conc"
		done
	done
done

python3 - "$out" "$repeat" "${sides[*]}" "${sizes[*]}" "$(getconf CLK_TCK)" <<'EOF' | tee -a "$summary"
import json, statistics, sys
out, repeat, sides, sizes, hz = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split(), int(sys.argv[5])
conc = {"4KiB": 16, "1MiB": 16, "64MiB": 4}
def load(name):
    with open("%s/%s.json" % (out, name)) as f:
        r = json.load(f)
    with open("%s/%s.cpu" % (out, name)) as f:
        r["node_cpu_sec"] = int(f.read()) / hz
    return r
# cpu_per_mb is the node's CPU seconds per MB moved, in ms.
def cpu_per_mb(r, key):
    b = r[key]["bytes"]
    return 1000 * r["node_cpu_sec"] / (b / 1e6) if b else float("nan")
print()
print("MB/s: client throughput, S3/native of MB/s. CPU: the node's CPU ms per MB, native/S3 (1 = S3 costs the node")
print("no more CPU per byte than native; CPU is what 2 shared cores make scarce, so it is the steadier figure).")
print("%-6s %-4s %4s  %-10s %10s %10s %9s %8s   %-36s %s" % ("size", "op", "conc", "side", "MB/s", "ops/s", "p99 ms", "CPU/MB", "MB/s ratio (median of pairs; per pair)", "CPU ratio (median; per pair)"))
bad = []
for size in sizes:
    for op in ("put", "get"):
        key = "write" if op == "put" else "read"
        runs = {s: [load("%s-%s-%s-%d" % (op, size, s, i)) for i in range(1, repeat + 1)] for s in sides}
        for s in sides:
            for r in runs[s]:
                t = r[key]
                if t["errors"] or t.get("not_found"):
                    bad.append("%s %s %s: %d errors, %d not found" % (op, size, s, t["errors"], t.get("not_found", 0)))
            mbs = [r[key]["mb_per_sec"] for r in runs[s]]
            ops = [r[key]["ops_per_sec"] for r in runs[s]]
            p99 = [r[key]["latency_us"]["p99"] / 1000 for r in runs[s]]
            cpu = [cpu_per_mb(r, key) for r in runs[s]]
            ratio, cratio = "", ""
            if s != "native":
                pairs = [a / b if b else float("nan") for a, b in zip(mbs, [r[key]["mb_per_sec"] for r in runs["native"]])]
                ratio = "%.3f  (%s)" % (statistics.median(pairs), " ".join("%.3f" % p for p in pairs))
                cpairs = [b / a if a else float("nan") for a, b in zip(cpu, [cpu_per_mb(r, key) for r in runs["native"]])]
                cratio = "%.3f  (%s)" % (statistics.median(cpairs), " ".join("%.3f" % p for p in cpairs))
            print("%-6s %-4s %4d  %-10s %10.1f %10.1f %9.2f %8.3f   %-36s %s" % (size, op, conc[size], s, statistics.median(mbs), statistics.median(ops), statistics.median(p99), statistics.median(cpu), ratio, cratio))
for b in bad:
    print("FAILED: " + b)
sys.exit(1 if bad else 0)
EOF
say "raw results: $out"
