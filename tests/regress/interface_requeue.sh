# Invariant: an interface directive is done only when its gap is gone.  A
# provider whose accepted round does not add the entry a consumer needs
# gets the directive again, its text saying what is still missing, at most
# [task] interface_attempts times; then it is dropped, with the reason and
# a directive.dropped event.  A provider that adds the entry on its second
# try closes the gap, and no third try follows.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-regress-iface-$$"

llmd_script <<'PY'
import json
from answers import *

def iface(d, provides, consumes=()):
    return {"domain": d, "summary": "the " + d + " domain",
            "provides": [{"kind": "function", "name": p,
                          "signature": p + "() -> ok"} for p in provides],
            "consumes": [{"kind": "function", "name": n, "from": frm,
                          "signature": n + "() -> ok"} for frm, n in consumes]}

def ans(d, path, content, provides, consumes=()):
    return json.dumps({"summary": d + " work", "files": [f(path, content)],
                       "interface": iface(d, provides, consumes)})

# svc's second try adds svc.get, and writes svc.other's signature without
# its spaces: the same contract, in another format.
SVC_FIXED = json.loads(ans("svc", "s.txt", "try 2\n", ["svc.other", "svc.get"]))
SVC_FIXED["interface"]["provides"][0]["signature"] = "svc.other()->ok"
SVC_FIXED = json.dumps(SVC_FIXED)

rules = [CRITIC, PLANNER,
  # web needs api.get and svc.get.
  {"match": {"system_contains": dom("web")},
   "reply": {"text": ans("web", "web.txt", "w\n", ["web.page"],
                         [("api", "api.get"), ("svc", "svc.get")])}},
  # api never adds api.get: every try is accepted, none closes the gap.
  {"match": {"system_contains": dom("api"),
             "input_contains": "Provide function `api.get`"},
   "reply": {"texts": [ans("api", "a.txt", "try %d\n" % i, ["api.other"])
                       for i in (1, 2, 3)]}},
  {"match": {"system_contains": dom("api")},
   "reply": {"text": ans("api", "a.txt", "first\n", ["api.other"])}},
  # svc adds svc.get on its second try.
  {"match": {"system_contains": dom("svc"),
             "input_contains": "Provide function `svc.get`"},
   "reply": {"texts": [ans("svc", "s.txt", "try 1\n", ["svc.other"]),
                       SVC_FIXED]}},
  {"match": {"system_contains": dom("svc")},
   "reply": {"text": ans("svc", "s.txt", "first\n", ["svc.other"])}},
]
write_rules(rules)
PY
llm_config_with <<CONF
[task]
interface_attempts = 2
CONF
start_masterd
start_watch "$T/watch"
ctl submit "interface requeue" --domains api,svc,web >/dev/null || fail submit

# iface_directives DOMAIN: (state, reason, text) of the domain's interface
# directives, oldest first.
iface_directives() {
	json_get "[(x['state'], x['reason'] or '', x['text']) for x in sorted(r['directives'], key=lambda x: x['id']) if x['domain']=='$1' and x['source']=='interface']" task 1
}

api_given_up() {
	[ "$(json_get "[x['state'] for x in sorted(r['directives'], key=lambda x: x['id']) if x['domain']=='api' and x['source']=='interface']" task 1)" = "['failed', 'dropped']" ]
}
wait_until "api's interface directive to be tried twice, then dropped" api_given_up
iface_directives api >"$T/api"
python3 - "$T/api" <<'PY' || fail "api's tries: $(cat "$T/api")"
import ast, sys
(s1, r1, t1), (s2, r2, t2) = ast.literal_eval(open(sys.argv[1]).read())
assert t1.startswith("Provide function `api.get`") and "Try" not in t1, t1
assert r1.startswith("its round was accepted, but the gap is still open: your "
                     "implemented interface still does not provide function "
                     "`api.get`, which domain web consumes; try 2 of 2 queued"), r1
assert t2.startswith(t1 + "\n\nTry 2 of 2: your last round on this was committed, "
                     "but your implemented interface still does not provide "
                     "function `api.get`"), t2
assert r2.startswith("its round was accepted, but the gap is still open after 2 "
                     "tries"), r2
PY
ok "api: the directive went again with what is still missing, then was dropped after 2 tries"

[ "$(requests_matching "'# Your domain: api\\n' in text and 'Try 2 of 2: your last round on this was committed' in text")" -gt 0 ] ||
    fail "the model was not told what is still missing"
watch_has "$T/watch" "e.get('event') == 'directive.retry' and e.get('domain') == 'api' and d.get('code') == 'unresolved'" ||
    fail "no directive.retry event for api"
watch_has "$T/watch" "e.get('event') == 'directive.dropped' and e.get('domain') == 'api' and d.get('code') == 'unresolved' and 'after 2 tries' in d.get('reason', '')" ||
    fail "no directive.dropped event for api"
ok "the model saw what is missing; retry and drop are events"

svc_closed() {
	[ "$(json_get "[x['state'] for x in sorted(r['directives'], key=lambda x: x['id']) if x['domain']=='svc' and x['source']=='interface']" task 1)" = "['failed', 'done']" ]
}
wait_until "svc's second try to close its gap" svc_closed
[ "$(json_get "[u['name'] for u in r['unresolved']]" interfaces 1)" = "['api.get']" ] ||
    fail "unresolved: $(json_get "r['unresolved']" interfaces 1)"
ok "svc: the second try added svc.get and was done; only api.get is left"

# The diff of svc's implemented versions shows what its fix changed.
impl=$(python3 - "$MASTERCTL" <<'PY'
import json, subprocess, sys
out = []
for v in range(1, 20):
    p = subprocess.run([sys.argv[1], "--json", "interface", "svc", str(v)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        break
    if not json.loads(p.stdout)["interface"]["declared"]:
        out.append(str(v))
print(" ".join(out))
PY
)
set -- $impl
[ $# -ge 2 ] || fail "svc's implemented versions: $impl"
eval last=\${$#}
ctl interface svc --diff "$1" "$last" >"$T/diff"
python3 - "$T/diff" <<'PY' || fail "svc's diff: $(cat "$T/diff")"
import sys
d = open(sys.argv[1]).read()
assert "(implemented) -> v" in d, d
assert "  + provides function  svc.get\n      signature: svc.get() -> ok\n" in d, d
assert ("  ~ provides function  svc.other\n"
        "      signature:\n"
        "        - svc.other() -> ok\n"
        "        + svc.other()->ok\n"
        "      (formatting only: the same contract)\n") in d, d
PY
ok "the diff shows the entry added with its signature, and a reformatted signature as formatting only"

# Nothing more is queued for either: the task settles.
settled() {
	[ "$(json_get "r['task']['state']" task 1)" = improving ] &&
	    [ "$(json_get "sum(1 for x in r['directives'] if x['state'] in ('queued', 'running'))" task 1)" = 0 ]
}
wait_until "the task to settle" settled
[ "$(json_get "sum(1 for x in r['directives'] if x['domain']=='api' and x['source']=='interface')" task 1)" = 2 ] ||
    fail "api got a third try: $(iface_directives api)"
check_repo 1
ok "no third try; the repository and the registry agree"
done_testing
