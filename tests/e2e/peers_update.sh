# Invariant: a publish sends the other domains the changed interface only
# (interface.peers with "update"), not every interface (issue #16: N^2
# interfaces per round of publishes).  A worker merges the updates into
# the set it had; a relay keeps the whole set for the worker it starts
# next: a domain whose worker left before its peers published still sees
# every peer's interface in its next request to the model.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-peers-$$"
export LLMD_API_KEY="$LLMD_TEST_KEY"

answer_script "$T/script.json" "a b c" second
start_llmd "$T/script.json"
llm_config | write_config
start_masterd
ctl submit "peers" --domains a,b,c >/dev/null || fail submit
first_done() {
	[ "$(json_get "sorted(x['state'] for x in r['directives'])" task 1)" = "['done', 'done', 'done']" ]
}
wait_until "the first directives" first_done
# c's worker has left (idle): the next starts from what its relay kept.
wait_until "c's worker gone" log_has "masterd-worker/c\[[0-9]*\] info: shutdown: nothing to do"
ctl directive c "second change of c" >/dev/null || fail directive
c_second() { [ "$(directive_states c)" = "['done', 'done']" ]; }
wait_until "c's second directive" c_second
[ "$(requests_matching "'second change of c' in text and 'a.first' in text and 'b.first' in text")" -ge 1 ] \
    || fail "c's new worker did not see both peers' interfaces"
ok "a new worker holds every peer's interface (the relay merged the updates)"
