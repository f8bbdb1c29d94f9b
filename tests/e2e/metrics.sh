# Invariant: the `metrics` request answers {"text"} in the Prometheus text
# exposition format: every sample belongs to a family announced by its
# HELP and TYPE lines, every name starts with masterd_, label values are
# quoted; and after a scripted task the numbers are the registry's:
# tasks and domains by state, rounds, checks run and failed, directives
# by state, tokens and cost by task, role and model.
. "$(dirname "$0")/lib.subr"
use_fakechild
# alpha's rounds pass their checks; beta's fail them until its directive
# is dropped.
cat >"$FAKECHILD_DIR/alpha.json" <<'JSON'
{"round_fields": {"round": 1, "model": "fake-a",
  "usage": {"input": 100, "output": 20, "cached": 5, "cost": 0.25},
  "checks": [{"command": "true", "exit": 0}]}}
JSON
cat >"$FAKECHILD_DIR/beta.json" <<'JSON'
{"round_fields": {"round": 1, "model": "fake-b", "ok": false,
  "stage": "checks", "error": {"code": "checks", "message": "false failed"},
  "usage": {"input": 7, "output": 3, "cost": 0.01},
  "checks": [{"command": "false", "exit": 1}]}}
JSON
write_config <<'CONF'
directive_attempts = 2
CONF
start_masterd
ctl submit "metrics" --domains alpha,beta >/dev/null || fail submit
ctl directive alpha "one more" >/dev/null || fail directive
closed() {
	$MASTERCTL --json task 1 | python3 -c 'import json, sys
d = json.load(sys.stdin)["directives"]
sys.exit(not d or any(x["state"] in ("queued", "running") for x in d) or
    not any(x["domain"] == "beta" and x["state"] != "done" for x in d))'
}
wait_until "every directive closed, beta's failed" closed

cat >"$T/check.py" <<'PY'
import json, re, socket, sqlite3, struct, sys
from framing import read_frame
sock, db = sys.argv[1:3]  # argv[3]: status --json
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sock)
body = json.dumps({"type": "metrics", "id": 1}).encode()
s.sendall(struct.pack(">I", len(body)) + body)
r = read_frame(s)
assert r.get("ok") is True and r.get("re") == 1, r
text = r["text"]
assert text.endswith("\n"), "the text ends in a newline"

# The format: HELP then TYPE per family, then its samples.
helped, typed, samples = set(), {}, []
line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')
for line in text.splitlines():
    if line.startswith("# HELP "):
        name = line.split()[2]
        assert name not in helped, "HELP twice: " + name
        helped.add(name)
        continue
    if line.startswith("# TYPE "):
        _, _, name, kind = line.split()
        assert name in helped, "TYPE before HELP: " + name
        assert kind in ("gauge", "counter"), line
        typed[name] = kind
        continue
    m = line_re.match(line)
    assert m, "not a sample: " + line
    name, labels, value = m.group(1), m.group(3) or "", float(m.group(4))
    assert name.startswith("masterd_"), name
    assert name in typed, "sample without HELP/TYPE: " + line
    got = {}
    pos = 0
    while pos < len(labels):
        lm = label_re.match(labels, pos)
        assert lm, "bad labels: " + line
        got[lm.group(1)] = lm.group(2)
        pos = lm.end()
    if typed[name] == "counter":
        assert name.endswith("_total"), name
    samples.append((name, got, value))

def one(name, **labels):
    v = [x[2] for x in samples if x[0] == name and
         all(x[1].get(k) == w for k, w in labels.items())]
    return sum(v)

reg = sqlite3.connect("file:" + db + "?mode=ro", uri=True)
q = lambda sql, *a: reg.execute(sql, a).fetchone()[0]
want = {
    "masterd_rounds_total":
        q("SELECT count(*) FROM rounds WHERE task_id = 1 AND round > 0"),
    "masterd_rounds_accepted_total":
        q("SELECT coalesce(sum(ok), 0) FROM rounds WHERE task_id = 1"),
    "masterd_checks_total":
        q("SELECT count(*) FROM rounds WHERE task_id = 1 AND checks IS NOT NULL AND checks != '[]'"),
    "masterd_checks_failed_total":
        q("SELECT count(*) FROM rounds WHERE task_id = 1 AND stage = 'checks'"),
}
state = q("SELECT state FROM tasks WHERE id = 1")
assert one("masterd_tasks", state=state) == 1, (state, text)
assert one("masterd_tasks") == 1, "one task in all"
for name, v in want.items():
    got = one(name, task="1")
    assert got == v, f"{name}: {got} != registry {v}"
for model, dom in (("fake-a", "alpha"), ("fake-b", "beta")):
    for kind, col in (("input", "tokens_in"), ("output", "tokens_out"),
                      ("cached", "tokens_cached")):
        v = q(f"SELECT coalesce(sum(r.{col}), 0) FROM rounds r JOIN domains d"
              " ON d.id = r.domain_id WHERE r.task_id = 1 AND d.name = ?", dom)
        got = one("masterd_tokens_total", task="1", role="domain",
                  model=model, kind=kind)
        assert got == v, f"tokens {model} {kind}: {got} != registry {v}"
    v = q("SELECT coalesce(sum(r.cost), 0) FROM rounds r JOIN domains d"
          " ON d.id = r.domain_id WHERE r.task_id = 1 AND d.name = ?", dom)
    got = one("masterd_cost_total", task="1", role="domain", model=model)
    assert abs(got - v) < 1e-9, f"cost {model}: {got} != registry {v}"
for st in ("queued", "running", "done"):
    v = q("SELECT count(*) FROM directives WHERE task_id = 1 AND state = ?", st)
    assert one("masterd_directives", task="1", state=st) == v, st
v = q("SELECT count(*) FROM directives WHERE task_id = 1 AND state IN ('failed', 'dropped')")
assert one("masterd_directives", task="1", state="failed") == v, "failed"
assert one("masterd_rounds_total", task="1") >= 3, "alpha's two, beta's two"
assert one("masterd_checks_failed_total", task="1") >= 2, "beta's failures"
assert one("masterd_domains") == len([c for c in json.loads(sys.argv[3])
    ["children"]]), "every child counted"
assert one("masterd_providers_down") == 0
assert one("masterd_info", version=json.loads(sys.argv[3])["version"]) == 1
print("families:", len(typed), "samples:", len(samples))
PY
check() {
	PYTHONPATH="$TOP/tests/e2e" python3 "$T/check.py" "$MASTERD_SOCKET" \
	    "$T/state/masterd.db" "$($MASTERCTL --json status)"
}
# The numbers settle once the last round is stored.
wait_until "metrics that match the registry" check
check >"$T/out" 2>&1 || fail "metrics: $(cat "$T/out")"
ok "metrics: the text format, and the registry's numbers ($(cat "$T/out"))"
