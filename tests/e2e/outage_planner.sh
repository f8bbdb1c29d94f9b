# Invariant: the planner shares its provider's circuit breaker with the
# domains.  A task submitted while the provider is down is not failed for
# want of a plan: its plan request waits (the planner is shown waiting),
# goes out as the probe when the provider answers again, and the planned
# domain builds.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-outage-planner-$$"
export LLMD_API_KEY="$LLMD_TEST_KEY"

answer_script "$T/domains.json" calc
python3 - "$T/domains.json" "$T/script.json" <<'PY'
import json, sys
script = json.load(open(sys.argv[1]))
script["rules"].insert(0, {
    "match": {"system_contains": "You are the planner",
              "input_contains": "Plan this task"},
    "reply": {"json": {"summary": "one domain", "domains": [
        {"name": "calc", "prompt": "Write calc.", "checks": []}]}}})
json.dump(script, open(sys.argv[2], "w"))
PY
LLMD_ARGS="--outage 503:900" start_llmd "$T/script.json"

llm_config_with <<CONF
max_attempts = 1
outage_probe_max = 1s
CONF
start_masterd
ctl submit "plan while the provider is down" >/dev/null || fail submit

wait_until "the planner waiting for its provider" sh -c "$MASTERCTL task 1 | grep -q '^planner: waiting for provider llm since'"
[ "$(json_get "r['task']['state']" task 1)" = planned ] || fail "the task did not stay planned: $($MASTERCTL task 1)"
ok "the plan request waits for the provider; the task stays planned, not failed"

llmd_call DELETE /_llmd/outage >/dev/null
calc_done() { [ "$(directive_states calc)" = "['done']" ]; }
wait_until "the planned domain's directive done" calc_done
[ "$(json_get "len(r['providers'])" status)" = 0 ] || fail "the provider is still held down"
ok "once the provider answers, the plan comes and the planned domain builds"
