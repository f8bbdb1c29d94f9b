# Invariant: pause and resume change only what they change: a task that
# is over (done, failed, cancelled) keeps its completion reason and is
# refused (conflict) when named; "pause" of every task counts only the
# tasks it paused (an over or already paused task is not one of them),
# and a task paused by a limit keeps the limit's reason.
. "$(dirname "$0")/lib.subr"
use_fakechild
# beta's only directive fails: its task fails ("no directive succeeded").
echo '{"round_fields": {"ok": false, "stage": "checks", "error": {"code": "checks", "message": "no"}}}' \
    >"$FAKECHILD_DIR/beta.json"
echo '{"hold": true}' >"$FAKECHILD_DIR/alpha.json"
write_config <<'CONF'
directive_attempts = 1
CONF
start_masterd
ctl submit "to cancel" --domains alpha >/dev/null || fail submit
ctl submit "to fail" --domains beta >/dev/null || fail submit
ctl submit "running" --domains alpha >/dev/null || fail submit
ctl cancel 1 >/dev/null || fail cancel
wait_until "task 2 failed" sh -c "[ \"\$($MASTERCTL --json task 2 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"task\"][\"state\"])')\" = failed ]"

task_field() {	# TASK FIELD
	json_get "r['task']['$2']" task "$1"
}
r1=$(task_field 1 reason); r2=$(task_field 2 reason)
for t in 1 2; do
	for cmd in pause resume; do
		ctl $cmd $t >"$T/out" 2>&1 && fail "$cmd of over task $t accepted: $(cat "$T/out")"
		grep -q "already over" "$T/out" || fail "$cmd $t: $(cat "$T/out")"
	done
done
[ "$(task_field 1 reason)" = "$r1" ] || fail "cancelled task's reason: $(task_field 1 reason)"
[ "$(task_field 2 reason)" = "$r2" ] || fail "failed task's reason: $(task_field 2 reason)"
[ "$(task_field 1 paused)" = False ] && [ "$(task_field 2 paused)" = False ] ||
    fail "an over task was paused"
ok "an over task keeps its reason ($r1; $r2); pause and resume refused"

ctl pause >"$T/out" || fail "pause all"
grep -q "^1 task(s) paused" "$T/out" || fail "pause all: $(cat "$T/out")"
ctl pause >"$T/out" || fail "pause all again"
grep -q "^0 task(s) paused" "$T/out" || fail "pause all again: $(cat "$T/out")"
ctl pause 3 >"$T/out" || fail "pause 3"
grep -q "^task 3 unchanged: already paused" "$T/out" || fail "pause of a paused task: $(cat "$T/out")"
ctl resume >"$T/out" || fail "resume all"
grep -q "^1 task(s) resumed" "$T/out" || fail "resume all: $(cat "$T/out")"
[ "$(task_field 3 paused)" = False ] || fail "task 3 still paused"
ok "the count is what changed"

# A limit's pause keeps its reason when the user pauses too.
ctl budget 3 rounds=0 >/dev/null
ctl budget 3 time=1 >/dev/null || fail budget
wait_until "task 3 paused by its time limit" sh -c "[ \"\$($MASTERCTL --json task 3 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"task\"][\"paused\"])')\" = True ]"
limit=$(task_field 3 reason)
case "$limit" in budget:*) ;; *) fail "not a limit's pause: $limit" ;; esac
ctl pause 3 >"$T/out" || fail "pause 3"
grep -q "^task 3 unchanged: already paused" "$T/out" || fail "pause of a limit-paused task: $(cat "$T/out")"
[ "$(task_field 3 reason)" = "$limit" ] || fail "limit's reason replaced: $(task_field 3 reason)"
ok "a limit's pause keeps its reason: $limit"
