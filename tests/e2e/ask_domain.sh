# Invariant: a domain's model may ask the user (the ask_user tool, or
# the questions of a JSON answer with tools = no, with a timeout of its
# own): the
# question is stored and listed with the domain as its asker, the domain
# waits (needs-input: no directive is handed to it) while the other
# domains go on, and the answer reaches the domain in its next request;
# a question past its own timeout expires, and the domain goes on with
# its assumption.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-askd-$$"

answer_script "$T/script.json" "other"
python3 - "$T/script.json" <<'PY'
import json, sys
def answer(d, name):
    return json.dumps({"summary": name, "files": [
        {"path": name + ".txt", "content": name + "\n"}],
        "interface": {"domain": d, "summary": d, "provides": [
            {"kind": "function", "name": d + "." + name, "signature": "()"}],
            "consumes": []}})
s = json.load(open(sys.argv[1]))
dom = "# Your domain: calc"
plain = json.loads(answer("plain", "first"))
plain["questions"] = [{"text": "Which currency?", "assumption": "EUR",
                       "timeout": 8}]
s["rules"][:0] = [
  {"match": {"system_contains": "# Your domain: plain",
             "input_contains": "Your questions to the user"},
   "reply": {"text": answer("plain", "answered")}},
  {"match": {"system_contains": "# Your domain: plain"},
   "reply": {"json": plain}},
  {"match": {"system_contains": "You are the planner",
             "input_contains": "Review this task"},
   "reply": {"json": {"done": True, "summary": "done", "directives": [],
                      "domains": []}}},
  # The answer's directive: work with it.
  {"match": {"system_contains": dom,
             "input_contains": "Your questions to the user"},
   "reply": {"text": answer("calc", "answered")}},
  # Asked: end the round with what there is.
  {"match": {"system_contains": dom, "last_tool": "ask_user"},
   "reply": {"text": answer("calc", "first")}},
  {"match": {"system_contains": dom, "last_tool": None},
   "reply": {"tool_calls": [{"name": "ask_user", "arguments": {
       "question": "Integers or floats?",
       "assumption": "integers only"}}]}},
]
json.dump(s, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
MAX_REVIEWS=1 llm_config_with <<CONF
[domain "plain"]
tools = no
CONF
start_masterd
ctl submit "Add numbers" --domains calc,other,plain >/dev/null || fail submit

wait_until "the domains' questions" sh -c "[ \"\$($MASTERCTL --json questions 1 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"asks\"]))')\" = 2 ]"
[ "$(json_get "sorted((a['who'], a['text'], a['assumption']) for a in r['asks'])" questions 1)" = \
    "[('calc', 'Integers or floats?', 'integers only'), ('plain', 'Which currency?', 'EUR')]" ] ||
    fail "questions: $(ctl --json questions 1)"
other_done() {
	[ "$(directive_states other)" = "['done']" ]
}
wait_until "the other domain's work" other_done
[ "$(json_get "r['task']['state']" task 1)" = building ] || fail "the task moved on while calc waits"
[ "$(directive_states calc)" = "['done']" ] || fail "calc was handed more: $(directive_states calc)"
ok "the domains ask (a tool, a JSON answer) and wait (needs-input); the other domain goes on"

qid=$(json_get "[a['id'] for a in r['asks'] if a['who'] == 'calc'][0]" questions 1)
ctl answer "$qid" "Floats, please" >/dev/null || fail answer
deadlines() {
	python3 - "$T/state/masterd.db" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30)
print(sorted((json.loads(d)["who"], json.loads(d)["deadline"] is None) for (d,) in
             db.execute("SELECT data FROM events WHERE event = 'question.asked'")))
PY
}
[ "$(deadlines)" = "[('calc', True), ('plain', False)]" ] || fail "deadlines: $(deadlines)"
plain_sent() {
	[ "$(requests_matching "'# Your domain: plain' in text and 'Which currency?' in text and 'No answer came in time: proceed on your assumption: EUR' in text")" -ge 1 ]
}
wait_until "plain's expired question in its next request" plain_sent
answer_sent() {
	[ "$(requests_matching "'# Your domain: calc' in text and 'Floats, please' in text and 'Integers or floats?' in text")" -ge 1 ]
}
wait_until "the answer in calc's next request" answer_sent
wait_until "task 1 done" sh -c "[ \"\$($MASTERCTL --json task 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"task\"][\"state\"])')\" = done ]"
[ "$(git_in 1 ls-tree -r --name-only main | grep -c answered.txt)" = 2 ] || fail "the answered rounds are not on main"
ok "the answer reaches the domain in its next directive, an expired question's assumption too; the task goes on to its end"
