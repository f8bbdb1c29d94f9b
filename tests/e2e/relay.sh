# Invariant: a domain with nothing to do is one light process (the relay,
# masterd-child, without libcurl or libgit2); its worker starts when a
# directive comes and leaves once idle, and the conversation goes on across
# workers.  A worker killed with work in hand, or hung (no pong within
# masterd's ping_timeout), is a crash of the domain: the relay goes down
# with it, the master restarts the domain and the directive is done by the
# next worker.  A worker that cannot start does not loop: each failure is a
# crash, and the start limit makes the domain fatal with the reason.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-relay-$$"

python3 - "$T/script.json" <<'PY'
import json, sys
def answer(name):
    return json.dumps({"summary": name, "files": [
        {"path": name + ".txt", "content": name + "\n"}],
        "interface": {"domain": "solo", "summary": "solo", "provides": [
            {"kind": "function", "name": "solo." + name, "signature": "()"}],
            "consumes": []}})
json.dump({"rules": [
  {"match": {"system_contains": "You review one change"},
   "reply": {"json": {"complete": True, "feedback": ""}}},
  {"match": {"input_contains": "hang here"},
   "fault": {"stall": 120, "count": 1},
   "reply": {"text": answer("fourth")}},
  {"match": {"input_contains": "stall once"},
   "fault": {"stall": 120, "count": 1},
   "reply": {"text": answer("third")}},
  {"match": {"input_contains": "second change"},
   "reply": {"text": answer("second")}},
  {"match": {}, "reply": {"text": answer("first")}},
]}, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
llm_config | write_config
start_masterd

# The worker of this test's relay, found through its parent (never by
# name: other tests' workers may run on the same machine).
worker_pid() {
	relay_now=$(child_pid solo)
	for f in /proc/[0-9]*/stat; do
		ppid=$(sed -n 's/.*) [A-Za-z] \([0-9]*\) .*/\1/p' "$f" 2>/dev/null)
		[ "$ppid" = "$relay_now" ] || continue
		p=${f#/proc/}
		p=${p%/stat}
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null |
		    grep -q 'masterd-worker' && echo "$p"
	done | head -1
}
no_worker() {
	[ -z "$(worker_pid)" ]
}
# The pid in the log line of the worker that took the directive TEXT.
worker_on() {
	sed -n "s/.*masterd-worker\/solo\[\([0-9]*\)\] info: directive [0-9]*: $1.*/\1/p" \
	    "$T/masterd.log" | tail -1
}
# The parent of process $1.
ppid_of() {
	sed -n 's/.*) [A-Za-z] \([0-9]*\) .*/\1/p' "/proc/$1/stat" 2>/dev/null
}
# Give solo the directive TEXT; set worker to the pid of the worker that
# logged taking it (that one, not any worker of the domain), and
# worker_relay to its parent, checked to be the domain's relay now.  The
# relay is read from the worker, never remembered from before: a domain
# restarted meanwhile (a missed pong on a loaded machine) has a new one.
worker_taking() {	# text
	ctl directive solo "$1" >/dev/null || fail directive
	wait_until "the worker on it" log_has "masterd-worker/solo\[[0-9]*\] info: directive [0-9]*: $1"
	worker=$(worker_on "$1")
	[ -n "$worker" ] || fail "no worker while a call is in flight"
	worker_relay=$(ppid_of "$worker")
	[ -n "$worker_relay" ] || fail "the worker $worker on '$1' is gone"
	tr '\0' ' ' <"/proc/$worker/cmdline" | grep -q masterd-worker ||
	    fail "pid $worker is not a worker"
	[ "$worker_relay" = "$(child_pid solo)" ] ||
	    fail "the worker $worker on '$1' is not the relay's ($worker_relay)"
}
directive_state() {	# text-prefix
	json_get "[x['state'] for x in r['directives'] if x['domain']=='solo' and x['text'].startswith('$1')]" task 1
}
directive_done() {
	[ "$(directive_state "$1")" = "['done']" ]
}

ctl submit "relay test" --domains solo >/dev/null || fail submit
wait_until "the first directive" directive_done Build
relay=$(child_pid solo)
wait_until "the idle worker to leave" no_worker
state_is solo running || fail "the domain is not running once idle"
[ "$(child_pid solo)" = "$relay" ] || fail "the relay was replaced"
grep -q 'libcurl\|libgit2' "/proc/$relay/maps" && fail "the relay maps libcurl or libgit2"
ok "an idle domain is its relay alone, without libcurl or libgit2"

ctl directive solo "second change" >/dev/null || fail directive
wait_until "the second directive" directive_done second
[ "$(requests_matching "'second change' in text and '# Your directive (#1' in text")" -ge 1 ] \
    || fail "the second worker did not carry the conversation on"
[ "$(child_pid solo)" = "$relay" ] || fail "the relay was replaced"
ok "a new worker takes the next directive and the conversation goes on"

worker_taking "stall once"
kill -KILL "$worker"
wait_until "the relay to go down with it" sh -c "! kill -0 $worker_relay 2>/dev/null"
wait_until "the crash logged" log_has "domain solo (task 1): .*worker killed by signal 9"
wait_until "the domain back" state_is solo running
[ "$(child_pid solo)" != "$worker_relay" ] || fail "the same relay after the crash"
wait_until "the stalled directive redone" directive_done "stall once"
ok "a killed worker is a crash of the domain, and the work is redone"

worker_taking "hang here"
kill -STOP "$worker"
wait_until "the hung worker killed" log_has "masterd-child/solo\[$worker_relay\] err: the worker answered no ping for 3000 ms"
wait_until "the relay to go down with it" sh -c "! kill -0 $worker_relay 2>/dev/null"
wait_until "the domain back" state_is solo running
wait_until "the hung directive redone" directive_done "hang here"
ok "a hung worker is killed after ping_timeout, and the work is redone"

# A worker that cannot start: a stand-in that exits 1 at once.
kill -TERM "$MD_PID"
wait_until "masterd exit" sh -c "! kill -0 $MD_PID"
mkdir -p "$T/bin"
cp "$BUILD/masterd-child" "$T/bin/masterd-child"
printf '#!/bin/sh\nexit 1\n' >"$T/bin/masterd-worker"
chmod +x "$T/bin/masterd-worker"
rm -rf "$T/state"
: >"$T/masterd.log"
CHILD_PATH="$T/bin/masterd-child"
llm_config | write_config
start_masterd
ctl submit "broken worker" --domains solo >/dev/null || fail submit
wait_until "solo fatal" state_is solo fatal
reason=$(json_get "[c['reason'] for c in r['children'] if c['domain']=='solo'][0]" status)
case "$reason" in *"crashed 5 times"*"worker exited with status 1"*) ;;
*) fail "fatal reason: $reason" ;; esac
exits=$(grep -c 'masterd-child/solo\[[0-9]*\] err: worker exited with status 1' "$T/masterd.log")
[ "$exits" -le 6 ] || fail "the worker was restarted in a loop: $exits exits"
ok "a worker that cannot start makes the domain fatal, without a restart loop: $reason"
