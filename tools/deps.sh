#!/bin/sh
# Install the Debian packages named on the command line that are missing.
# Quiet and quick when everything is there; uses apt-get as root, sudo -n
# otherwise; says exactly what to run when it can do neither.
set -u

command -v dpkg-query >/dev/null 2>&1 || {
	echo "deps: not a Debian system; install by hand: $*" >&2
	exit 0
}

missing=""
for p in "$@"; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)
	[ "$s" = "installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
	run=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	run="sudo -n"
else
	echo "deps: missing packages; run as root: apt-get install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# An empty package list means apt-get update never ran on this box.
$run apt-get -q update >/dev/null || {
	echo "deps: apt-get update failed" >&2
	exit 1
}
# shellcheck disable=SC2086
$run apt-get -q -y install --no-install-recommends $missing || {
	echo "deps: apt-get install failed:$missing" >&2
	exit 1
}
