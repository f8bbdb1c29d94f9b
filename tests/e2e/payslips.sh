# Invariant: a whole task runs from submit to done with the scripted model:
# the planner splits it into database, logic and frontend, they build in
# dependency order, an interface the logic consumes but the database lacks
# becomes a directive to the database, the review asks for one improvement
# and then finds the task done; the directive history, the events and the
# final interfaces are all visible through masterctl.  The project on main
# is an app that runs: every domain's own tests pass there, and the plan's
# integration check starts the app on a loopback port and fetches the
# seeded payslip over HTTP.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-payslips-$$"
python3 "$TOP/tests/llmd/scripts/payslips.py" >"$T/script.json"
start_llmd "$T/script.json"
llm_config | MAX_REVIEWS=3 write_config
start_masterd
ctl --json watch >"$T/watch" 2>&1 &
wait_until "watch" sh -c "[ \$($MASTERCTL --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"clients\"])') -ge 2 ]"

ctl submit "Implement an app to manage employee payslips" --wait \
    >"$T/wait.out" 2>&1 || fail "submit --wait: $(tail -5 "$T/wait.out")"
tail -1 "$T/wait.out" | grep -qx "task 1 done" || fail "not done: $(tail -3 "$T/wait.out")"
ok "submit --wait followed the task to done"

[ "$(json_get "r['task']['state']" task 1)" = done ] || fail "state"
[ "$(json_get "sorted(d['name'] for d in r['domains'])" task 1)" = \
    "['database', 'frontend', 'logic']" ] || fail "planned domains"
ok "the planner's three domains"

# Dependency order: database published before logic started, logic before
# frontend.
python3 - "$T/watch" <<'PY' || fail "dependency order"
import json, sys
first = {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    k = (e.get("domain"), e["event"])
    if e.get("task") == 1 and k not in first:
        first[k] = len(first)
pub = lambda d: first[(d, "interface.published")]
run = lambda d: first[(d, "directive.running")]
assert pub("database") < run("logic") and pub("logic") < run("frontend"), first
PY
ok "providers built before their consumers"

dirs=$(json_get "[(d['domain'], d['source'], d['state']) for d in r['directives']]" task 1)
echo "$dirs" | grep -q "('database', 'interface', 'done')" || fail "no interface directive to the database: $dirs"
echo "$dirs" | grep -q "('logic', 'review', 'done')" || fail "no review directive done: $dirs"
ctl task 1 | grep -q "Provide function \`db.get_payslip\`" || fail "interface directive not shown"
ok "the missing interface and the review became directives, both done"

[ "$(json_get "len(r['unresolved'])" interfaces 1)" = 0 ] || fail "unresolved left"
ctl interfaces 1 | grep -q "unresolved: none" || fail "interfaces output"
# Declared and implemented versions share one numbering: each round
# declares its interface before its checks, and the commit implements it.
impl=""
declared=""
v=1
while kind=$(json_get "'declared' if r['interface']['declared'] else 'implemented'" \
    interface database $v 2>/dev/null); do
	if [ "$kind" = declared ]; then declared="$declared $v"; else impl="$impl $v"; fi
	v=$((v + 1))
done
[ -n "$declared" ] || fail "the database declared nothing"
set -- $impl
[ $# -eq 2 ] || fail "implemented database versions: $impl (declared: $declared)"
ctl interface database "$2" | grep -q "database v$2, implemented" || fail "version kind"
ctl interface database "$2" | grep -q "db.get_payslip" || fail "database v$2"
ctl interface database "$2" | grep -q "signature: get_payslip(conn, id: int) -> dict | None" || \
    fail "no signature shown: $(ctl interface database "$2")"
ctl interface database --diff "$1" "$2" >"$T/diff"
grep -q "+ provides function  db.get_payslip" "$T/diff" || fail "diff: $(cat "$T/diff")"
grep -q "signature: get_payslip(conn, id: int) -> dict | None" "$T/diff" || fail "diff: $(cat "$T/diff")"
ok "final interfaces consistent; declared and implemented versions, signatures and diff visible"

for e in task.planned interface.published directive.done merged task.reviewed; do
	grep -q "$e" "$T/watch" || fail "no $e event"
done
for s in building integrating improving done; do
	grep -q "\"state\":\"$s\"" "$T/watch" || fail "no transition to $s"
done
ok "every transition is an event"

git_in 1 show main:logic/payslip.py | grep -q "+ 0.5" || fail "main lacks the improvement"
[ "$(json_get "sum(x['accepted'] for x in r['scoreboard'])" task 1)" -ge 5 ] || fail "scoreboard"
ok "main holds the improved code; the scoreboard counts the work"

# The plan names the integration check; on main's files (exported, as a
# user would) every domain's tests pass and the check fetches the payslip.
[ "$(json_get "r['task']['spec']['plan'].get('integration_checks')" task 1)" = \
    "['python3 logic/smoke_e2e.py']" ] || fail "the plan's integration checks"
mkdir "$T/project"
git_in 1 archive main | tar -x -C "$T/project" || fail "export main"
for c in "python3 database/test_access.py" "python3 logic/test_payslip.py" \
    "python3 frontend/test_page.py"; do
	(cd "$T/project" && $c) >"$T/check.out" 2>&1 || fail "$c on main: $(tail -5 "$T/check.out")"
done
(cd "$T/project" && python3 logic/smoke_e2e.py) >"$T/smoke.out" 2>"$T/smoke.err" ||
    fail "the integration check on main: $(tail -5 "$T/smoke.err")"
grep -q '^GET http://127.0.0.1:[0-9]*/employees/1/payslips -> 200 application/json$' "$T/smoke.out" ||
    fail "smoke output: $(cat "$T/smoke.out")"
python3 - "$T/smoke.out" <<'PY' || fail "the payslip: $(cat "$T/smoke.out")"
import json, sys
body = json.loads(open(sys.argv[1]).read().splitlines()[1])
assert body == [{"id": 1, "employee_id": 1, "period": "2026-01",
                 "gross_cents": 300000, "tax_cents": 60000,
                 "net_cents": 240000}], body
PY
ok "main's app runs: domains' tests pass, the smoke check fetched the payslip"

# masterd ran that check itself, on main, before the reviews: the latest
# run passed on main's current commit and fetched the same payslip.
python3 - "$T/state/tasks/1/repo.git" <<PY || fail "masterd's integration runs"
import json, subprocess, sys
r = json.loads(subprocess.check_output(["$MASTERCTL", "--json", "task", "1"]))
g = r["integration"]
main = subprocess.check_output(["git", "--git-dir", sys.argv[1], "rev-parse",
                                "main"], text=True).strip()
assert g["status"] == "passed" and g["main"] == main, g
run = g["runs"][0]
assert run["state"] == "passed" and run["commit"] == main, run
res = run["results"][0]
assert res["command"] == "python3 logic/smoke_e2e.py" and res["passed"], res
assert '"net_cents": 240000' in res["output"], res["output"]
PY
ok "masterd's integration run on main passed, with the payslip in its output"
