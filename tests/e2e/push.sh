# Invariant: a task's result goes back to the user: `masterctl push`
# puts the task's main on a new branch (masterd/task-N) of the user's
# repository, a path, whose own branches and work tree stay as they
# were; a later push moves the branch forward; a push onto the branch
# the user has checked out, or over commits main lacks, is refused;
# `masterctl export` writes main's files into a new directory only.
# masterctl does the writing, as the user: masterd only sends a pack.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-push-$$"
export LLMD_API_KEY="$LLMD_TEST_KEY"
export GIT_AUTHOR_NAME=user GIT_AUTHOR_EMAIL=u@example.org
export GIT_COMMITTER_NAME=user GIT_COMMITTER_EMAIL=u@example.org

answer_script "$T/script.json" "a b" second
start_llmd "$T/script.json"
llm_config | write_config
start_masterd
ctl submit "push me" --domains a,b >/dev/null || fail submit
first_done() {
	[ "$(json_get "sorted(x['state'] for x in r['directives'])" task 1)" = "['done', 'done']" ]
}
wait_until "both domains' first directives" first_done
merged_both() { [ "$(git --git-dir="$T/state/tasks/1/repo.git" ls-tree -r --name-only main | grep -c first.txt)" = 2 ]; }
wait_until "both merged into main" merged_both

git init -q -b work "$T/user"
echo mine >"$T/user/README"
git -C "$T/user" add README && git -C "$T/user" commit -qm mine
mine=$(git -C "$T/user" rev-parse HEAD)

ctl push 1 --to "$T/user" >"$T/out" 2>&1 || fail "push: $(cat "$T/out")"
grep -q "pushed to $T/user, branch masterd/task-1 (new)" "$T/out" || fail "push said: $(cat "$T/out")"
main=$(git --git-dir="$T/state/tasks/1/repo.git" rev-parse main)
[ "$(git -C "$T/user" rev-parse masterd/task-1)" = "$main" ] || fail "the branch is not main"
[ "$(git -C "$T/user" show masterd/task-1:a/first.txt)" = first ] || fail "a's file"
[ "$(git -C "$T/user" show masterd/task-1:b/first.txt)" = first ] || fail "b's file"
[ "$(git -C "$T/user" rev-parse HEAD)" = "$mine" ] || fail "the user's HEAD moved"
[ "$(git -C "$T/user" symbolic-ref HEAD)" = refs/heads/work ] || fail "the user's branch changed"
[ -z "$(git -C "$T/user" status --porcelain)" ] || fail "the work tree changed: $(git -C "$T/user" status --porcelain)"
git -C "$T/user" fsck --no-progress >"$T/fsck" 2>&1 || fail "fsck: $(cat "$T/fsck")"
ok "push: main on a new branch of the user's repository, nothing else touched"

ctl directive a "second change of a" >/dev/null || fail directive
a_second() { [ "$(directive_states a)" = "['done', 'done']" ]; }
wait_until "a's second directive" a_second
main2_merged() { [ "$(git --git-dir="$T/state/tasks/1/repo.git" ls-tree -r --name-only main | grep -c second.txt)" = 1 ]; }
wait_until "a's second change merged" main2_merged
ctl push 1 --to "$T/user" >"$T/out" 2>&1 || fail "second push: $(cat "$T/out")"
main2=$(git --git-dir="$T/state/tasks/1/repo.git" rev-parse main)
[ "$(git -C "$T/user" rev-parse masterd/task-1)" = "$main2" ] || fail "the branch did not move forward"
git -C "$T/user" merge-base --is-ancestor "$main" masterd/task-1 || fail "not a fast-forward"
ok "a second push moves the branch forward"

ctl push 1 --to "$T/user" --branch work >"$T/out" 2>&1 && fail "a push onto the checked-out branch went through"
grep -q "checked out" "$T/out" || fail "refusal said: $(cat "$T/out")"
[ "$(git -C "$T/user" rev-parse work)" = "$mine" ] || fail "the checked-out branch moved"
git -C "$T/user" branch -q theirs "$mine"
ctl push 1 --to "$T/user" --branch theirs >"$T/out" 2>&1 && fail "a push over the user's commits went through"
grep -q "not overwritten" "$T/out" || fail "refusal said: $(cat "$T/out")"
[ "$(git -C "$T/user" rev-parse theirs)" = "$mine" ] || fail "the user's branch moved"
ok "never onto the checked-out branch, never over commits main lacks"

ctl export 1 "$T/export" >"$T/out" 2>&1 || fail "export: $(cat "$T/out")"
[ "$(cat "$T/export/a/second.txt")" = second ] || fail "export: a/second.txt"
[ "$(cat "$T/export/b/first.txt")" = first ] || fail "export: b/first.txt"
[ -e "$T/export/.git" ] && fail "export wrote a .git"
packs=$(grep -c "pack of task 1: main" "$T/masterd.log")
ctl export 1 "$T/export" >"$T/out" 2>&1 && fail "export into a directory with files went through"
grep -q "not empty" "$T/out" || fail "export refusal said: $(cat "$T/out")"
[ "$(grep -c "pack of task 1: main" "$T/masterd.log")" = "$packs" ] ||
    fail "a refused export still had masterd make a pack"
ok "export: main's files into a new directory, never into one with files (refused before any pack is made)"
ls "$T/state"/pack-* >/dev/null 2>&1 && fail "a pack was left in the state directory"
ok "no pack left behind"
