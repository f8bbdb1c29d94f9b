# Invariant: a task can start from the user's own repository, its
# history kept: `masterctl submit --repo PATH` reads the repository as
# the user (masterd only gets a pack, sent up with `import`), the task's
# main starts at the branch's commit, `masterctl task` shows where it
# came from, the domains change their existing folders, and `masterctl
# push --to` the same repository puts main on a new branch whose history
# holds the original commits; the user's own branches, HEAD and work tree
# stay as they were, and no pack is left in the state directory.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-import-$$"
export GIT_AUTHOR_NAME=user GIT_AUTHOR_EMAIL=u@example.org
export GIT_COMMITTER_NAME=user GIT_COMMITTER_EMAIL=u@example.org

# The user's project: two folders and a root file, two commits, a second
# branch, and an uncommitted change in the work tree.
U="$T/project"
git init -q -b trunk "$U"
mkdir "$U/api" "$U/web"
echo 'def ping(): return "pong"' >"$U/api/server.py"
echo '<h1>hello</h1>' >"$U/web/index.html"
echo '# project' >"$U/README.md"
git -C "$U" add . && git -C "$U" commit -qm "first"
echo 'def pong(): return "ping"' >>"$U/api/server.py"
git -C "$U" commit -qam "second"
git -C "$U" branch -q other
echo 'work in progress' >>"$U/README.md"
orig=$(git -C "$U" rev-parse trunk)
refs_before=$(git -C "$U" for-each-ref --format='%(refname) %(objectname)')
status_before=$(git -C "$U" status --porcelain)

answer_script "$T/script.json" "api web"
start_llmd "$T/script.json"
llm_config | write_config
start_masterd

ctl submit "extend the project" --repo "$U" --domains api,web \
    >"$T/out" 2>"$T/err" || fail "submit: $(cat "$T/err")"
grep -q "task 1 submitted" "$T/out" || fail "submit said: $(cat "$T/out")"
[ "$(git_in 1 rev-list main | tail -n 1)" = "$(git -C "$U" rev-list trunk | tail -n 1)" ] ||
    fail "main does not start from the project's first commit"
git_in 1 merge-base --is-ancestor "$orig" main || fail "main lacks the project's commits"
ls "$T/state"/import-* >/dev/null 2>&1 && fail "the import's pack was left in the state directory"
ctl task 1 >"$T/task" 2>&1 || fail "task: $(cat "$T/task")"
grep -q "imported from $U, branch trunk at $(echo "$orig" | cut -c1-12)" "$T/task" ||
    fail "task does not show the import: $(head -n 5 "$T/task")"
[ "$(json_get "r['import']['commit']" task 1)" = "$orig" ] || fail "task --json: import.commit"
ok "submit --repo: main starts at the project's branch (trunk, its HEAD), history kept, shown by task"

both_done() {
	[ "$(json_get "sorted(x['state'] for x in r['directives'])" task 1)" = "['done', 'done']" ]
}
wait_until "both domains' first directives" both_done
merged_both() {
	[ "$(git_in 1 ls-tree -r --name-only main | grep -c first.txt)" = 2 ]
}
wait_until "both merged into main" merged_both
[ "$(git_in 1 show main:api/server.py | wc -l)" = 2 ] || fail "api/server.py lost"
[ "$(git_in 1 show main:README.md)" = "# project" ] || fail "README.md lost"
ok "both domains changed their existing folders; the project's files are kept"

ctl push 1 --to "$U" >"$T/out" 2>&1 || fail "push: $(cat "$T/out")"
git -C "$U" merge-base --is-ancestor "$orig" masterd/task-1 || fail "the branch lacks the original commits"
[ "$(git -C "$U" show masterd/task-1:api/first.txt)" = first ] || fail "api's change"
[ "$(git -C "$U" show masterd/task-1:web/first.txt)" = first ] || fail "web's change"
[ "$(git -C "$U" show masterd/task-1:web/index.html)" = '<h1>hello</h1>' ] || fail "web/index.html"
refs_after=$(git -C "$U" for-each-ref --format='%(refname) %(objectname)' | grep -v ' *refs/heads/masterd/task-1 ')
[ "$refs_after" = "$refs_before" ] || fail "the project's refs changed: $refs_after"
[ "$(git -C "$U" symbolic-ref HEAD)" = refs/heads/trunk ] || fail "HEAD changed"
[ "$(git -C "$U" status --porcelain)" = "$status_before" ] || fail "the work tree changed"
git -C "$U" fsck --no-progress >"$T/fsck" 2>&1 || fail "fsck: $(cat "$T/fsck")"
ok "push: a new branch of the project with its history and both changes; nothing else touched"

ctl submit "from another branch" --repo "file://$U" --branch other --domains api \
    >"$T/out" 2>"$T/err" || fail "submit --branch: $(cat "$T/err")"
[ "$(git_in 2 rev-parse main)" = "$(git -C "$U" rev-parse other)" ] || fail "--branch other"
ctl submit "no such branch" --repo "$U" --branch nope --domains api >"$T/out" 2>&1 &&
    fail "a missing branch was imported"
grep -q "nope" "$T/out" || fail "missing branch said: $(cat "$T/out")"
ctl submit "not a repository" --repo "$T/nowhere" --domains api >"$T/out" 2>&1 &&
    fail "a missing repository was imported"
[ "$(json_get "len(r['tasks'])" tasks)" = 2 ] || fail "a refused import made a task"
ok "--branch, file://, and refusals (no such branch, no repository) that make no task"

# A token the connection does not hold is refused (another connection's
# import is not taken); chunks come in order.
PYTHONPATH="$TOP/tests/e2e" python3 - "$MASTERD_SOCKET" <<'PY' >"$T/raw" 2>&1 || fail "raw import: $(cat "$T/raw")"
import socket, sys
from framing import frame, read_frame
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
def call(m):
    s.sendall(frame(m))
    return read_frame(s)
r = call({"type": "submit", "id": 1, "text": "x", "domains": ["a"],
          "import": {"token": "1-1", "commit": "0" * 40}})
assert not r["ok"] and r["error"]["code"] == "conflict", r
r = call({"type": "import", "id": 2, "offset": 5, "data": "AAAA"})
assert not r["ok"] and r["error"]["code"] == "conflict", r
r = call({"type": "import", "id": 3, "offset": 0, "data": "UEFDSw=="})
assert r["ok"] and r["size"] == 4, r
r2 = call({"type": "import", "id": 4, "offset": 3, "data": "AAAA"})
assert not r2["ok"] and r2["error"]["code"] == "conflict", r2
r = call({"type": "submit", "id": 5, "text": "x", "domains": ["a"],
          "import": {"token": r["token"], "commit": "0" * 40}})
assert not r["ok"] and "imported history" in r["error"]["message"], r
print("ok")
PY
ls "$T/state"/import-* >/dev/null 2>&1 && fail "a refused import's pack or repository was left behind"
# Its repository is built before the task is stored: no task.
[ "$(json_get "len(r['tasks'])" tasks)" = 2 ] || fail "a bad pack made a task"
ok "import: only the connection's own pack, chunks in order; a bad pack refused, no task, nothing left"
