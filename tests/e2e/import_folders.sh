# Invariant: a domain may own an existing folder of an imported project,
# its name apart from its folder.  With --domains name=folder the domains
# write their folders (server/, client/), never <name>/; a write outside
# its folder (a file of the other domain's folder, a root file) is refused
# and the model told, and main keeps those files as they were.  Without
# --domains the planner is shown the project's top level and maps its
# folders to domains ("folder" in the plan), which then write there.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-folders-$$"
export GIT_AUTHOR_NAME=user GIT_AUTHOR_EMAIL=u@example.org
export GIT_COMMITTER_NAME=user GIT_COMMITTER_EMAIL=u@example.org

U="$T/project"
git init -q -b main "$U"
mkdir "$U/server" "$U/client"
echo 'def ping(): return "pong"' >"$U/server/app.py"
echo '<h1>hello</h1>' >"$U/client/index.html"
echo '# project' >"$U/README.md"
git -C "$U" add . && git -C "$U" commit -qm "first"
echo 'def pong(): return "ping"' >>"$U/server/app.py"
git -C "$U" commit -qam "second"

python3 - "$T/script.json" <<'PY'
import json, sys
def answer(d, path, content):
    return json.dumps({"summary": d, "files": [{"path": path, "content": content}],
        "interface": {"domain": d, "summary": d, "provides": [
            {"kind": "function", "name": d + ".f", "signature": "()"}],
            "consumes": []}})
rules = [{"match": {"system_contains": "You review one change"},
          "reply": {"json": {"complete": True, "feedback": ""}}},
         {"match": {"system_contains": "You are the planner",
                    "input_contains": "Plan this task"},
          "reply": {"json": {"summary": "two folders", "domains": [
              {"name": "backend", "folder": "server", "prompt": "server/"},
              {"name": "frontend", "folder": "client", "prompt": "client/"}]}}},
         {"match": {"system_contains": "You are the planner",
                    "input_contains": "Review this task"},
          "reply": {"json": {"done": True, "summary": "done",
                             "directives": [], "domains": []}}}]
# api and web first try to write outside their folders; told "refused",
# they write their own.
for d, bad in (("api", "../README.md"), ("web", "../server/app.py")):
    rules.append({"match": {"system_contains": "# Your domain: " + d,
                            "input_contains": "path contains"},
                  "reply": {"text": answer(d, "first.txt", "first\n")}})
    rules.append({"match": {"system_contains": "# Your domain: " + d},
                  "reply": {"text": answer(d, bad, "mine now\n")}})
for d in ("backend", "frontend"):
    rules.append({"match": {"system_contains": "# Your domain: " + d},
                  "reply": {"text": answer(d, "planned.txt", d + "\n")}})
json.dump({"rules": rules}, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
llm_config | write_config
start_masterd

ctl submit "extend it" --repo "$U" --domains api=server,web=client \
    >"$T/out" 2>"$T/err" || fail "submit: $(cat "$T/err")"
[ "$(json_get "sorted((d['name'], d['folder']) for d in r['domains'])" task 1)" = \
    "[('api', 'server'), ('web', 'client')]" ] || fail "the domains' folders: $(json_get "r['domains']" task 1)"
both_done() {
	[ "$(json_get "sorted(x['state'] for x in r['directives'] if x['task'] == 1)" task 1)" = "['done', 'done']" ]
}
wait_until "both domains' first directives" both_done
merged_both() {
	git_in 1 cat-file -e main:server/first.txt && git_in 1 cat-file -e main:client/first.txt
}
wait_until "both merged into main" merged_both
files=$(git_in 1 ls-tree -r --name-only main | sort | tr '\n' ' ')
[ "$files" = "README.md client/.interface.json client/first.txt client/index.html server/.interface.json server/app.py server/first.txt " ] ||
    fail "main's files: $files"
ctl task 1 >"$T/task" 2>&1 || fail "task: $(cat "$T/task")"
grep -q "api (server/)" "$T/task" || fail "task does not show api's folder: $(cat "$T/task")"
ok "--domains name=folder: each domain writes its existing folder, never <name>/"

[ "$(git_in 1 show main:README.md)" = "# project" ] || fail "the root file changed"
[ "$(git_in 1 show main:server/app.py | wc -l)" = 2 ] || fail "server/app.py changed"
for d in api web; do
	git_in 1 log --format=%s "domain/$d" | grep -q . || fail "no history on domain/$d"
done
[ "$(requests_matching "'# Your domain: api' in text and 'path contains' in text and '../README.md' in text")" -ge 1 ] ||
    fail "api was not told its root file write was refused"
[ "$(requests_matching "'# Your domain: web' in text and 'path contains' in text and '../server/app.py' in text")" -ge 1 ] ||
    fail "web was not told its write into server/ was refused"
ok "a write outside the domain's folder (a root file, the other domain's file) is refused and said"

ctl submit "extend it, planned" --repo "$U" >"$T/out" 2>"$T/err" || fail "submit: $(cat "$T/err")"
planned() {
	[ "$(json_get "sorted((d['name'], d['folder']) for d in r['domains'])" task 2)" = \
	    "[('backend', 'server'), ('frontend', 'client')]" ]
}
wait_until "the planner's domains with their folders" planned
[ "$(requests_matching "'Plan this task' in text and '- server/ (1 file)' in text and '- client/ (1 file)' in text and '- README.md' in text")" -ge 1 ] ||
    fail "the planner was not shown the project's top level"
merged_planned() {
	git_in 2 cat-file -e main:server/planned.txt && git_in 2 cat-file -e main:client/planned.txt
}
wait_until "the planned domains' work in their folders" merged_planned
git_in 2 ls-tree --name-only main | grep -qx 'backend\|frontend' && fail "a planned domain wrote <name>/"
ok "the planner is shown the project and maps its folders to domains"
