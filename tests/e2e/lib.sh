# lib.sh — shared by the end-to-end tests: a private masterd on its own
# state directory and socket, masterctl against it, and waiting on events
# (a socket, a log line, a state) with generous deadlines, never on fixed
# sleeps.  Sourced, not run.
set -u

TOP=${MASTERD_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
MASTERD="$BUILD/masterd"
MASTERCTL="$BUILD/masterctl"
DEADLINE=${DEADLINE:-60}

T=$(mktemp -d "${TMPDIR:-/tmp}/masterd-e2e.XXXXXX")
export MASTERD_SOCKET="$T/control.sock"
export FAKECHILD_DIR="$T/fake"
mkdir -p "$FAKECHILD_DIR"
MD_PID=""

cleanup() {
	if [ -n "$MD_PID" ] && kill -0 "$MD_PID" 2>/dev/null; then
		kill -TERM "$MD_PID" 2>/dev/null
		i=0
		while kill -0 "$MD_PID" 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.1; i=$((i + 1))
		done
		kill -KILL "$MD_PID" 2>/dev/null
	fi
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$T/masterd.log" ]; then
		echo "--- masterd log (tail) ---" >&2
		tail -n 30 "$T/masterd.log" >&2
	fi
	exit 1
}

ok() {
	echo "ok: $*"
}

# wait_until "what we wait for" command args...
wait_until() {
	what=$1
	shift
	end=$(( $(date +%s) + DEADLINE ))
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || fail "timed out waiting for $what"
		sleep 0.05
	done
}

# A configuration with fast supervision timers; extra lines on stdin.
write_config() {
	{
		cat <<CONF
[masterd]
state_dir = $T/state
control_socket = $MASTERD_SOCKET
log_level = debug
${CHILD_PATH:+child_path = $CHILD_PATH}

[supervise]
ping_interval = 200ms
ping_timeout = 3s
hello_timeout = 10s
restart_delay = 100ms
restart_delay_max = 400ms
healthy_uptime = 60s
start_limit_burst = 5
start_limit_interval = 120s
stop_grace = 4s
CONF
		cat
	} > "$T/masterd.conf"
}

use_fakechild() {
	CHILD_PATH="$TOP/tests/e2e/fakechild.py"
}

start_masterd() {
	[ -f "$T/masterd.conf" ] || write_config </dev/null
	"$MASTERD" -f -c "$T/masterd.conf" "$@" >>"$T/masterd.log" 2>&1 &
	MD_PID=$!
	wait_until "masterd to answer on its socket" ctl status
}

ctl() {
	"$MASTERCTL" "$@"
}

# json_get 'python expression on r' masterctl-args...: print one value
json_get() {
	expr=$1
	shift
	"$MASTERCTL" --json "$@" | python3 -c "import json,sys; r=json.load(sys.stdin); print($expr)"
}

log_has() {
	grep -q -- "$1" "$T/masterd.log"
}

child_state() {
	json_get "[c['state'] for c in r['children'] if c['domain']=='$1'][0]" status
}

child_pid() {
	json_get "[c['pid'] for c in r['children'] if c['domain']=='$1'][0]" status
}

state_is() {
	[ "$(child_state "$1")" = "$2" ]
}

all_running() {
	n=$(json_get "sum(1 for c in r['children'] if c['state']=='running')" status)
	[ "$n" = "$1" ]
}
