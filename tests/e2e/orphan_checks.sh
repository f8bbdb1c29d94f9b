# Invariant: a check command never outlives its child: when masterd-child
# is killed while a check runs, the check's whole process group is killed
# too (the check runs in its own session, watched by a reaper that the
# kernel tells when the child dies).
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-orphan-$$"
python3 - "$T/script.json" <<'PY'
import json, sys
ans = json.dumps({"summary": "s", "files": [{"path": "f.txt", "content": "f\n"}],
    "interface": {"domain": "slowcheck", "summary": "s", "provides": [], "consumes": []}})
json.dump({"rules": [{"match": {"system_contains": "# Your domain: slowcheck"},
                      "reply": {"text": ans}}]}, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
{
	llm_config
	printf '[domain "slowcheck"]\ncheck = sh -c '"'"'echo $$ >>%s/check.pids; exec sleep 300'"'"'\n' "$T"
} | write_config
start_masterd
ctl submit "orphans" --domains slowcheck >/dev/null || fail submit
wait_until "the check to run" test -s "$T/check.pids"
check=$(head -1 "$T/check.pids")
kill -0 "$check" || fail "check not running"
kill -KILL "$(child_pid slowcheck)"
wait_until "the check to die with its child" sh -c "! kill -0 $check 2>/dev/null || grep -q '^State:.Z' /proc/$check/status 2>/dev/null"
ok "a killed child's check is killed too"
