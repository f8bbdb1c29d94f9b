# Invariant: a check command never outlives its child: when masterd-child
# is killed while a check runs, the check's whole process group is killed
# too (the check runs in its own session, watched by a reaper that the
# kernel tells when the child dies, and whose death ends the sandbox's
# PID namespace).
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
# The check is known by its command line: the sandbox shows it no path
# of ours to write its pid to, and gives it pids of its own.
mark="sleep 300.$$"
{
	llm_config
	printf '[domain "slowcheck"]\ncheck = exec %s\n' "$mark"
} | write_config
start_masterd
ctl submit "orphans" --domains slowcheck >/dev/null || fail submit
wait_until "the check to run" pgrep -f "^$mark\$"
kill -KILL "$(child_pid slowcheck)"
wait_until "the check to die with its child" sh -c "! pgrep -f '^$mark\$'"
ok "a killed child's check is killed too"
