#!/usr/bin/env bash
# install.sh: build and install the strata binary, its systemd unit and an
# example configuration. Idempotent: run it again to upgrade the binary and
# unit; an existing configuration is never overwritten. Starts nothing unless
# asked (--enable, --start).
#
# Usage: scripts/install.sh [--prefix DIR] [--user NAME] [--no-build BINARY]
#                           [--enable] [--start] [--dry-run]
#   --prefix DIR       install under DIR (default /usr/local): DIR/bin/strata
#   --user NAME        system user the service runs as (default strata)
#   --no-build BINARY  install BINARY instead of building ./cmd/strata
#   --enable           systemctl enable strata (start at boot)
#   --start            systemctl (re)start strata now (implies --enable)
#   --dry-run          print what would be done, change nothing
# Environment: DESTDIR stages everything under a directory (for packaging);
# with DESTDIR set no user is created and systemctl is not called.
set -euo pipefail
self="$(readlink -f "$0")"
cd "$(dirname "$self")/.."

prefix=/usr/local
user=strata
binary=""
enable=0
start=0
dry=0
destdir="${DESTDIR:-}"

usage() { awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$self"; }
while [[ $# -gt 0 ]]; do
	case "$1" in
	--prefix) prefix="$2"; shift 2 ;;
	--user) user="$2"; shift 2 ;;
	--no-build) binary="$2"; shift 2 ;;
	--enable) enable=1; shift ;;
	--start) enable=1; start=1; shift ;;
	--dry-run) dry=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "install.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
	esac
done

run() {
	if [[ $dry -eq 1 ]]; then
		echo "+ $*"
	else
		"$@"
	fi
}

if [[ -z "$destdir" && $dry -eq 0 && $EUID -ne 0 ]]; then
	echo "install.sh: run as root (or set DESTDIR to stage the files, or --dry-run)" >&2
	exit 1
fi

bindir="$destdir$prefix/bin"
docdir="$destdir$prefix/share/doc/strata"
unitdir="$destdir/etc/systemd/system"
confdir="$destdir/etc/strata"
datadir="$destdir/var/lib/strata"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# 1. The binary: built with a version stamp, installed by atomic rename so a
# running node's executable is never modified in place.
if [[ -z "$binary" ]]; then
	version="$(git describe --tags --always --dirty 2>/dev/null || echo devel)"
	echo "building strata $version"
	run go build -trimpath -ldflags "-X main.version=$version" -o "$work/strata" ./cmd/strata
	binary="$work/strata"
fi
run install -d -m 0755 "$bindir" "$docdir"
run install -m 0755 "$binary" "$bindir/.strata.new"
run mv -f "$bindir/.strata.new" "$bindir/strata"
run install -m 0644 README.md "$docdir/README.md"
for doc in config.md operations.md fsck.md prometheus-alerts.yml grafana-dashboard.json; do
	if [[ -f docs/$doc ]]; then
		run install -m 0644 "docs/$doc" "$docdir/$doc"
	fi
done

# 2. The unit, pointing at the installed binary.
sed "s|/usr/local/bin/strata|$prefix/bin/strata|g; s|/usr/local/share/doc/strata|$prefix/share/doc/strata|g; s|^User=strata|User=$user|; s|^Group=strata|Group=$user|" \
	scripts/strata.service >"$work/strata.service"
run install -d -m 0755 "$unitdir"
run install -m 0644 "$work/strata.service" "$unitdir/strata.service"

# 3. Configuration: the full reference example always; strata.toml (a safe
# loopback-only start) only when there is none.
run install -d -m 0750 "$confdir"
run install -m 0640 docs/strata.example.toml "$confdir/strata.toml.example"
if [[ -e "$confdir/strata.toml" ]]; then
	echo "keeping existing $confdir/strata.toml"
else
	run install -m 0640 scripts/strata.install.toml "$confdir/strata.toml"
fi

# 4. The service user and its data directory (systemd's StateDirectory
# creates it too; doing it here lets `strata serve` run by hand as well).
if [[ -z "$destdir" ]]; then
	if ! id -u "$user" >/dev/null 2>&1; then
		run useradd --system --home-dir /var/lib/strata --no-create-home --shell /usr/sbin/nologin "$user"
	fi
	run install -d -m 0750 -o "$user" -g "$user" "$datadir"
	run chgrp "$user" "$confdir" "$confdir/strata.toml" "$confdir/strata.toml.example"
else
	run install -d -m 0750 "$datadir"
fi

# 5. systemd, only when it is running and we are not staging.
if [[ -z "$destdir" ]] && [[ -d /run/systemd/system ]]; then
	run systemctl daemon-reload
	if [[ $enable -eq 1 ]]; then
		run systemctl enable strata.service
	fi
	if [[ $start -eq 1 ]]; then
		run systemctl restart strata.service
	fi
elif [[ $enable -eq 1 ]]; then
	echo "install.sh: systemd is not running here (or DESTDIR is set); not enabling" >&2
fi

echo "installed $prefix/bin/strata, /etc/systemd/system/strata.service, /etc/strata/strata.toml${destdir:+ under $destdir}"
if [[ $start -eq 0 ]]; then
	echo "start it with: systemctl enable --now strata"
fi
