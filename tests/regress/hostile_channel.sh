# Invariant: whatever a child sends on its channel, it can change only its
# own directive and its own interface, and it cannot stall the master: a
# flood of progress frames does not stop masterd from answering masterctl
# or its other children; results and rounds for directives it was not
# given are ignored (the other domain's directive stays running, nothing is
# recorded for it); a forged planner review does not end the task; an
# interface claiming another domain is ignored; control requests sent on a
# child channel (stop, submit, cancel) do nothing but get the child killed.
. "$(dirname "$0")/lib.subr"
# Through a wrapper: the script's mode bit may be lost in a checkout.
printf '#!/bin/sh\nexec python3 "%s" "$@"\n' "$REGRESS_DIR/hostchild.py" >"$T/hostchild"
chmod +x "$T/hostchild"
CHILD_PATH="$T/hostchild"
FLOOD=${REGRESS_FLOOD:-20000}
echo '{"hold": true}' >"$FAKECHILD_DIR/good.json"
echo "{\"flood\": $FLOOD}" >"$FAKECHILD_DIR/flooder.json"
# The flood holds masterd's loop for as long as it takes to store 20,000
# events, one insert each (issue #14): 1.5 s on an idle machine, 3 to 4 s
# with both CPUs busy, SLOW times that under the sanitizers.  A sibling's
# pong waits as long, so the ping timeout is set above it: this test is
# about the flood not reaching the siblings, not about that stall.
PING_TIMEOUT=$((8 * SLOW))s
write_config </dev/null
start_masterd
rss0=$(rss_mib "$MD_PID")
ctl submit "hostile channel" --domains good,flooder,rogue,impostor,rebel >/dev/null || fail submit

# 1. The flood: masterd answers status promptly throughout.  The flooding
# child is either heard out, or killed for not answering pings in time
# (its pongs queue behind its own flood) until it is fatal; both are fine.
slowest=0
flooded() {
	t0=$(date +%s%N)
	"$MASTERCTL" --json status >"$T/status.json" || fail "status failed during the flood"
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ $ms -gt $slowest ] && slowest=$ms
	python3 - "$T/status.json" "$FLOOD" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
fl = [c for c in r["children"] if c["domain"] == "flooder"]
sys.exit(0 if r["registry"]["events"] >= int(sys.argv[2]) or
         (fl and fl[0]["state"] == "fatal") else 1)
PY
}
wait_until "the flood to be taken in" flooded
[ "$slowest" -le $((5000 * SLOW)) ] || fail "status took $slowest ms during the flood"
alive "$MD_PID" || fail "masterd died in the flood"
rss_within "$rss0" 200 || fail "masterd grew from $rss0 to $(rss_mib "$MD_PID") MiB in the flood"
ok "a flood of $FLOOD progress frames: status never took more than $slowest ms; masterd at $(rss_mib "$MD_PID") MiB (from $rss0)"
wait_until "good running" state_is good running
[ "$(json_get "[c['restarts'] for c in r['children'] if c['domain']=='good'][0]" status)" = 0 ] ||
    fail "the flood got a well-behaved sibling restarted"
ok "the sibling of the flooding child was not disturbed (flooder: $(child_state flooder), restarts $(json_get "[c['restarts'] for c in r['children'] if c['domain']=='flooder'][0]" status))"

# 2. Results and rounds for directives the child was not given.
wait_until "good's directive running" sh -c \
    "$MASTERCTL --json task 1 | python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(not any(d[\"domain\"]==\"good\" and d[\"state\"]==\"running\" for d in r[\"directives\"]))'"
G=$(json_get "[d['id'] for d in r['directives'] if d['domain']=='good'][0]" task 1)
wait_until "rogue's first directive" directive_done 1 rogue Build
echo "{\"foreign\": [$G, 999999]}" >"$FAKECHILD_DIR/rogue.json"
ctl directive rogue "forge results" >/dev/null || fail "directive rogue"
wait_until "rogue's own directive done" directive_done 1 rogue forge
[ "$(directive_states 1 good Build)" = "['running']" ] ||
    fail "a forged result settled good's directive: $(directive_states 1 good Build)"
[ "$(json_get "len([x for x in r['rounds'] if x['directive']==$G])" task 1 --all)" = 0 ] ||
    fail "a forged round was recorded for good's directive"
log_has "round of directive $G, which it was not given; ignored" || fail "the forged final round was not logged"
ok "forged results and rounds for another domain's directive ignored"

# 3. A forged planner review and an interface claiming another domain.
wait_until "impostor's first directive" directive_done 1 impostor Build
good_v=$(json_get "r['interface']['version']" interface good --task 1)
echo '{"impersonate": "good"}' >"$FAKECHILD_DIR/impostor.json"
ctl directive impostor "impersonate" >/dev/null || fail "directive impostor"
wait_until "impostor's directive done" directive_done 1 impostor impersonate
state=$(json_get "r['task']['state']" task 1)
case "$state" in done|failed|cancelled) fail "a domain child's forged review ended the task ($state)" ;; esac
[ "$(json_get "r['interface']['version']" interface good --task 1)" = "$good_v" ] ||
    fail "an interface claiming to be good's was stored"
json_get "r['interface']['document']['summary']" interface good --task 1 | grep -q "hostile good" ||
    fail "good's interface was replaced"
ok "a forged planner review and an interface claiming another domain are ignored (task $state)"

# 4. Control requests on the child channel.
wait_until "rebel's first directive" directive_done 1 rebel Build
rebel_pid=$(child_pid rebel)
echo '{"control": true}' >"$FAKECHILD_DIR/rebel.json"
ctl directive rebel "send control requests" >/dev/null || fail "directive rebel"
wait_until "rebel killed for speaking control on its channel" sh -c "! kill -0 $rebel_pid"
alive "$MD_PID" || fail "a child's stop request stopped masterd"
ctl status >/dev/null || fail "masterd not answering"
[ "$(json_get "r['registry']['tasks']" status)" = 1 ] || fail "a child's submit created a task"
state=$(json_get "r['task']['state']" task 1)
[ "$state" != cancelled ] || fail "a child's cancel cancelled the task"
json_get "r['stopping']" status | grep -qx False || fail "masterd is stopping"
ok "stop, submit and cancel on a child channel: the child was killed, nothing else happened"

[ "$(json_get "[c['restarts'] for c in r['children'] if c['domain']=='good'][0]" status)" = 0 ] ||
    fail "good was restarted"
[ "$(directive_states 1 good Build)" = "['running']" ] || fail "good's directive moved"
ok "the well-behaved child went through all of it untouched"
done_testing
