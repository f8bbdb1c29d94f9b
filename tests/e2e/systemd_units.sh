#!/bin/sh
# Invariant: systemd/masterd.service and masterd.socket, as `make install`
# writes them, load without a single warning in `systemd-analyze verify`,
# point at man pages that exist, agree with masterd on the socket path,
# allow what the check sandbox needs and nothing more, and keep
# `systemd-analyze security` exposure at 2.5 or below.
#
# Needs systemd-analyze (skipped without it) and a built masterd; BUILD and
# MASTERD_TOP come from tests/run.  POSIX sh, sources nothing.
set -u

TOP=${MASTERD_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
MAX_EXPOSURE=2.5

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

ok() {
	echo "ok: $*"
}

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "skip: no systemd-analyze"
	exit 0
fi
[ -x "$BUILD/masterd" ] || fail "$BUILD/masterd is not built (run make)"
for u in masterd.service masterd.socket; do
	[ -f "$TOP/systemd/$u" ] || fail "systemd/$u is missing"
done

T=$(mktemp -d "${TMPDIR:-/tmp}/units-test.XXXXXX") || fail "mktemp"
trap 'rm -rf "$T"' EXIT INT TERM

# What `make install` does, with ExecStart= pointing at the built binary
# (verify checks that the executable exists).
for u in masterd.service masterd.socket; do
	sed -e "s|@SBINDIR@/masterd|$BUILD/masterd|g" \
	    -e 's|@SBINDIR@|/usr/local/sbin|g' \
	    -e 's|@SYSCONFDIR@|/etc|g' \
	    "$TOP/systemd/$u" >"$T/$u" || fail "substituting $u"
done
if grep -n '@[A-Z_]*@' "$T/masterd.service" "$T/masterd.socket"; then
	fail "placeholders left that make install does not substitute"
fi
grep -q "^ExecStart=$BUILD/masterd " "$T/masterd.service" ||
    fail "ExecStart= does not start @SBINDIR@/masterd"
ok "units substituted as make install does"

# verify: any line naming our units is a failure (unknown keys are only
# warnings, with exit status 0); lines about other units on this machine
# are not ours to judge.  Man pages are checked below, against the tree.
systemd-analyze verify --man=no "$T/masterd.service" "$T/masterd.socket" \
    >"$T/verify.out" 2>&1
rc=$?
if grep -E 'masterd\.(service|socket)' "$T/verify.out" >"$T/ours"; then
	sed 's/^/    /' "$T/ours" >&2
	fail "systemd-analyze verify complains about our units"
fi
if [ $rc -ne 0 ] && [ ! -s "$T/verify.out" ]; then
	fail "systemd-analyze verify exited $rc without a word"
fi
ok "systemd-analyze verify: no complaint about masterd.service/.socket"

# Documentation=man:NAME(SECTION) must name a page in docs/man.
pages=$(sed -n 's/^Documentation=//p' "$T/masterd.service" \
    "$T/masterd.socket" | tr ' ' '\n' | sed -n 's/^man:\(.*\)(\([1-8]\))$/\1.\2/p' |
    sort -u)
[ -n "$pages" ] || fail "no Documentation=man: pages"
for p in $pages; do
	[ -f "$TOP/docs/man/$p" ] || fail "Documentation= names $p, not in docs/man"
done
ok "Documentation= pages exist: $(printf '%s\n' "$pages" | paste -s -d ' ' -)"

# The socket is where masterctl looks by default as root, and where
# masterd says it is (-s).
grep -qx 'ListenStream=/run/masterd/control.sock' "$T/masterd.socket" ||
    fail "masterd.socket does not listen on /run/masterd/control.sock"
grep -q '^ExecStart=.* -s /run/masterd/control.sock' "$T/masterd.service" ||
    fail "ExecStart= does not name the socket of masterd.socket"
grep -qx 'Type=notify' "$T/masterd.service" || fail "Type= is not notify"
grep -qx 'KillMode=mixed' "$T/masterd.service" || fail "KillMode= is not mixed"
# masterd gives its children stop_grace (10 s by default) and itself 5 s
# more: systemd must wait longer than that before its SIGKILL.
stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$T/masterd.service")
if [ -z "$stop" ] || [ "$stop" -le 15 ]; then
	fail "TimeoutStopSec= must exceed stop_grace + 5 s (15 s by default)"
fi
ok "socket path, Type=notify, KillMode=mixed, TimeoutStopSec=${stop}s"

# The check sandbox (child/worker/sandbox.h) builds user, mount, PID and
# network namespaces with unshare and mount, then confines the
# command with Landlock and seccomp: the unit allows exactly that on top of
# @system-service, and nothing more.
ns=$(sed -n 's/^RestrictNamespaces=//p' "$T/masterd.service" | tr ' ' '\n' |
    sed '/^$/d' | sort | paste -s -d ' ' -)
[ "$ns" = "mnt net pid user" ] ||
    fail "RestrictNamespaces= is '$ns', not user mnt pid net"
calls=$(sed -n 's/^SystemCallFilter=//p' "$T/masterd.service" | tr ' ' '\n' |
    sed '/^$/d' | sort -u)
for c in @system-service mount seccomp landlock_create_ruleset \
    landlock_add_rule landlock_restrict_self; do
	printf '%s\n' "$calls" | grep -qx -- "$c" ||
	    fail "SystemCallFilter= does not allow $c (the check sandbox needs it)"
done
for c in $calls; do
	case $c in
	@system-service|mount|seccomp|landlock_*) ;;
	*) fail "SystemCallFilter= allows $c, more than the sandbox needs" ;;
	esac
done
ok "the check sandbox: RestrictNamespaces=$ns, SystemCallFilter= adds" \
    "$(printf '%s\n' "$calls" | grep -v '^@' | paste -s -d ' ' -)"

# Exposure, from the "Overall exposure level for masterd.service: 1.5 OK"
# line (older systemd-analyze has no --offline).
if ! systemd-analyze security --help 2>&1 | grep -q -- '--offline'; then
	echo "skip: systemd-analyze security has no --offline here"
	exit 0
fi
systemd-analyze security --offline=true --no-pager "$T/masterd.service" \
    >"$T/security.out" 2>&1
level=$(sed -n 's/.*Overall exposure level for masterd\.service: *\([0-9][0-9.]*\).*/\1/p' \
    "$T/security.out")
if [ -z "$level" ]; then
	tail -n 20 "$T/security.out" >&2
	fail "no exposure level in systemd-analyze security output"
fi
if awk -v l="$level" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(l + 0 > m + 0) }'; then
	grep '✗' "$T/security.out" >&2
	fail "exposure $level is above $MAX_EXPOSURE"
fi
ok "systemd-analyze security: exposure $level (limit $MAX_EXPOSURE)"
