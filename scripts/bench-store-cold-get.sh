#!/usr/bin/env bash
# bench-store-cold-get.sh: blockstore's BenchmarkColdReads (random 4 KiB
# Gets x16 against raw O_DIRECT preads x16 of the same volume) for this tree
# and a base commit, alternating, then benchstat and the median of the
# per-run ratios (raw pread time / Get time, and Get CPU / raw pread CPU).
#
# Usage: scripts/bench-store-cold-get.sh [--base COMMIT] [--pairs N] [--procs P] [--out DIR]
#   --base   commit to compare with (default 8bed8bc), built from git archive
#   --pairs  alternating runs per side (default 8)
#   --procs  GOMAXPROCS for both sides (default: Go's, the number of CPUs).
#            A blocking pread holds its P until sysmon retakes it (20 µs or
#            more), so with few Ps every µs of CPU around the read also
#            costs device throughput: compare --procs 16 with the default
#            to see how much of a gap is the scheduler's (docs/benchmarks.md).
#   --out    where base.txt, new.txt and summary.txt go (default a temp dir)
# STRATA_BENCH_DIR (see blockstore/bench_test.go) puts the volumes elsewhere.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
base=8bed8bc pairs=8 procs="" out=""
while [[ $# -gt 0 ]]; do
	case "$1" in
	--base) base="$2"; shift 2 ;;
	--pairs) pairs="$2"; shift 2 ;;
	--procs) procs="$2"; shift 2 ;;
	--out) out="$2"; shift 2 ;;
	*) echo "bench-store-cold-get: unknown argument $1" >&2; exit 2 ;;
	esac
done
out="${out:-$(mktemp -d /var/tmp/strata-coldget.XXXXXX)}"
mkdir -p "$out"
src="$(mktemp -d /var/tmp/strata-coldget-src.XXXXXX)"
trap 'rm -rf "$src"' EXIT
git archive "$base" | tar -x -C "$src"
(cd "$src" && go test -c -o "$out/base.test" ./blockstore)
go test -c -o "$out/new.test" ./blockstore
: >"$out/base.txt"
: >"$out/new.txt"
run() { (cd blockstore && ${procs:+env GOMAXPROCS="$procs"} "$out/$1.test" -test.run '^$' -test.bench 'BenchmarkColdReads/(raw-odirect|blockstore)' -test.benchtime 20000x >>"$out/$1.txt"); }
for i in $(seq 1 "$pairs"); do
	if ((i % 2)); then run base; run new; else run new; run base; fi
done
# Per run: raw 8 KiB pread time / Get time (the like-for-like baseline: a
# 4 KiB blob's record spans two 4 KiB blocks), the same against 4 KiB
# preads, and Get CPU / 4 KiB pread CPU. Medians over the runs.
ratios() {
	local rows
	rows="$(awk '/^BenchmarkColdReads/ {n=$1; sub(/-[0-9]+$/,"",n); sub(/.*\//,"",n); v[n]=$3
		for (i=4; i<NF; i++) if ($(i+1)=="cpu-µs/op") c[n]=$i
		if (n=="raw-odirect-8k-after") {
			r8=(v["raw-odirect-8k-before"]+v["raw-odirect-8k-after"])/2
			r4=(v["raw-odirect-4k-before"]+v["raw-odirect-4k-after"])/2
			c4=(c["raw-odirect-4k-before"]+c["raw-odirect-4k-after"])/2
			print r8/v["blockstore"], r4/v["blockstore"], c["blockstore"]/c4 }}' "$1")"
	med() { cut -d' ' -f"$1" <<<"$rows" | sort -g | awk '{a[NR]=$1} END {if (NR%2) printf "%.3f", a[(NR+1)/2]; else printf "%.3f", (a[NR/2]+a[NR/2+1])/2}'; }
	echo "pread8k/Get $(med 1)  pread4k/Get $(med 2)  GetCPU/preadCPU $(med 3) (medians of $(wc -l <<<"$rows") runs)"
}
{
	~/go/bin/benchstat "$out/base.txt" "$out/new.txt" 2>/dev/null || benchstat "$out/base.txt" "$out/new.txt" || true
	echo "base $base: $(ratios "$out/base.txt")"
	echo "this tree: $(ratios "$out/new.txt")"
} | tee "$out/summary.txt"
