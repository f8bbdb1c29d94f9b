# Invariant: a task is done only on a main that passes its integration
# checks.  Two domains whose own checks pass (the api's tests stub the
# store) are merged into a main on which the configured integration check
# fails (the api calls a function the store never wrote); the run is stored
# against main's commit, the planner attributes the failure to the store,
# a directive carrying the failing command and its output goes to the
# store, its fix lands, a new run passes on the new main, and only then is
# the task reviewed and done.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-integration-$$"
python3 - "$T/script.json" <<'PY'
import json, sys

def answer(d, summary, files):
    return json.dumps({"summary": summary, "files": [
        {"path": p, "content": c} for p, c in files],
        "interface": {"domain": d, "summary": d, "provides": [
            {"kind": "function", "name": d + ".module",
             "signature": "python module " + d}], "consumes": []}})

STORE = 'DATA = {"alice": "payslip-42"}\n\n\ndef get(key):\n    return DATA.get(key)\n'
STORE_FIXED = STORE + '\n\ndef get_payslip(name):\n    return DATA.get(name)\n'
STORE_TEST = ('import os, sys\nsys.path.insert(0, os.path.dirname(__file__))\n'
              'import store\nassert store.get("alice") == "payslip-42"\n'
              'print("store ok")\n')
API = ('import os, sys\n'
       'sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath('
       '__file__)), "..", "store"))\nimport store\n\n\n'
       'def payslip(name):\n    return store.get_payslip(name)\n')
# The api's own test stubs the store: it passes in the api's worktree.
API_TEST = ('import os, sys, types\nfake = types.ModuleType("store")\n'
            'fake.get_payslip = lambda name: "stub"\nsys.modules["store"] = fake\n'
            'sys.path.insert(0, os.path.dirname(__file__))\nimport api\n'
            'assert api.payslip("x") == "stub"\nprint("api ok")\n')
SMOKE = ('import os, sys\nsys.path.insert(0, os.path.dirname(__file__))\n'
         'import api\nprint("payslip:", api.payslip("alice"))\n')
ATTRIBUTION = {"directives": [{"domain": "store", "text":
    "The api calls store.get_payslip(name), which the store does not "
    "define. Add it to store/store.py."}],
    "reason": "the store lacks get_payslip"}
rules = [
  {"match": {"system_contains": "You review one change"},
   "reply": {"json": {"complete": True, "feedback": ""}}},
  {"match": {"system_contains": "You are the planner",
             "input_contains": "# Attribute a failing integration"},
   "reply": {"json": ATTRIBUTION}},
  {"match": {"system_contains": "You are the planner",
             "input_contains": "Review this task"},
   "reply": {"json": {"done": True, "summary": "complete",
                      "directives": [], "domains": []}}},
  {"match": {"system_contains": "# Your domain: store",
             "input_contains": "get_payslip"},
   "reply": {"text": answer("store", "get_payslip for the api",
                            [("store.py", STORE_FIXED),
                             ("test_store.py", STORE_TEST)])}},
  {"match": {"system_contains": "# Your domain: store"},
   "reply": {"text": answer("store", "the store",
                            [("store.py", STORE),
                             ("test_store.py", STORE_TEST)])}},
  {"match": {"system_contains": "# Your domain: api"},
   "reply": {"text": answer("api", "the api",
                            [("api.py", API), ("test_api.py", API_TEST),
                             ("smoke.py", SMOKE)])}},
]
json.dump({"rules": rules}, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
MAX_REVIEWS=1 llm_config_with <<'CONF'
[task]
integration_check = python3 api/smoke.py
integration_delay = 200ms

[domain "store"]
check = python3 store/test_store.py

[domain "api"]
check = python3 api/test_api.py
CONF
start_masterd
ctl submit "payslips, store and api" --domains store,api >/dev/null ||
    fail submit
task_done() { [ "$(json_get "r['task']['state']" task 1)" = done ]; }
wait_until "the task done" task_done

# The events, in order, from the registry.
python3 - "$T/state/masterd.db" >"$T/events" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
for seq, dom, ev, data in db.execute(
        "SELECT seq, domain, event, data FROM events WHERE task_id = 1 "
        "ORDER BY seq"):
    print(seq, dom or "-", ev, data or "{}")
PY
first() { grep -m1 " $1 " "$T/events" | cut -d' ' -f1; }
last() { grep " $1 " "$T/events" | tail -1 | cut -d' ' -f1; }
[ -n "$(first integration.failed)" ] || fail "no failing run: $(cat "$T/events")"
[ -n "$(first integration.passed)" ] || fail "no passing run"
done_seq=$(grep ' task.state {"state":"done"' "$T/events" | cut -d' ' -f1)
[ -n "$done_seq" ] || done_seq=$(grep ' task.state .*"done"' "$T/events" | cut -d' ' -f1)
[ "$(first integration.failed)" -lt "$(first integration.passed)" ] &&
    [ "$(last integration.passed)" -lt "$done_seq" ] ||
    fail "order: failed, passed, then done: $(grep -E 'integration|task.state' "$T/events")"
grep " integration.failed " "$T/events" | grep -q "python3 api/smoke.py" ||
    fail "the failed event names the command"
ok "main failed its integration check, then passed, then the task was done"

# The store got the planner's directive with the failing output.
dirs=$(json_get "[(d['domain'], d['source'], d['state']) for d in r['directives'] if d['source'] == 'integration']" task 1)
[ "$dirs" = "[('store', 'integration', 'done')]" ] ||
    fail "integration directives: $dirs"
text=$(json_get "[d['text'] for d in r['directives'] if d['source'] == 'integration'][0]" task 1)
for want in "store.get_payslip(name)" "python3 api/smoke.py" "exited 1" \
    "AttributeError" "get_payslip"; do
	case "$text" in *"$want"*) ;; *) fail "directive lacks '$want': $text" ;; esac
done
[ "$(requests_matching '"# Your domain: store" in text and "AttributeError" in text')" -ge 1 ] ||
    fail "the store's model was not shown the failing output"
ok "the failure went to the store as a directive with the command and its output"

# Each run is stored against the commit of main it tested.
python3 - "$T/state/tasks/1/repo.git" <<PY || fail "runs and commits"
import json, subprocess, sys
r = json.loads(subprocess.check_output(["$MASTERCTL", "--json", "task", "1"]))
g = r["integration"]
runs = g["runs"]
assert g["status"] == "passed", g
states = [x["state"] for x in reversed(runs)]
assert "failed" in states and states[-1] == "passed", states
main = subprocess.check_output(["git", "--git-dir", sys.argv[1], "rev-parse",
                                "main"], text=True).strip()
assert runs[0]["commit"] == main == g["main"], (runs[0]["commit"], main)
failed = [x for x in runs if x["state"] == "failed"][0]
assert failed["commit"] != main, "the failing run tested an older main"
res = failed["results"][0]
assert res["command"] == "python3 api/smoke.py" and not res["passed"], res
assert "AttributeError" in res["output"], res["output"]
ok = runs[0]["results"][0]
assert ok["passed"] and "payslip: payslip-42" in ok["output"], ok
PY
ctl task 1 | grep -q "INTEGRATION passed" || fail "masterctl task: $(ctl task 1)"
ctl task 1 | grep -q "failed .*python3 api/smoke.py (exit 1)" ||
    fail "masterctl task shows the failing run: $(ctl task 1)"
ok "runs stored per commit of main and shown by masterctl task"

# The reviewer saw the integration evidence.
[ "$(requests_matching '"Review this task" in text and "api/smoke.py" in text')" -ge 1 ] ||
    fail "the review got no integration evidence"
ok "the review saw the passing run"
