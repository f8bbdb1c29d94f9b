# Invariant: `masterctl submit --wait` returns when its task pauses, with
# the reason printed last and exit status 4: a pause by the user during
# the wait (`masterctl pause`), and a budget reached.  A paused task waits
# for someone; --wait must not wait with it.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-regress-waitpause-$$"

llmd_script <<'PY'
import json, sys
from answers import *
rules = [CRITIC, PLANNER, KEEPER,
  {"match": {"system_contains": dom("spend")},
   "reply": {"text": answer("spend", [f("spent.txt")])}},
]
write_rules(rules)
PY
keeper_config
start_masterd

# 1. The user pauses the task while submit --wait follows it.
ctl submit "keep waiting" --domains keeper --wait >"$T/wait1.out" 2>&1 &
WAIT1=$!
wait_until "keeper's directive running" sh -c \
    "[ \"\$($MASTERCTL --json task 1 | python3 -c 'import json,sys; print([x[\"state\"] for x in json.load(sys.stdin)[\"directives\"]])')\" = \"['running']\" ]"
ctl pause 1 >/dev/null || fail "pause"
wait_until "submit --wait to return after the pause" sh -c "! kill -0 $WAIT1"
wait "$WAIT1"
rc=$?
[ "$rc" = 4 ] || fail "submit --wait exited $rc after a pause, want 4: $(tail -3 "$T/wait1.out")"
[ "$(tail -1 "$T/wait1.out")" = "task 1 paused: paused by the user" ] ||
    fail "last line: $(tail -1 "$T/wait1.out")"
grep -q "task *PAUSED: paused by the user" "$T/wait1.out" || fail "the pause event was not shown"
[ "$(json_get "r['task']['paused']" task 1)" = True ] || fail "task 1 not paused"
ok "masterctl pause: --wait printed the reason and exited 4"

# 2. A budget pauses the task: its reason is printed, with --json too.
ctl --json submit "spend it" --domains spend --budget tokens=1 --wait \
    >"$T/wait2.out" 2>&1
rc=$?
[ "$rc" = 4 ] || fail "submit --wait exited $rc on a budget, want 4: $(tail -3 "$T/wait2.out")"
last=$(tail -1 "$T/wait2.out")
case "$last" in
"task 2 paused: budget: "*" tokens used, limit 1") ;;
*) fail "last line: $last" ;;
esac
reason=$(json_get "r['task']['reason']" task 2)
[ "$last" = "task 2 paused: $reason" ] || fail "printed '$last', the task says '$reason'"
grep -q '"event":"task.paused"' "$T/wait2.out" || fail "no task.paused event in the --json stream"
ok "a budget: --wait printed the task's reason and exited 4"

# A task that ends still exits 0 or 1 as before (not 4).
ctl resume 1 >/dev/null || fail "resume"
release_keeper
ctl cancel 1 >/dev/null || fail "cancel"
ctl submit "nothing" --domains spend --wait >"$T/wait3.out" 2>&1 &
WAIT3=$!
wait_until "task 3 to build" sh -c \
    "[ \"\$($MASTERCTL --json task 3 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"task\"][\"state\"])')\" = improving ]"
ctl cancel 3 >/dev/null || fail "cancel 3"
wait_until "submit --wait to return after the cancel" sh -c "! kill -0 $WAIT3"
wait "$WAIT3"
rc=$?
[ "$rc" = 1 ] || fail "a cancelled task: exit $rc, want 1"
[ "$(tail -1 "$T/wait3.out")" = "task 3 cancelled" ] || fail "last line: $(tail -1 "$T/wait3.out")"
ok "a cancelled task still ends --wait with 1"
done_testing
