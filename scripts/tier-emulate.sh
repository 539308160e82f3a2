#!/usr/bin/env bash
# tier-emulate.sh: build an HDD/SSD tier layout on one machine for benchmarks.
#
# "HDD": an ext4 file system in a loop-mounted image whose loop device is
# throttled to HDD-like figures (default 150 random IOPS, 200 MB/s). Direct
# I/O (which Strata uses) keeps the throttle honest: reads cannot hide in the
# page cache. "SSD": a plain, unthrottled directory on the machine's own disk.
#
# The throttle, best first (--mode auto):
#   iocost  cgroup v2 io.cost: a linear cost model of the device (random and
#           sequential IOPS, bytes/s) with a fixed rate (qos min=max=100%).
#           Reads and writes draw on ONE budget, as on one disk head: a read
#           queued behind uploads waits. Needs the io controller on cgroup v2
#           and a kernel with CONFIG_BLK_CGROUP_IOCOST. io.cost counts an I/O
#           within 16 MiB of the previous one as sequential, so spread the
#           data (GiBs, like fio's file) for random-read figures.
#   iomax   cgroup v2 io.max, or the cgroup v1 blkio throttle: separate
#           budgets, N read IOPS AND N write IOPS at once, so reads never feel
#           uploads (no spinning disk behaves so). A warning says so; for a
#           shared budget without io.cost use `strata bench --embedded DIR
#           --device-model hdd` (a modelled disk head in the process).
#
# Only I/O issued by processes inside the cgroup is charged to it; start the
# node (or fio) with `tier-emulate.sh run -- CMD...`.
#
# Usage (as root):
#   tier-emulate.sh up     [--dir DIR] [--size SIZE] [--iops N] [--bps BYTES] [--mode auto|iocost|iomax]
#   tier-emulate.sh run    [--dir DIR] -- CMD [ARGS...]   run CMD inside the throttled cgroup
#   tier-emulate.sh status [--dir DIR]
#   tier-emulate.sh down   [--dir DIR]
# Defaults: --dir /var/tmp/strata-tiers, --size 8G, --iops 150, --bps 200000000, --mode auto.
# `up` prints HDD_DIR=..., SSD_DIR=..., CGROUP=..., THROTTLE_MODE=... lines (eval-able).
set -euo pipefail

dir=/var/tmp/strata-tiers
size=8G
iops=150
bps=200000000
mode=auto
cg_name=strata-tiers

usage() { awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; }
die() { echo "tier-emulate: $*" >&2; exit 1; }

[[ $# -ge 1 ]] || { usage >&2; exit 2; }
cmd="$1"
shift
while [[ $# -gt 0 ]]; do
	case "$1" in
	--dir) dir="$2"; shift 2 ;;
	--size) size="$2"; shift 2 ;;
	--iops) iops="$2"; shift 2 ;;
	--bps) bps="$2"; shift 2 ;;
	--mode) mode="$2"; shift 2 ;;
	--) shift; break ;;
	-h | --help) usage; exit 0 ;;
	*) [[ "$cmd" == run ]] && break; die "unknown argument $1" ;;
	esac
done

state="$dir/state"
img="$dir/hdd.img"
hdd="$dir/hdd"
ssd="$dir/ssd"

# cgroup_kind prints v2:<mountpoint> when a cgroup v2 hierarchy has the io
# controller available, else v1:<blkio mountpoint>, else nothing.
cgroup_kind() {
	local m
	for m in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		if [[ -f "$m/cgroup.controllers" ]] && grep -qw io "$m/cgroup.controllers"; then
			echo "v2:$m"
			return
		fi
	done
	m="$(awk '$3 == "cgroup" && $4 ~ /(^|,)blkio(,|$)/ {print $2; exit}' /proc/mounts)"
	if [[ -n "$m" ]]; then
		echo "v1:$m"
	fi
}

warn() { echo "tier-emulate: WARNING: $*" >&2; }

# iocost_missing prints why cgroup v2 io.cost cannot be used on this machine
# (nothing when it can), given cgroup_kind's answer.
iocost_missing() {
	local kind="$1"
	case "$kind" in
	v2:*)
		[[ -f "${kind#v2:}/io.cost.model" ]] || echo "the kernel has no io.cost (CONFIG_BLK_CGROUP_IOCOST)"
		;;
	v1:*)
		echo "the io controller is bound to the cgroup v1 blkio hierarchy ($(findmnt -n -o TARGET -t cgroup -O blkio 2>/dev/null | head -1)); io.cost lives on cgroup v2 only"
		;;
	*) echo "no cgroup io controller" ;;
	esac
}

# set_iocost ROOT MAJ:MIN: one linear cost model for the device, rate fixed at
# 100% of it, so every cgroup's reads and writes spend one budget. Sequential
# I/O is limited by bandwidth alone (seqiops = bps / 4 KiB).
set_iocost() {
	local root="$1" majmin="$2" seq=$((bps / 4096))
	echo "$majmin ctrl=user model=linear rbps=$bps rseqiops=$seq rrandiops=$iops wbps=$bps wseqiops=$seq wrandiops=$iops" >"$root/io.cost.model" &&
		echo "$majmin enable=1 ctrl=user rpct=0 wpct=0 min=100 max=100" >"$root/io.cost.qos"
}

load_state() {
	[[ -f "$state" ]] || die "no layout at $dir (run: tier-emulate.sh up --dir $dir)"
	# shellcheck disable=SC1090
	source "$state"
}

print_layout() {
	echo "HDD_DIR=$hdd"
	echo "SSD_DIR=$ssd"
	echo "LOOP_DEV=$LOOP_DEV"
	echo "CGROUP=$CGROUP"
	echo "THROTTLE=\"$THROTTLE\""
	echo "THROTTLE_MODE=${THROTTLE_MODE:-iomax}"
}

up() {
	[[ $EUID -eq 0 ]] || die "must run as root (loop devices, mount, cgroups)"
	if [[ -f "$state" ]]; then
		load_state
		echo "# already up" >&2
		print_layout
		return
	fi
	case "$mode" in auto | iocost | iomax) ;; *) die "--mode must be auto, iocost or iomax" ;; esac
	local kind missing=""
	kind="$(cgroup_kind)"
	[[ -n "$kind" ]] || die "neither cgroup v2 io nor cgroup v1 blkio is available"
	if [[ $mode != iomax ]]; then
		missing="$(iocost_missing "$kind")"
		[[ -z "$missing" || $mode == auto ]] || die "--mode iocost: $missing"
	fi
	mkdir -p "$dir" "$hdd" "$ssd"
	truncate -s "$size" "$img"
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$img"
	LOOP_DEV="$(losetup --find --show --direct-io=on "$img")"
	mount -o noatime "$LOOP_DEV" "$hdd"
	local majmin
	majmin="$(cat "/sys/block/$(basename "$LOOP_DEV")/dev")"
	local root="${kind#*:}"
	THROTTLE_MODE=iomax
	case "$kind" in
	v2:*)
		if ! grep -qw io "$root/cgroup.subtree_control"; then
			echo +io >"$root/cgroup.subtree_control"
		fi
		CGROUP="$root/$cg_name"
		mkdir -p "$CGROUP"
		if [[ $mode != iomax && -z "$missing" ]]; then
			if set_iocost "$root" "$majmin"; then
				THROTTLE_MODE=iocost
				THROTTLE="cgroup v2 io.cost on $majmin, one budget for reads and writes: $(grep "^$majmin " "$root/io.cost.model") | $(grep "^$majmin " "$root/io.cost.qos")"
			else
				[[ $mode == auto ]] || die "--mode iocost: the kernel refused io.cost on $LOOP_DEV"
				missing="the kernel refused io.cost on $LOOP_DEV"
			fi
		fi
		if [[ $THROTTLE_MODE == iomax ]]; then
			echo "$majmin riops=$iops wiops=$iops rbps=$bps wbps=$bps" >"$CGROUP/io.max"
			THROTTLE="cgroup v2 io.max: $(cat "$CGROUP/io.max")"
		fi
		;;
	v1:*)
		CGROUP="$root/$cg_name"
		mkdir -p "$CGROUP"
		echo "$majmin $iops" >"$CGROUP/blkio.throttle.read_iops_device"
		echo "$majmin $iops" >"$CGROUP/blkio.throttle.write_iops_device"
		echo "$majmin $bps" >"$CGROUP/blkio.throttle.read_bps_device"
		echo "$majmin $bps" >"$CGROUP/blkio.throttle.write_bps_device"
		THROTTLE="cgroup v1 blkio on $majmin: ${iops} iops, ${bps} B/s each way"
		;;
	esac
	if [[ $THROTTLE_MODE == iomax && $mode == auto ]]; then
		warn "io.cost unavailable ($missing): using the $([[ $kind == v2:* ]] && echo "cgroup v2 io.max" || echo "cgroup v1 blkio") throttle, which budgets reads and writes SEPARATELY ($iops read IOPS and $iops write IOPS at once), so reads do not queue behind uploads as on one disk head; for a shared budget use strata bench --embedded DIR --device-model hdd"
	fi
	cat >"$state" <<STATE
LOOP_DEV=$LOOP_DEV
MAJMIN=$majmin
CGROUP=$CGROUP
CGROOT=$root
THROTTLE="$THROTTLE"
THROTTLE_MODE=$THROTTLE_MODE
STATE
	print_layout
}

run_in() {
	load_state
	[[ $# -ge 1 ]] || die "run: no command given (tier-emulate.sh run -- CMD ...)"
	# Move this shell into the cgroup, then become CMD: it and its children
	# inherit the throttle.
	echo $$ >"$CGROUP/cgroup.procs"
	exec "$@"
}

status() {
	load_state
	print_layout
	findmnt "$hdd" || true
	case "${THROTTLE_MODE:-iomax}:$CGROUP" in
	iocost:*) grep -h "^$MAJMIN " "$CGROOT/io.cost.model" "$CGROOT/io.cost.qos" || true ;;
	*:*/blkio/*) grep . "$CGROUP"/blkio.throttle.*_device || true ;;
	*) cat "$CGROUP/io.max" || true ;;
	esac
	echo "processes in cgroup: $(wc -l <"$CGROUP/cgroup.procs")"
}

down() {
	[[ $EUID -eq 0 ]] || die "must run as root"
	[[ -f "$state" ]] || { echo "tier-emulate: nothing at $dir"; return; }
	load_state
	if [[ -s "$CGROUP/cgroup.procs" ]]; then
		die "processes still run in $CGROUP: $(tr '\n' ' ' <"$CGROUP/cgroup.procs"); stop them first"
	fi
	if [[ ${THROTTLE_MODE:-} == iocost ]]; then
		echo "$MAJMIN enable=0" >"$CGROOT/io.cost.qos" 2>/dev/null || true
	fi
	if mountpoint -q "$hdd"; then
		umount "$hdd"
	fi
	losetup -d "$LOOP_DEV" 2>/dev/null || true
	rmdir "$CGROUP" 2>/dev/null || true
	rm -rf "$img" "$hdd" "$ssd" "$state"
	rmdir "$dir" 2>/dev/null || true
	echo "tier-emulate: removed $dir"
}

case "$cmd" in
up) up ;;
run) run_in "$@" ;;
status) status ;;
down) down ;;
-h | --help | help) usage ;;
*) usage >&2; exit 2 ;;
esac
