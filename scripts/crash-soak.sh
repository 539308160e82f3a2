#!/usr/bin/env bash
# crash-soak.sh: run the process-level crash test for many cycles.
#
# Each cycle runs concurrent PUTs and DELETEs against the real binary, kill -9s
# it at a random moment, restarts it on the same directories and verifies
# every acknowledged write byte for byte (see cmd/strata/e2e_crash_test.go).
#
# Environment:
#   CYCLES   number of kill/restart cycles (default 200)
#   BUDGET   stop starting new cycles after this long (Go duration, default 30m)
#   SEED     random seed (default: from the clock; printed, so a failure repeats
#            with SEED=<printed seed>)
#
# Example: CYCLES=1000 BUDGET=2h scripts/crash-soak.sh
set -euo pipefail
case "${1:-}" in
-h | --help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
"") ;;
*) echo "crash-soak.sh: takes no arguments (see --help); settings come from the environment" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."

cycles="${CYCLES:-200}"
budget="${BUDGET:-30m}"
seed="${SEED:-$(date +%s%N)}"
seed=$((seed & 0x3fffffffffffffff))

# seconds of a Go-style duration made of h, m and s parts ("2h", "1h30m", "90s").
duration_sec() {
	local rest="$1" total=0
	while [[ "$rest" =~ ^([0-9]+)([hms])(.*)$ ]]; do
		case "${BASH_REMATCH[2]}" in
		h) total=$((total + BASH_REMATCH[1] * 3600)) ;;
		m) total=$((total + BASH_REMATCH[1] * 60)) ;;
		s) total=$((total + BASH_REMATCH[1])) ;;
		esac
		rest="${BASH_REMATCH[3]}"
	done
	if [[ -n "$rest" || "$total" -eq 0 ]]; then
		echo "crash-soak: BUDGET=$1: want a duration such as 30m, 2h or 1h30m" >&2
		exit 2
	fi
	echo "$total"
}

# go test's own timeout must outlast the budget plus the last cycle.
timeout_sec=$(($(duration_sec "$budget") + 600))

echo "crash-soak: cycles=$cycles budget=$budget seed=$seed"
STRATA_CRASH_CYCLES="$cycles" STRATA_CRASH_BUDGET="$budget" STRATA_CRASH_SEED="$seed" \
	go test -count=1 -v -timeout "${timeout_sec}s" -run '^TestE2ECrashRecovery$' ./cmd/strata
echo "crash-soak: passed (seed=$seed)"
