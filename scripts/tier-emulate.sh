#!/usr/bin/env bash
# tier-emulate.sh: build an HDD/SSD tier layout on one machine for benchmarks.
#
# "HDD": an ext4 file system in a loop-mounted image whose loop device is
# throttled to HDD-like figures (default 150 read and 150 write IOPS, 200 MB/s
# each way) through the cgroup v2 io.max controller, or the cgroup v1 blkio
# throttle when that is what the machine has. Direct I/O (which Strata uses)
# keeps the throttle honest: reads cannot hide in the page cache.
# "SSD": a plain, unthrottled directory on the machine's own disk.
#
# Only I/O issued by processes inside the cgroup is throttled; start the node
# (or fio) with `tier-emulate.sh run -- CMD...`.
#
# Usage (as root):
#   tier-emulate.sh up     [--dir DIR] [--size SIZE] [--iops N] [--bps BYTES]
#   tier-emulate.sh run    [--dir DIR] -- CMD [ARGS...]   run CMD inside the throttled cgroup
#   tier-emulate.sh status [--dir DIR]
#   tier-emulate.sh down   [--dir DIR]
# Defaults: --dir /var/tmp/strata-tiers, --size 8G, --iops 150, --bps 200000000.
# `up` prints HDD_DIR=..., SSD_DIR=..., CGROUP=... lines (eval-able).
set -euo pipefail

dir=/var/tmp/strata-tiers
size=8G
iops=150
bps=200000000
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
}

up() {
	[[ $EUID -eq 0 ]] || die "must run as root (loop devices, mount, cgroups)"
	if [[ -f "$state" ]]; then
		load_state
		echo "# already up" >&2
		print_layout
		return
	fi
	local kind
	kind="$(cgroup_kind)"
	[[ -n "$kind" ]] || die "neither cgroup v2 io nor cgroup v1 blkio is available"
	mkdir -p "$dir" "$hdd" "$ssd"
	truncate -s "$size" "$img"
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$img"
	LOOP_DEV="$(losetup --find --show --direct-io=on "$img")"
	mount -o noatime "$LOOP_DEV" "$hdd"
	local majmin
	majmin="$(cat "/sys/block/$(basename "$LOOP_DEV")/dev")"
	local root="${kind#*:}"
	case "$kind" in
	v2:*)
		if ! grep -qw io "$root/cgroup.subtree_control"; then
			echo +io >"$root/cgroup.subtree_control"
		fi
		CGROUP="$root/$cg_name"
		mkdir -p "$CGROUP"
		echo "$majmin riops=$iops wiops=$iops rbps=$bps wbps=$bps" >"$CGROUP/io.max"
		THROTTLE="cgroup v2 io.max: $(cat "$CGROUP/io.max")"
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
	cat >"$state" <<STATE
LOOP_DEV=$LOOP_DEV
CGROUP=$CGROUP
THROTTLE="$THROTTLE"
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
	case "$CGROUP" in
	*/blkio/*) grep . "$CGROUP"/blkio.throttle.*_device || true ;;
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
