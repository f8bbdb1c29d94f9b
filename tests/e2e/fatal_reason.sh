# Invariant: a domain that keeps crashing goes fatal with a reason that
# says its last crash once (not each earlier crash's reason inside the
# next) and always ends with the hint that brings it back, however long
# the child's last words: "fix it, then: masterctl restart D --task N".
. "$(dirname "$0")/lib.subr"
use_fakechild
# short: dies before it is ready, saying little; mute: saying nothing;
# long: saying 300 bytes.
echo '{"mode": "crash", "message": "cannot start"}' >"$FAKECHILD_DIR/short.json"
echo '{"mode": "crash", "message": ""}' >"$FAKECHILD_DIR/mute.json"
python3 -c 'import json; print(json.dumps({"mode": "crash", "message": "why " * 75}))' \
    >"$FAKECHILD_DIR/long.json"
write_config </dev/null
start_masterd
ctl submit "crashing" --domains short,mute,long >/dev/null || fail submit
wait_until "short fatal" state_is short fatal
wait_until "mute fatal" state_is mute fatal
wait_until "long fatal" state_is long fatal

reason_of() {
	json_get "[c['reason'] for c in r['children'] if c['domain']=='$1'][0]" status
}
r=$(reason_of short)
case "$r" in
"crashed 5 times within 120 s; last: cannot start (exited with status 1); fix it, then: masterctl restart short --task 1") ;;
*) fail "short's reason: $r" ;;
esac
case "$r" in *"restart in"*) fail "an earlier crash's reason kept: $r" ;; esac
r=$(reason_of mute)
case "$r" in
"crashed 5 times within 120 s; last: exited with status 1; fix it, then: masterctl restart mute --task 1") ;;
*) fail "mute's reason: $r" ;;
esac
ok "a crash's reason is that crash's: $r"

r=$(reason_of long)
case "$r" in
"crashed 5 times within 120 s; last: why why "*"...; fix it, then: masterctl restart long --task 1") ;;
*) fail "long's reason lost its hint: $r" ;;
esac
[ ${#r} -le 255 ] || fail "reason longer than its field: ${#r}"
# The registry keeps the same reason (masterctl domains shows it).
[ "$(json_get "[d['reason'] for d in r['domains'] if d['name']=='long'][0]" domains 1)" = "$r" ] ||
    fail "registry's reason differs"
ok "a long last word is cut, the hint kept (${#r} bytes)"

ctl restart long --task 1 >/dev/null || fail "restart"
wait_until "long fatal again" state_is long fatal
[ "$(reason_of long)" = "$r" ] || fail "after restart: $(reason_of long)"
ok "after masterctl restart the reason does not grow"
