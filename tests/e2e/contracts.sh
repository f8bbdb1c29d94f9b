# Invariant: an interface is executable.  A consumer ships a contract test
# of what it consumes (named by the `test` of its consumes entry, kept in
# its own folder); at integration it runs against the provider's real code
# on main; when it fails, the provider gets a directive carrying the
# consumer's expectation and the failing output, without the planner; the
# provider's fix lands and the test passes on the new main.  No
# integration check is configured: the contract test alone is one.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-contracts-$$"
python3 - "$T/script.json" <<'PY'
import json, sys

NET = {"kind": "function", "name": "calc.net",
       "signature": "net(gross_cents: int) -> int"}

def answer(d, summary, files, provides=(), consumes=()):
    return json.dumps({"summary": summary, "files": [
        {"path": p, "content": c} for p, c in files],
        "interface": {"domain": d, "summary": d, "provides": list(provides),
                      "consumes": list(consumes)}})

# The provider: 20 % tax, and its own test agrees with itself.
CALC = "def net(gross_cents):\n    return gross_cents - gross_cents // 5\n"
CALC_FIXED = "def net(gross_cents):\n    return gross_cents - gross_cents // 4\n"
CALC_TEST = ("import os, sys\nsys.path.insert(0, os.path.dirname(__file__))\n"
             "import calc\nassert calc.net(0) == 0\nprint('calc ok')\n")
# The consumer expects 25 %: its contract test says so.
CONTRACT = ("import os, sys\nhere = os.path.dirname(os.path.abspath(__file__))\n"
            "sys.path.insert(0, os.path.join(here, '..', '..', 'logic'))\n"
            "import calc\ngot = calc.net(1000)\n"
            "print('net(1000) =', got, '(the ui expects 750)')\n"
            "sys.exit(0 if got == 750 else 1)\n")
rules = [
  {"match": {"system_contains": "You review one change"},
   "reply": {"json": {"complete": True, "feedback": ""}}},
  {"match": {"system_contains": "You are the planner"},
   "reply": {"json": {"done": True, "summary": "complete",
                      "directives": [], "domains": []}}},
  {"match": {"system_contains": "# Your domain: logic",
             "input_contains": "contract test of function calc.net"},
   "reply": {"text": answer("logic", "net: 25 % tax, as the ui expects",
                            [("calc.py", CALC_FIXED),
                             ("test_calc.py", CALC_TEST)], [NET])}},
  {"match": {"system_contains": "# Your domain: logic"},
   "reply": {"text": answer("logic", "net pay", [
       ("calc.py", CALC), ("test_calc.py", CALC_TEST)], [NET])}},
  {"match": {"system_contains": "# Your domain: ui"},
   "reply": {"text": answer("ui", "the page, and its contract test", [
       ("page.txt", "net pay\n"),
       ("contract/test_calc_net.py", CONTRACT)], [],
       [dict(NET, **{"from": "logic",
                     "test": "contract/test_calc_net.py"})])}},
]
json.dump({"rules": rules}, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
MAX_REVIEWS=1 llm_config_with <<'CONF'
[task]
integration_delay = 200ms

[domain "logic"]
check = python3 logic/test_calc.py

[domain "ui"]
check = test -f ui/page.txt
depends = logic
CONF
start_masterd
ctl submit "net pay and its page" --domains logic,ui >/dev/null ||
    fail submit
task_done() { [ "$(json_get "r['task']['state']" task 1)" = done ]; }
wait_until "the task done" task_done

python3 - <<PY || fail "the contract test's runs"
import json, subprocess
r = json.loads(subprocess.check_output(["$MASTERCTL", "--json", "task", "1"]))
g = r["integration"]
assert g["status"] == "passed", g
cmds = [(c["kind"], c["command"], c.get("consumer"), c.get("provider"))
        for c in g["checks"]]
assert cmds == [("contract", "python3 ui/contract/test_calc_net.py", "ui",
                 "logic")], cmds
runs = list(reversed(g["runs"]))
failed = [x for x in runs if x["state"] == "failed"]
assert failed and runs[-1]["state"] == "passed", [x["state"] for x in runs]
res = failed[0]["results"][0]
assert res["kind"] == "contract" and res["entry"] == "function calc.net", res
assert "net(1000) = 800 (the ui expects 750)" in res["output"], res
assert "net(1000) = 750" in runs[-1]["results"][0]["output"], runs[-1]
PY
ok "the consumer's contract test ran on main against the provider's code"

dirs=$(json_get "[(d['domain'], d['source'], d['state']) for d in r['directives'] if d['source'] == 'integration']" task 1)
[ "$dirs" = "[('logic', 'integration', 'done')]" ] ||
    fail "integration directives: $dirs"
text=$(json_get "[d['text'] for d in r['directives'] if d['source'] == 'integration'][0]" task 1)
for want in "Domain ui's contract test of function calc.net" \
    "the ui expects 750" "ui/contract/test_calc_net.py"; do
	case "$text" in *"$want"*) ;; *) fail "directive lacks '$want': $text" ;; esac
done
[ "$(requests_matching '"# Attribute a failing integration" in text')" = 0 ] ||
    fail "the planner was asked about a contract test"
ok "the provider got the consumer's expectation as a directive, not the planner"
