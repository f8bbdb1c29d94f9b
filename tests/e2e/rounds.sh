# Invariant: a directive goes round by round until its checks pass and the
# critic agrees, and only then commits, once: a failing check's output goes
# back to the model; invalid JSON is sent back with the error; paths that
# leave the domain's folder (.., absolute, .git, a symlink) are refused and
# nothing is written outside; a child killed mid-round redoes the round once.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-rounds-$$"
OUTSIDE="$T/outside"
mkdir -p "$OUTSIDE"

python3 - "$T/script.json" <<'PY'
import json, sys

def answer(d, files, summary="work"):
    return json.dumps({"summary": summary, "files": files,
        "interface": {"domain": d, "summary": d, "provides": [
            {"kind": "function", "name": d + ".f", "signature": "() -> ok"}],
            "consumes": []}})

def f(path, content="x\n"):
    return {"path": path, "content": content}

rules = [
  {"match": {"system_contains": "You review one change"},
   "reply": {"json": {"complete": True, "feedback": ""}}},
  {"match": {"system_contains": "# Your domain: calc"}, "reply": {"texts": [
      answer("calc", [f("status", "bad\n")], "first try"),
      answer("calc", [f("status", "ok\n")], "fixed")]}},
  {"match": {"system_contains": "# Your domain: parse"}, "reply": {"texts": [
      "this is not JSON at all",
      "```json\n{\"summary\": \"broken\",\n```",
      answer("parse", [f("ok.txt")])]}},
  {"match": {"system_contains": "# Your domain: evil",
             "input_contains": "escape/owned.txt\" refused"},
   "reply": {"text": answer("evil", [f("inside.txt")])}},
  {"match": {"system_contains": "# Your domain: evil", "input_contains": "escape through"},
   "reply": {"text": answer("evil", [f("escape/owned.txt", "pwned\n")])}},
  {"match": {"system_contains": "# Your domain: evil"}, "reply": {"texts": [
      answer("evil", [f("../x")]),
      answer("evil", [f("/etc/masterd-evil")]),
      answer("evil", [f(".git/config")]),
      answer("evil", [f("fine.txt")])]}},
  {"match": {"system_contains": "# Your domain: slow"},
   "fault": {"stall": 120, "count": 1},
   "reply": {"text": answer("slow", [f("slow.txt")])}},
]
json.dump({"rules": rules}, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
llm_config_with <<CONF
[domain "calc"]
check = sh -c 'grep -qx ok calc/status || { echo "STATUS-CHECK-FAILED: got \$(cat calc/status)"; exit 1; }'
[domain "evil"]
check = ln -sfn $OUTSIDE evil/escape
CONF
start_task "rounds" calc,parse,evil,slow

directive_state() {	# domain text-prefix
	json_get "[x['state'] for x in r['directives'] if x['domain']=='$1' and x['text'].startswith('$2')]" task 1
}
directive_done() {	# domain text-prefix
	[ "$(directive_state "$1" "$2")" = "['done']" ]
}
first_done() {
	directive_done "$1" Build
}

# Failing check, then the fix: two rounds, one commit.
wait_until "calc done" first_done calc
ROOT=$(root_of 1)
[ "$(own_commits 1 calc)" = 1 ] || fail "calc: not exactly one commit"
[ "$(git_in 1 show domain/calc:calc/status)" = ok ] || fail "calc: committed content"
[ "$(requests_matching "'# Your domain: calc' in text and 'STATUS-CHECK-FAILED: got bad' in text")" -ge 1 ] \
    || fail "calc: the failing output did not reach the model"
[ "$(json_get "[(x['round'], x['ok'], x['stage']) for x in r['rounds'] if x['domain']=='calc']" task 1)" = \
    "[(1, False, 'checks'), (2, True, 'commit')]" ] || fail "calc: rounds $(json_get "[(x['round'], x['ok'], x['stage']) for x in r['rounds'] if x['domain']=='calc']" task 1)"
ok "a failing check goes back to the model; two rounds, one commit"

# Invalid JSON twice, then valid.
wait_until "parse done" first_done parse
[ "$(requests_matching "'# Your domain: parse' in text")" = 3 ] || fail "parse: not three requests"
[ "$(requests_matching "'# Your domain: parse' in text and 'Your answer could not be used' in text")" = 2 ] \
    || fail "parse: the validation errors were not sent back"
[ "$(own_commits 1 parse)" = 1 ] || fail "parse: not one commit"
ok "invalid answers are sent back with the error; the third is used"

# Hostile paths: refused, nothing outside.
wait_until "evil's first directive done" first_done evil
for want in 'path contains ".."' 'absolute path' 'path leads into .git'; do
	[ "$(requests_matching "'# Your domain: evil' in text and '''$want''' in text")" -ge 1 ] \
	    || fail "evil: no refusal saying $want"
done
[ -e /etc/masterd-evil ] && fail "wrote /etc/masterd-evil"
[ -e "$T/state/tasks/1/domains/evil/x" ] && fail "wrote outside the folder"
git_in 1 ls-tree -r --name-only domain/evil | grep -v '^evil/' && fail "evil: committed outside its folder"
ctl directive evil "escape through the link" >/dev/null
wait_until "evil's second directive done" directive_done evil escape
[ -e "$OUTSIDE/owned.txt" ] && fail "wrote through a symlink out of the folder"
git_in 1 show domain/evil:evil/inside.txt >/dev/null || fail "evil: the corrected answer was not committed"
[ "$(requests_matching "'# Your domain: evil' in text and 'a parent directory is a symlink' in text")" -ge 1 ] \
    || fail "evil: the symlink refusal was not reported"
ok "paths out of the folder (.., /, .git, a symlink) are refused; nothing written outside"

# A child killed mid-round: the round is redone once.
wait_until "slow's request to stall" sh -c \
    "grep -q '\"stall\"' '$LLMD_RECORD'"
kill -KILL "$(child_pid slow)"
wait_until "slow done after the restart" first_done slow
[ "$(own_commits 1 slow)" = 1 ] || fail "slow: not exactly one commit"
[ "$(requests_matching "'# Your domain: slow' in text")" = 2 ] || fail "slow: the round was not redone exactly once"
ok "a child killed mid-round redoes it once; one commit"
