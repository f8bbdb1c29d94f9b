# Invariant: a child killed with SIGKILL is restarted and its domain is back
# in `status`; a child that keeps dying is marked fatal with the reason
# visible, and `masterctl restart` brings it back.
. "$(dirname "$0")/lib.subr"
stalling_model >"$T/llm.conf"
write_config <"$T/llm.conf"
start_masterd

# The model holds every call: the children stay up, busy.
ctl submit "supervision test" --domains alpha,beta >/dev/null || fail submit
wait_until "two running children" all_running 2

pid=$(child_pid alpha)
kill -KILL "$pid"
wait_until "alpha restarted with a new pid" sh -c \
    "[ \"\$($MASTERCTL --json status | python3 -c 'import json,sys; r=json.load(sys.stdin); print([c[\"pid\"] for c in r[\"children\"] if c[\"domain\"]==\"alpha\" and c[\"state\"]==\"running\"])')\" != '[]' ] && ! kill -0 $pid"
[ "$(child_pid alpha)" != "$pid" ] || fail "same pid after restart"
log_has "domain alpha (task 1): killed by signal 9" || fail "crash not logged"
[ "$(json_get "[c['restarts'] for c in r['children'] if c['domain']=='alpha'][0]" status)" -ge 1 ] \
    || fail "restart not counted"
ok "SIGKILLed child restarted"

restarts_are() {
	[ "$(json_get "[c['restarts'] for c in r['children'] if c['domain']=='$1'][0]" status)" = "$2" ]
}

# Four more crashes inside the window: the start limit (5) is reached.
for i in 2 3 4 5; do
	wait_until "alpha running before crash $i" state_is alpha running
	kill -KILL "$(child_pid alpha)"
	[ $i -eq 5 ] && break
	wait_until "crash $i noticed" restarts_are alpha "$i"
done
wait_until "alpha fatal" state_is alpha fatal
reason=$(json_get "[c['reason'] for c in r['children'] if c['domain']=='alpha'][0]" status)
case "$reason" in *"crashed 5 times"*"masterctl restart alpha"*) ;;
*) fail "fatal reason unclear: $reason" ;; esac
ctl status | grep -q "fatal" || fail "status table does not show fatal"
state_is beta running || fail "beta disturbed by alpha's crashes"
ok "start limit marks the domain fatal: $reason"

ctl restart alpha >/dev/null || fail "restart"
wait_until "alpha running after restart" state_is alpha running
ok "masterctl restart clears fatal"

# restart on a running child: a graceful stop, then a new process.
pid=$(child_pid beta)
ctl restart beta >/dev/null || fail "restart of a running child"
wait_until "beta replaced" sh -c "! kill -0 $pid"
wait_until "beta running again" state_is beta running
[ "$(child_pid beta)" != "$pid" ] || fail "restart kept the old process"
log_has "domain beta (task 1): restarting (exited with status 0)" || fail "restart not graceful"
ok "masterctl restart replaces a running child gracefully"

# A hung child (SIGSTOP: no pong) is killed and restarted.
pid=$(child_pid beta)
kill -STOP "$pid"
wait_until "hung beta killed" log_has "domain beta (task 1): no pong"
wait_until "beta running again" state_is beta running
ok "hung child killed after the ping timeout"

# SIGTERM: children get shutdown and exit; nothing is left running.
pids="$(child_pid alpha) $(child_pid beta)"
kill -TERM "$MD_PID"
wait_until "masterd exit" sh -c "! kill -0 $MD_PID"
for p in $pids; do
	kill -0 "$p" 2>/dev/null && fail "child $p survived masterd's stop"
done
log_has "domain alpha (task 1): stopped (exited with status 0)" || fail "alpha not stopped gracefully"
ok "SIGTERM stops children gracefully"
