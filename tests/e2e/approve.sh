# Invariant: with [task] approve = merge, an accepted round's merge into
# main waits for a person (approval.needed, the approval-needed moment of
# [notify]): main is unchanged and the domain is given nothing more until
# `masterctl approve` or `reject`.  A rejection's reason reaches the domain
# in its next request; an approval lands the domain's branch on main.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-approve-$$"

answer_script "$T/script.json" "calc" "tabs"
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
mkdir -p "$T/told"
MAX_REVIEWS=1 llm_config_with <<CONF
[task]
approve = merge
[notify]
command = "cat >>$T/told/\$MASTERD_MOMENT.\$MASTERD_TASK.json"
on = approval-needed
CONF
"$MASTERD" -n -c "$T/masterd.conf" >"$T/out" 2>&1 || fail "config refused: $(cat "$T/out")"
start_masterd
ctl submit "Add numbers" --domains calc >/dev/null || fail submit

approvals() {
	json_get "len([a for a in r['asks'] if a['kind'] == 'approval'])" questions 1
}
on_main() {
	git_in 1 ls-tree -r --name-only main | grep -q "$1"
}
wait_until "the merge's approval" sh -c "[ \"\$($MASTERCTL --json questions 1 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"asks\"]))')\" = 1 ]"
[ "$(json_get "(r['asks'][0]['kind'], r['asks'][0]['who'], r['asks'][0]['assumption'])" task 1)" = \
    "('approval', 'calc', 'merge')" ] || fail "task's asks: $(json_get "r['asks']" task 1)"
git_in 1 ls-tree -r --name-only domain/calc | grep -q first.txt || fail "the round's commit is not on its branch"
on_main first.txt && fail "main changed before the approval"
ctl task 1 >"$T/glance" || fail "task"
grep -q "^waits for you:" "$T/glance" && grep -q "merge of calc (approval 1)" "$T/glance" &&
    grep -q "masterctl approve 1 1 | reject 1 1 REASON" "$T/glance" && grep -q "^calc .*awaiting approval" "$T/glance" ||
    fail "masterctl task does not show the approval: $(cat "$T/glance")"
[ "$(json_get "r['task']['state']" task 1)" = building ] || fail "the task moved on: $(json_get "r['task']['state']" task 1)"
wait_until "the approval-needed notification" test -s "$T/told/approval-needed.1.json"
grep -q '"event":"approval.needed"' "$T/told/approval-needed.1.json" ||
    fail "approval-needed: $(cat "$T/told/approval-needed.1.json")"
ok "a merge waits for approval: main unchanged, approval-needed told"

# kill -9: the merge still waits, and the domain with it.
kill -KILL "$MD_PID"
wait_until "masterd gone" sh -c "! kill -0 $MD_PID"
children_gone() {
	[ -z "$(pids_of "--state $T/state")" ]
}
wait_until "its children gone" children_gone
start_masterd
[ "$(approvals)" = 1 ] || fail "the approval lost in a kill -9"
# Ready again, calc would be handed work at once if it were not held.
calc_running() { [ "$(child_state calc 2>/dev/null)" = running ]; }
wait_until "calc's child running again" calc_running
[ "$(directive_states calc)" = "['done']" ] || fail "calc was given work: $(directive_states calc)"
on_main first.txt && fail "main changed at the restart"
ok "a waiting merge outlives kill -9"

ctl reject 1 "Use tabs for indentation, not spaces" >"$T/out" || fail "reject: $(cat "$T/out")"
grep -q "merge of task 1 rejected" "$T/out" || fail "reject said: $(cat "$T/out")"
reason_sent() {
	[ "$(requests_matching "'# Your domain: calc' in text and 'Use tabs for indentation, not spaces' in text")" -ge 1 ]
}
wait_until "the reason in the domain's next request" reason_sent
wait_until "the second merge's approval" sh -c "[ \"\$($MASTERCTL --json questions 1 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"asks\"]))')\" = 1 ]"
on_main first.txt && fail "main changed after a rejection"
ok "a rejection's reason reaches the domain; its next merge waits again"

ctl approve 1 >"$T/out" || fail "approve: $(cat "$T/out")"
grep -q "merge of task 1 approved" "$T/out" || fail "approve said: $(cat "$T/out")"
wait_until "the merge on main" on_main tabs.txt
on_main first.txt || fail "the first round's work is not on main"
ctl approve 1 >/dev/null 2>&1 && fail "an approval with nothing waiting"
wait_until "task 1 done" sh -c "[ \"\$($MASTERCTL --json task 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"task\"][\"state\"])')\" = done ]"
ok "approve lands the domain's work on main; the task goes on to its end"

# approve = plan: the plan waits; a rejection's reason goes back to the
# planner, whose next plan waits again; an approval starts its domains.
ctl stop >/dev/null
wait_until "masterd exit" sh -c "! kill -0 $MD_PID"
python3 - "$T/script.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
def plan(name):
    return {"summary": "one domain: " + name, "domains": [
        {"name": name, "prompt": "You add numbers.", "checks": []}]}
s["rules"][:0] = [
  {"match": {"system_contains": "You are the planner",
             "input_contains": "Name the domain tabs"},
   "reply": {"json": plan("tabs")}},
  {"match": {"system_contains": "You are the planner",
             "input_contains": "Plan this task"},
   "reply": {"json": plan("adder")}},
]
json.dump(s, open(sys.argv[1], "w"))
PY
answer_script "$T/tabs.json" "tabs"
python3 - "$T/script.json" "$T/tabs.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["rules"] += json.load(open(sys.argv[2]))["rules"]
json.dump(s, open(sys.argv[1], "w"))
PY
llmd_call POST /_llmd/script "$(cat "$T/script.json")" >/dev/null || fail "llmd script"
sed -i 's/^approve = merge$/approve = plan/' "$T/masterd.conf"
start_masterd
ctl submit "Add more numbers" >/dev/null || fail submit
plan_waits() {
	[ "$(json_get "[(a['assumption'], a['text']) for a in r['asks']]" questions 2)" = "[('plan', '$1')]" ]
}
wait_until "the plan's approval" plan_waits "one domain: adder"
[ "$(json_get "(r['task']['state'], len(r['domains']))" task 2)" = "('planned', 0)" ] ||
    fail "the plan went on: $(json_get "r['domains']" task 2)"
ctl reject 2 "Name the domain tabs" >/dev/null || fail reject
wait_until "the second plan's approval" plan_waits "one domain: tabs"
[ "$(requests_matching "'You are the planner' in text and 'The user rejected your earlier plan' in text and 'Name the domain tabs' in text")" -ge 1 ] ||
    fail "the reason is not in the planner's next request"
[ "$(json_get "len(r['domains'])" task 2)" = 0 ] || fail "a rejected plan's domains started"
ctl approve 2 >/dev/null || fail approve
wait_until "task 2 done" sh -c "[ \"\$($MASTERCTL --json task 2 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"task\"][\"state\"])')\" = done ]"
[ "$(json_get "[d['name'] for d in r['domains']]" task 2)" = "['tabs']" ] ||
    fail "domains: $(json_get "[d['name'] for d in r['domains']]" task 2)"
ok "approve = plan: a rejected plan goes back with its reason, the approved one starts its domains"

sed 's/^approve = plan$/approve = always/' "$T/masterd.conf" >"$T/bad.conf"
"$MASTERD" -n -c "$T/bad.conf" >"$T/out" 2>&1 && fail "approve = always accepted"
grep -q "\[task\] approve: unknown gate 'always' (expected none, plan or merge)" "$T/out" ||
    fail "bad approve: $(cat "$T/out")"
ok "an unknown [task] approve is refused"
