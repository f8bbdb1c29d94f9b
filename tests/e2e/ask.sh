# Invariant: the planner may ask the user before it plans.  Its question
# is stored and is an event (question.asked, the needs-input moment of
# [notify]); the task waits, planned, with no domain, and the question
# outlives a kill -9 of masterd; `masterctl questions` lists it and
# `masterctl answer` answers it, and the planner's next plan request holds
# the answer.  A question left unanswered past [task] question_timeout
# expires (question.expired): the planner's next request tells it to go
# on with the assumption it stated.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-ask-$$"

answer_script "$T/script.json" "calc"
python3 - "$T/script.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
plan = {"summary": "one domain", "domains": [
    {"name": "calc", "prompt": "You write calc.", "checks": []}]}
s["rules"][:0] = [
  # Answered (or expired): the plan.  Asked first: a question.
  {"match": {"system_contains": "You are the planner",
             "input_contains": "The user's answers to your questions"},
   "reply": {"json": plan}},
  {"match": {"system_contains": "You are the planner",
             "input_contains": "Plan this task"},
   "reply": {"json": {"summary": "unclear", "questions": [
       {"text": "Which language shall the calculator be written in?",
        "assumption": "Python 3, standard library only"}]}}},
  {"match": {"system_contains": "You are the planner",
             "input_contains": "Review this task"},
   "reply": {"json": {"done": True, "summary": "done", "directives": [],
                      "domains": []}}},
]
json.dump(s, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
mkdir -p "$T/told"
conf() {
	MAX_REVIEWS=1 llm_config_with <<CONF
[task]
question_timeout = $1
[notify]
command = "cat >$T/told/\$MASTERD_MOMENT.\$MASTERD_TASK.json"
on = needs-input, done
CONF
}
# events TASK NAME: the data of the task's events so named, from the
# registry.
events() {
	python3 - "$T/state/masterd.db" "$1" "$2" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30)
print(json.dumps([json.loads(d) for (d,) in db.execute(
    "SELECT data FROM events WHERE task_id = ? AND event = ? ORDER BY seq",
    (int(sys.argv[2]), sys.argv[3]))]))
PY
}
open_asks() {
	json_get "len(r['asks'])" questions "$1"
}

conf 0
start_masterd
ctl submit "Build a calculator" >/dev/null || fail submit
wait_until "the planner's question" sh -c "[ \"\$($MASTERCTL --json questions 1 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"asks\"]))')\" = 1 ]"
[ "$(json_get "(r['asks'][0]['who'], r['asks'][0]['kind'], r['asks'][0]['assumption'])" questions)" = \
    "('planner', 'question', 'Python 3, standard library only')" ] ||
    fail "questions: $(ctl --json questions)"
ctl questions 1 | grep -q "Which language" || fail "human questions: $(ctl questions 1)"
ctl task 1 | grep -q "question 1 from planner: Which language" || fail "masterctl task: $(ctl task 1)"
[ "$(json_get "(r['task']['state'], len(r['domains']))" task 1)" = "('planned', 0)" ] ||
    fail "the task went on: $(json_get "r['task']['state']" task 1)"
wait_until "the needs-input notification" test -s "$T/told/needs-input.1.json"
python3 - "$T/told/needs-input.1.json" <<'PY' || fail "the needs-input event: $(cat "$T/told/needs-input.1.json")"
import json, sys
e = json.loads(open(sys.argv[1]).read())
assert e["moment"] == "needs-input" and e["event"] == "question.asked", e
assert e["data"]["who"] == "planner" and "language" in e["data"]["text"], e
PY
ok "the planner's question: stored, listed, an event, needs-input told; the task waits"

# kill -9: the question is in the registry, the task still waits for it.
kill -KILL "$MD_PID"
wait_until "masterd gone" sh -c "! kill -0 $MD_PID"
# Its children notice the closed channel and leave by themselves.
children_gone() {
	[ -z "$(pids_of "--state $T/state")" ]
}
wait_until "its children gone" children_gone
start_masterd
[ "$(open_asks 1)" = 1 ] || fail "the question lost in a kill -9"
qid=$(json_get "r['asks'][0]['id']" questions 1)
[ "$(json_get "r['task']['state']" task 1)" = planned ] || fail "the task did not wait after the restart"
ok "the question outlives kill -9"

ctl answer "$qid" "Use POSIX sh, please" >"$T/out" || fail "answer: $(cat "$T/out")"
grep -q "question $qid answered" "$T/out" || fail "answer said: $(cat "$T/out")"
ctl answer "$qid" "again" >/dev/null 2>&1 && fail "a question answered twice"
wait_until "task 1 done" sh -c "[ \"\$($MASTERCTL --json task 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"task\"][\"state\"])')\" = done ]"
[ "$(requests_matching "'You are the planner' in text and 'Use POSIX sh, please' in text and 'Which language' in text")" -ge 1 ] ||
    fail "the answer is not in the planner's next request"
python3 -c "import json,sys; assert json.loads(sys.argv[1]) == [{'question': $qid, 'who': 'planner', 'answer': 'Use POSIX sh, please'}]" "$(events 1 question.answered)" ||
    fail "question.answered: $(events 1 question.answered)"
[ "$(open_asks 1)" = 0 ] || fail "an answered question still open"
ok "answered with masterctl: the answer is in the planner's next request, the task planned and done"

ctl stop >/dev/null
wait_until "masterd exit" sh -c "! kill -0 $MD_PID"

# A deadline: no answer, the planner goes on with its assumption.
conf 1s
start_masterd
ctl submit "Build another calculator" >/dev/null || fail submit
expired() {
	events 2 question.expired | grep -q '"question"'
}
wait_until "the question.expired event" expired
python3 - "$(events 2 question.expired)" <<'PY' || fail "question.expired: $(events 2 question.expired)"
import json, sys
e = json.loads(sys.argv[1])
assert len(e) == 1 and e[0]["who"] == "planner", e
assert e[0]["assumption"] == "Python 3, standard library only", e
PY
wait_until "task 2 done" sh -c "[ \"\$($MASTERCTL --json task 2 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"task\"][\"state\"])')\" = done ]"
[ "$(requests_matching "'You are the planner' in text and 'No answer came in time: proceed on your assumption: Python 3, standard library only' in text")" -ge 1 ] ||
    fail "the assumption is not in the planner's next request"
[ "$(events 2 question.answered)" = "[]" ] || fail "an expired question answered"
ctl answer "$(events 2 question.expired | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["question"])')" late >/dev/null 2>&1 &&
    fail "an expired question answered late"
ok "past its deadline the question expires; the planner goes on with its assumption"
