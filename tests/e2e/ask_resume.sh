# Invariant: an answer the registry took is never lost.  masterd stores a
# domain's answer, then turns it into the domain's next directive; a
# kill -9 between the two (made here by writing the answer into the
# registry of a stopped masterd) leaves an answered question that was
# never delivered, and the restart hands it to the domain, once, as a
# directive the model sees; the question is then marked delivered.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-askr-$$"

asking_task
open_asks() {
	json_get "len(r['asks'])" questions 1
}
calc_waits() {
	[ "$(directive_states calc)" = "['done']" ]
}
wait_until "calc's first directive over, the domain waiting" calc_waits

kill -KILL "$MD_PID"
wait_until "masterd gone" sh -c "! kill -0 $MD_PID"
children_gone() {
	[ -z "$(pids_of "--state $T/state")" ]
}
wait_until "its children gone" children_gone

# What the crash left: the answer stored, its directive never written.
python3 - "$T/state/masterd.db" "$qid" <<'PY' || fail "could not write the answer"
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30)
n = db.execute("UPDATE asks SET state = 'answered', answer = 'Floats, "
               "please', updated = ? WHERE id = ? AND state = 'open' AND "
               "delivered = 0", (time.time(), int(sys.argv[2]))).rowcount
db.commit()
sys.exit(n != 1)
PY
start_masterd
[ "$(open_asks)" = 0 ] || fail "the answered question is listed as open"
answer_sent() {
	[ "$(requests_matching "'# Your domain: calc' in text and 'Floats, please' in text and 'Integers or floats?' in text")" -ge 1 ]
}
wait_until "the answer in calc's next request" answer_sent
delivered() {
	python3 - "$T/state/masterd.db" "$qid" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30)
print(db.execute("SELECT delivered FROM asks WHERE id = ?",
                 (int(sys.argv[2]),)).fetchone()[0])
PY
}
[ "$(delivered)" = 1 ] || fail "the question is not marked delivered"
wait_until "task 1 done" sh -c "[ \"\$($MASTERCTL --json task 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"task\"][\"state\"])')\" = done ]"
[ "$(json_get "len([x for x in r['directives'] if x['domain'] == 'calc' and 'Floats, please' in x['text']])" task 1 --all)" = 1 ] ||
    fail "the answer's directive is not there once: $(ctl --json task 1 --all)"
ok "an answer stored but not delivered before a kill -9 reaches the domain once after the restart"
