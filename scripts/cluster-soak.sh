#!/usr/bin/env bash
# cluster-soak.sh: run the cluster chaos test for many cycles.
#
# Each cycle runs four clients doing PUT, overwrite, DELETE and GET of a few
# keys through random nodes of a 3-node loopback cluster (N=3, W=2, R=2),
# kill -9s a random node and restarts it; at the end porcupine checks the
# whole history against a per-key register model (no acknowledged write
# lost, no deleted key resurrected, acknowledged writes visible to later
# reads; refused writes may appear). See cmd/strata/e2e_cluster_chaos_test.go
# and history_test.go.
#
# Environment:
#   CYCLES   kill/restart cycles (default 30)
#   SEED     random seed (default: from the clock; printed, so a failure
#            repeats with SEED=<printed seed>)
#   SHORT    set to 1 for the bounded CI run (2 cycles, what go test runs)
#
# Example: CYCLES=200 scripts/cluster-soak.sh
set -euo pipefail
case "${1:-}" in
-h | --help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
"") ;;
*) echo "cluster-soak.sh: takes no arguments (see --help); settings come from the environment" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."

cycles="${CYCLES:-30}"
if [[ "${SHORT:-0}" == 1 ]]; then
	cycles=2
fi
seed="${SEED:-$(date +%s%N)}"
seed=$((seed & 0x3fffffffffffffff))
# About 5 s per cycle plus the start and the check.
timeout_sec=$((cycles * 20 + 300))

echo "cluster-soak: cycles=$cycles seed=$seed"
STRATA_CLUSTER_CYCLES="$cycles" STRATA_CLUSTER_SEED="$seed" \
	go test -count=1 -v -timeout "${timeout_sec}s" -run '^TestE2EClusterKillLinearizable$' ./cmd/strata
echo "cluster-soak: passed (seed=$seed)"
