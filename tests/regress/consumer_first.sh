# Invariant: a consumer's need reaches its provider before the consumer
# commits anything.  The consumer's checks fail because its provider lacks
# a function, so it never commits; but every round declares its interface
# (interface.publish with declared: true) before its checks run, the
# unresolved set reads a consumer's needs from its newest document, and the
# provider gets a directive for the missing entry at once, and adds it.
# Then the consumer's next try takes main, where the function now is, and
# its checks pass.  (Before this, the consumer never published, the master
# never saw the gap, and the task stalled: the consumer-first deadlock.)
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-regress-consumer-$$"

llmd_script <<'PY'
import json
from answers import *

def ans(d, path, content, provides, consumes=()):
    return json.dumps({"summary": d + " work", "files": [f(path, content)],
        "interface": {"domain": d, "summary": "the " + d + " domain",
            "provides": [{"kind": "function", "name": p,
                          "signature": p + "() -> ok"} for p in provides],
            "consumes": [{"kind": "function", "name": n, "from": "api",
                          "signature": n + "() -> ok"} for n in consumes]}})

rules = [CRITIC, PLANNER,
  {"match": {"system_contains": dom("web")},
   "reply": {"text": ans("web", "app.py", "import api.lib\n", ["web.page"],
                         ["api.get"])}},
  {"match": {"system_contains": dom("api"),
             "input_contains": "Provide function `api.get`"},
   "reply": {"text": ans("api", "lib.py", "def other():\n    pass\n\n"
                         "def get():\n    return 1\n", ["api.other", "api.get"])}},
  {"match": {"system_contains": dom("api")},
   "reply": {"text": ans("api", "lib.py", "def other():\n    pass\n",
                         ["api.other"])}},
]
write_rules(rules)
PY
llm_config_with <<CONF
[domain "web"]
check = grep -q 'def get' api/lib.py
CONF
start_masterd
start_watch "$T/watch"
ctl submit "consumer first" --domains api,web >/dev/null || fail submit

# The consumer declares what it needs before its checks, which fail.
web_declared() {
	watch_has "$T/watch" "e.get('event') == 'interface.published' and e.get('domain') == 'web' and d.get('declared') is True"
}
wait_until "web to declare its interface" web_declared
ok "web declared its interface"

api_fixed() {
	[ "$(json_get "[x['state'] for x in r['directives'] if x['domain']=='api' and x['source']=='interface']" task 1)" = "['done']" ]
}
wait_until "api's directive for api.get to be done" api_fixed
json_get "[x['text'] for x in r['directives'] if x['domain']=='api' and x['source']=='interface'][0]" task 1 |
    grep -q '^Provide function `api.get` and publish it in your interface: domain web consumes it from you.' ||
    fail "api's directive: $(json_get "r['directives']" task 1)"
# The need travelled on the declared interface alone: api's directive was
# queued after web's checks failed and before web merged anything.
python3 - "$T/watch" <<'PY' || fail "order of events"
import json, sys
ev = []
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    ev.append((e.get("event"), e.get("domain"), e.get("data") or {}))
def first(pred):
    return next((i for i, x in enumerate(ev) if pred(*x)), len(ev))
failed = first(lambda n, dom, d: n == "round" and dom == "web" and
               d.get("stage") == "checks" and d.get("ok") is False)
queued = first(lambda n, dom, d: n == "directive.queued" and dom == "api" and
               d.get("source") == "interface")
merged = first(lambda n, dom, d: n == "merged" and dom == "web")
assert failed < len(ev), "web's checks never failed"
assert queued < merged, ("api's directive came after web merged", queued, merged)
PY
ok "api got the directive for api.get from web's declared interface, before web had anything on main"

# Then the loop closes: web's next try takes main, which has api.get; its
# checks pass, it commits and publishes what it implements.
web_done() {
	[ "$(json_get "[x['state'] for x in r['directives'] if x['domain']=='web' and x['source']=='plan']" task 1)" = "['done']" ]
}
wait_until "web's first directive done" web_done
[ "$(own_commits 1 web)" -ge 1 ] || fail "web has no commit"
git_in 1 show main:api/lib.py | grep -q 'def get' || fail "main lacks api.get"
[ "$(json_get "r['interface']['declared']" interface web)" = False ] ||
    fail "web's newest version is not the implemented one"
[ "$(json_get "[u['name'] for u in r['unresolved']]" interfaces 1)" = "[]" ] ||
    fail "unresolved: $(json_get "r['unresolved']" interfaces 1)"
[ "$(json_get "r['task']['paused']" task 1)" = False ] ||
    fail "the task paused: $(json_get "r['task']['reason']" task 1)"
ok "web's next try saw api.get on main, committed and published; the gap is closed and the task goes on"
done_testing
