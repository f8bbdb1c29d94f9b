# Invariant: masterd SIGKILLed at any point — while children stream
# answers, right after masterctl got a directive's acknowledgement, right
# after an interface.published event went out, in the middle of a burst of
# directive submissions, and after a child committed a round whose report
# the master had not yet read — restarts and loses nothing it acknowledged:
# every acknowledged directive is in the registry exactly once, every
# interface version it announced is there, every accepted round has its
# record, each directive has at most one commit, every commit a round
# reports is reachable from its branch, `git fsck` passes, the database's
# integrity check passes, and the task resumes until every directive is
# done.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-regress-masterkill-$$"

llmd_script <<'PY'
import json, sys
from answers import *
rules = [CRITIC, PLANNER, KEEPER]
for d in ("alpha", "beta"):
    # Long streamed answers: 8 characters per event, 0.05 s apart.
    rules.append({"match": {"system_contains": dom(d), "input_contains": "[stream]"},
                  "fault": {"event_delay": 0.05},
                  "reply": {"chunk": 8, "text": answer(d, [f("stream.txt", "streamed\n")],
                                                       "streamed", [d + ".f", d + ".stream"])}})
    for n in range(1, 80):
        rules.append({"match": {"system_contains": dom(d), "input_contains": f"[job {n}]"},
                      "reply": {"text": answer(d, [f(f"job{n}.txt", f"{n}\n")], f"job {n}",
                                               [d + ".f", f"{d}.job{n}"])}})
    rules.append({"match": {"system_contains": dom(d)},
                  "reply": {"text": answer(d, [f("first.txt")], "first")}})
write_rules(rules)
PY
# alpha's check holds [job 77]'s round while hold exists in its worktree
# (phase e; the worktree is the one place of ours the sandbox shows it).
ALPHA="$T/state/tasks/1/domains/alpha"
keeper_config alpha "sh -c 'if test -e hold && test -e alpha/job77.txt; then touch held; while test -e hold; do sleep 0.1; done; fi'"
start_task "master kills" alpha,beta,keeper
for d in alpha beta; do
	wait_until "$d's first directive" directive_done 1 $d Build
done
: >"$T/acked"

# ack DOMAIN TEXT: queue a directive and remember its id and text.
ack() {
	id=$("$MASTERCTL" --json directive "$1" "$2" --task 1 2>/dev/null |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["directive"]["id"])' 2>/dev/null) || return 1
	[ -n "$id" ] || return 1
	printf '%s\t%s\t%s\n' "$id" "$1" "$2" >>"$T/acked"
}

# After each restart: every acknowledged directive is there exactly once,
# with its text; no text is there twice.
check_acked() {
	task_json 1 >"$T/task.json"
	python3 - "$T/task.json" "$T/acked" <<'PY' || fail "acknowledged directives changed across the restart ($1)"
import json, sys, collections
r = json.load(open(sys.argv[1]))
by_id = {d["id"]: d for d in r["directives"]}
for line in open(sys.argv[2]):
    i, dom, text = line.rstrip("\n").split("\t")
    d = by_id.get(int(i))
    assert d is not None, f"acknowledged directive {i} ({text}) is gone"
    assert d["text"] == text and d["domain"] == dom, (i, text, d)
texts = collections.Counter((d["domain"], d["text"]) for d in r["directives"])
dup = [k for k, n in texts.items() if n > 1]
assert not dup, f"directives stored twice: {dup}"
PY
}

restart_after_kill() {
	kill9_masterd
	[ -n "$WATCH_PID" ] && wait "$WATCH_PID" 2>/dev/null
	WATCH_PID=""
	wait_children_gone
	start_masterd
	check_acked "$1"
}

# (a) while both children stream their answers.
start_watch "$T/watch.a"
ack alpha "[stream] alpha" || fail "directive alpha"
ack beta "[stream] beta" || fail "directive beta"
streaming() {	# domain: a progress event with streamed bytes
	watch_has "$T/watch.a" "e.get('domain') == '$1' and $STREAMED"
}
wait_until "alpha streaming" streaming alpha
wait_until "beta streaming" streaming beta
restart_after_kill "killed while streaming"
ok "(a) killed while two children stream: acknowledged directives intact"

# (b) right after an acknowledgement.
id=$("$MASTERCTL" --json directive alpha "[job 1]" --task 1 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["directive"]["id"])') && kill -KILL "$MD_PID"
[ -n "$id" ] || fail "no acknowledgement for [job 1]"
printf '%s\talpha\t[job 1]\n' "$id" >>"$T/acked"
restart_after_kill "killed right after an acknowledgement"
ok "(b) killed right after an acknowledgement: directive $id is there"

# (c) as soon as an interface.published event shows on a watch (beta has
# nothing else to do, so it is [job 2]'s).
wait_until "beta idle" directive_done 1 beta "[stream]"
start_watch "$T/watch.c"
ack beta "[job 2]" || fail "directive beta"
published() {
	watch_has "$T/watch.c" "e.get('event') == 'interface.published' and e.get('domain') == 'beta'"
}
wait_until "beta's interface.published" published
kill -KILL "$MD_PID"
ver=$(grep 'interface.published' "$T/watch.c" | python3 -c '
import json, sys
v = [json.loads(l)["data"]["version"] for l in sys.stdin
     if json.loads(l).get("domain") == "beta"]
print(v[-1])')
restart_after_kill "killed after interface.published"
json_get "r['interface']['document']['provides']" interface beta "$ver" --task 1 >"$T/iface" ||
    fail "beta's interface version $ver, announced before the kill, is gone"
grep -q "beta.job2" "$T/iface" || fail "beta v$ver is not the one announced: $(cat "$T/iface")"
ok "(c) killed right after interface.published: beta v$ver is there"

# (d) in the middle of a burst of directive submissions.
(
	n=10
	while [ $n -lt 70 ]; do
		d=alpha
		[ $((n % 2)) = 0 ] && d=beta
		ack $d "[job $n]" || exit 0
		n=$((n + 1))
	done
) &
burst=$!
acks() {
	[ "$(wc -l <"$T/acked")" -ge "$1" ]
}
wait_until "ten acknowledgements in the burst" acks $(( $(wc -l <"$T/acked") + 10 ))
kill -KILL "$MD_PID"
wait "$burst"
nacked=$(wc -l <"$T/acked")
restart_after_kill "killed during a burst"
ok "(d) killed during a burst of submissions: all $nacked acknowledged directives there once"

# (e) after the child committed a round, before the master read its report:
# the master is stopped (SIGSTOP) while alpha's round waits in its check,
# the round then commits, and the master is killed with the report unread.
touch "$ALPHA/hold"
ack alpha "[job 77]" || fail "directive [job 77]"
d77=$id
wait_until "[job 77]'s check to hold" test -e "$ALPHA/held"
kill -STOP "$MD_PID"
rm -f "$ALPHA/hold"
committed77() {
	[ "$(commits_for 1 alpha "$d77")" = 1 ]
}
wait_until "[job 77] committed while the master is stopped" committed77
kill -KILL "$MD_PID"
restart_after_kill "killed with a round report unread"
wait_until "[job 77] done after the restart" directive_done 1 alpha "[job 77]"
[ "$(commits_for 1 alpha "$d77")" = 1 ] || fail "[job 77]: not exactly one commit"
ok "(e) killed with a committed round's report unread: the directive is done, one commit"

release_keeper
wait_until "every directive done" all_done 1
check_acked "at the end"
check_repo 1
ok "the task resumed and every directive is done; fsck passes; commits reachable"

# Interface versions: 1..latest each there once, for both domains.
for d in alpha beta; do
	v=$(json_get "[i['version'] for i in r['interfaces'] if i['domain']=='$d'][0]" task 1)
	i=1
	while [ $i -le "$v" ]; do
		"$MASTERCTL" --json interface $d $i --task 1 >/dev/null || fail "$d interface v$i missing"
		i=$((i + 1))
	done
done
ok "every interface version 1..latest is there"

if command -v sqlite3 >/dev/null 2>&1; then
	db="file:$T/state/masterd.db?mode=ro"
	[ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] ||
	    fail "database integrity check"
	# Interface versions of each domain: 1..N, no gap, none twice.
	gaps=$(sqlite3 "$db" 'SELECT domain_id FROM interfaces GROUP BY domain_id HAVING count(*) != max(version) OR min(version) != 1')
	[ -z "$gaps" ] || fail "sqlite3: interface versions with gaps or repeats for domain ids $gaps"
	# The registry holds what masterctl shows: as many directives.
	[ "$(sqlite3 "$db" 'SELECT count(*) FROM directives WHERE task_id = 1')" = \
	    "$(json_get "len(r['directives'])" task 1)" ] || fail "sqlite3 and masterctl disagree on the directives"
	ok "sqlite3: integrity_check ok; interface versions contiguous; directives agree"
fi

# Every accepted round is recorded, with its commit.
task_json 1 >"$T/task.json"
python3 - "$T/task.json" "$T/state/tasks/1/repo.git" >"$T/unrecorded" <<'PY'
import json, subprocess, sys, re
r = json.load(open(sys.argv[1]))
git = lambda *a: subprocess.run(["git", "--git-dir=" + sys.argv[2]] + list(a),
                                capture_output=True, text=True, check=True).stdout
rounds = {x["commit"] for x in r["rounds"] if x.get("commit")}
for d in ("alpha", "beta"):
    for line in git("log", "--format=%H %(trailers:key=Masterd-Directive,valueonly,separator=)", "domain/" + d).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] not in rounds:
            print(f"{d}: commit {parts[0][:12]} of directive {parts[1]} has no round record")
PY
if [ -s "$T/unrecorded" ]; then
	known_bug "an accepted round is lost from the registry when masterd dies after the child committed but before it read the child's round report: $(tr '\n' ';' <"$T/unrecorded") (child/worker/work.c start(): already_committed() answers the redelivered directive with a bare result, without its round or its interface)"
else
	ok "every commit has its round record"
fi
if ! "$MASTERCTL" --json interface alpha --task 1 | grep -q "alpha.job77"; then
	known_bug "the interface published with [job 77]'s commit is lost: the master was killed before it read interface.publish, and the restarted child's already_committed() path does not publish it again (latest alpha: $(json_get "r['interface']['document']['provides']" interface alpha --task 1))"
else
	ok "the interface of the round committed while the master was down is there"
fi
done_testing
