#!/bin/sh
# The main job, as far as masterd goes today: start the daemon on a
# throwaway state directory and socket, submit the payslips task with three
# domains, show what the master does with it, and stop.
#
# No model is used yet: the children have no assistant session, so they
# cannot write code; the demo says so first and shows the rest for real.
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
case "$BUILD" in /*) ;; *) BUILD="$top/$BUILD" ;; esac
ctl="$BUILD/masterctl"

echo "masterd demo: NO MODEL IS USED. The assistant sessions and code"
echo "generation are not built yet, so the domain children cannot write code;"
echo "this run shows the daemon, its control socket, supervision and registry"
echo "carrying a task's domains, for real."
echo

T=$(mktemp -d "${TMPDIR:-/tmp}/masterd-demo.XXXXXX")
export MASTERD_SOCKET="$T/control.sock"
cleanup() {
	[ -n "${WATCH:-}" ] && kill "$WATCH" 2>/dev/null
	if [ -n "${MD:-}" ] && kill -0 "$MD" 2>/dev/null; then
		kill -TERM "$MD"
		wait "$MD" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

wait_for() {
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 600 ] || { echo "demo: gave up waiting: $*" >&2; exit 1; }
		sleep 0.1
	done
}

two_clients() {
	"$ctl" status | grep -q "2 client(s)"
}

three_running() {
	[ "$(grep -c '"to":"running"' "$T/events")" -ge 3 ]
}

step() {
	printf '\n==> %s\n' "$*"
}

step "starting masterd (state $T/state)"
"$BUILD/masterd" -f -d "$T/state" -s "$MASTERD_SOCKET" 2>"$T/masterd.log" &
MD=$!
wait_for "$ctl" status
"$ctl" status

step "watching events"
"$ctl" watch >"$T/events" &
WATCH=$!
wait_for two_clients

step 'masterctl submit "Implement an app to manage employee payslips" --domains frontend,database,logic'
"$ctl" submit "Implement an app to manage employee payslips" \
    --domains frontend,database,logic
wait_for three_running
"$ctl" status

step 'masterctl directive logic "compute net pay from gross pay and deductions"'
"$ctl" directive logic "compute net pay from gross pay and deductions"
wait_for grep -q "directive.failed" "$T/events"

step "masterctl task 1"
"$ctl" task 1

step "masterctl interfaces"
"$ctl" interfaces

step "events seen by masterctl watch"
cat "$T/events"

step "masterctl stop"
"$ctl" stop
wait "$MD"
MD=
echo "masterd stopped; its log:"
sed 's/^/  /' "$T/masterd.log"
