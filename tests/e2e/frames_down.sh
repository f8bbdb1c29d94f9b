# Invariant: what masterd sends a child is never dropped for its size: a
# directive (task.assign, interface.peers, plan.request) over max_frame
# reaches the child with its longest strings cut, a marker saying so, and
# the log naming the limit.
. "$(dirname "$0")/lib.subr"
use_fakechild
MAX=4096
write_config <<CONF
[masterd]
max_frame = $MAX
CONF
start_masterd
ctl submit "small frames" --domains down >/dev/null || fail submit
wait_until "the first directive done" sh -c "$MASTERCTL --json task 1 | grep -q '\"state\": \"done\"'"

# The request fits a frame; the directive message, with its envelope,
# does not.
text=$(python3 -c "print('d' * ($MAX - 80))")
ctl directive down "$text" >/dev/null || fail "directive refused"
wait_until "the directive at the child" grep -q "bytes cut: over the frame limit]" "$FAKECHILD_DIR/down.log"
python3 - "$FAKECHILD_DIR/down.log" <<'PY' || fail "the directive did not arrive cut"
import json, sys
msgs = [json.loads(l) for l in open(sys.argv[1])]
d = [m for m in msgs if m.get("type") == "directive" and m["text"].startswith("ddd")]
assert len(d) == 1, len(d)
assert d[0]["text"].endswith("bytes cut: over the frame limit]"), d[0]["text"][-60:]
PY
log_has "directive cut to fit max_frame ($MAX bytes)" || fail "the cut is not logged"
ok "a directive over max_frame reaches the child cut, with a marker"
