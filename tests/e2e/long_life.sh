# Invariant: a domain lives 20 directives in a small window (6,000 tokens)
# and none fails for size: the test LLM server refuses any request that
# does not fit, and none is refused; the conversation is compacted (an
# event, a summary the model wrote, the memory file) rather than cut; and
# before every edit of the existing file its current content was in the
# request that answered with the edit.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-life-$$"
N=20
WINDOW=6000

python3 - "$T/script.json" "$WINDOW" <<'PY'
import json, sys

def call(name, **args):
    return {"reply": {"tool_calls": [{"name": name, "arguments": args}]}}

iface = {"domain": "life", "summary": "one file", "consumes": [],
         "provides": [{"kind": "function", "name": "life.f",
                       "signature": "() -> int"}]}
body = "".join("def f%d():\n    return %d\n\n" % (i, i) for i in range(40))
rules = [
    {"match": {"system_contains": "You review one change"},
     "reply": {"json": {"complete": True, "feedback": ""}}},
    {"match": {"system_contains": "You keep the notes"},
     "reply": {"text": "NOTES: big.py holds f0..f39 and one 'y = 2' line "
               "per directive before '# end'."}},
    dict(match={"last_tool": "read_file"},
         **call("edit_file", path="big.py", old="# end", new="y = 2\n# end")),
    dict(match={"last_tool": "edit_file"},
         **call("finish", summary="added a line", interface=iface)),
    dict(match={"last_tool": "write_file"},
         **call("finish", summary="wrote big.py", interface=iface)),
    dict(match={"input_contains": "grow the file"}, **call("read_file", path="big.py")),
    dict(match={}, **call("write_file", path="big.py", content=body + "# end\n")),
]
json.dump({"context_tokens": int(sys.argv[2]), "rules": rules},
          open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json"
llm_config | sed -e "s/^context_tokens = .*/context_tokens = $WINDOW/" \
    -e 's/^max_tokens = .*/max_tokens = 800/' | write_config
start_task "a long life" life

i=1
while [ $i -lt $N ]; do
	ctl directive life "grow the file, step $i" --task 1 >/dev/null || fail "directive $i"
	i=$((i + 1))
done
all_done() {
	[ "$(json_get "sorted({x['state'] for x in r['directives']})" task 1)" = "['done']" ] &&
	[ "$(json_get "len(r['directives'])" task 1)" = $N ]
}
DEADLINE=$((N * 20)) wait_until "$N directives done" all_done
[ "$(git_in 1 show domain/life:life/big.py | grep -c '^y = 2$')" = $((N - 1)) ] \
    || fail "big.py does not hold $((N - 1)) edits"
ok "$N directives done in a $WINDOW-token window"

python3 - "$LLMD_RECORD" "$T/script.json" "$WINDOW" <<'PY' || fail "the request record"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
rules = json.load(open(sys.argv[2]))["rules"]
window = int(sys.argv[3])
reqs = [r for r in recs if r.get("api") == "chat"]
refused = [r for r in reqs if r.get("status") != 200]
assert not refused, "refused requests: %s" % [(r["seq"], r["status"]) for r in refused]
biggest = max(r["input_tokens"] + r["body"]["max_tokens"] for r in reqs)
assert biggest <= window, biggest
edits = sorted((r for r in reqs if r.get("matched_rule") is not None and
                "edit_file" in json.dumps(rules[r["matched_rule"]]["reply"])),
               key=lambda r: r["seq"])
assert len(edits) == 19, len(edits)
for k, r in enumerate(edits):
    tool = [m["content"] for m in r["body"]["messages"] if m["role"] == "tool"]
    # The newest result is read_file's: the file as it is, with k edits.
    seen = tool[-1]
    assert "# end" in seen and seen.count("y = 2") == k, \
        "edit %d saw %d edits: %r" % (k + 1, seen.count("y = 2"), seen[-200:])
summaries = [r for r in reqs if "You keep the notes" in json.dumps(r["body"])]
assert summaries, "no compaction"
print("ok: %d requests, the largest %d of %d tokens; %d compactions; every "
      "edit saw the file as it was" % (len(reqs), biggest, window, len(summaries)))
PY
compactions=$(python3 -c "
import sqlite3
db = sqlite3.connect('$T/state/masterd.db')
print(db.execute(\"select count(*) from events where event = 'progress' and json_extract(data, '\$.stage') = 'compaction'\").fetchone()[0])")
[ "$compactions" -ge 1 ] || fail "no compaction event"
grep -q "NOTES: big.py" "$T/state/tasks/1/memory/life.md" || fail "the memory file lacks the summary"
grep -q "^- directive .* done" "$T/state/tasks/1/memory/life.md" || fail "the memory file lacks the directives"
ok "compacted, never cut: the summary is in the memory file and an event"
