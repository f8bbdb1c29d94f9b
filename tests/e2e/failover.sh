# Invariant: a provider may name fallbacks ([llm "NAME"] sections, a
# `fallback` list).  With the primary down (529 for as long as the test
# runs) and the fallback up, the task completes on the fallback: each
# round says which provider and model answered, and is priced at that
# model's prices.  When the primary answers again it is taken back: the
# next work probes it, and the rounds after say "llm" and its model.
. "$(dirname "$0")/lib.subr"
export LLMD_TEST_KEY="sk-llmd-failover-$$"
export LLMD_API_KEY="$LLMD_TEST_KEY"

answer_script "$T/script.json" "a b" "third second"
# The primary, with its control API on a port of its own.
LLMD_ARGS="--control-port-file $T/llmd.ctl" start_llmd "$T/script.json"
PRIMARY_CTL=$(cat "$T/llmd.ctl")
# The fallback: a second server.
python3 "$TOP/tests/llmd/llmd.py" --script "$T/script.json" \
    --record "$T/backup.jsonl" --port-file "$T/backup.port" \
    --max-lifetime 900 >>"$T/backup.log" 2>&1 &
wait_until "the fallback to listen" test -s "$T/backup.port"
BACKUP_PORT=$(cat "$T/backup.port")


sed 's/^model = test-model$/model = primary-model/' <<CONF | write_config
$(llm_config)
max_attempts = 2
outage_probe_max = 2s
price_input = 1
price_output = 2
fallback = backup
[llm "backup"]
base_url = http://127.0.0.1:$BACKUP_PORT/v1
model = backup-model
price_input = 10
price_output = 20
CONF
grep -q '^model = primary-model' "$T/masterd.conf" || fail "config"

PORT=$PRIMARY_CTL llmd_call POST /_llmd/outage '{"phases": [{"mode": 529, "seconds": 900}]}' >/dev/null
start_masterd
ctl submit "failover" --domains a,b >/dev/null || fail submit

directive_done() {	# domain text-prefix
	[ "$(json_get "[x['state'] for x in r['directives'] if x['domain']=='$1' and x['text'].startswith('$2')]" task 1)" = "['done']" ]
}
wait_until "a's first directive" directive_done a Build
wait_until "b's first directive" directive_done b Build
[ "$(json_get "r['task']['state']" task 1)" != failed ] || fail "the task failed"

# Rounds: provider, model and price of who answered.
json_get "r['rounds']" task 1 >"$T/rounds.json"
python3 - "$T/rounds.json" <<'PY' || fail "the rounds do not say the fallback answered, or are not priced at its prices"
import ast, sys
rounds = [r for r in ast.literal_eval(open(sys.argv[1]).read()) if r["round"] > 0]
assert rounds, "no round"
for r in rounds:
    assert r["provider"] == "backup", r
    assert r["model"] == "backup-model", r
    want = (r["tokens_in"] * 10 + r["tokens_out"] * 20) / 1e6
    assert r["tokens_in"] > 0 and abs(r["cost"] - want) < 1e-9 * max(1, want) + 1e-12, (r, want)
print("%d rounds by backup-model via backup, priced at its prices" % len(rounds))
PY
ok "with the primary down the task completes on the fallback; rounds say so and are priced per model"

[ "$(json_get "r['providers'][0]['provider']" status)" = llm ] || fail "the primary is not held down"

# The primary recovers: once its next probe is due, the next work probes
# it and takes it back.
PORT=$PRIMARY_CTL llmd_call DELETE /_llmd/outage >/dev/null
probe_due() {
	json_get "r['providers'] == [] or iso(r['providers'][0]['next_try']) < __import__('time').time()" status | grep -q True
}
wait_until "the primary's probe due" probe_due
ctl directive a "second change of a" >/dev/null || fail directive
wait_until "a's second directive" directive_done a second
wait_until "the primary up again" sh -c "[ \"\$($MASTERCTL --json status | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"providers\"]))')\" = 0 ]"
ctl directive b "third change of b" >/dev/null || fail directive
wait_until "b's third directive" directive_done b third
json_get "[(r['domain'], r['provider'], r['model']) for r in r['rounds'] if r['round'] > 0]" task 1 >"$T/after.txt"
grep -q "('b', 'llm', 'primary-model')" "$T/after.txt" || fail "the primary was not taken back: $(cat "$T/after.txt")"
grep -q "('a', 'llm', 'primary-model')" "$T/after.txt" || fail "the probe's round did not go to the primary: $(cat "$T/after.txt")"
sqlite3_has_up=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT count(*) FROM events WHERE event='provider.up'\").fetchone()[0])" "$T/state/masterd.db")
[ "$sqlite3_has_up" -ge 1 ] || fail "no provider.up event"
ok "the primary is probed after it recovers and taken back"
