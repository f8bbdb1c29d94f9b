# Invariant: the operator's [notify] command runs on the task moments it
# names, with the event as one JSON line on its standard input and a
# clean environment (what [notify] env lets through, never a provider's
# key); a moment it does not name runs nothing; a command that outlives
# [notify] timeout is killed with everything it started; a configuration
# naming an unknown moment, or handing the command a key, is refused.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-notify-$$"
export LLMD_API_KEY="$LLMD_TEST_KEY"
export NOTIFY_EXTRA="passed-on-$$"

answer_script "$T/script.json" "solo"
# The planner's review ends the task: done.
python3 - "$T/script.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["rules"].insert(0, {"match": {"system_contains": "You are the planner",
                                "input_contains": "Review this task"},
                      "reply": {"json": {"done": True, "summary": "done",
                                         "directives": [], "domains": []}}})
json.dump(s, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
mkdir -p "$T/told"
# Done: keep the event and the environment.  Cancelled: hang, as a
# command stuck on the network would.  Tests quote with care: the
# command goes through /bin/sh -c.
MAX_REVIEWS=1 llm_config_with <<CONF
[notify]
command = "case \$MASTERD_MOMENT in cancelled) echo \$\$ >$T/told/hang.pid; exec sleep 1000;; esac; cat >$T/told/\$MASTERD_MOMENT.\$MASTERD_TASK.json; env >$T/told/env.\$MASTERD_TASK; echo told \$MASTERD_MOMENT"
on = done, cancelled
timeout = 2s
env = NOTIFY_EXTRA
CONF
"$MASTERD" -n -c "$T/masterd.conf" >"$T/out" 2>&1 || fail "config refused: $(cat "$T/out")"
start_masterd
ctl submit "notify me" --domains solo >/dev/null || fail submit
wait_until "the done notification" log_has "notify: command for the done of task 1 done: told done"
python3 - "$T/told/done.1.json" <<'PY' || fail "the event on stdin: $(cat "$T/told/done.1.json")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
e = json.loads(lines[0])
assert e["moment"] == "done" and e["event"] == "task.state", e
assert e["task"] == 1 and e["text"] == "notify me" and e["state"] == "done", e
assert e["data"]["state"] == "done" and e["seq"] > 0, e
assert e["time"].endswith("Z") and "T" in e["time"], e
PY
ok "the done moment ran the command with the event on its stdin"
env=$T/told/env.1
grep -q "^NOTIFY_EXTRA=passed-on-$$\$" "$env" || fail "[notify] env not passed: $(cat "$env")"
grep -q "^MASTERD_TASK=1\$" "$env" || fail "no MASTERD_TASK: $(cat "$env")"
grep -q "^MASTERD_SOCKET=$MASTERD_SOCKET\$" "$env" || fail "no MASTERD_SOCKET"
grep -q "LLMD_TEST_KEY\|sk-llmd-notify" "$env" && fail "the provider's key reached the command"
ok "its environment is clean: [notify] env and MASTERD_* only, no key"

# Task 2 is paused (not named in on: nothing runs), then cancelled: the
# command hangs and is killed at its timeout, with its process group.
ctl submit "second" --domains solo >/dev/null || fail submit
ctl pause 2 >/dev/null || fail pause
ctl cancel 2 >/dev/null || fail cancel
wait_until "the hanging command's pid" test -s "$T/told/hang.pid"
hang=$(cat "$T/told/hang.pid")
wait_until "the timeout" log_has "notify: command for the cancelled of task 2 killed after 2000 ms"
wait_until "the hanging command gone" sh -c "! kill -0 $hang"
[ -e "$T/told/paused.2.json" ] && fail "a moment not named in on ran the command"
log_has "notify: command for the paused" && fail "paused was told"
ok "a moment not named runs nothing; a command past its timeout is killed"

ctl stop >/dev/null
wait_until "masterd exit" sh -c "! kill -0 $MD_PID"

cat >"$T/bad.conf" <<CONF
[masterd]
state_dir = $T/state2
[llm]
key_env = LLMD_TEST_KEY
[notify]
command = true
on = done, finished
env = LLMD_TEST_KEY
CONF
"$MASTERD" -n -c "$T/bad.conf" >"$T/out" 2>&1 && fail "a bad [notify] accepted"
grep -q "\[notify\] on: unknown moment 'finished'" "$T/out" || fail "unknown moment: $(cat "$T/out")"
grep -q "\[notify\] env: LLMD_TEST_KEY holds a provider's key" "$T/out" || fail "key in env: $(cat "$T/out")"
ok "an unknown moment and a key in [notify] env are refused"
