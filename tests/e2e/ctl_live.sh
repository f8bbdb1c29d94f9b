# Invariant: the operator's view of the demo task (issue #17).  On an
# 80-column pseudo-terminal, `submit --wait` shows one status line per
# domain updated in place and one readable line per event that matters:
# no raw JSON, no progress flood, no line wider than the terminal, and it
# ends with "task 1 done".  Then, on the finished task: `watch` ends at
# once with its task, replays (--tail) in plain lines without carriage
# returns or escapes, --json events carry ISO 8601 times and tokens_in;
# `task` is one glance (domains, the planner, totals, budget, what
# remains) with its rounds paged; `interfaces --graph` draws who consumes
# what, as text and as Graphviz DOT; `interface --diff` shows the change
# line by line.  CTL_PROOF=DIR keeps the captures there.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-ctl-live-$$"
# Streamed slowly, as a real model does (EVENT_DELAY seconds between
# stream events): progress events come by the hundred and must not become
# lines.
python3 "$TOP/tests/llmd/scripts/payslips.py" | python3 -c '
import json, sys
s = json.load(sys.stdin)
for r in s["rules"]:
    r.setdefault("fault", {"event_delay": float(sys.argv[1])})
json.dump(s, sys.stdout)' "${EVENT_DELAY:-0.01}" >"$T/script.json"
start_llmd "$T/script.json"
llm_config | MAX_REVIEWS=3 write_config
start_masterd

TASK="Implement an app to manage employee payslips"
python3 "$TOP/tests/e2e/ctl_pty.py" --cols 80 --rows 24 --raw "$T/raw" \
    --screen "$T/screen" -- "$MASTERCTL" submit "$TASK" --wait \
    --budget tokens=1000000,rounds=60 \
    >"$T/pty.json" || fail "submit --wait on a pty: $(cat "$T/pty.json"); $(tail -5 "$T/screen")"
[ -n "${CTL_PROOF:-}" ] && mkdir -p "$CTL_PROOF" &&
    cp "$T/raw" "$CTL_PROOF/submit-wait.raw" &&
    cp "$T/screen" "$CTL_PROOF/submit-wait.screen"
python3 - "$T/pty.json" "$T/screen" <<'PY' || fail "the live view: $(cat "$T/pty.json")"
import json, re, sys
st = json.load(open(sys.argv[1]))
lines = open(sys.argv[2]).read().splitlines()
print("pty:", st, file=sys.stderr)
assert st["exit"] == 0, st
assert lines[-1] == "task 1 done", lines[-3:]
assert st["widest"] <= 80 and st["wrapped"] == 0, st
assert not st["unknown"], st["unknown"]
assert st["redraws"] >= 5, "no status line updated in place"
# a calm view: a few lines per round, not a flood
assert 20 <= st["lines"] <= 250, st["lines"]
raw_json = [l for l in lines if re.search(r'[{\[]"|":\s*[\[{"0-9]|\\n', l)]
assert not raw_json, raw_json[:5]
assert not any(re.search(r"\bbytes\b|progress", l) for l in lines), \
    [l for l in lines if "bytes" in l or "progress" in l][:5]
for want in ("planned 3 domain", "interface v1", "accepted", "done:",
             "integration PASSED", "now done"):
    assert any(want in l for l in lines), want
PY
progress=$(ctl --json watch 1 --tail 10000 | grep -c '"event":"progress"')
[ "$progress" -ge 50 ] || fail "only $progress progress events: the test proves little"
ok "submit --wait on an 80-column terminal: $progress progress events, $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lines"])' "$T/pty.json") calm lines, none over 80 columns, no raw JSON, status lines in place"

# watch on a finished task ends at once with its end.
ctl watch 1 >"$T/w0" 2>&1 || fail "watch of a done task: $(cat "$T/w0")"
[ "$(cat "$T/w0")" = "task 1 done" ] || fail "watch 1: $(cat "$T/w0")"
# a replay, in plain lines: no carriage return, no escape, then the end.
ctl watch 1 --tail 30 >"$T/w1" 2>&1 || fail "watch --tail: $(cat "$T/w1")"
tail -1 "$T/w1" | grep -qx "task 1 done" || fail "replay end: $(tail -2 "$T/w1")"
! grep -q "$(printf '\r')" "$T/w1" || fail "a carriage return off a terminal"
! grep -q "$(printf '\033')" "$T/w1" || fail "an escape off a terminal"
[ "$(wc -l <"$T/w1")" -le 31 ] || fail "--tail 30 gave $(wc -l <"$T/w1") lines"
ctl --json watch --tail 3 1 >"$T/w2" || fail "json replay"
python3 - "$T/w2" <<'PY' || fail "json events: $(cat "$T/w2")"
import json, re, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert len(ev) == 3 and all(e.get("replay") for e in ev), ev
assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["ts"])
           for e in ev), [e["ts"] for e in ev]
PY
since=$(json_get "r['task']['created']" task 1)
ctl --json watch 1 --since "$since" >"$T/w3" || fail "watch --since"
grep -q '"task.submitted"' "$T/w3" || fail "--since from the start: no task.submitted"
grep -q '"tokens_in"' "$T/w3" || fail "round events without tokens_in"
! grep -q '"input":' "$T/w3" || fail "round events still say input"
ok "watch ends with its task; --tail and --since replay; JSON events in ISO 8601 and tokens_in"

# task: one glance.
ctl task 1 >"$T/task" || fail "task 1"
for want in "^task 1: done" "^TOTAL " "^(planner) " "^budget: tokens " \
    "rounds [0-9]* of 60 (" "^remains: nothing, the task is done" \
    "^INTEGRATION passed" "TOKENS IN"; do
	grep -q -- "$want" "$T/task" || fail "task 1 lacks '$want': $(cat "$T/task")"
done
ctl task 1 --rounds 2 | grep -q "^(the newest 2 of [0-9]* rounds: --rounds N or --all" ||
    fail "task --rounds 2: $(ctl task 1 --rounds 2)"
total=$(json_get "r['rounds_total']" task 1 --all)
[ "$(json_get "len(r['rounds'])" task 1 --all)" = "$total" ] || fail "--all"
[ "$(json_get "len(r['rounds'])" task --rounds 3 1)" = 3 ] || fail "--rounds 3"
[ "$(json_get "len(r['rounds'])" task 1)" -le 20 ] || fail "the default page"
[ "$(json_get "r['budget']['rounds']['limit']" task 1)" = 60.0 ] || fail "budget limit"
python3 - <<PY || fail "ISO times in task"
import json, re, subprocess
r = json.loads(subprocess.check_output(["$MASTERCTL", "--json", "task", "1"]))
assert re.fullmatch(r"\d{4}-.*Z", r["task"]["created"]), r["task"]["created"]
assert all(re.fullmatch(r"\d{4}-.*Z", x["created"]) for x in r["rounds"])
pu = r["task"]["spec"]["planner_usage"]
assert "tokens_in" in pu and "input" not in pu, pu
PY
ok "task 1: domains, the planner, totals, budget used and left, what remains; rounds paged"

# interfaces --graph: text and DOT.
ctl interfaces 1 --graph >"$T/graph.txt" || fail "--graph"
grep -q "frontend *-> logic" "$T/graph.txt" || fail "graph text: $(cat "$T/graph.txt")"
grep -q "logic *-> database" "$T/graph.txt" || fail "graph text: $(cat "$T/graph.txt")"
ctl --graph=dot interfaces 1 >"$T/graph.dot" || fail "--graph=dot"
grep -q '^digraph "task 1"' "$T/graph.dot" || fail "dot: $(cat "$T/graph.dot")"
grep -q '"logic" -> "database"' "$T/graph.dot" || fail "dot edges: $(cat "$T/graph.dot")"
ctl interfaces 1 --dot | cmp -s - "$T/graph.dot" || fail "--dot is --graph=dot"
if command -v dot >/dev/null 2>&1; then
	dot -Tpng "$T/graph.dot" >"$T/graph.png" || fail "dot cannot read it"
fi
[ -n "${CTL_PROOF:-}" ] && cp "$T/graph.txt" "$T/graph.dot" "$CTL_PROOF/"
ok "interfaces --graph: consumer -> provider as text and DOT"

v=$(json_get "r['interface']['version']" interface database)
ctl interface database --diff 1 "$v" >"$T/diff" || fail "diff"
grep -q "^  + provides function  db.get_payslip" "$T/diff" || fail "diff: $(cat "$T/diff")"
ok "interface --diff"
