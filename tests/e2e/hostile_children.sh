# Invariant: a child that speaks the wrong protocol version, sends a bad or
# oversized frame, or exits asking not to be restarted never takes the
# master down; each ends in the state its failure calls for, with a reason
# that says what happened.
. "$(dirname "$0")/lib.subr"
use_fakechild
echo '{"mode": "version"}' > "$FAKECHILD_DIR/oldproto.json"
echo '{"mode": "badframe"}' > "$FAKECHILD_DIR/garbler.json"
echo '{"mode": "oversize"}' > "$FAKECHILD_DIR/hog.json"
echo '{"mode": "exit78"}' > "$FAKECHILD_DIR/nokey.json"
write_config </dev/null
start_masterd

ctl submit "hostile children" --domains good,oldproto,garbler,hog,nokey \
    >/dev/null || fail submit

wait_until "oldproto fatal" state_is oldproto fatal
r=$(json_get "[c['reason'] for c in r['children'] if c['domain']=='oldproto'][0]" status)
case "$r" in *"masterd speaks 1, child speaks 42"*) ;;
*) fail "version reason: $r" ;; esac
ok "version mismatch refused: $r"

wait_until "nokey fatal" state_is nokey fatal
r=$(json_get "[c['reason'] for c in r['children'] if c['domain']=='nokey'][0]" status)
case "$r" in *"asked not to be restarted"*"no API key set"*) ;;
*) fail "exit 78 reason: $r" ;; esac
ok "exit 78 is not restarted: $r"

wait_until "garbler crashed on a bad frame" log_has "domain garbler (task 1): channel: payload is not valid JSON"
wait_until "hog crashed on an oversized frame" log_has "domain hog (task 1): channel: frame too large"
wait_until "garbler fatal after repeated crashes" state_is garbler fatal
wait_until "hog fatal after repeated crashes" state_is hog fatal
ok "bad frames count as crashes"

state_is good running || fail "a well-behaved sibling was disturbed"
kill -0 "$MD_PID" || fail "masterd died"
ctl status >/dev/null || fail "masterd not answering"
ok "master unharmed"
