# Invariant: masterd killed with SIGKILL while tasks are live restarts,
# finds every task, domain, interface version and directive it had
# acknowledged, and restarts the children of unfinished tasks.
. "$(dirname "$0")/lib.subr"
use_fakechild
echo '{"hold": true}' > "$FAKECHILD_DIR/logic.json"
write_config </dev/null
start_masterd

ctl submit "first task" --domains frontend,database,logic >/dev/null || fail submit
ctl submit "second task" --domains api >/dev/null || fail submit
wait_until "four running children" all_running 4
ctl directive database "publish:db.v2" --task 1 >/dev/null || fail directive
wait_until "database v2" sh -c "$MASTERCTL interface database 2 --task 1 >/dev/null"
ctl directive logic "a held directive" --task 1 >/dev/null || fail directive
ctl directive logic "a queued directive" --task 1 >/dev/null || fail directive
ctl cancel 2 >/dev/null || fail cancel
wait_until "held directive running" sh -c \
    "$MASTERCTL --json task 1 | grep -q '\"state\": \"running\"'"

ctl --json tasks >"$T/tasks.before"
ctl --json interfaces 1 >"$T/ifaces.before"
dirs_before=$(json_get "sorted((d['id'], d['text']) for d in r['directives'])" task 1)
kids=$(json_get "' '.join(str(c['pid']) for c in r['children'])" status)

kill -KILL "$MD_PID"
wait_until "masterd gone" sh -c "! kill -0 $MD_PID"
# Orphaned children notice the closed channel and leave by themselves.
for p in $kids; do
	wait_until "orphan $p to exit" sh -c "! kill -0 $p"
done
ok "children left with the master"

start_masterd
ctl --json tasks >"$T/tasks.after"
python3 - "$T/tasks.before" "$T/tasks.after" <<'PY' || fail "tasks changed across the restart"
import json, sys
a, b = (json.load(open(p))["tasks"] for p in sys.argv[1:3])
strip = lambda ts: [(t["id"], t["text"], t["state"]) for t in ts]
assert strip(a) == strip(b), (strip(a), strip(b))
PY
# Every version acknowledged before the kill is still there, unchanged
# (a restarted child may publish newer ones).
python3 - "$T/ifaces.before" "$MASTERCTL" <<'PY' || fail "interface versions lost"
import json, subprocess, sys
before = json.load(open(sys.argv[1]))["interfaces"]
assert len(before) == 3, before
for i in before:
    for v in range(1, i["version"] + 1):
        out = subprocess.run([sys.argv[2], "--json", "interface", i["domain"],
                              str(v), "--task", "1"], capture_output=True,
                             check=True).stdout
        got = json.loads(out)["interface"]
        if v == i["version"]:
            assert got["hash"] == i["hash"], (i, got)
PY
[ "$(json_get "sorted((d['id'], d['text']) for d in r['directives'])" task 1)" = "$dirs_before" ] \
    || fail "directives changed across the restart"
ok "tasks, interface versions and directives all found"

wait_until "task 1's three children back" all_running 3
json_get "[c['task'] for c in r['children']]" status | grep -q 2 && fail "cancelled task restarted"
# The directive cut short by the kill (logic's first, which it holds) is
# handed out again.
wait_until "held directive redelivered" sh -c \
    "[ \$(grep -c 'Build the first working version' '$FAKECHILD_DIR/logic.log') -ge 2 ]"
ok "children of unfinished tasks restarted; work in flight redone"
