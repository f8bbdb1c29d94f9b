# Invariant: a domain works against its peers' current code.  Domain b's
# branch is cut from main before domain a's `get` reaches main; later b
# gets a directive whose check imports a's `get` from the worktree.  Before
# that directive b's branch takes main's peers' code (one commit on b's tip
# and main), so the check passes at its first round; b's own folder is
# untouched, nothing is taken when main has nothing new, and b's merge
# leaves a's code on main as a made it.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-regress-stale-$$"

llmd_script <<'PY'
import json, sys
from answers import *
USE = ("import os, sys\n"
       "sys.path.insert(0, os.getcwd())  # the worktree: peers' folders too\n"
       "from a.lib import get\n"
       "assert get() == 42, get()\n"
       "print('a.get() ->', get())\n")
rules = [CRITIC, PLANNER,
  {"match": {"system_contains": dom("a")},
   "reply": {"text": answer("a", [f("lib.py", "def get():\n    return 42\n")],
                            "get", ["a.get"])}},
  {"match": {"system_contains": dom("b"), "input_contains": "use a's get"},
   "reply": {"text": answer("b", [f("use.py", USE)], "uses a.get")}},
  {"match": {"system_contains": dom("b")},
   "reply": {"text": answer("b", [f("ok.txt", "b\n")], "first")}},
]
write_rules(rules)
PY
# a's first round waits for the test's word, so b's branch is cut first.
llm_config_with <<CONF
[domain "a"]
check = sh -c 'while ! test -e a.release; do sleep 0.1; done'
[domain "b"]
check = sh -c 'test ! -f b/use.py || python3 b/use.py'
CONF
start_task "stale branch" a,b
wait_until "b's first directive done" directive_done 1 b Build
git_in 1 cat-file -e domain/b:b/ok.txt 2>/dev/null || fail "b's first commit"
if git_in 1 cat-file -e main:a/lib.py 2>/dev/null; then
	fail "a's code reached main before b's branch was cut"
fi
ok "b's branch cut from a main without a's get"

touch "$T/state/tasks/1/domains/a/a.release"
wait_until "a's first directive done" directive_done 1 a Build
wait_until "a's get on main" sh -c \
    "git --git-dir='$T/state/tasks/1/repo.git' cat-file -e main:a/lib.py"
main_a=$(git_in 1 rev-parse main)
ok "a's get is on main"

d=$(json_get "r['directive']['id']" directive b "use a's get in b/use.py")
# Done, or a round of it rejected at its checks (the stale branch).
settled() {
	[ "$(json_get "any(x['directive']==$d and (x['ok'] or x['stage']=='checks') for x in r['rounds'])" task 1 --all)" = True ]
}
wait_until "b's directive to be played" settled
checks=$(json_get "[(x.get('round'), x['ok'], x['stage']) for x in r['rounds'] if x['directive']==$d]" task 1 --all)
[ "$(json_get "[x['ok'] for x in r['rounds'] if x['directive']==$d][0]" task 1 --all)" = True ] ||
    fail "b's check did not see a's get at its first round: $checks; $(json_get "[x.get('checks') for x in r['rounds'] if x['directive']==$d][:1]" task 1 --all)"
wait_until "b's directive done" directive_done 1 b "use a's get"
ok "b's check imported a's get at its first round"

# One refresh: a commit by masterd on b's branch, parents b's tip and the
# main that had a's get; none before the first directive (main had nothing).
refresh=$(git_in 1 rev-list --first-parent --merges --author='^masterd <' "$(root_of 1)..domain/b")
[ "$(echo "$refresh" | grep -c .)" = 1 ] || fail "refresh commits on domain/b: $refresh"
[ "$(git_in 1 rev-parse "$refresh^2")" = "$main_a" ] || fail "the refresh's second parent is not main"
[ "$(git_in 1 rev-parse "$refresh^1")" = "$(git_in 1 rev-list -1 --author='^b <' domain/b -- b/ok.txt)" ] ||
    fail "the refresh's first parent is not b's tip"
[ "$(git_in 1 rev-parse "$refresh:b")" = "$(git_in 1 rev-parse "$refresh^1:b")" ] ||
    fail "the refresh changed b's own folder"
[ "$(git_in 1 rev-parse "$refresh:a")" = "$(git_in 1 rev-parse "$main_a:a")" ] ||
    fail "the refresh did not take main's a/"
ok "one refresh commit: b's tip and main, b/ untouched"

# The worker logged the refresh, naming main's commit.
short=$(echo "$main_a" | cut -c1-12)
log_has "domain/b takes its peers' code from main $short" || fail "no refresh in the log"
ok "the refresh is logged"

wait_until "b's use.py on main" sh -c \
    "git --git-dir='$T/state/tasks/1/repo.git' cat-file -e main:b/use.py"
[ "$(git_in 1 rev-parse main:a)" = "$(git_in 1 rev-parse domain/a:a)" ] || fail "main's a/ is not a's"
git_in 1 merge-base --is-ancestor "$main_a" main || fail "main went backwards"
check_repo 1
ok "main has b's use.py and a's own a/; it only moved forward"
done_testing
