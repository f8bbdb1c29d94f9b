# Invariant: with accept_proposed_checks, a domain that has no configured
# or planned checks runs the checks its model proposes (in its worktree,
# with the same limits), and a failing one sends the round back.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-proposed-$$"
python3 - "$T/script.json" <<'PY'
import json, sys
def answer(state):
    return json.dumps({"summary": state, "files": [{"path": "state", "content": state + "\n"}],
        "interface": {"domain": "p", "summary": "p", "provides": [], "consumes": []},
        "checks": ["grep -qx good p/state"]})
json.dump({"rules": [
    {"match": {"system_contains": "You review one change"},
     "reply": {"json": {"complete": True, "feedback": ""}}},
    {"match": {"system_contains": "# Your domain: p"},
     "reply": {"texts": [answer("bad"), answer("good")]}}]}, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
{ llm_config; printf '[task]\naccept_proposed_checks = yes\n'; } | write_config
start_masterd
ctl submit "proposed checks" --domains p >/dev/null || fail submit
wait_until "p done" sh -c "$MASTERCTL --json task 1 | grep -q '\"state\": \"done\"'"
[ "$(json_get "[(x['round'], x['ok'], x['stage']) for x in r['rounds']]" task 1)" = \
    "[(1, False, 'checks'), (2, True, 'commit')]" ] || fail "rounds: $(json_get "r['rounds']" task 1)"
[ "$(git_in 1 show domain/p:p/state)" = good ] || fail "committed state"
ok "the model's proposed check ran, failed once, then passed"
