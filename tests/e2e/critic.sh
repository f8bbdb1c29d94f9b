# Invariant: the critic fits what it is shown to its window and never takes
# silence for approval: a change far larger than the critic's window is
# reviewed from a summary and the hunks that fit, within the window, and
# committed; a critic that never gives a verdict is asked three times, and
# the directive ends with unreadable_verdict and nothing committed.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-critic-$$"
python3 - "$T/script.json" <<'PY'
import json, sys
def answer(d, path, content):
    return json.dumps({"summary": "wrote " + path, "files": [
        {"path": path, "content": content}],
        "interface": {"domain": d, "summary": d, "provides": [],
                      "consumes": []}})
big = "".join("value_%d = %d\n" % (i, i) for i in range(2500))
rules = [
  # Only the critic of "big" answers with a verdict; the critic of "vague"
  # gets llmd's default text, which is none.
  {"match": {"system_contains": "You review one change",
             "input_contains": "given to domain big"},
   "reply": {"json": {"complete": True, "feedback": ""}}},
  {"match": {"system_contains": "# Your domain: big"},
   "reply": {"text": answer("big", "big.py", big)}},
  {"match": {"system_contains": "# Your domain: vague"},
   "reply": {"text": answer("vague", "v.txt", "v\n")}},
]
json.dump({"rules": rules}, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
llm_config_with <<'CONF'
[critic]
context_tokens = 6000
max_tokens = 500

[task]
directive_attempts = 1
CONF
start_masterd

directive_is() {	# task domain state: its one directive is in state
	[ "$(json_get "[x['state'] for x in r['directives'] if x['domain'] == '$2']" task "$1")" = "['$3']" ]
}

ctl submit "a large change" --domains big >/dev/null || fail submit
wait_until "big's directive done" directive_is 1 big done
[ "$(own_commits 1 big)" = 1 ] || fail "big's change not committed"
python3 - "$LLMD_RECORD" <<'PY' || fail "the critic's request"
import json, sys
seen = 0
for line in open(sys.argv[1]):
    m = json.loads(line)
    msgs = m.get("body", {}).get("messages", [])
    text = "\n".join(x.get("content") or "" for x in msgs
                     if isinstance(x.get("content"), str))
    if "You review one change" not in text:
        continue
    seen += 1
    assert "1 file changed; shown: 0 of 1 hunks\nbig/big.py +2500 -0\n" in text, text[:2000]
    assert "[hunk of big/big.py cut: its first " in text, text[-800:]
    # Within what the critic's request may hold: 5,500 tokens of 3 bytes.
    assert len(text) < (6000 - 500) * 3, len(text)
assert seen == 1, seen
PY
ok "a change larger than the critic's window reviewed from its summary, and committed"

ctl submit "no verdict" --domains vague >/dev/null || fail submit
wait_until "vague's directive dropped" directive_is 2 vague dropped
reason=$(json_get "[x['reason'] for x in r['directives'] if x['domain'] == 'vague'][0]" task 2)
echo "$reason" | grep -q "^the critic gave no verdict in 3 asks: " || fail "reason: $reason"
[ "$(json_get "[(x['stage'], x['ok']) for x in r['rounds']]" task 2)" = "[('critic', False)]" ] ||
    fail "rounds: $(json_get "r['rounds']" task 2)"
[ "$(requests_matching "'You review one change' in text and 'given to domain vague' in text")" = 3 ] ||
    fail "the critic was not asked three times"
[ "$(requests_matching "'Your answer was not a verdict' in text")" = 2 ] ||
    fail "no asking again"
[ "$(own_commits 2 vague)" = 0 ] || fail "committed without a verdict"
ok "no verdict after three asks: the directive ends unreadable_verdict, nothing committed"
