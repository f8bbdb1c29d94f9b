# Invariant: SIGHUP with a broken configuration file (a syntax error, an
# unknown key, a value out of range, an inconsistent pair, binary garbage,
# a missing file) is refused whole, each time, with the reason logged;
# masterd keeps running on the old configuration (its log level, its
# [domain] sections) and work goes on: a round in flight at the HUP
# finishes, a directive submitted after it completes, a domain spawned or
# restarted after it starts with the old configuration.  A good file
# reloads afterwards.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-regress-sighup-$$"

llmd_script <<'PY'
import json, sys
from answers import *
rules = [CRITIC, PLANNER, KEEPER,
  {"match": {"input_contains": "during the reload"}, "fault": {"delay": 1},
   "reply": {"text": answer("work", [f("during.txt")], "during")}}]
for d in ("work", "extra", "late"):
    for n in range(1, 6):
        rules.append({"match": {"system_contains": dom(d), "input_contains": f"change {n}"},
                      "reply": {"text": answer(d, [f(f"c{n}.txt")], f"change {n}")}})
    rules.append({"match": {"system_contains": dom(d)},
                  "reply": {"text": answer(d, [f("first.txt")], "first")}})
write_rules(rules)
PY
keeper_config extra "test -f extra/first.txt"
cp "$T/masterd.conf" "$T/good.conf"
start_task "reloads" work,keeper
wait_until "work's first directive" directive_done 1 work Build

refusals() {
	grep -c "reload refused: keeping the running configuration" "$T/masterd.log"
}

# hup_broken NAME: the file now in masterd.conf is broken; HUP and expect a
# refusal, masterd alive and answering.
hup_broken() {
	"$MASTERD" -n -c "$T/masterd.conf" >/dev/null 2>&1 &&
	    fail "$1: masterd -n accepts the broken file"
	n=$(refusals)
	kill -HUP "$MD_PID"
	wait_until "$1: reload refused" sh -c "[ \$(grep -c 'reload refused: keeping the running configuration' '$T/masterd.log') -gt $n ]"
	alive "$MD_PID" || fail "$1: masterd died on the reload"
	ctl status >/dev/null || fail "$1: masterd not answering after the reload"
}

# A round in flight while the broken reloads come.
ctl directive work "a change during the reload" >/dev/null || fail directive
wait_until "the round to be in flight" sh -c "grep -q 'during the reload' '$LLMD_RECORD'"

# 1. syntax error
{ cat "$T/good.conf"; printf '[masterd\nthis line is not key = value\n'; } >"$T/masterd.conf"
hup_broken "syntax error"
# 2. unknown key (and a log level that must not apply)
sed 's/^log_level = debug$/log_level = err\nno_such_key = 1/' "$T/good.conf" >"$T/masterd.conf"
hup_broken "unknown key"
# 3. a value out of range
sed 's/^\[supervise\]$/[supervise]\nstart_limit_burst = 1000/' "$T/good.conf" >"$T/masterd.conf"
hup_broken "value out of range"
# 4. inconsistent values: ping_timeout shorter than ping_interval
sed 's/^ping_timeout = .*/ping_timeout = 100ms/' "$T/good.conf" >"$T/masterd.conf"
hup_broken "ping_timeout below ping_interval"
# 5. binary garbage
head -c 4096 /dev/urandom >"$T/masterd.conf"
hup_broken "binary garbage"
# 6. a missing file
rm -f "$T/masterd.conf"
hup_broken "missing file"
log_has "reload refused: .*no_such_key" || fail "the unknown key is not named in the log"
ok "six broken files refused on SIGHUP; masterd alive and answering"

wait_until "the round in flight at the HUPs done" directive_done 1 work "a change during"
ok "the round in flight during the reloads finished"

# The old configuration is the running one: still logging at debug level.
n=$(grep -c 'debug: event' "$T/masterd.log")
ctl directive work "change 1" >/dev/null || fail "directive after the HUPs"
wait_until "a directive submitted after the HUPs done" directive_done 1 work "change 1"
[ "$(grep -c 'debug: event' "$T/masterd.log")" -gt "$n" ] || fail "debug logging stopped: part of a refused file applied"
ok "a directive submitted after the refused reloads completed; log level kept"

# The broken file (syntax error) stays on disk: domains started now must
# still work from the configuration masterd kept.
{ cat "$T/good.conf"; printf '[masterd\nbroken\n'; } >"$T/masterd.conf"
hup_broken "syntax error, left on disk"
ctl spawn 1 extra >/dev/null || fail "spawn after the refused reload"
[ "$(json_get "[d['checks'] for d in r['domains'] if d['name']=='extra'][0]" task 1)" = "['test -f extra/first.txt']" ] ||
    fail "the spawned domain did not get the old [domain] section"
# settled DOMAIN PREFIX: the directive is done, or the domain is fatal.
settled() {
	directive_done 1 "$1" "$2" || [ "$(child_state "$1")" = fatal ]
}
wait_until "extra's first directive (or extra fatal)" settled extra Build
if ! directive_done 1 extra Build; then
	known_bug "a domain spawned after a refused SIGHUP cannot start: masterd-child re-reads the configuration file itself (child/worker/main.c setup() -> conf_load(--config)), so it gets the broken file masterd refused, not the configuration masterd kept ($(json_get "[c['state'] + ': ' + c['reason'] for c in r['children'] if c['domain']=='extra'][0]" status))"
else
	ok "a domain spawned after the refused reload works"
fi
ctl restart work >/dev/null || fail "restart work"
ctl directive work "change 2" >/dev/null || fail "directive after the restart"
wait_until "work's directive after its restart (or work fatal)" settled work "change 2"
if ! directive_done 1 work "change 2"; then
	known_bug "a child restarted after a refused SIGHUP fails the same way ($(json_get "[c['state'] + ': ' + c['reason'] for c in r['children'] if c['domain']=='work'][0]" status))"
else
	ok "a child restarted after the refused reload works"
fi

# A good file reloads.
cp "$T/good.conf" "$T/masterd.conf"
cat >>"$T/masterd.conf" <<CONF
[domain "late"]
check = test -f late/first.txt
CONF
kill -HUP "$MD_PID"
wait_until "the good file reloaded" log_has "configuration reloaded from"
ctl spawn 1 late >/dev/null || fail "spawn late"
[ "$(json_get "[d['checks'] for d in r['domains'] if d['name']=='late'][0]" task 1)" = "['test -f late/first.txt']" ] ||
    fail "the reloaded [domain] section did not apply"
wait_until "late's first directive" directive_done 1 late Build
ok "a good file reloads afterwards and applies"
done_testing
