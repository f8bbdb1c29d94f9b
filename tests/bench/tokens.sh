#!/bin/sh
# Benchmark: what a domain's long life costs in input tokens.  One domain
# of a real masterd, its model scripted on the test LLM server (which
# counts tokens and simulates both providers' prompt caches), lives
# TOKENS_BENCH_DIRECTIVES directives (default 60): each reads a file with
# a tool, edits it by replacement and finishes (chat-json: tools = no, the
# file is in the prompt and the answer edits it).  For each provider it
# prints the input tokens of the accepted round at directives 1, 20 and
# 60 and the share of them read from the cache.  Asserts nothing; see
# docs/performance.md for the aims and the figures before issue #11.
set -u
N=${TOKENS_BENCH_DIRECTIVES:-60}
. "$(cd "$(dirname "$0")/.." && pwd)/e2e/lib.subr"
export LLMD_TEST_KEY="sk-bench-$$"

python3 - "$T/script.json" <<'PY'
import json, sys

def call(name, **args):
    return {"reply": {"tool_calls": [{"name": name, "arguments": args}]}}

iface = {"domain": "solo", "summary": "one file", "consumes": [],
         "provides": [{"kind": "function", "name": "solo.f",
                       "signature": "() -> int"}]}
body = "".join("def f%d():\n    return %d\n\n" % (i, i) for i in range(60))
rules = [
    {"match": {"system_contains": "You review one change"},
     "reply": {"json": {"complete": True, "feedback": ""}}},
    {"match": {"system_contains": "You keep the notes"},
     "reply": {"text": "solo.py holds f0..f59 and a growing list of y "
               "assignments before '# end'; every directive adds one."}},
    dict(match={"last_tool": "read_file"},
         **call("edit_file", path="solo.py", old="# end", new="y = 2\n# end")),
    dict(match={"last_tool": "edit_file"},
         **call("finish", summary="added a line", interface=iface)),
    dict(match={"last_tool": "write_file"},
         **call("finish", summary="wrote solo.py", interface=iface)),
    # JSON answers (tools = no): the file is in the prompt; edit it.
    {"match": {"has_tools": False, "input_contains": "grow the file"},
     "reply": {"json": {"summary": "added a line", "interface": iface,
        "files": [{"path": "solo.py", "edits": [
            {"old": "# end", "new": "y = 2\n# end"}]}]}}},
    {"match": {"has_tools": False},
     "reply": {"json": {"summary": "wrote solo.py", "interface": iface,
        "files": [{"path": "solo.py", "content": body + "# end\n"}]}}},
    dict(match={"input_contains": "grow the file"}, **call("read_file", path="solo.py")),
    dict(match={}, **call("write_file", path="solo.py", content=body + "# end\n")),
]
json.dump({"rules": rules}, open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json" >/dev/null

# life PROVIDER[-json]: one domain's N directives (-json: tools = no);
# prints its table rows.
life() {
	rm -rf "$T/state"
	tools=yes
	case $1 in *-json) tools=no ;; esac
	{
		LLM_PROVIDER=${1%-json} llm_config
		printf "tools = %s\n[masterd]\nlog_level = warning\n" "$tools"
	} | write_config
	printf "[task]\nno_progress_rounds = 0\n" >>"$T/masterd.conf"
	sed -i 's/^log_level = debug$//' "$T/masterd.conf"
	start_masterd >/dev/null
	ctl submit "a long life" --domains solo >/dev/null
	i=1
	while [ $i -lt "$N" ]; do
		ctl directive solo "grow the file, step $i" --task 1 >/dev/null
		i=$((i + 1))
	done
	DEADLINE=$((N * 10)) wait_until "$N directives" sh -c \
	    "[ \"\$($MASTERCTL --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"registry\"][\"directives_open\"])')\" = 0 ]"
	"$MASTERCTL" --json task 1 | python3 -c '
import json, sys
n, provider = int(sys.argv[1]), sys.argv[2]
r = json.load(sys.stdin)
done = [x for x in r["rounds"] if x["ok"]]
done.sort(key=lambda x: x["directive"])
def row(i):
    if i > len(done):
        return
    x = done[i - 1]
    share = 100.0 * x["tokens_cached"] / x["tokens_in"] if x["tokens_in"] else 0
    print("  %-10s %9d %14d %14d %9.0f%%" % (provider, i, x["tokens_in"],
        x["tokens_cached"], share))
for i in sorted({1, min(20, n), n}):
    row(i)
if len(done) < n:
    print("  %-10s only %d of %d directives accepted" % (provider, len(done), n))
' "$N" "$1"
	kill -TERM "$MD_PID"
	wait "$MD_PID" 2>/dev/null
	MD_PID=""
}

echo "input tokens of the accepted round, one domain, $N directives"
echo "  (each reads its file, edits it, finishes; counts are the test"
echo "   server's: 4 characters a token, caches simulated)"
printf "  %-10s %9s %14s %14s %10s\n" provider directive "input tokens" \
    "cached" "cached %"
for p in ${TOKENS_BENCH_PROVIDERS:-chat anthropic chat-json}; do
	life "$p"
done
