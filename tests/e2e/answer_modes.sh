# Invariant: the ways a domain's model may answer all lead somewhere.
# - `tools = no`: JSON answers; the prompt carries the files' content and
#   an answer may edit a file it was shown;
# - a server that refuses tools: the worker goes on in JSON answers;
# - an answer cut at max_tokens is told so, never "not JSON";
# - after a restart the prompt shows the domain's own committed interface;
# - the critic answers with its own model ([critic]), and rounds say which
#   models answered.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-modes-$$"

python3 - "$T/script.json" <<'PY'
import json, sys

def iface(d):
    return {"domain": d, "summary": d, "consumes": [], "provides": [
        {"kind": "function", "name": d + ".main", "signature": "() -> None"}]}

def answer(d, files, summary="work"):
    return {"json": {"summary": summary, "files": files, "interface": iface(d)}}

def call(name, truncated=False, **args):
    r = {"tool_calls": [{"name": name, "arguments": args}]}
    if truncated:
        r["truncated"] = True
    return {"reply": r}

def mine(d, **m):
    m["system_contains"] = "# Your domain: " + d
    return m

rules = [
    {"match": {"system_contains": "You review one change"},
     "reply": {"json": {"complete": True, "feedback": ""}}},
    # tools = no: whole file, then an edit of the file it was shown.
    {"match": mine("plain", input_contains="second change"),
     "reply": answer("plain", [{"path": "notes.txt", "edits": [
         {"old": "# end", "new": "beta\n# end"}]}])},
    {"match": mine("plain"),
     "reply": answer("plain", [{"path": "notes.txt",
                                "content": "alpha\n# end\n"}])},
    # A server without tools: refused, then JSON answers.
    {"match": mine("old", has_tools=True), "reject_tools": True,
     "reply": {"text": "unused"}},
    {"match": mine("old"),
     "reply": answer("old", [{"path": "old.txt", "content": "old\n"}])},
    # Cut once, then whole.
    dict(match=mine("cut", input_contains="cut at the output limit", turn=1),
         **call("write_file", path="cut.txt", content="small\n")),
    dict(match=mine("cut", last_tool="write_file"),
         **call("finish", summary="wrote it", interface=iface("cut"))),
    dict(match=mine("cut"),
         **call("write_file", truncated=True, path="cut.txt",
                content="a very long file " * 40)),
    # Publishes, restarts, and sees its own interface.
    dict(match=mine("keep", last_tool="write_file"),
         **call("finish", summary="kept", interface=iface("keep"))),
    dict(match=mine("keep"),
         **call("write_file", path="keep.txt", content="k\n")),
]
json.dump({"rules": rules}, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
llm_config_with <<CONF
[critic]
model = critic-model
[domain "plain"]
tools = no
[domain "old"]
[domain "cut"]
[domain "keep"]
CONF
start_task "modes" plain,old,cut,keep

directive_done() {	# domain text-prefix
	[ "$(json_get "[x['state'] for x in r['directives'] if x['domain']=='$1' and x['text'].startswith('$2')]" task 1)" = "['done']" ]
}

for d in plain old cut keep; do
	wait_until "$d: first directive done" directive_done $d Build
done

# tools = no
ctl directive plain "the second change" --task 1 >/dev/null || fail directive
wait_until "plain: second directive done" directive_done plain "the second"
[ "$(git_in 1 show domain/plain:plain/notes.txt)" = "$(printf 'alpha\nbeta\n# end')" ] \
    || fail "plain: notes.txt is $(git_in 1 show domain/plain:plain/notes.txt)"
[ "$(requests_matching "'# Your domain: plain' in text and 'the second change' in text and 'alpha' in text and '# end' in text")" -ge 1 ] \
    || fail "plain: the file's content was not in the prompt"
[ "$(requests_matching "'# Your domain: plain' in text and m['body'].get('tools')")" = 0 ] \
    || fail "plain: tools offered with tools = no"
ok "tools = no: the prompt carries the files, an answer edits one it was shown"

# A server that refuses tools
[ "$(requests_matching "'# Your domain: old' in text and m['body'].get('tools') and m['status'] == 400")" = 1 ] \
    || fail "old: not one refused request"
[ "$(requests_matching "'# Your domain: old' in text and not m['body'].get('tools')")" -ge 1 ] \
    || fail "old: no request without tools"
[ "$(git_in 1 show domain/old:old/old.txt)" = old ] || fail "old: not committed"
log_has "refuses tools" || fail "old: the fallback was not logged"
ok "a server refusing tools: the domain goes on with JSON answers"

# Cut at max_tokens
[ "$(git_in 1 show domain/cut:cut/cut.txt)" = small ] || fail "cut: not committed"
[ "$(requests_matching "'# Your domain: cut' in text and 'not JSON' in text")" = 0 ] \
    || fail "cut: told 'not JSON'"
[ "$(requests_matching "'# Your domain: cut' in text and 'cut at the output limit' in text")" -ge 1 ] \
    || fail "cut: not told the answer was cut"
ok "a cut answer is told so and redone smaller"

# Restarted, the domain sees its own interface
old_pid=$(child_pid keep)
kill -KILL "$old_pid"
restarted() {
	p=$(child_pid keep)
	[ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$old_pid" ] && state_is keep running
}
wait_until "keep restarted" restarted
ctl directive keep "the second change" --task 1 >/dev/null || fail directive
wait_until "keep: second directive done" directive_done keep "the second"
# The newest first turn (history holds the first directive's, before
# anything was published).
[ "$(requests_matching "'# Your domain: keep' in text and 'the second change' in text and text[text.rfind('# Your published interface now'):].split('# Your peers')[0].count('keep.main') == 1")" -ge 1 ] \
    || fail "keep: its interface was not in the prompt after the restart"
ok "after a restart the prompt shows the domain's own interface"

# A model per role
[ "$(requests_matching "'You review one change' in text and m['body']['model'] != 'critic-model'")" = 0 ] \
    || fail "a critic request went to another model"
[ "$(requests_matching "'You review one change' in text")" -ge 4 ] || fail "too few critic requests"
[ "$(requests_matching "'# Your domain: ' in text and m['body']['model'] != 'test-model'")" = 0 ] \
    || fail "a domain request went to another model"
[ "$(json_get "sorted({(x.get('model'), x.get('critic_model')) for x in r['rounds'] if x['ok']})" task 1)" = "[('test-model', 'critic-model')]" ] \
    || fail "rounds: $(json_get "sorted({(x.get('model'), x.get('critic_model')) for x in r['rounds']})" task 1)"
ok "the critic answers with its own model; rounds record both"
