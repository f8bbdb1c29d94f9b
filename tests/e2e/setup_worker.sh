# Invariant: what masterd checked at the start may go missing later; a
# worker that then cannot open its session (a prompt_file, a prompt gone)
# fails no directive and no task: the directive goes back to its queue,
# no attempt spent, and the task waits paused with "setup (domain D): ..."
# (or "setup (planner): ...", the plan request kept); once it is fixed,
# `masterctl resume` takes the work up again.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-setup-$$"
answer_script "$T/script.json" "web"
start_llmd "$T/script.json"
cp -r "$TOP/prompts" "$T/prompts"
echo "You build the web part." >"$T/prompts/web-brief.md"
llm_config_with <<CONF
[domain "web"]
prompt_file = web-brief.md
CONF
sed -i "s|^prompts_dir = .*|prompts_dir = $T/prompts|" "$T/masterd.conf"
start_masterd

task_field() {	# TASK FIELD
	json_get "r['task']['$2']" task "$1"
}
mv "$T/prompts/web-brief.md" "$T/web-brief.md"
ctl submit "setup later" --domains web >/dev/null || fail submit
wait_until "task 1 paused" sh -c "[ \"\$($MASTERCTL --json task 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"task\"][\"paused\"])')\" = True ]"
reason=$(task_field 1 reason)
case "$reason" in "setup (domain web): cannot read prompt_file web-brief.md"*"then \`masterctl resume\`") ;;
*) fail "task 1's reason: $reason" ;; esac
[ "$(task_field 1 state)" = building ] || fail "task 1 is $(task_field 1 state)"
[ "$(json_get "[(x['state'], x['attempts']) for x in r['directives']]" task 1)" = "[('queued', 0)]" ] ||
    fail "directive: $(json_get "[(x['state'], x['attempts']) for x in r['directives']]" task 1)"
[ "$(requests_matching 'True')" = 0 ] || fail "the model was asked"
ok "a prompt_file gone: the task waits paused ($reason)"

mv "$T/web-brief.md" "$T/prompts/web-brief.md"
ctl resume 1 >/dev/null || fail resume
wait_until "web's directive done" sh -c "$MASTERCTL --json task 1 | grep -q '\"done\"'"
[ "$(requests_matching '"You build the web part." in text')" -ge 1 ] || fail "the brief not sent"
ok "fixed and resumed: the directive is done"

# The planner's prompt gone: the plan waits, the task is not failed.
# (Without a [domain] section the planner decides the domains.)
sed -i '/^\[domain "web"\]/,$d' "$T/masterd.conf"
kill -HUP "$MD_PID"
wait_until "the reload" log_has "configuration reloaded"
mv "$T/prompts/planner.md" "$T/planner.md"
ctl submit "plan later" >/dev/null || fail "submit 2"
wait_until "task 2 paused" sh -c "[ \"\$($MASTERCTL --json task 2 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"task\"][\"paused\"])')\" = True ]"
reason=$(task_field 2 reason)
case "$reason" in "setup (planner): cannot read $T/prompts/planner.md"*) ;;
*) fail "task 2's reason: $reason" ;; esac
[ "$(task_field 2 state)" = planned ] || fail "task 2 is $(task_field 2 state)"
mv "$T/planner.md" "$T/prompts/planner.md"
ctl resume 2 >/dev/null || fail "resume 2"
plan_asked() {
	[ "$(requests_matching '"plan later" in text')" -ge 1 ]
}
wait_until "the plan asked of the model" plan_asked
ok "the planner's prompt gone: the plan waits ($reason), and goes on resume"
