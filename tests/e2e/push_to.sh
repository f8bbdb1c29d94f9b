# Invariant: with [task] push_to, each integration run that passes puts
# the commit it passed on onto branch masterd/task-N of that repository
# (a task.pushed event), with only the objects it lacks; its checked-out
# branch, HEAD and work tree stay as they were.  A push that would lose
# the branch's own commits is refused (task.push_failed, with why) and
# fails nothing else: the task goes on to done.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-pushto-$$"
export LLMD_API_KEY="$LLMD_TEST_KEY"
export GIT_AUTHOR_NAME=user GIT_AUTHOR_EMAIL=u@example.org
export GIT_COMMITTER_NAME=user GIT_COMMITTER_EMAIL=u@example.org

answer_script "$T/script.json" "solo"
python3 - "$T/script.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["rules"].insert(0, {"match": {"system_contains": "You are the planner",
                                "input_contains": "Review this task"},
                      "reply": {"json": {"done": True, "summary": "done",
                                         "directives": [], "domains": []}}})
json.dump(s, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
git init -q -b work "$T/user"
echo mine >"$T/user/README"
git -C "$T/user" add README && git -C "$T/user" commit -qm mine
mine=$(git -C "$T/user" rev-parse HEAD)
MAX_REVIEWS=1 llm_config_with <<CONF
[task]
integration_check = test -f solo/first.txt
push_to = $T/user
CONF
start_masterd
ctl submit "push each pass" --domains solo >/dev/null || fail submit
task_done() { [ "$(json_get "r['task']['state']" task 1)" = done ]; }
wait_until "the task done" task_done
wait_until "the push" log_has "task 1: main [0-9a-f]* pushed to $T/user, branch masterd/task-1"
passed=$(sqlite3 "$T/state/masterd.db" "select json_extract(data, '\$.commit') from events where event = 'integration.passed' order by seq desc limit 1")
pushed=$(sqlite3 "$T/state/masterd.db" "select json_extract(data, '\$.commit') from events where event = 'task.pushed' order by seq desc limit 1")
[ -n "$passed" ] && [ "$pushed" = "$passed" ] || fail "pushed '$pushed', the run passed on '$passed'"
[ "$(git -C "$T/user" rev-parse masterd/task-1)" = "$passed" ] || fail "the branch is not the passing commit"
[ "$(git -C "$T/user" show masterd/task-1:solo/first.txt)" = first ] || fail "the domain's file"
[ "$(git -C "$T/user" rev-parse HEAD)" = "$mine" ] || fail "the user's HEAD moved"
[ -z "$(git -C "$T/user" status --porcelain)" ] || fail "the work tree changed"
git -C "$T/user" fsck --no-progress >"$T/fsck" 2>&1 || fail "fsck: $(cat "$T/fsck")"
ok "a passing integration run is pushed to branch masterd/task-1, nothing else touched"
ctl stop >/dev/null
wait_until "masterd exit" sh -c "! kill -0 $MD_PID"

# The branch now holds a commit of the user's own: the next task 1 push
# is refused, and the task still ends done.
rm -rf "$T/state" "$T/user2"
git init -q -b work "$T/user2"
echo mine >"$T/user2/README"
git -C "$T/user2" add README && git -C "$T/user2" commit -qm mine
git -C "$T/user2" branch -q masterd/task-1
theirs=$(git -C "$T/user2" rev-parse masterd/task-1)
: >"$T/masterd.log"
rm -f "$T/masterd.conf"
MAX_REVIEWS=1 llm_config_with <<CONF
[task]
integration_check = test -f solo/first.txt
push_to = $T/user2
CONF
start_masterd
ctl submit "push refused" --domains solo >/dev/null || fail submit
wait_until "the task done" task_done
wait_until "the refusal" log_has "task 1: push of main [0-9a-f]* to $T/user2 failed: branch masterd/task-1 has commits the task's main does not have"
[ "$(git -C "$T/user2" rev-parse masterd/task-1)" = "$theirs" ] || fail "the user's branch moved"
ctl --json watch 1 --tail 100 2>/dev/null | grep -q '"task.push_failed"' || fail "no task.push_failed event"
ok "a push over the branch's own commits is refused and fails nothing else"
