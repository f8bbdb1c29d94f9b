# Invariant: max_llm_calls bounds how many domains work at once across all
# tasks: with a limit of one, the model never sees two domains' requests
# at the same time, and every domain still gets its turn.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-limit-$$"
python3 - "$T/script.json" <<'PY'
import json, sys
def answer(d):
    return json.dumps({"summary": "s", "files": [{"path": "f.txt", "content": "f\n"}],
        "interface": {"domain": d, "summary": d, "provides": [], "consumes": []}})
rules = [{"match": {"system_contains": "You review one change"},
          "reply": {"json": {"complete": True, "feedback": ""}}}]
for d in ("one", "two", "three"):
    rules.append({"match": {"system_contains": "# Your domain: " + d},
                  "fault": {"delay": 1}, "reply": {"text": answer(d)}})
json.dump({"rules": rules}, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
llm_config | write_config
sed -i 's/^\[masterd\]$/[masterd]\nmax_llm_calls = 1/' "$T/masterd.conf"
start_masterd
ctl submit "one at a time" --domains one >/dev/null || fail submit
ctl submit "one at a time too" --domains two,three >/dev/null || fail submit
all_done() {
	[ "$(json_get "r['registry']['directives_open']" status)" = 0 ]
}
wait_until "all three domains done" all_done
python3 - "$LLMD_RECORD" <<'PY' || fail "two domains were working at once"
import json, sys
t = sorted(m["time"] for m in map(json.loads, open(sys.argv[1]))
           if "body" in m and "# Your domain: " in json.dumps(m["body"]))
assert len(t) == 3, t
# Each answer takes 1 s: with one call at a time they end >= 1 s apart.
assert all(b - a >= 0.9 for a, b in zip(t, t[1:])), t
PY
ok "one domain at a time across two tasks"
