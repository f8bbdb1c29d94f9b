# Invariant: with a model (the test LLM server), a task of three domains
# ends with three branches, each with commits only under its own folder, a
# main that merges them, three interface versions in the registry, every
# child's later requests carrying its peers' interfaces (never their code),
# and the key of the provider only ever in the Authorization header.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-e2e-$$-secret"
export LLMD_API_KEY="$LLMD_TEST_KEY"

answer() {	# domain provides consumes-json
	python3 - "$@" <<'PY'
import json, sys
d, provides, consumes = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
print(json.dumps({
    "summary": f"first version of {d}",
    "files": [{"path": "README.md", "content": f"# {d}\n"},
              {"path": "src/main.txt", "content": f"{d} works\n"}],
    "interface": {"domain": d, "summary": f"the {d} domain",
                  "provides": [{"kind": "function", "name": provides,
                                "signature": "() -> ok"}],
                  "consumes": consumes},
    "checks": [f"test -f {d}/README.md"]}))
PY
}
python3 - "$T/script.json" \
    "$(answer database db.payslips '[]')" \
    "$(answer logic logic.net_pay '[{"kind":"function","name":"db.payslips","from":"database","signature":"() -> ok"}]')" \
    "$(answer frontend ui.list '[{"kind":"function","name":"logic.net_pay","from":"logic","signature":"() -> ok"}]')" <<'PY'
import json, sys
path, db, logic, ui = sys.argv[1:5]
rules = [
  {"match": {"system_contains": "You review one change"},
   "reply": {"json": {"complete": True, "feedback": ""}}},
  {"match": {"system_contains": "# Your domain: database"}, "reply": {"text": db}},
  {"match": {"system_contains": "# Your domain: logic"}, "reply": {"text": logic}},
  {"match": {"system_contains": "# Your domain: frontend"}, "reply": {"text": ui}},
]
json.dump({"rules": rules}, open(path, "w"))
PY
start_llmd "$T/script.json"
{
	llm_config
	for d in database logic frontend; do
		printf '[domain "%s"]\ncheck = test -f %s/src/main.txt\n' "$d" "$d"
	done
	# What a check command sees of the environment (into the worktree:
	# the sandbox lets it write nowhere else).
	printf 'check = env >check-env.txt\n'

} | write_config
start_masterd

ctl submit "Implement an app to manage employee payslips" \
    --domains database,logic,frontend >/dev/null || fail submit
for d in database logic frontend; do
	wait_until "$d's first directive done" sh -c \
	    "$MASTERCTL --json task 1 | python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(0 if any(x[\"domain\"]==\"$d\" and x[\"state\"]==\"done\" for x in r[\"directives\"]) else 1)'"
done
ok "three first directives done"

# Branches: commits only under their own folder.
ROOT=$(root_of 1)
for d in database logic frontend; do
	files=$(git_in 1 log --author="^$d <" --format= --name-only "$ROOT..domain/$d" | sort -u)
	[ -n "$files" ] || fail "domain/$d has no commit of its own"
	echo "$files" | grep -v "^$d/" && fail "domain/$d touched files outside $d/"
	git_in 1 log -1 --format=%an "domain/$d" | grep -qx "$d" || fail "author of domain/$d"
	git_in 1 log -1 --format=%B "domain/$d" | grep -q "^Masterd-Round: " || fail "no round trailer"
done
ok "each branch commits only under its own folder, authored by its domain"

# main merges them all.
for d in database logic frontend; do
	wait_until "main to have $d/" sh -c "git --git-dir='$T/state/tasks/1/repo.git' ls-tree -r --name-only main | grep -q '^$d/src/main.txt$'"
done
[ "$(git_in 1 rev-list --merges --count main)" -ge 3 ] || fail "main has fewer than 3 merges"
git_in 1 fsck --no-progress >/dev/null 2>&1 || fail "git fsck"
ok "main merges the three domains"

[ "$(json_get "len(r['interfaces'])" interfaces 1)" = 3 ] || fail "three interfaces"
[ "$(json_get "r['registry']['interfaces']" status)" -ge 3 ] || fail "interface versions"
ok "three interface versions in the registry"

# Peers' interfaces reached the models; their code did not.
for d in database logic frontend; do
	ctl directive "$d" "second pass over $d" >/dev/null || fail "directive $d"
done
for d in database logic frontend; do
	wait_until "$d's second directive done" sh -c \
	    "$MASTERCTL --json task 1 | python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(0 if any(x[\"text\"]==\"second pass over $d\" and x[\"state\"]==\"done\" for x in r[\"directives\"]) else 1)'"
done
for pair in "database logic.net_pay ui.list" "logic db.payslips ui.list" \
    "frontend db.payslips logic.net_pay"; do
	set -- $pair
	n=$(requests_matching "'# Your domain: $1' in text and 'second pass over $1' in text and '$2' in text and '$3' in text")
	[ "$n" -ge 1 ] || fail "$1's request lacks its peers' interfaces ($2, $3)"
	for other in database logic frontend; do
		[ "$other" = "$1" ] && continue
		n=$(requests_matching "'# Your domain: $1' in text and '$other works' in text")
		[ "$n" = 0 ] || fail "$1's requests carry $other's code"
	done
done
ok "every child's requests carry its peers' interfaces, never their code"

# The scoreboard counts the rounds and the tokens.
[ "$(json_get "sum(x['accepted'] for x in r['scoreboard'])" task 1)" -ge 6 ] || fail "scoreboard"
[ "$(json_get "min(x['tokens_in'] for x in r['scoreboard'])" task 1)" -gt 0 ] || fail "tokens"
ctl task 1 | grep -q "TOKENS IN" || fail "task shows no scoreboard"
ctl transcript frontend | grep -q "second pass over frontend" || fail "transcript"
ok "scoreboard and transcript"

# The key: only in the Authorization header of the recorded requests.
grep -rqF "$LLMD_TEST_KEY" "$T/masterd.log" "$T/state" && fail "key in the log or the state dir"
for ref in $(git_in 1 for-each-ref --format='%(refname)'); do
	git_in 1 grep -qF "$LLMD_TEST_KEY" "$ref" && fail "key in git ($ref)"
done
python3 - "$LLMD_RECORD" "$LLMD_TEST_KEY" <<'PY' || fail "key outside the Authorization header"
import json, sys
key, seen = sys.argv[2], 0
for line in open(sys.argv[1]):
    m = json.loads(line)
    h = dict(m.get("headers", {}))
    if h.get("authorization") == "Bearer " + key:
        seen += 1
    h.pop("authorization", None)
    m["headers"] = h
    assert key not in json.dumps(m), m.get("seq")
assert seen > 0
PY
envfile="$T/state/tasks/1/domains/frontend/check-env.txt"
[ -s "$envfile" ] || fail "the env check did not run"
grep -qF "$LLMD_TEST_KEY" "$envfile" && fail "a check command saw the key"
for p in $(pids_of "masterd-child --domain") $(pids_of "masterd-worker --domain") $MD_PID; do
	tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF "$LLMD_TEST_KEY" && fail "key in argv of $p"
done
ok "the key is only in the Authorization header"
