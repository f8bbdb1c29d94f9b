# Invariant: each role talks to the model configured for it: the planner's
# requests name [planner]'s model, the critic's [critic]'s and the
# domains' [llm]'s; every round records the model that answered it and
# the one that reviewed it, the scoreboard shows each domain's, and the
# planner's is carried in the task.planned and task.reviewed events.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-roles-$$"
python3 - "$T/script.json" <<'PY'
import json, sys
answer = json.dumps({"summary": "add", "files": [
    {"path": "add.py", "content": "def add(a, b):\n    return a + b\n"}],
    "interface": {"domain": "calc", "summary": "adds",
                  "provides": [{"kind": "function", "name": "calc.add",
                                "signature": "add(a: int, b: int) -> int"}],
                  "consumes": []}})
rules = [
  {"match": {"system_contains": "You review one change"},
   "reply": {"json": {"complete": True, "feedback": ""}}},
  {"match": {"system_contains": "You are the planner",
             "input_contains": "Plan this task"},
   "reply": {"json": {"summary": "one domain", "domains": [
       {"name": "calc", "prompt": "You write calc.", "checks": []}]}}},
  {"match": {"system_contains": "You are the planner",
             "input_contains": "Review this task"},
   "reply": {"json": {"done": True, "summary": "done", "directives": [],
                      "domains": []}}},
  {"match": {"system_contains": "# Your domain: calc"},
   "reply": {"text": answer}},
]
json.dump({"rules": rules}, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
{
	llm_config
	printf '[planner]\nmodel = planner-model\n[critic]\nmodel = critic-model\n'
} | MAX_REVIEWS=1 write_config
start_masterd
ctl --json watch >"$T/watch" 2>&1 &
wait_until "watch" sh -c "[ \$($MASTERCTL --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"clients\"])') -ge 2 ]"

ctl submit "Add two numbers" --wait >"$T/wait.out" 2>&1 ||
    fail "submit --wait: $(tail -5 "$T/wait.out")"
tail -1 "$T/wait.out" | grep -qx "task 1 done" || fail "not done: $(tail -3 "$T/wait.out")"

planner=$(requests_matching "'You are the planner' in text and m['body']['model'] == 'planner-model'")
[ "$planner" -ge 2 ] || fail "the planner's plan and review on planner-model: $planner"
[ "$(requests_matching "'You are the planner' in text and m['body']['model'] != 'planner-model'")" = 0 ] ||
    fail "a planner request on another model"
[ "$(requests_matching "'# Your domain: calc' in text and m['body']['model'] == 'test-model'")" -ge 1 ] ||
    fail "no domain request on [llm]'s model"
[ "$(requests_matching "'# Your domain: calc' in text and m['body']['model'] != 'test-model'")" = 0 ] ||
    fail "a domain request on another model"
[ "$(requests_matching "'You review one change' in text and m['body']['model'] == 'critic-model'")" -ge 1 ] ||
    fail "no critic request on [critic]'s model"
[ "$(requests_matching "'You review one change' in text and m['body']['model'] != 'critic-model'")" = 0 ] ||
    fail "a critic request on another model"
ok "the planner asks [planner]'s model, the critic [critic]'s, the domain [llm]'s"

[ "$(json_get "[(x['round'], x['model'], x['critic_model']) for x in r['rounds']]" task 1)" = \
    "[(1, 'test-model', 'critic-model')]" ] ||
    fail "rounds: $(json_get "r['rounds']" task 1)"
[ "$(json_get "[(x['domain'], x['model']) for x in r['scoreboard']]" task 1)" = "[('calc', 'test-model')]" ] ||
    fail "scoreboard: $(json_get "r['scoreboard']" task 1)"
ctl task 1 | grep -E "^calc .* test-model$" >/dev/null || fail "no MODEL column: $(ctl task 1)"
ok "the round records the domain's and the critic's models; the scoreboard shows the domain's"

python3 - "$T/watch" <<'PY' || fail "the planner's model in its events"
import json, sys
seen = {}
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("event") in ("task.planned", "task.reviewed"):
        seen[e["event"]] = e["data"].get("model")
assert seen == {"task.planned": "planner-model",
                "task.reviewed": "planner-model"}, seen
PY
ok "task.planned and task.reviewed name the planner's model"
