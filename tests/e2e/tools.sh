# Invariant: with tools, a domain's model works like a coding agent in each
# of the three APIs: it writes a file, then, for the next directive, reads
# it through a tool, edits it by exact replacement, runs the checks through
# a tool and finishes; the request that answered with the edit carried the
# file's content as a tool result, and the edit is what was committed.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-tools-$$"

python3 - "$T/script.json" <<'PY'
import json, sys

def iface(d):
    return {"domain": d, "summary": d + " app", "consumes": [], "provides": [
        {"kind": "function", "name": d + ".main", "signature": "() -> None"}]}

def call(name, **args):
    return {"reply": {"tool_calls": [{"name": name, "arguments": args}]}}

rules = [{"match": {"system_contains": "You review one change"},
          "reply": {"json": {"complete": True, "feedback": ""}}}]
for d in ("chat", "resp", "anth"):
    mine = "# Your domain: " + d
    rules += [
        dict(match={"system_contains": mine, "last_tool": "write_file"},
             **call("finish", summary="wrote the app", interface=iface(d))),
        dict(match={"system_contains": mine, "last_tool": "read_file"},
             **call("edit_file", path="app.py", old="# end",
                    new="x = 1\n# end")),
        dict(match={"system_contains": mine, "last_tool": "edit_file"},
             **call("run_checks")),
        dict(match={"system_contains": mine, "last_tool": "run_checks"},
             **call("finish", summary="set x", interface=iface(d))),
        dict(match={"system_contains": mine, "input_contains": "second change"},
             **call("read_file", path="app.py")),
        dict(match={"system_contains": mine},
             **call("write_file", path="app.py",
                    content="print('hello from %s')\n# end\n" % d)),
    ]
json.dump({"rules": rules}, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
llm_config_with <<CONF
[domain "chat"]
provider = chat
check = test -f chat/app.py
[domain "resp"]
provider = openai-responses
check = test -f resp/app.py
[domain "anth"]
provider = anthropic
check = test -f anth/app.py
CONF
start_task "tools" chat,resp,anth

directive_done() {	# domain text-prefix
	[ "$(json_get "[x['state'] for x in r['directives'] if x['domain']=='$1' and x['text'].startswith('$2')]" task 1)" = "['done']" ]
}

for d in chat resp anth; do
	wait_until "$d: first directive done" directive_done $d Build
	ctl directive $d "the second change: set x" --task 1 >/dev/null || fail "$d: directive"
done
for d in chat resp anth; do
	wait_until "$d: second directive done" directive_done $d "the second"
	[ "$(git_in 1 show domain/$d:$d/app.py)" = "$(printf "print('hello from %s')\nx = 1\n# end" $d)" ] \
	    || fail "$d: committed app.py is $(git_in 1 show domain/$d:$d/app.py)"
	[ "$(own_commits 1 $d)" = 2 ] || fail "$d: not two commits"
done
ok "in each API a model wrote, read, edited by replacement, ran the checks and finished"

# The record, API by API: tools offered in the API's shape; the request
# whose answer was the edit carried read_file's result with the content.
python3 - "$LLMD_RECORD" "$T/script.json" <<'PY' || fail "the request record"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
rules = json.load(open(sys.argv[2]))["rules"]
api_of = {"chat": "chat", "resp": "responses", "anth": "anthropic"}

def tool_names(api, body):
    tools = body.get("tools") or []
    if api == "chat":
        return {t["function"]["name"] for t in tools if t.get("type") == "function"}
    if api == "anthropic":
        assert all("input_schema" in t for t in tools), "anthropic tools without input_schema"
    return {t["name"] for t in tools}

def results(api, body):
    """The tool results the request's newest input carries."""
    if api == "chat":
        out = []
        for m in reversed(body["messages"]):
            if m["role"] != "tool":
                break
            out.append(m["content"])
        return out
    if api == "responses":
        items = body["input"] if isinstance(body["input"], list) else []
        return [i["output"] for i in items if i.get("type") == "function_call_output"]
    last = body["messages"][-1]
    return [b["content"] if isinstance(b["content"], str) else
            "".join(c.get("text", "") for c in b["content"])
            for b in last["content"] if isinstance(last["content"], list)
            and b.get("type") == "tool_result"]

for d, api in api_of.items():
    mine = [r for r in recs if r.get("api") == api and r.get("matched_rule") is not None
            and "# Your domain: " + d in json.dumps(r["body"])]
    assert mine, d + ": no request"
    names = tool_names(api, mine[0]["body"])
    want = {"list_files", "read_file", "search", "write_file", "edit_file",
            "delete_file", "run_checks", "peer_interfaces", "finish"}
    assert want <= names, "%s: tools offered %s" % (d, sorted(names))
    edits = [r for r in mine if "edit_file" in json.dumps(rules[r["matched_rule"]]["reply"])]
    assert len(edits) == 1, "%s: %d edit answers" % (d, len(edits))
    got = results(api, edits[0]["body"])
    want_text = "print('hello from %s')" % d
    assert any(want_text in g and "# end" in g for g in got), \
        "%s: the edit's request carried %r" % (d, got)
    print("ok:", d, api, "read_file result before the edit:", got[0].splitlines()[0][:40])
PY
[ "$(json_get "sorted({x.get('model') for x in r['rounds'] if x['ok']})" task 1)" = "['test-model']" ] \
    || fail "rounds do not say which model answered: $(json_get "[x.get('model') for x in r['rounds']]" task 1)"
ok "the record shows tools in each API's shape and the file's content before the edit"

# The transcript shows the agent's calls and their results at a glance.
ctl transcript chat --task 1 >"$T/transcript" || fail "transcript"
grep -q '^-> read_file {"path":"app.py"}' "$T/transcript" || fail "transcript: no read_file call: $(cat "$T/transcript")"
grep -q "^<- read_file: *1| print('hello from chat')" "$T/transcript" || fail "transcript: no read_file result"
grep -q '^-> edit_file ' "$T/transcript" || fail "transcript: no edit_file call"
ok "masterctl transcript shows the calls and their results"
