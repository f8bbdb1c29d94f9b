#!/bin/sh
# Benchmark: the latency a streamed token gains between the model server
# and the master's `progress` event.  The test LLM server streams a scripted
# answer; for each of N requests the time its stream starts (llmd's record)
# is compared with the master's first progress event carrying text (as seen
# on a `masterctl watch --json` stream).  That covers the child's HTTP/SSE
# parsing, its throttle (the first delta goes at once, later ones at most
# every 100 ms), the channel to the master, the event's registry write and
# the control socket.  Prints a table; asserts nothing.
set -u
N=${STREAM_BENCH_REQUESTS:-20}
. "$(cd "$(dirname "$0")/.." && pwd)/e2e/lib.subr"
export LLMD_TEST_KEY="sk-bench-$$"
python3 - "$T/script.json" <<'PY'
import json, sys
ans = json.dumps({"summary": "s", "files": [{"path": "f.txt", "content": "x\n"}],
    "interface": {"domain": "solo", "summary": "solo", "provides": [], "consumes": []}})
json.dump({"rules": [
    {"match": {"system_contains": "You review one change"},
     "reply": {"json": {"complete": True, "feedback": ""}}},
    {"match": {"system_contains": "# Your domain: solo"},
     "reply": {"text": ans, "chunk": 16}}]},
    open(sys.argv[1], "w"))
PY
start_llmd "$T/script.json" >/dev/null
{ llm_config; printf "[masterd]\nlog_level = warning\n"; } | write_config
printf "[task]\nno_progress_rounds = 0\n" >>"$T/masterd.conf"
sed -i 's/^log_level = debug$//' "$T/masterd.conf"
start_masterd >/dev/null
"$MASTERCTL" --json watch >"$T/watch" 2>/dev/null &
wait_until "watch" sh -c "[ \$($MASTERCTL --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"clients\"])') -ge 2 ]"
ctl submit "stream latency" --domains solo >/dev/null
i=1
while [ $i -lt "$N" ]; do
	ctl directive solo "change $i" >/dev/null
	i=$((i + 1))
done
done_all() {
	[ "$(json_get "r['registry']['directives_open']" status)" = 0 ]
}
wait_until "all directives" done_all
python3 - "$LLMD_RECORD" "$T/watch" "$N" <<'PY'
import datetime, json, statistics, sys
starts = sorted(m["time"] for m in map(json.loads, open(sys.argv[1]))
                if "body" in m and "# Your domain: solo" in json.dumps(m["body"]))
events = []
for line in open(sys.argv[2]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    d = e.get("data", {})
    if e.get("event") == "progress" and d.get("stage") == "model" and d.get("text"):
        events.append(datetime.datetime.fromisoformat(
            e["ts"].replace("Z", "+00:00")).timestamp())
events.sort()
lat = []
for i, t0 in enumerate(starts):
    t1 = starts[i + 1] if i + 1 < len(starts) else float("inf")
    first = next((t for t in events if t0 <= t < t1), None)
    if first is not None:
        lat.append((first - t0) * 1000)
lat.sort()
def pct(p):
    return lat[min(len(lat) - 1, int(p * len(lat)))]
print("streamed token latency, model server -> master progress event")
print("%-10s %6s %9s %9s %9s %9s" % ("requests", "seen", "min ms", "p50 ms", "p90 ms", "max ms"))
if lat:
    print("%-10d %6d %9.2f %9.2f %9.2f %9.2f" % (len(starts), len(lat), lat[0],
          statistics.median(lat), pct(0.9), lat[-1]))
print("(later deltas of one answer are coalesced: at most one progress event per 100 ms)")
PY
