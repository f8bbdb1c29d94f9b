# Invariant: a provider that changes a signature a consumer uses gets the
# consumer a directive, and once it adapts nothing is unresolved; a token
# budget stops the task at its limit, says so, and lets no further request
# reach the model until the limit is raised, when the work goes on.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-brain-$$"
python3 - "$T/script.json" <<'PY'
import json, sys
def answer(d, provides=(), consumes=(), name="f"):
    return json.dumps({"summary": "s", "files": [
        {"path": name + ".txt", "content": name + "\n"}],
        "interface": {"domain": d, "summary": d,
                      "provides": list(provides), "consumes": list(consumes)}})
def fn(name, sig, frm=None):
    e = {"kind": "function", "name": name, "signature": sig}
    if frm:
        e["from"] = frm
    return e
rules = [
  {"match": {"system_contains": "You review one change"},
   "reply": {"json": {"complete": True, "feedback": ""}}},
  {"match": {"system_contains": "# Your domain: api",
             "input_contains": "take an id"},
   "reply": {"text": answer("api", [fn("api.get", "get(id: int) -> int")], name="v2")}},
  {"match": {"system_contains": "# Your domain: api"},
   "reply": {"text": answer("api", [fn("api.get", "get() -> int")])}},
  {"match": {"system_contains": "# Your domain: app",
             "input_contains": "changed function `api.get`"},
   "reply": {"text": answer("app", [], [fn("api.get", "get(id: int) -> int", "api")], name="v2")}},
  {"match": {"system_contains": "# Your domain: app"},
   "reply": {"text": answer("app", [], [fn("api.get", "get() -> int", "api")])}},
  {"match": {"system_contains": "# Your domain: slowpoke", "turn": 1},
   "fault": {"stall": 120}, "reply": {"text": answer("slowpoke")}},
  {"match": {"system_contains": "# Your domain: slowpoke"},
   "reply": {"text": answer("slowpoke")}},
  {"match": {"system_contains": "# Your domain: quick"},
   "reply": {"text": answer("quick")}},
]
json.dump({"rules": rules}, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
{
	llm_config
	printf '[domain "app"]\ndepends = api\n'
} | write_config
start_masterd

directive_done() {	# task domain text-prefix
	[ "$(json_get "[x['state'] for x in r['directives'] if x['domain']=='$2' and x['text'].startswith('$3')]" task "$1")" = "['done']" ]
}
unresolved() {	# task -> count
	json_get "len(r['unresolved'])" interfaces "$1"
}

ctl submit "signatures" --domains api,app >/dev/null || fail submit
wait_until "app built" directive_done 1 app Build
[ "$(unresolved 1)" = 0 ] || fail "unresolved before the change"
ctl directive api "make get take an id" --task 1 >/dev/null || fail directive
wait_until "the consumer's directive done" directive_done 1 app "Domain api changed"
ctl task 1 | grep -q "Domain api changed function \`api.get\`" || fail "no directive to the consumer"
[ "$(json_get "[x['source'] for x in r['directives'] if x['text'].startswith('Domain api changed')]" task 1)" = "['interface']" ] \
    || fail "the consumer's directive is not from the interface registry"
wait_until "nothing unresolved" sh -c "[ \"\$($MASTERCTL --json interfaces 1 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"unresolved\"]))')\" = 0 ]"
ok "a changed signature sends the consumer a directive; then nothing is unresolved"

# A token budget: one round is over it.
ctl submit "budgets" --domains quick,slowpoke --budget tokens=1 >/dev/null || fail submit
wait_until "task 2 stopped by its budget" sh -c \
    "$MASTERCTL --json task 2 | grep -q '\"reason\": \"budget: '"
[ "$(json_get "r['task']['paused']" task 2)" = True ] || fail "not paused"
ctl task 2 | grep -q "budget: .* tokens used, limit 1" || fail "task does not say which limit"
wait_until "slowpoke's call cancelled" log_has "masterd-worker/slowpoke.*failed: cancelled by masterd"
before=$(requests_matching "'# Your domain: quick' in text or '# Your domain: slowpoke' in text")
ctl directive quick "more work" --task 2 | grep -q queued || fail "directive refused while stopped"
wait_until "the directive queued" sh -c "$MASTERCTL --json task 2 | grep -q '\"more work\"'"
[ "$(requests_matching "'# Your domain: quick' in text or '# Your domain: slowpoke' in text")" = "$before" ] \
    || fail "a request reached the model after the budget stop"
ok "the token budget stops the task, says so, and nothing more reaches the model"

ctl budget 2 tokens=0 >/dev/null || fail "budget"
[ "$(json_get "r['task']['paused']" task 2)" = False ] || fail "raising the limit did not resume"
wait_until "the held work done" directive_done 2 quick "more work"
wait_until "slowpoke redone" directive_done 2 slowpoke Build
ok "raising the limit lets the task go on"
